"""The file manifest of a finished folder (a store entry, a stand-alone curation): every file's size and
content hash, so that a folder cut, truncated or missing a file is never taken for finished.

``write_files_manifest(folder)`` writes ``contracts.FILES_MANIFEST`` (``_files.json``) listing every file
under ``folder`` (relative path -> ``{"size", "sha256"}``) except the manifest itself and ``_SUCCESS``.
``check_files_manifest(folder, hashes=False)`` returns ``None`` when every listed file is there with its size
(and, with ``hashes``, its content hash), else the first problem found ("data.jsonl: 1234 bytes, expected
5678"). A folder without a manifest (written before manifests existed) passes: there is nothing to check it
against. ``move_aside(folder)`` renames a failing folder to ``<name>.corrupt-<UTC time>`` beside it (kept for a
post-mortem, never read again).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from lomo_ablate.contracts import FILES_MANIFEST, SUCCESS
from lomo_ablate.utils.fs import atomic_write_json

_SKIP = {FILES_MANIFEST, SUCCESS}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for n in sorted(names):
            p = Path(root) / n
            rel = p.relative_to(folder)
            if str(rel) in _SKIP or n.startswith(".") and n.endswith(".lock"):
                continue
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return out


def write_files_manifest(folder: str | Path) -> dict[str, Any]:
    """Writes ``folder/_files.json`` (sizes and sha256 of every file) and returns its content."""
    folder = Path(folder)
    files = {str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": file_sha256(p)} for p in _files(folder)}
    manifest = {"files": files, "count": len(files), "bytes": sum(f["size"] for f in files.values()),
                "written": time.time()}
    atomic_write_json(folder / FILES_MANIFEST, manifest)
    return manifest


def check_files_manifest(folder: str | Path, hashes: bool = False) -> str | None:
    """None when ``folder`` matches its manifest (sizes; and content hashes with ``hashes``), else why not."""
    folder = Path(folder)
    path = folder / FILES_MANIFEST
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"{FILES_MANIFEST} is unreadable ({type(e).__name__}: {e})"
    for rel, info in sorted(files.items()):
        p = folder / rel
        try:
            size = p.stat().st_size
        except OSError:
            return f"{rel}: missing"
        if size != info.get("size"):
            return f"{rel}: {size} bytes, expected {info.get('size')}"
        if hashes and file_sha256(p) != info.get("sha256"):
            return f"{rel}: content changed (sha256 differs from {FILES_MANIFEST})"
    return None


def move_aside(folder: str | Path) -> Path:
    """Renames ``folder`` to ``<folder>.corrupt-<UTC time>`` (unique) and returns the new path."""
    folder = Path(folder)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder.with_name(f"{folder.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{folder.name}.corrupt-{stamp}-{n}")
    os.replace(folder, target)
    return target


__all__ = ["FILES_MANIFEST", "check_files_manifest", "file_sha256", "move_aside", "write_files_manifest"]
