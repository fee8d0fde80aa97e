"""Reads a curated dataset directory (data.jsonl + images/) into model samples, setting bad records aside.

A record is set aside — with its id, line and reason, written to ``skipped.jsonl`` and counted — when its
line is not JSON, lacks messages/images, its ``<image>`` slot count disagrees with its images, an image is
missing or unreadable, it does not fit ``max_seq_len``, or it has no assistant tokens.

Two ways in:

- :class:`StreamingDataset` (what ``train()`` uses): one cheap pass over ``data.jsonl`` finds where each
  line starts (:func:`index_lines`, NumPy over the bytes — no JSON parsed, no image opened); item ``i`` is
  read, checked and encoded when it is first consumed, in whichever DataLoader worker asks for it. An item
  whose record is bad is replaced by the next usable record in file order (``i+1, i+2, …``), so the sample
  for a position depends on ``i`` alone — not on the worker, the worker count or a resume — and the bad
  records met on the way come back with the sample to be counted (:class:`Item`).
- :func:`load_records`: the eager check of every record before training (``trainer.strict``: the first bad
  record stops the run with a ``DatasetError`` naming the file, line and record id).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
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
            continue  # set aside (with its reason) when training meets it
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


class _SetAside(Exception):
    def __init__(self, skipped: Skipped):
        super().__init__(skipped)
        self.skipped = skipped


def prepare(line_no: int, line: str, data_dir: Path, processor: Any, max_seq_len: int
            ) -> tuple[str, list[dict], list[Path], dict[str, torch.Tensor]]:
    """One line of data.jsonl checked and encoded: (id, messages, image paths, encoding).

    Raises :class:`_SetAside` carrying the :class:`Skipped` entry when the record is unusable."""
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
        return rid, messages, paths, enc
    except ValueError as e:
        reason, detail = (tuple(e.args) + ("", ""))[:2] if e.args else ("error", "")
        raise _SetAside(Skipped(rid, line_no, str(reason), str(detail))) from e


def _strict_error(source: Path, s: Skipped) -> DatasetError:
    return DatasetError(f"{source}:{s.line}: record {s.id!r}: {s.reason}: {s.detail}")


def load_records(data_dir: str | Path, processor: Any, max_seq_len: int, strict: bool = False,
                 progress: bool = True, cache_bytes: int = 0
                 ) -> tuple[list[Record], list[Skipped], dict[int, dict[str, torch.Tensor]]]:
    """Checks every record (and encodes it once to know its length); returns (usable, set aside, cache).

    The eager path: it reads and encodes the whole dataset before returning. The cache maps a record's
    index in ``usable`` to its encoding, for as many records as fit in ``cache_bytes``.
    """
    data_dir = Path(data_dir)
    records: list[Record] = []
    skipped: list[Skipped] = []
    cache: dict[int, dict[str, torch.Tensor]] = {}
    cached_bytes = 0
    source = data_dir / C.DATA
    for line_no, line in tqdm(list(iter_raw(data_dir)), desc="check records", disable=not progress):
        try:
            rid, messages, paths, enc = prepare(line_no, line, data_dir, processor, max_seq_len)
        except _SetAside as e:
            if strict:
                raise _strict_error(source, e.skipped) from e
            skipped.append(e.skipped)
            continue
        size = _nbytes(enc)
        if cached_bytes + size <= cache_bytes:
            cache[len(records)] = enc
            cached_bytes += size
        records.append(Record(rid, line_no, messages, paths, len(enc["input_ids"])))
    return records, skipped, cache


class EncodedDataset(torch.utils.data.Dataset):
    """Encodes a checked record (loading its images) on access unless cached (the eager path's dataset).

    As with :class:`StreamingDataset`, cached tensors are handed out as they are: collate them in the
    process that holds the cache (train/loader.py) rather than sending them to another one."""

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


# ------------------------------------------------------------------------------------------- streaming
@dataclasses.dataclass(frozen=True)
class LineIndex:
    """Where each non-blank line of a file starts (byte offset), how long it is, and its 1-based number."""

    path: Path
    starts: np.ndarray  # int64
    lengths: np.ndarray  # int64, without the newline
    line_nos: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.starts)


def index_lines(path: str | Path, chunk_bytes: int = 64 * 2**20) -> LineIndex:
    """One pass over the bytes of ``path`` (NumPy, ``chunk_bytes`` at a time): the :class:`LineIndex` of its
    non-blank lines. Nothing is parsed; a 1 GB file takes about a second."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no data.jsonl in the curated dataset directory")
    newlines, size = [], 0
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            newlines.append(np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + size)
            size += len(chunk)
    nl = np.concatenate(newlines) if newlines else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [size]]).astype(np.int64)
    lengths = ends - starts
    line_nos = np.arange(1, len(starts) + 1, dtype=np.int64)
    keep = lengths > 0
    short = np.flatnonzero(keep & (lengths <= 64))  # whitespace-only lines are blank too (rare: check them)
    if len(short):
        with path.open("rb") as f:
            for j in short:
                f.seek(int(starts[j]))
                if not f.read(int(lengths[j])).strip():
                    keep[j] = False
    return LineIndex(path, starts[keep], lengths[keep], line_nos[keep])


