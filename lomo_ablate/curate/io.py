"""Normalizing one record; the curated directory's fixed files.

Inputs are read by :mod:`lomo_ablate.curate.readers` (every layout becomes one JSONL copy, one record per
line); this module turns one such line into a :class:`Sample` or a :class:`Rejection` with a reason from
:data:`REASONS`. :func:`parse_record` never raises: whatever one record holds (JSON nested 1,000 deep, an
integer of 5,000 digits, NaN, wrong types) is that record's rejection.

Records: the LLaMA-Factory/ShareGPT ``messages`` form (role/content, ``images``, ``videos``, ``tools``,
``system``) or the LLaVA ``conversations`` form (from/value with human/gpt, ``image``). A turn may carry
``{from, value}``, ``{role, content}`` or all four keys with one pair null; content may be a string or a
list of parts (OpenAI/TRL: ``{"type": "text", "text"}``, ``{"type": "image"}`` — an image part is an
``<image>`` slot, with its image when the part carries one). Roles are normalized to system/user/assistant
and LLaMA-Factory's function_call/observation (``tool`` → observation); the order LLaMA-Factory accepts is
enforced (after an optional system prompt: user/observation and assistant/function_call alternating,
starting with user/observation, ending on assistant/function_call), else ``bad_role_order``.
``"images": null`` beside ``"image"`` uses ``image``.

Text cleaning: C0/C1 control characters other than tab, newline and carriage return are stripped (and
counted); text that is not valid Unicode (lone surrogates) is rejected.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.curate.media import MediaProblem, MediaRef, decode_inline, resolve_in_root
from lomo_ablate.curate.readers import MARKER

REASONS = {
    "malformed_json": "the line is not valid JSON (or JSON Python cannot hold: an integer over 4,300 digits)",
    "non_finite_number": "the record holds NaN or Infinity, which strict JSON has no form for",
    "too_deeply_nested": "the record nests deeper than MAX_DEPTH levels",
    "not_an_object": "the record is not a JSON object",
    "unknown_format": "no 'messages' or 'conversations' list",
    "bad_turn": "a turn is not an object with role/content (or from/value) strings (or a list of parts)",
    "unknown_role": "a turn's role is not system/user/assistant/function_call/observation (or human/gpt/tool)",
    "missing_user_turn": "no user turn",
    "missing_assistant_turn": "no assistant turn after the user turn",
    "bad_role_order": "the turns are not in the order LLaMA-Factory accepts (it would drop the record)",
    "empty_text": "a turn is empty or whitespace only",
    "invalid_unicode": "text is not valid Unicode (lone surrogate)",
    "too_long": "the turn to rewrite is longer than curate.max_chars",
    "bad_images": "'images'/'image' is not a path, an image struct or a list of these",
    "image_outside_root": "an image path resolves outside its image root (absolute, '..' or a symlink out)",
    "missing_image": "an image file does not exist under its image root",
    "bad_image_file": "an image is not a decodable image (empty, wrong header, fails verify, truncated)",
    "placeholder_mismatch": "the number of <image> slots differs from the number of images",
    "bad_videos": "'videos' is not a path or a list of paths",
    "video_outside_root": "a video path resolves outside its image root",
    "missing_video": "a video file does not exist under its image root (or is empty)",
    "video_slot_mismatch": "the number of <video> slots differs from the number of videos",
    "render_error": "the renderer raised on this text (fallbacks included)",
    "span_clipped": "one block of the span (a formula, a sentence) does not fit an image even at the smallest size",
    "processing_error": "processing this record raised (detail has the exception)",
}

ROLE_MAP = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "model": "assistant",
            "bot": "assistant", "system": "system", "function_call": "function_call",
            "observation": "observation", "tool": "observation"}
#: LLaMA-Factory's sharegpt rule: odd positions (1st, 3rd, …) user/observation, even ones assistant/function_call.
_ODD, _EVEN = ("user", "observation"), ("assistant", "function_call")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Deepest nesting a record may have (SFT records need < 10; deeper input is hostile or broken).
MAX_DEPTH = 64
_IMAGE_PARTS = ("image", "image_url", "input_image")
_TEXT_PARTS = ("text", "input_text")


@dataclass
class Rejection:
    source: str
    line: int
    reason: str
    detail: str = ""
    file: str = ""
    file_line: int = 0

    def to_dict(self) -> dict:
        return {"source": self.source, "line": self.line, "file": self.file, "file_line": self.file_line,
                "reason": self.reason, "detail": self.detail}


@dataclass
class Sample:
    """One normalized record. ``images``/``videos`` are checked references (inside their root, or bytes);
    ``turn`` indexes the user turn to rewrite."""

    source: str
    line: int
    messages: list[dict[str, str]]
    images: list[MediaRef]
    turn: int
    control_chars_stripped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    videos: list[MediaRef] = field(default_factory=list)
    file: str = ""
    file_line: int = 0


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _no_constant(name: str) -> Any:
    raise _Reject("non_finite_number", f"{name} is not JSON")


def _depth(obj: Any) -> int:
    """Nesting depth of ``obj``, iteratively (a recursive walk is what a hostile record would break)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def _pick(t: dict, *keys: str) -> Any:
    """The first of ``keys`` whose value is not None (the four-key form has one pair null)."""
    for k in keys:
        if t.get(k) is not None:
            return t[k]
    return None


