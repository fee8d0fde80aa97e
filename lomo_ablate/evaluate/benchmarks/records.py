"""Reading benchmark rows from local files, without the ``datasets`` library.

Supported inputs (``iter_records(path)``):
- a ``.jsonl`` file (one JSON object per line; blank lines skipped), or a ``.json`` file holding a list;
- a ``.parquet`` file (as on the Hugging Face hub: ``data/validation-00000-of-00001.parquet``);
- an ``.arrow`` file (Arrow IPC stream — what ``datasets`` writes — or IPC file format);
- a folder written by ``datasets.Dataset.save_to_disk`` (``state.json`` lists its ``.arrow`` shards) or
  ``DatasetDict.save_to_disk`` (``dataset_dict.json`` + one such folder per split: pass ``split``);
- any other folder: its ``.jsonl``/``.json``/``.parquet``/``.arrow`` files in name order (only those whose
  name starts with ``split`` when given and some do).

Image cells may be what ``datasets``' ``Image`` feature stores (``{"bytes": ..., "path": ...}``), raw bytes,
a ``data:image/...;base64,`` URI, or a path (relative paths resolve against the data file's folder).
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from PIL import Image, UnidentifiedImageError

__all__ = ["RecordLocation", "ImageRef", "iter_records", "open_image", "decoded_bytes", "DataFileError"]

_DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")
_BATCH = 256


_B64 = re.compile(r"[A-Za-z0-9+/\s]+={0,2}\s*")


def _looks_base64(value: str) -> bool:
    """A long string of base64 characters only (no path separator but '/', no dot): an encoded image."""
    return len(value) >= 256 and "." not in value[:256] and _B64.fullmatch(value) is not None


class DataFileError(ValueError):
    """A data file or folder that cannot be read at all (message names the path)."""


@dataclass(frozen=True)
class RecordLocation:
    """Where a row came from: ``source`` file, 1-based ``row`` (a line number for JSONL)."""

    source: str
    row: int
    kind: str = "row"  # "line" for JSONL

    @property
    def base_dir(self) -> Path:
        return Path(self.source).parent

    def __str__(self) -> str:
        return f"{self.source}:{self.kind} {self.row}"


@dataclass(frozen=True)
class ImageRef:
    """An image not yet decoded: a file path or encoded bytes."""

    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def from_cell(cls, value: Any, root: Path) -> "ImageRef | Image.Image | None":
        """Interpret one image cell; raises ValueError / FileNotFoundError with the reason."""
        if value is None:
            return None
        if isinstance(value, Image.Image):
            return value
        if isinstance(value, dict):  # datasets' Image feature: {"bytes": b"...", "path": "x.png"}
            if value.get("bytes"):
                return cls._checked(cls(data=bytes(value["bytes"])))
            if value.get("path"):
                return cls.from_cell(str(value["path"]), root)
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls._checked(cls(data=bytes(value)))
        if isinstance(value, str):
            if not value.strip():
                return None
            if value.startswith("data:image"):
                try:
                    return cls._checked(cls(data=base64.b64decode(value.split(",", 1)[1])))
                except (IndexError, ValueError) as exc:
                    raise ValueError(f"bad data URI: {exc}") from None
            if _looks_base64(value):  # SimpleVQA and others store images as bare base64 strings
                try:
                    return cls._checked(cls(data=base64.b64decode(value, validate=False)))
                except (ValueError, binascii.Error) as exc:
                    raise ValueError(f"bad base64 image string ({len(value)} characters): {exc}") from None
            p = Path(value)
            p = p if p.is_absolute() else root / p
            try:
                found = p.is_file()
            except OSError as exc:  # e.g. "File name too long" for a string that is no path
                raise ValueError(f"image cell is neither a readable path nor base64 ({len(value)} characters): "
                                 f"{exc.strerror or exc}") from None
            if not found:
                raise FileNotFoundError(f"image file not found: {p}")
            return cls._checked(cls(path=p))
        raise ValueError(f"cannot read an image from a {type(value).__name__}")

    @staticmethod
    def _checked(ref: "ImageRef") -> "ImageRef":
        """Read the header now so a broken image is reported at load time, not mid-evaluation."""
        try:
            with Image.open(ref._stream()) as im:
                im.size  # noqa: B018 — header parse only
        except (UnidentifiedImageError, OSError) as exc:
            what = ref.path if ref.path else f"{len(ref.data or b'')} bytes"
            raise ValueError(f"not a readable image ({what}): {exc}") from None
        return ref

    def _stream(self):
        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")

    def open(self) -> Image.Image:
        with Image.open(self._stream()) as im:
            return im.convert("RGB")


def open_image(x: Any) -> Image.Image:
    """An RGB PIL image from a PIL image, an :class:`ImageRef` or a path."""
    if isinstance(x, Image.Image):
        return x if x.mode == "RGB" else x.convert("RGB")
    if isinstance(x, ImageRef):
        return x.open()
    if isinstance(x, (str, Path)):
        return ImageRef(path=Path(x)).open()
    raise TypeError(f"open_image: cannot open a {type(x).__name__}")


# ---------------------------------------------------------------------------------------- files
def iter_records(path: str | Path, split: str | None = None) -> Iterator[tuple[RecordLocation, dict]]:
    """Yield (location, row dict) for every row under ``path`` (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise DataFileError(f"{p}: no such file or folder")
    for f in _data_files(p, split):
        yield from _iter_file(f)


def _data_files(p: Path, split: str | None) -> list[Path]:
    if p.is_file():
        return [p]
    if (p / "dataset_dict.json").is_file():  # DatasetDict.save_to_disk
        splits = _read_json(p / "dataset_dict.json").get("splits", [])
        if split is None:
            if len(splits) != 1:
                raise DataFileError(f"{p}: a DatasetDict with splits {splits}; choose one with split=")
            split = splits[0]
        if split not in splits:
            raise DataFileError(f"{p}: no split {split!r}; available: {', '.join(splits)}")
        return _data_files(p / split, None)
    if (p / "state.json").is_file():  # Dataset.save_to_disk
        shards = [d["filename"] for d in _read_json(p / "state.json").get("_data_files", [])]
        if not shards:
            raise DataFileError(f"{p / 'state.json'}: lists no _data_files")
        return [p / s for s in shards]
    if split is not None and (p / split).is_dir():
        return _data_files(p / split, None)
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in _DATA_SUFFIXES
                   and f.name not in ("dataset_info.json", "state.json", "dataset_dict.json"))
    if split is not None:
        chosen = [f for f in files if f.name.startswith(split)]
        files = chosen or files
    if not files:
        raise DataFileError(f"{p}: no {'/'.join(_DATA_SUFFIXES)} files found")
    return files


