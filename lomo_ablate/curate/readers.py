"""Input pools: what a pool may be, the files it holds, and one JSONL copy every later step reads lazily.

A pool (``input=``, ``multimodal_input=``, ``data.text``, ``data.multimodal``) is a file, a folder, a glob or a
list of these (:func:`expand_pool`):

- a file: ``.jsonl``/``.ndjson``, ``.json`` (an array; a ``.json`` that is really JSONL is read as JSONL),
  ``.parquet``/``.pq``, ``.arrow`` (Arrow IPC stream or file), ``.tar`` (webdataset shards);
- a ``datasets`` ``save_to_disk`` folder (``state.json``: its Arrow files in order), or a ``DatasetDict``
  top folder (``dataset_dict.json``; ``split=`` picks one when there are several);
- any other folder: every input file under it, recursively, in sorted path order (hidden ``.x``/``_x``
  entries skipped; a ``save_to_disk`` folder inside counts as its Arrow files) — a folder of shards, or the
  LLaVA-OneVision-1.5 corpus root with one folder per subset, as one pool;
- a glob (``data/train-*.parquet``, ``corpus/**/*.parquet``): the matching input files, sorted.

:func:`materialize` streams every file of a pool into one JSONL copy in the work folder, one record per
line, and a *segments* table mapping each copy line back to ``(file, line)``: JSONL lines are copied verbatim
(a bad line stays a bad line, found later by the worker that parses it), a JSON array is split into its
elements without building the array (``json.JSONDecoder.raw_decode`` per element, so memory stays flat and
one malformed element is one rejected record — a streaming parser such as ijson stops at the first bad
element), Parquet/Arrow rows are written as JSON with image bytes (HF ``Image`` structs ``{bytes, path}``,
any ``bytes`` value) as ``data:`` URIs, webdataset samples as their ``.json`` member with their image
members as ``data:`` URIs. A row that cannot be written (NaN, a value JSON has no form for) becomes a
marker line that the worker turns into a rejection with its file and line. A pool that is one JSONL file
is read in place (no copy).

``line`` of a record is its physical line for JSONL and JSON arrays (the line its element starts on), the
row number (1-based) for Parquet/Arrow, the sample number (1-based) for tar shards.
"""
from __future__ import annotations

import base64
import bisect
import glob as _glob
import hashlib
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from lomo_ablate.utils.hashing import stable_hash

#: Input file kinds by suffix (``.json`` is checked: an array, or JSONL named .json).
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
            ".arrow": "arrow", ".tar": "tar"}
#: The key of a marker line: a record that could not be copied; the worker rejects it with this reason.
MARKER = "__lomo_reject__"
IMAGE_MEMBER_EXTS = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff")
_MIME = {"png": "png", "jpg": "jpeg", "gif": "gif", "webp": "webp", "bmp": "bmp", "tif": "tiff"}
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class InputFile:
    """One file of a pool: its real path, its kind and the folder its relative image paths resolve in."""

    path: str
    kind: str
    label: str     # shown in meta.file and rejections: the path relative to the pool spec it came from
    root: str      # default image root: the file's own folder


@dataclass(frozen=True)
class Segment:
    """Lines ``first..`` of the pool copy come from ``file``, starting at its line ``file_line``."""

    first: int
    file: str
    file_line: int
    root: str


# --- what a pool holds ---------------------------------------------------------------------------------------

def _kind(path: Path) -> str | None:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind == "json":
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        kind = "json" if head.startswith(b"[") else "jsonl"
    return kind


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _arrow_files(folder: Path) -> list[Path]:
    """A ``save_to_disk`` folder's Arrow files, in the order its ``state.json`` lists them."""
    try:
        state = json.loads((folder / "state.json").read_text())
        names = [d["filename"] for d in state.get("_data_files", [])]
    except (OSError, ValueError, KeyError, TypeError):
        names = []
    files = [folder / n for n in names if (folder / n).is_file()]
    return files or sorted(folder.glob("*.arrow"))


def _is_dataset_folder(folder: Path) -> bool:
    return (folder / "state.json").is_file() and any(folder.glob("*.arrow"))