@dataclasses.dataclass
class Item:
    """What the streaming dataset hands the training loop for one position of the sample order."""

    index: int  # the position asked for (an index into the non-blank lines)
    used: int  # the index whose record was encoded (``index`` unless that record was bad)
    sample: dict[str, torch.Tensor]
    skipped: list[Skipped]  # the bad records met on the way from ``index`` to ``used``


class StreamingDataset(torch.utils.data.Dataset):
    """Item ``i`` of data.jsonl read, checked and encoded on first access (in the DataLoader worker that asks).

    A bad record is set aside and replaced by the next usable one in file order, wrapping around; a
    dataset with no usable record at all raises :class:`DatasetError`. Encodings are kept in memory up to
    ``cache_bytes`` per process (each worker process holds its own cache), bad records always (they are
    small), so a later epoch does not re-encode what fits.

    The cached tensors are handed out as they are: they must not be sent to another process as they are
    (a DataLoader worker would move each into shared memory and keep one open file per tensor until
    ``ulimit -n`` runs out). ``train()`` collates in the worker (train/loader.py), so only the new batch
    tensors cross.
    """

    def __init__(self, data_dir: str | Path, processor: Any, max_seq_len: int, cache_bytes: int = 0,
                 index: LineIndex | None = None, strict: bool = False):
        self.data_dir = Path(data_dir)
        self.index = index if index is not None else index_lines(self.data_dir / C.DATA)
        self.processor, self.max_seq_len, self.strict = processor, max_seq_len, strict
        self.cache_bytes = cache_bytes
        self._cache: dict[int, dict[str, torch.Tensor]] = {}
        self._cached = 0
        self._bad: dict[int, Skipped] = {}
        self._fh: Any = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict[str, Any]:  # spawned workers open their own file handle
        state = dict(self.__dict__)
        state["_fh"], state["_pid"] = None, -1
        return state

    def _line(self, i: int) -> str:
        if self._fh is None or self._pid != os.getpid():  # a forked worker must not share the parent's offset
            self._fh, self._pid = self.index.path.open("rb"), os.getpid()
        self._fh.seek(int(self.index.starts[i]))
        raw = self._fh.read(int(self.index.lengths[i]))
        return raw.decode("utf-8", errors="replace")

    def encode_index(self, i: int) -> dict[str, torch.Tensor] | Skipped:
        """The encoding of record ``i``, or its :class:`Skipped` entry."""
        if i in self._cache:
            return self._cache[i]
        if i in self._bad:
            return self._bad[i]
        line_no = int(self.index.line_nos[i])
        try:
            _, _, _, enc = prepare(line_no, self._line(i), self.data_dir, self.processor, self.max_seq_len)
        except _SetAside as e:
            if self.strict:
                raise _strict_error(self.index.path, e.skipped) from e
            self._bad[i] = e.skipped
            return e.skipped
        size = _nbytes(enc)
        if self._cached + size <= self.cache_bytes:
            self._cache[i] = enc
            self._cached += size
        return enc

    def __getitem__(self, i: int) -> Item:
        n, met = len(self), []
        for k in range(n):
            j = (i + k) % n
            got = self.encode_index(j)
            if isinstance(got, Skipped):
                met.append(got)
                continue
            return Item(i, j, got, met)
        raise DatasetError(f"{self.index.path}: none of its {n} record(s) is usable "
                           f"(first set aside: line {met[0].line}: {met[0].reason}: {met[0].detail})"
                           if met else f"{self.index.path}: no records")