def _read_json(p: Path) -> dict:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(f"{p}: cannot read JSON: {exc}") from None


def _iter_file(f: Path) -> Iterator[tuple[RecordLocation, dict]]:
    if f.suffix == ".jsonl":
        yield from _iter_jsonl(f)
    elif f.suffix == ".json":
        data = _read_json(f)
        if not isinstance(data, list):
            raise DataFileError(f"{f}: expected a JSON list of objects, got {type(data).__name__}")
        for i, rec in enumerate(data, 1):
            if not isinstance(rec, dict):
                raise DataFileError(f"{f}:row {i}: expected an object, got {type(rec).__name__}")
            yield RecordLocation(str(f), i), rec
    elif f.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(f)
        except (pa.ArrowException, OSError) as exc:
            raise DataFileError(f"{f}: cannot read Parquet: {exc}") from None
        yield from _iter_batches(f, parquet.iter_batches(batch_size=_BATCH))
    elif f.suffix == ".arrow":
        yield from _iter_batches(f, _arrow_batches(f))
    else:
        raise DataFileError(f"{f}: unsupported file type (use {', '.join(_DATA_SUFFIXES)})")


def _iter_jsonl(f: Path) -> Iterator[tuple[RecordLocation, dict]]:
    with open(f, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{f}:line {n}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(rec, dict):
                raise DataFileError(f"{f}:line {n}: expected a JSON object, got {type(rec).__name__}")
            yield RecordLocation(str(f), n, "line"), rec


def _arrow_batches(f: Path):
    import pyarrow as pa

    source = pa.memory_map(str(f), "r")
    try:
        reader = pa.ipc.open_stream(source)  # what datasets writes
    except pa.ArrowInvalid:
        try:
            reader = pa.ipc.open_file(pa.memory_map(str(f), "r"))
        except pa.ArrowInvalid as exc:
            raise DataFileError(f"{f}: not an Arrow IPC stream or file: {exc}") from None
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
        return
    yield from reader


def _iter_batches(f: Path, batches) -> Iterator[tuple[RecordLocation, dict]]:
    row = 0
    for batch in batches:
        for rec in batch.to_pylist():
            row += 1
            yield RecordLocation(str(f), row), rec


def decoded_bytes(im: Image.Image) -> int:
    """The bytes Pillow holds for ``im``'s pixels: 1 per pixel for ``1`` / ``L`` / ``P``, 2 for ``I;16*``, else
    4 — Pillow stores an RGB pixel in 4 bytes (a 1224×1584 RGB page: 7.8 MB, not 5.8)."""
    if im.mode in ("1", "L", "P"):
        per = 1
    elif im.mode.startswith("I;16"):
        per = 2
    else:
        per = 4
    return im.width * im.height * per