def _walk(folder: Path, split: str | None) -> list[Path]:
    out: list[Path] = []
    if (folder / "dataset_dict.json").is_file():
        try:
            splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{folder}/dataset_dict.json is unreadable: {e}") from None
        if split is None and len(splits) != 1:
            raise ValueError(f"{folder} is a DatasetDict with splits {splits}: choose one with split=...")
        chosen = split if split is not None else splits[0]
        if chosen not in splits:
            raise ValueError(f"{folder}: split={chosen!r} is not one of its splits {splits}")
        return _arrow_files(folder / chosen)
    if _is_dataset_folder(folder):
        return _arrow_files(folder)
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if _hidden(entry.name):
            continue
        p = Path(entry.path)
        if entry.is_dir():
            out.extend(_walk(p, split))
        elif entry.is_file() and p.suffix.lower() in SUFFIXES:
            if split is not None and not _in_split(p.relative_to(folder), split):
                continue
            out.append(p)
    return out


def _in_split(rel: Path, split: str) -> bool:
    """A hub-style shard belongs to ``split`` when a folder is named so or its name starts ``split-``/``_``."""
    return split in rel.parts[:-1] or rel.name.startswith((f"{split}-", f"{split}_", f"{split}."))


def expand_pool(spec: str | Path | Sequence[str | Path], split: str | None = None) -> list[InputFile]:
    """The input files of a pool (see the module doc), in order. FileNotFoundError names a missing path or
    an empty folder/glob; ValueError an unsupported file."""
    specs = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if not specs:
        raise FileNotFoundError("the pool lists no input")
    files: list[InputFile] = []
    for s in specs:
        s = str(s)
        if _GLOB_CHARS & set(s):
            matches = sorted(p for p in _glob.glob(s, recursive=True) if os.path.isfile(p)
                             and Path(p).suffix.lower() in SUFFIXES)
            if not matches:
                raise FileNotFoundError(f"no input file matches {s!r}")
            base = Path(s.split("*")[0].split("?")[0].split("[")[0]).parent
            paths = [(Path(m), base) for m in matches]
        else:
            p = Path(s)
            if not p.exists():
                raise FileNotFoundError(f"input not found: {p.resolve()}")
            if p.is_dir():
                found = _walk(p, split)
                if not found:
                    raise FileNotFoundError(f"{p.resolve()}: no input files (.jsonl, .json, .parquet, .arrow, "
                                            f".tar) in this folder")
                paths = [(f, p) for f in found]
            else:
                if p.suffix.lower() not in SUFFIXES:
                    raise ValueError(f"{p}: unsupported input type {p.suffix!r}; use .jsonl, .json, .parquet, "
                                     f".arrow, .tar, a folder of these, a glob or a datasets folder")
                paths = [(p, p.parent)]
        for f, base in paths:
            real = Path(os.path.realpath(f))
            try:
                label = str(f.resolve().relative_to(Path(base).resolve()))
            except ValueError:
                label = f.name
            if len(specs) > 1 or len(paths) > 1:
                label = label if label != "." else f.name
            kind = "arrow" if f.suffix.lower() == ".arrow" else _kind(f)
            files.append(InputFile(str(real), kind or "jsonl", label, str(real.parent)))
    return files


# --- fingerprints --------------------------------------------------------------------------------------------

_HASHES: dict[tuple, str] = {}


