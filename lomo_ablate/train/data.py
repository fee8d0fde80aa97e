"""Reads a curated dataset directory (data.jsonl + images/) into checked records, setting bad ones aside.

A record is set aside — with its id, line and reason, written to ``skipped.jsonl`` and counted — when its
line is not JSON, lacks messages/images, its ``<image>`` slot count disagrees with its images, an image is
missing or unreadable, or it does not fit ``max_seq_len``. With ``strict`` the first such record stops the
run with a ``DatasetError`` naming the file, line and record id.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from PIL import Image
from tqdm import tqdm

from lomo_ablate import contracts as C
from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.models.encoding import EncodeError, encode


class DatasetError(ValueError):
    """A bad record in strict mode, or a dataset directory that cannot be used at all."""


@dataclasses.dataclass(frozen=True)
class Record:
    id: str
    line: int
    messages: list[dict]
    images: list[Path]
    num_tokens: int


@dataclasses.dataclass(frozen=True)
class Skipped:
    id: str  # the record's id, or line:<N> when it has none
    line: int
    reason: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def iter_raw(data_dir: Path) -> Iterator[tuple[int, str]]:
    path = data_dir / C.DATA
    if not path.is_file():
        raise DatasetError(f"{path}: no data.jsonl in the curated dataset directory")
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if line.strip():
                yield line_no, line


def tokenizer_corpus(data_dir: str | Path) -> list[str]:
    """All message texts of the dataset (slots removed): what the tiny model's tokenizer is trained on."""
    texts = []
    for _, line in iter_raw(Path(data_dir)):
        try:
            rec = json.loads(line)
            texts.extend(str(m.get("content", "")).replace(IMAGE_SLOT, " ") for m in rec.get("messages", []))
        except (json.JSONDecodeError, AttributeError, TypeError):
            continue  # set aside (with its reason) by load_records
    return texts


def _check(rec: Any, data_dir: Path) -> tuple[list[dict], list[Path]]:
    """Raises (reason, detail) as a ValueError tuple when the record is unusable."""
    if not isinstance(rec, dict):
        raise ValueError("not_an_object", f"expected a JSON object, got {type(rec).__name__}")
    messages, images = rec.get("messages"), rec.get("images", [])
    if not isinstance(messages, list) or not messages:
        raise ValueError("no_messages", "key 'messages' missing or empty")
    if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
        raise ValueError("bad_images", "key 'images' must be a list of relative paths")
    slots = sum(str(m.get("content", "")).count(IMAGE_SLOT) for m in messages if isinstance(m, dict))
    if slots != len(images):
        raise ValueError("slot_mismatch", f"{slots} <image> slot(s) but {len(images)} image(s)")
    paths = [data_dir / p for p in images]
    for p in paths:
        if not p.is_file():
            raise ValueError("image_missing", str(p))
        try:
            with Image.open(p) as im:
                im.verify()
        except Exception as e:  # noqa: BLE001 - any decoder error means unreadable
            raise ValueError("image_unreadable", f"{p}: {e}") from e
    return messages, paths


def load_images(paths: Sequence[Path]) -> list[Image.Image]:
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    return out


def _nbytes(enc: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in enc.values())


def load_records(data_dir: str | Path, processor: Any, max_seq_len: int, strict: bool = False,
                 progress: bool = True, cache_bytes: int = 0
                 ) -> tuple[list[Record], list[Skipped], dict[int, dict[str, torch.Tensor]]]:
    """Checks every record (and encodes it once to know its length); returns (usable, set aside, cache).

    The cache maps a record's index in ``usable`` to its encoding, for as many records as fit in
    ``cache_bytes`` (so a small dataset is encoded once, not once per epoch).
    """
    data_dir = Path(data_dir)
    records: list[Record] = []
    skipped: list[Skipped] = []
    cache: dict[int, dict[str, torch.Tensor]] = {}
    cached_bytes = 0
    source = data_dir / C.DATA
    for line_no, line in tqdm(list(iter_raw(data_dir)), desc="check records", disable=not progress):
        rid = f"line:{line_no}"
        try:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError("invalid_json", str(e)) from e
            if isinstance(rec, dict) and rec.get("id") is not None:
                rid = str(rec["id"])
            messages, paths = _check(rec, data_dir)
            try:
                enc = encode(processor, messages, load_images(paths), max_length=max_seq_len)
            except EncodeError as e:
                raise ValueError("too_long" if "max_length" in str(e) else "encode_error", str(e)) from e
            if int((enc["labels"] != -100).sum()) == 0:
                raise ValueError("no_assistant_tokens", "no assistant turn to learn from")
            size = _nbytes(enc)
            if cached_bytes + size <= cache_bytes:
                cache[len(records)] = enc
                cached_bytes += size
            records.append(Record(rid, line_no, messages, paths, len(enc["input_ids"])))
        except ValueError as e:
            reason, detail = (e.args + ("",))[:2] if len(e.args) >= 1 else ("error", "")
            item = Skipped(rid, line_no, str(reason), str(detail))
            if strict:
                raise DatasetError(f"{source}:{line_no}: record {rid!r}: {item.reason}: {item.detail}") from e
            skipped.append(item)
    return records, skipped, cache


class EncodedDataset(torch.utils.data.Dataset):
    """Encodes a record (loading its images) on access unless cached; used with a DataLoader's workers."""

    def __init__(self, records: Sequence[Record], processor: Any, max_seq_len: int,
                 cache: dict[int, dict[str, torch.Tensor]] | None = None):
        self.records, self.processor, self.max_seq_len = list(records), processor, max_seq_len
        self.cache = cache or {}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if i in self.cache:
            return self.cache[i]
        r = self.records[i]
        return encode(self.processor, r.messages, load_images(r.images), max_length=self.max_seq_len)
