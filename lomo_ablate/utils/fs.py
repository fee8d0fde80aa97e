"""Atomic writes and locks: a reader never sees half a file, two writers never compute the same thing twice."""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from filelock import FileLock


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (setting it is not thread-safe)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` via a temp file + rename. The file gets the mode a plain ``open`` would give it
    (0666 minus the umask), not mkstemp's 0600: a teammate or another uid can read a shared store."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN / ±inf float (numpy scalars included) replaced by None, in nested dicts, lists and
    tuples: strict JSON has no such numbers, and strict readers (jq, JavaScript, ``json.loads`` with
    ``parse_constant``) refuse the ``NaN`` / ``Infinity`` that ``json.dumps`` writes by default. An undefined
    metric (an accuracy over no items, a ratio over a zero count) is written as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if type(obj).__module__ == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        return finite_json(obj.item())
    return obj


def dumps_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`finite_json` (``obj``), strict: NaN / ±inf are written as null, never as ``NaN``.
    The one JSON writer of metrics.json, result.json, JSONL files and the score CLI's output."""
    return json.dumps(finite_json(obj), allow_nan=False, **kwargs)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, dumps_json(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yields a temp dir beside ``final``; on success it is renamed to ``final`` (replacing nothing:
    if ``final`` appeared meanwhile, the temp dir is dropped). On error the temp dir is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the folder follows the umask like mkdir
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def locked(path: str | Path, timeout: float = -1) -> Iterator[None]:
    """An inter-process lock on ``path + '.lock'`` (works across Slurm tasks on a shared file system
    that supports fcntl locks)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=timeout):
        yield


def read_jsonl(path: str | Path) -> Iterator[dict]:
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    n = 0
    lines = []
    for r in rows:
        lines.append(dumps_json(r, ensure_ascii=False, sort_keys=True))
        n += 1
    atomic_write_text(path, "".join(l + "\n" for l in lines))
    return n