def file_hash(path: str | Path) -> str:
    """sha256 (16 hex) of a file's whole content, read once per process for a given (path, size, mtime,
    inode): an edit anywhere in the file changes it."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()[:16]
    return _HASHES[key]


def pool_files_fingerprint(files: Sequence[InputFile]) -> str:
    return stable_hash([(f.label, f.kind, file_hash(f.path)) for f in files])


def _path_refs(obj: Any) -> Iterator[tuple[str, str]]:
    """``(kind, path)`` of each image/video *path* a record names (bytes and data: URIs are in the file)."""
    if not isinstance(obj, dict):
        return
    for key, kind in (("images", "image"), ("image", "image"), ("videos", "video"), ("video", "video")):
        v = obj.get(key)
        for item in (v if isinstance(v, list) else [v]):
            if isinstance(item, dict):
                item = item.get("path") if not item.get("bytes") else None
            if isinstance(item, str) and not item.startswith("data:") and len(item) < 4096:
                yield kind, item
    turns = obj.get("messages") or obj.get("conversations")
    for t in turns if isinstance(turns, list) else []:
        parts = t.get("content") if isinstance(t, dict) else None
        for part in parts if isinstance(parts, list) else []:
            ref = part.get("image") or part.get("image_url") or part.get("path") if isinstance(part, dict) else None
            if isinstance(ref, dict):
                ref = ref.get("url") or ref.get("path")
            if isinstance(ref, str) and not ref.startswith("data:") and len(ref) < 4096:
                yield "image", ref


def _records_for_refs(f: InputFile) -> Iterator[Any]:
    if f.kind == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(f.path)
        cols = [c for c in ("image", "images", "videos", "video") if c in pf.schema_arrow.names]
        if not cols:
            return
        for batch in pf.iter_batches(batch_size=1024, columns=cols):
            for row in batch.to_pylist():
                yield row
    elif f.kind in ("jsonl", "json"):
        for _, raw in _file_rows(f):
            try:
                yield json.loads(raw)
            except Exception:  # noqa: BLE001 - a bad record is the worker's to reject
                continue
    # arrow/tar: images are bytes inside the file (the file hash covers them)


_REFS: dict[tuple, str] = {}


def referenced_media_fingerprint(files: Sequence[InputFile]) -> str:
    """A hash of (path, size, mtime) of every image/video path the pool's records name that resolves inside
    its root: editing, replacing or deleting a referenced image changes it. One parse of the pool per
    process and content; the stat calls are made every time."""
    from lomo_ablate.curate.media import MediaProblem, resolve_in_root

    key = (pool_files_fingerprint(files), tuple(f.root for f in files))
    if key not in _REFS:
        refs = []
        for f in files:
            for obj in _records_for_refs(f):
                refs.extend((f.root, kind, ref) for kind, ref in _path_refs(obj))
        _REFS[key] = json.dumps(sorted(set(refs)))
    h = hashlib.sha256()
    for root, kind, ref in json.loads(_REFS[key]):
        try:
            real = resolve_in_root(ref, Path(root), kind)
            st = os.stat(real)
            h.update(f"{real}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except (MediaProblem, OSError):
            h.update(f"{root}\0{ref}\0missing\n".encode())
    return h.hexdigest()[:16]


def pool_fingerprint(files: Sequence[InputFile]) -> str:
    """The pool's content key: every file's whole bytes, their labels and roots, and the referenced images."""
    return stable_hash({"files": pool_files_fingerprint(files), "roots": sorted({f.root for f in files}),
                        "media": referenced_media_fingerprint(files)})


# --- reading rows --------------------------------------------------------------------------------------------

def _marker(reason: str, detail: str) -> bytes:
    return (json.dumps({MARKER: {"reason": reason, "detail": detail[:300]}}) + "\n").encode()


def _data_uri(data: bytes) -> str:
    from lomo_ablate.curate.media import sniff_image

    fmt = sniff_image(data) or "octet-stream"
    return f"data:image/{_MIME.get(fmt, fmt)};base64," + base64.b64encode(data).decode("ascii")


def _image_value(v: Any) -> Any:
    """HF Image struct → a data: URI (bytes) or its path; lists elementwise; anything else unchanged."""
    if isinstance(v, dict) and "bytes" in v and set(v) <= {"bytes", "path"}:
        if v.get("bytes"):
            return _data_uri(bytes(v["bytes"]))
        return v.get("path")
    if isinstance(v, (bytes, bytearray)):
        return _data_uri(bytes(v))
    if isinstance(v, list):
        return [_image_value(x) for x in v]
    return v


def _json_default(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray)):
        return _data_uri(bytes(o))
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"a value of type {type(o).__name__} has no JSON form")


def row_line(row: dict) -> bytes:
    """One row (from Parquet/Arrow/tar) as a strict JSON line; a marker line when that is impossible."""
    try:
        row = {k: (_image_value(v) if k in ("image", "images") else v) for k, v in row.items()}
        return (json.dumps(row, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n").encode()
    except (ValueError, TypeError, RecursionError, OverflowError) as e:
        reason = "non_finite_number" if "Out of range float" in str(e) else "malformed_json"
        return _marker(reason, f"{type(e).__name__}: {e}")


def _parquet_rows(path: str) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=256):
        for row in batch.to_pylist():
            yield row_line(row)


def _arrow_rows(path: str) -> Iterator[bytes]:
    import pyarrow as pa

    with pa.memory_map(path) as src:
        try:
            reader = pa.ipc.open_stream(src)
            batches: Iterator[Any] = iter(reader)
        except pa.ArrowInvalid:
            src.seek(0)
            freader = pa.ipc.open_file(src)
            batches = (freader.get_batch(k) for k in range(freader.num_record_batches))
        for batch in batches:
            for row in batch.to_pylist():
                yield row_line(row)


def _tar_rows(path: str) -> Iterator[bytes]:
    """Webdataset samples: members grouped by key (path up to the first dot of the basename), in order."""
    def sample(key: str, members: dict[str, bytes]) -> bytes:
        raw = members.get("json")
        if raw is None:
            return _marker("unknown_format", f"sample {key!r} has no .json member (has {sorted(members)})")
        try:
            rec = json.loads(raw)
        except Exception as e:  # noqa: BLE001 - any parse failure is this sample's
            return _marker("malformed_json", f"sample {key!r}: {type(e).__name__}: {e}")
        if not isinstance(rec, dict):
            return _marker("not_an_object", f"sample {key!r}: got {type(rec).__name__}")
        images = {ext: data for ext, data in members.items() if ext.rsplit(".", 1)[-1] in IMAGE_MEMBER_EXTS}
        refs = rec.get("images", rec.get("image"))
        if refs is None or refs == []:
            rec["images"] = [_data_uri(images[e]) for e in sorted(images)]
        else:
            refs = [refs] if isinstance(refs, str) else refs
            out = []
            for r in refs:
                name = r.rsplit("/", 1)[-1] if isinstance(r, str) else None
                ext = name[len(key.rsplit("/", 1)[-1]) + 1:] if name and name.startswith(
                    key.rsplit("/", 1)[-1] + ".") else name
                out.append(_data_uri(images[ext]) if ext in images else r)
            rec.pop("image", None)
            rec["images"] = out
        return row_line(rec)

    with tarfile.open(path, mode="r|*") as tf:
        key, members = None, {}
        for m in tf:
            if not m.isfile():
                continue
            d, base = os.path.split(m.name)
            if "." not in base or _hidden(base):
                continue
            k, ext = os.path.join(d, base.split(".", 1)[0]), base.split(".", 1)[1].lower()
            if k != key and key is not None:
                yield sample(key, members)
                members = {}
            key = k
            f = tf.extractfile(m)
            members[ext] = f.read() if f is not None else b""
        if key is not None:
            yield sample(key, members)


_SCAN = re.compile(r'["\\\[\]{},]')


def _skip_value(s: str, i: int) -> int | None:
    """The index just after the JSON value starting at ``s[i]`` by bracket/string scanning only (no parse),
    or None when ``s`` ends first. Jumps between the characters that matter (a long string costs one step)."""
    depth, in_str, esc, prev = 0, False, False, -2
    for m in _SCAN.finditer(s, i):
        ch, j = m.group(), m.start()
        if esc:
            esc = False
            if j == prev + 1:
                continue
        if in_str:
            if ch == "\\":
                esc, prev = True, j
            elif ch == '"':
                in_str = False
                if depth == 0:
                    return j + 1
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth <= 0:
                return j + 1 if depth == 0 else j
        elif ch == "," and depth == 0:
            return j
    return None


def _json_array_rows(path: str, chunk_chars: int = 1 << 22) -> Iterator[tuple[int, bytes]]:
    """``(line, JSON line)`` per element of a top-level JSON array, in flat memory (see the module doc)."""
    dec = json.JSONDecoder()
    with open(path, encoding="utf-8", errors="surrogatepass") as f:
        buf, pos, line, eof = f.read(chunk_chars), 0, 1, False
        buf = buf.lstrip("\ufeff")

        def more() -> bool:
            nonlocal buf, pos, eof
            data = f.read(chunk_chars)
            if not data:
                eof = True
                return False
            buf = buf[pos:] + data
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos, line
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    line += buf[pos] == "\n"
                    pos += 1
                if pos < len(buf) or not more():
                    return

        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise ValueError(f"{path}: a .json input must be a JSON array of records (or JSONL)")
        pos += 1
        while True:
            skip_ws()
            if pos >= len(buf):
                yield line, _marker("malformed_json", "the array ends without ']' (file truncated?)")
                return
            if buf[pos] == "]":
                return
            if buf[pos] == ",":
                pos += 1
                continue
            start_line = line
            while True:
                try:
                    _, end = dec.raw_decode(buf, pos)
                    if end >= len(buf) and not eof and more():
                        continue  # a scalar cut at the chunk's end: read on (records are objects anyway)
                    text = buf[pos:end]
                    bad = None
                except Exception as e:  # noqa: BLE001 - JSONDecodeError, RecursionError, ValueError (huge int)
                    end = _skip_value(buf, pos)
                    if end is None and not eof and more():
                        continue
                    if end is None:
                        end = len(buf)
                    text, bad = buf[pos:end], (type(e), f"{type(e).__name__}: {e}")
                break
            line += text.count("\n")
            pos = end
            if bad is None:
                try:
                    yield start_line, (text.replace("\r", " ").replace("\n", " ") + "\n").encode("utf-8")
                except UnicodeEncodeError as e:
                    yield start_line, _marker("invalid_unicode", str(e))
            else:
                yield start_line, _marker("too_deeply_nested" if bad[0] is RecursionError else "malformed_json",
                                          bad[1])


def _file_rows(f: InputFile) -> Iterator[tuple[int, bytes]]:
    """``(line, JSON line)`` for each record of one input file (JSONL: physical lines, blank ones too)."""
    if f.kind == "jsonl":
        with open(f.path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                yield n, raw if raw.endswith(b"\n") else raw + b"\n"
    elif f.kind == "json":
        yield from _json_array_rows(f.path)
    else:
        rows = {"parquet": _parquet_rows, "arrow": _arrow_rows, "tar": _tar_rows}[f.kind](f.path)
        for n, raw in enumerate(rows, start=1):
            yield n, raw


def materialize(files: Sequence[InputFile], work_dir: Path, name: str) -> tuple[Path, list[Segment]]:
    """The pool as one JSONL file plus its segments (see the module doc). A pool that is one JSONL file is
    itself; otherwise ``work_dir/input-<name>.jsonl`` is written once and reused (its segments beside it)."""
    if len(files) == 1 and files[0].kind == "jsonl":
        f = files[0]
        return Path(f.path), [Segment(1, f.label, 1, f.root)]
    dest = work_dir / f"input-{name}.jsonl"
    seg_path = work_dir / f"input-{name}.segments.json"
    if dest.exists() and seg_path.exists():
        try:
            return dest, [Segment(*s) for s in json.loads(seg_path.read_text())]
        except (OSError, ValueError, TypeError):
            pass
    work_dir.mkdir(parents=True, exist_ok=True)
    segments: list[Segment] = []
    tmp = dest.with_name(dest.name + ".tmp")
    n = 0  # lines written so far
    with tmp.open("wb") as out:
        for f in files:
            last = None  # (copy line, file line) of the previous row: a new segment when the step is not 1
            for line, raw in _file_rows(f):
                n += 1
                if last is None or line != last + 1:
                    segments.append(Segment(n, f.label, line, f.root))
                last = line
                out.write(raw)
    os.replace(tmp, dest)
    from lomo_ablate.utils import atomic_write_text

    atomic_write_text(seg_path, json.dumps([[s.first, s.file, s.file_line, s.root] for s in segments]))
    return dest, segments


def locate(segments: Sequence[Segment], firsts: Sequence[int], line: int) -> tuple[Segment, int]:
    """The segment of copy line ``line`` and the line in its file (``firsts``: the segments' ``first``)."""
    k = bisect.bisect_right(firsts, line) - 1
    seg = segments[max(k, 0)]
    return seg, seg.file_line + (line - seg.first)


__all__ = ["InputFile", "MARKER", "Segment", "SUFFIXES", "expand_pool", "file_hash", "locate", "materialize",
           "pool_files_fingerprint", "pool_fingerprint", "referenced_media_fingerprint", "row_line"]
