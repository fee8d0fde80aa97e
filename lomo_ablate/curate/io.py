"""Reading inputs lazily and normalizing records; the curated directory's fixed files.

Inputs: JSONL (one record per line; the line number is the physical line), a JSON array (``line`` = index+1;
a ``.json`` file that is really JSONL is read as JSONL), Parquet (``line`` = row+1) or a ``datasets`` folder
saved with ``save_to_disk`` (Arrow files; ``line`` = row+1). Non-JSONL inputs are first streamed into a JSONL
copy in the work folder so every later step reads one format lazily from byte offsets.

Records: the LLaMA-Factory/ShareGPT ``messages`` form (role/content, ``images``) or the LLaVA
``conversations`` form (from/value with human/gpt, ``image``). Roles are normalized to system/user/assistant.
Text cleaning: C0/C1 control characters other than tab, newline and carriage return are stripped (and
counted); text that is not valid Unicode (lone surrogates) is rejected. Every problem is a :class:`Rejection`
with a reason from :data:`REASONS`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lomo_ablate.utils.hashing import file_fingerprint, stable_hash

REASONS = {
    "malformed_json": "the line is not valid JSON",
    "not_an_object": "the record is not a JSON object",
    "unknown_format": "no 'messages' or 'conversations' list",
    "bad_turn": "a turn is not an object with role/content (or from/value) strings",
    "unknown_role": "a turn's role is not system/user/assistant (or human/gpt)",
    "missing_user_turn": "no user turn",
    "missing_assistant_turn": "no assistant turn after the user turn",
    "empty_text": "a turn is empty or whitespace only",
    "invalid_unicode": "text is not valid Unicode (lone surrogate)",
    "too_long": "the turn to rewrite is longer than curate.max_chars",
    "bad_images": "'images'/'image' is not a path or a list of paths",
    "missing_image": "an image file does not exist",
    "placeholder_mismatch": "the number of <image> slots differs from the number of images",
    "render_error": "the renderer raised on this text (fallbacks included)",
    "span_clipped": "one block of the span (a formula, a sentence) does not fit an image even at the smallest size",
    "processing_error": "distorting or saving the rendered image raised (detail has the exception)",
}

ROLE_MAP = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "model": "assistant",
            "bot": "assistant", "system": "system"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class Rejection:
    source: str
    line: int
    reason: str
    detail: str = ""

    def to_dict(self) -> dict:
        return {"source": self.source, "line": self.line, "reason": self.reason, "detail": self.detail}


@dataclass
class Sample:
    """One normalized record. ``images`` are absolute paths; ``turn`` indexes the user turn to rewrite."""

    source: str
    line: int
    messages: list[dict[str, str]]
    images: list[str]
    turn: int
    control_chars_stripped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# --- input files -------------------------------------------------------------------------------------------

def input_kind(path: Path) -> str:
    """``jsonl``, ``json``, ``parquet`` or ``arrow_dir``; a clear error for anything else."""
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    if path.is_dir():
        if any(path.glob("*.arrow")):
            return "arrow_dir"
        raise ValueError(f"{path}: a folder input must be a datasets folder (save_to_disk) with .arrow files")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        with path.open("rb") as f:
            head = f.read(4096).lstrip()
        return "json" if head.startswith(b"[") else "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"{path}: unsupported input type {suffix!r}; use .jsonl, .json, .parquet or a datasets folder")


def fingerprint(path: Path) -> str:
    """Content fingerprint of a file or of a datasets folder (its files' fingerprints, sorted by name)."""
    if path.is_dir():
        return stable_hash({p.name: file_fingerprint(p) for p in sorted(path.iterdir()) if p.is_file()})
    return file_fingerprint(path)


def _rows_to_jsonl(rows: Iterator[Any], dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, dest)


def as_jsonl(path: Path, work_dir: Path, name: str) -> Path:
    """``path`` itself for JSONL; otherwise a streamed JSONL copy ``work_dir/input-<name>.jsonl`` (reused)."""
    kind = input_kind(path)
    if kind == "jsonl":
        return path
    dest = work_dir / f"input-{name}.jsonl"
    if dest.exists():
        return dest
    work_dir.mkdir(parents=True, exist_ok=True)
    if kind == "json":
        try:
            with path.open(encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from None
        _rows_to_jsonl(iter(data), dest)
    elif kind == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        _rows_to_jsonl((row for batch in pf.iter_batches(batch_size=1024) for row in batch.to_pylist()), dest)
    else:  # arrow_dir: datasets.save_to_disk writes Arrow IPC streams
        import pyarrow as pa

        def rows() -> Iterator[dict]:
            for f in sorted(path.glob("*.arrow")):
                with pa.memory_map(str(f)) as src:
                    try:
                        reader = pa.ipc.open_stream(src)
                    except pa.ArrowInvalid:
                        src.seek(0)
                        reader = pa.ipc.open_file(src)
                        for k in range(reader.num_record_batches):
                            yield from reader.get_batch(k).to_pylist()
                        continue
                    for batch in reader:
                        yield from batch.to_pylist()

        _rows_to_jsonl(rows(), dest)
    return dest


@dataclass
class JsonlIndex:
    """Record count of a JSONL file and, every ``shard_size`` records, where the shard starts."""

    records: int
    blank_lines: int
    shard_starts: list[tuple[int, int, int]]  # (byte offset, 1-based line, 0-based ordinal)


def index_jsonl(path: Path, shard_size: int) -> JsonlIndex:
    """One streaming pass over ``path`` (flat memory): count records and note shard start offsets."""
    records = blank = 0
    starts: list[tuple[int, int, int]] = []
    offset = 0
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if raw.strip():
                if records % shard_size == 0:
                    starts.append((offset, line_no, records))
                records += 1
            else:
                blank += 1
            offset += len(raw)
    return JsonlIndex(records, blank, starts)


def read_lines(path: Path, offset: int, first_line: int, count: int) -> Iterator[tuple[int, bytes]]:
    """``count`` non-blank lines of ``path`` from byte ``offset`` as ``(line_no, raw)``."""
    with path.open("rb") as f:
        f.seek(offset)
        line_no, got = first_line, 0
        while got < count:
            raw = f.readline()
            if not raw:
                break
            if raw.strip():
                yield line_no, raw
                got += 1
            line_no += 1


# --- records ------------------------------------------------------------------------------------------------

def _image_list(obj: dict) -> list | None:
    value = obj.get("images", obj.get("image"))
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def parse_record(raw: bytes | str, source: str, line: int, base_dir: Path, turn: str = "first",
                 max_chars: int = 20000) -> Sample | Rejection:
    """Normalize one raw JSON line into a :class:`Sample`, or say why not."""
    def reject(reason: str, detail: str = "") -> Rejection:
        return Rejection(source, line, reason, detail[:300])

    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return reject("malformed_json", str(e))
    if not isinstance(obj, dict):
        return reject("not_an_object", f"got {type(obj).__name__}")
    turns = obj.get("messages", obj.get("conversations"))
    if not isinstance(turns, list):
        return reject("unknown_format", f"keys: {sorted(obj)[:10]}")
    messages: list[dict[str, str]] = []
    if isinstance(obj.get("system"), str) and obj["system"].strip():
        messages.append({"role": "system", "content": obj["system"]})
    stripped = 0
    for k, t in enumerate(turns):
        if not isinstance(t, dict):
            return reject("bad_turn", f"turn {k} is {type(t).__name__}")
        role = t.get("role", t.get("from"))
        content = t.get("content", t.get("value"))
        if not isinstance(role, str) or not isinstance(content, str):
            return reject("bad_turn", f"turn {k} has role={role!r} and content of type {type(content).__name__}")
        if role.lower() not in ROLE_MAP:
            return reject("unknown_role", f"turn {k} role {role!r}; allowed: {sorted(ROLE_MAP)}")
        try:
            content.encode("utf-8")
        except UnicodeEncodeError as e:
            return reject("invalid_unicode", f"turn {k}: {e.reason} at {e.start}")
        content, n = _CONTROL.subn("", content)
        stripped += n
        if not content.strip():
            return reject("empty_text", f"turn {k} ({ROLE_MAP[role.lower()]}) is empty")
        messages.append({"role": ROLE_MAP[role.lower()], "content": content})
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        return reject("missing_user_turn", f"{len(messages)} turn(s), none from the user")
    target = users[0] if turn == "first" else users[-1]
    if not any(m["role"] == "assistant" for m in messages[target:]):
        return reject("missing_assistant_turn", f"no assistant turn after the {turn} user turn")
    if len(messages[target]["content"]) > max_chars:
        return reject("too_long", f"{len(messages[target]['content'])} chars > max_chars={max_chars}")
    images = _image_list(obj)
    if images is None:
        return reject("bad_images", f"images={str(obj.get('images', obj.get('image')))[:100]}")
    resolved = []
    for p in images:
        q = Path(p) if os.path.isabs(p) else base_dir / p
        if not q.is_file():
            return reject("missing_image", str(q))
        resolved.append(str(q))
    extra = {k: obj[k] for k in ("id", "meta") if k in obj}
    return Sample(source, line, messages, resolved, target, stripped, extra)


# --- output files -------------------------------------------------------------------------------------------

DATASET_INFO = {"lomo": {"file_name": "data.jsonl", "formatting": "sharegpt",
                         "columns": {"messages": "messages", "images": "images"},
                         "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                  "assistant_tag": "assistant", "system_tag": "system"}}}


def dumps_record(record: dict) -> str:
    """The one serialization used for data.jsonl and rejected.jsonl lines (sorted keys, UTF-8)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True)