def _image_ref(value: Any, root: Path) -> MediaRef:
    """One image entry (a path, a data: URI / base64 string, or an ``{bytes, path}``/``{url}`` dict)."""
    if isinstance(value, dict):
        inner = _pick(value, "bytes", "path", "url", "image_url", "image")
        if isinstance(inner, dict):
            inner = _pick(inner, "url", "path")
        value = inner
    if not isinstance(value, str):
        raise _Reject("bad_images", f"image entry of type {type(value).__name__}")
    data = decode_inline(value)
    if data is not None:
        return MediaRef("bytes", data=data)
    return MediaRef("path", path=resolve_in_root(value, root))


def _content(content: Any, k: int, part_images: list[Any]) -> str:
    """A turn's text: the string, or the parts joined (an image part is one ``<image>`` slot)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _Reject("bad_turn", f"turn {k} content of type {type(content).__name__}")
    pieces = []
    for j, part in enumerate(content):
        if isinstance(part, str):
            pieces.append(part)
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            pieces.append(part["text"])
        elif kind in _IMAGE_PARTS:
            pieces.append(IMAGE_SLOT)
            ref = _pick(part, "image", "image_url", "url", "path")
            if ref is not None:
                part_images.append(ref)
        else:
            raise _Reject("bad_turn", f"turn {k} part {j} is not a text or image part: {str(part)[:80]}")
    return "".join(pieces)


def _as_list(value: Any) -> list | None:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    return list(value) if isinstance(value, list) else None


def parse_record(raw: bytes | str, source: str, line: int, base_dir: Path, turn: str = "first",
                 max_chars: int = 20000, file: str = "", file_line: int = 0) -> Sample | Rejection:
    """Normalize one raw JSON line into a :class:`Sample`, or say why not (never raises)."""
    try:
        return _parse(raw, source, line, Path(base_dir), turn, max_chars, file, file_line or line)
    except _Reject as r:
        return Rejection(source, line, r.reason, r.detail[:300], file, file_line or line)
    except MediaProblem as m:
        return Rejection(source, line, m.reason, m.detail[:300], file, file_line or line)
    except Exception as e:  # noqa: BLE001 - nothing one record holds may stop the run
        return Rejection(source, line, "processing_error", f"{type(e).__name__}: {e}"[:300], file,
                         file_line or line)


def _parse(raw: bytes | str, source: str, line: int, root: Path, turn: str, max_chars: int, file: str,
           file_line: int) -> Sample:
    try:
        obj = json.loads(raw, parse_constant=_no_constant)
    except _Reject:
        raise
    except RecursionError:
        raise _Reject("too_deeply_nested", "nesting too deep to parse") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, and ints over 4,300 digits
        raise _Reject("malformed_json", str(e)) from None
    if isinstance(obj, dict) and isinstance(obj.get(MARKER), dict):
        m = obj[MARKER]
        raise _Reject(str(m.get("reason", "malformed_json")), str(m.get("detail", "")))
    if not isinstance(obj, dict):
        raise _Reject("not_an_object", f"got {type(obj).__name__}")
    if _depth(obj) > MAX_DEPTH:
        raise _Reject("too_deeply_nested", f"nests deeper than {MAX_DEPTH} levels")
    turns = _pick(obj, "messages", "conversations")
    if not isinstance(turns, list):
        raise _Reject("unknown_format", f"keys: {sorted(obj)[:10]}")
    messages: list[dict[str, str]] = []
    system = obj.get("system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    stripped = 0
    part_images: list[Any] = []
    for k, t in enumerate(turns):
        if not isinstance(t, dict):
            raise _Reject("bad_turn", f"turn {k} is {type(t).__name__}")
        role = _pick(t, "role", "from")
        if not isinstance(role, str):
            raise _Reject("bad_turn", f"turn {k} has role={role!r}")
        if role.lower() not in ROLE_MAP:
            raise _Reject("unknown_role", f"turn {k} role {role!r}; allowed: {sorted(ROLE_MAP)}")
        content = _content(_pick(t, "content", "value"), k, part_images)
        try:
            content.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _Reject("invalid_unicode", f"turn {k}: {e.reason} at {e.start}") from None
        content, n = _CONTROL.subn("", content)
        stripped += n
        if not content.strip():
            raise _Reject("empty_text", f"turn {k} ({ROLE_MAP[role.lower()]}) is empty")
        messages.append({"role": ROLE_MAP[role.lower()], "content": content})
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        raise _Reject("missing_user_turn", f"{len(messages)} turn(s), none from the user")
    target = users[0] if turn == "first" else users[-1]
    if not any(m["role"] == "assistant" for m in messages[target:]):
        raise _Reject("missing_assistant_turn", f"no assistant turn after the {turn} user turn")
    body = messages[1:] if messages[0]["role"] == "system" else messages
    for i, m in enumerate(body):
        if m["role"] not in (_ODD if i % 2 == 0 else _EVEN):
            raise _Reject("bad_role_order", f"turn {i} is {m['role']!r}, expected one of "
                                            f"{_ODD if i % 2 == 0 else _EVEN}")
    if len(body) % 2:
        raise _Reject("bad_role_order", f"{len(body)} turns: the conversation ends on a {body[-1]['role']} turn")
    if len(messages[target]["content"]) > max_chars:
        raise _Reject("too_long", f"{len(messages[target]['content'])} chars > max_chars={max_chars}")
    entries = _as_list(_pick(obj, "images", "image"))
    if entries is None:
        raise _Reject("bad_images", f"images={str(_pick(obj, 'images', 'image'))[:100]}")
    if entries and part_images:
        raise _Reject("bad_images", "images both in the 'images' column and inside content parts")
    images = [_image_ref(v, root) for v in (entries or part_images)]
    vids = _as_list(_pick(obj, "videos", "video"))
    if vids is None or not all(isinstance(v, str) for v in vids):
        raise _Reject("bad_videos", f"videos={str(_pick(obj, 'videos', 'video'))[:100]}")
    videos = [MediaRef("path", path=resolve_in_root(v, root, kind="video")) for v in vids]
    extra: dict[str, Any] = {}
    if obj.get("id") is not None:
        extra["id"] = str(obj["id"])
    if obj.get("meta") is not None:
        extra["meta"] = json.dumps(obj["meta"], ensure_ascii=False, sort_keys=True, allow_nan=False)
    tools = obj.get("tools")
    if tools is not None:
        extra["tools"] = tools if isinstance(tools, str) else json.dumps(tools, ensure_ascii=False,
                                                                         allow_nan=False)
    return Sample(source, line, messages, images, target, stripped, extra, videos, file, file_line)


# --- reading the pool copy lazily ---------------------------------------------------------------------

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



# --- output files -------------------------------------------------------------------------------------------

DATASET_INFO = {"lomo": {"file_name": "data.jsonl", "formatting": "sharegpt",
                         "columns": {"messages": "messages", "images": "images", "videos": "videos",
                                     "tools": "tools"},
                         "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                  "assistant_tag": "assistant", "system_tag": "system",
                                  "function_tag": "function_call", "observation_tag": "observation"}}}


def dataset_info(counts: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's dataset_info.json for the folder: ``videos``/``tools`` columns only when some record
    has them (its converter reads every declared column)."""
    info = json.loads(json.dumps(DATASET_INFO))
    cols = info["lomo"]["columns"]
    if not counts.get("with_videos"):
        cols.pop("videos")
    if not counts.get("with_tools"):
        cols.pop("tools")
    return info


def dumps_record(record: dict) -> str:
    """The one serialization used for data.jsonl and rejected.jsonl lines (sorted keys, UTF-8, strict JSON:
    NaN/Infinity raise ValueError instead of being written as bare ``NaN``)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, allow_nan=False)
