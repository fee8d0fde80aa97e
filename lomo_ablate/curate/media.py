"""Images and videos a record references: where they may come from, whether they are real, where they go.

- A **path** resolves against its pool's root (``image_dir=`` / ``multimodal_image_dir=``; default: the
  folder of the input file the record came from). Whatever resolves outside the root — an absolute path
  elsewhere, ``..``, or a symlink leading out — is :class:`MediaProblem` ``image_outside_root`` and is never
  opened; a path inside that is not a regular file is ``missing_image``.
- **Bytes** (an HF ``Image`` struct's ``bytes``, a ``data:image/...;base64,`` URI, a bare base64 string, a
  webdataset member) are taken as they are.
- Every image is checked before it is written: its header must be one of PNG, JPEG, GIF, WebP, BMP, TIFF,
  Pillow must open and ``verify()`` it, and a JPEG must end with its EOI marker (a truncated JPEG passes
  ``verify()``); otherwise ``bad_image_file``. Nothing is re-encoded.
- Images are written to ``OUT/images/<2 hex>/<sha256[:32]>.<format>``, named by content: a duplicate is
  stored once. ``image_mode`` ``hardlink``/``symlink`` link to the (checked, inside-root) source instead.
- Videos: paths only, same root rule (``video_outside_root``, ``missing_video``), non-empty; written to
  ``OUT/videos/`` the same way. They are not decoded.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lomo_ablate import contracts as C

#: Largest image or video file accepted (a larger one is ``bad_image_file`` / ``missing_video``).
MAX_MEDIA_BYTES = 512 << 20
_DATA_URI = re.compile(r"^data:(image|video)/[A-Za-z0-9.+-]+;base64,", re.ASCII)
_B64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$", re.ASCII)


class MediaProblem(Exception):
    """Why one image/video cannot be used; ``reason`` is one of curate.io.REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class MediaRef:
    """One image or video of a record: a checked path inside its root, or bytes."""

    kind: str                 # "path" or "bytes"
    path: str | None = None   # real path (symlinks resolved), inside the root
    data: bytes | None = None


def sniff_image(data: bytes) -> str | None:
    """The image format by its header (``png``, ``jpg``, ``gif``, ``webp``, ``bmp``, ``tif``) or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    return None


def check_image(data: bytes, what: str) -> str:
    """The format of the image ``data`` (see :func:`sniff_image`); :class:`MediaProblem` ``bad_image_file``
    when it is empty, not an image by its header, fails Pillow's ``verify()`` or is a truncated JPEG."""
    if not data:
        raise MediaProblem("bad_image_file", f"{what}: empty file")
    fmt = sniff_image(data)
    if fmt is None:
        raise MediaProblem("bad_image_file", f"{what}: not an image (header {data[:8]!r})")
    if fmt == "jpg" and b"\xff\xd9" not in data[-1024:]:
        raise MediaProblem("bad_image_file", f"{what}: truncated JPEG (no end-of-image marker)")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except Exception as e:  # noqa: BLE001 - Pillow raises many types (incl. DecompressionBombError)
        raise MediaProblem("bad_image_file", f"{what}: {type(e).__name__}: {e}") from None
    return fmt


def decode_inline(value: str) -> bytes | None:
    """The bytes of a ``data:`` URI or of a bare base64 string that decodes to an image; None otherwise (then
    the string is a path)."""
    m = _DATA_URI.match(value)
    if m:
        try:
            return base64.b64decode(value[m.end():], validate=False)
        except (binascii.Error, ValueError):
            raise MediaProblem("bad_image_file", "data: URI with invalid base64") from None
    if len(value) >= 64 and "/" not in value[:16] and "." not in value[-8:] and _B64.match(value[:4096]):
        try:
            data = base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError):
            return None
        return data if sniff_image(data) else None
    return None


def resolve_in_root(ref: str, root: Path, kind: str = "image") -> str:
    """The real path of ``ref`` (relative to ``root``, or absolute) when it stays inside ``root`` and is a
    regular file; :class:`MediaProblem` otherwise. Nothing outside ``root`` is opened or stat'ed further."""
    if "\x00" in ref or not ref.strip():
        raise MediaProblem(f"missing_{kind}", f"{kind} path {ref!r} is empty or has a NUL byte")
    root_real = os.path.realpath(root)
    candidate = ref if os.path.isabs(ref) else os.path.join(root_real, ref)
    real = os.path.realpath(candidate)
    if os.path.commonpath([root_real, real]) != root_real:
        raise MediaProblem(f"{kind}_outside_root", f"{ref!r} resolves outside the {kind} root {root_real}")
    if not os.path.isfile(real):
        raise MediaProblem(f"missing_{kind}", f"{ref!r} is not a file under {root_real}")
    return real


def read_bounded(path: str, kind: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_MEDIA_BYTES:
        raise MediaProblem("bad_image_file" if kind == "image" else "missing_video",
                           f"{path}: {size} bytes > {MAX_MEDIA_BYTES}")
    with open(path, "rb") as f:
        return f.read()


def content_name(data: bytes, ext: str, folder: str) -> str:
    """``<folder>/<2 hex>/<sha256[:32]>.<ext>``: the relative path of ``data`` inside the output folder."""
    h = hashlib.sha256(data).hexdigest()[:32]
    return f"{folder}/{h[:2]}/{h}.{ext}"


def place(ref: MediaRef, out_dir: Path, mode: str, kind: str = "image") -> str:
    """Check ``ref`` and write it into ``out_dir`` (see the module doc); returns its relative path."""
    if ref.kind == "bytes":
        data = ref.data or b""
        what = "embedded image bytes" if kind == "image" else "embedded video bytes"
    else:
        data = read_bounded(ref.path, kind)
        what = ref.path
    if kind == "image":
        ext = check_image(data, what)
        folder = C.IMAGES_DIR
    else:
        if not data:
            raise MediaProblem("missing_video", f"{what}: empty file")
        ext = (Path(ref.path).suffix.lstrip(".").lower() if ref.path else "") or "bin"
        folder = C.VIDEOS_DIR
    rel = content_name(data, ext, folder)
    dest = out_dir / rel
    if dest.exists() or dest.is_symlink():
        return rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    if ref.kind == "path" and mode == "symlink":
        os.symlink(ref.path, tmp)  # ref.path is real and inside its root (resolve_in_root)
    elif ref.kind == "path" and mode == "hardlink":
        try:
            os.link(ref.path, tmp)
        except OSError:
            tmp.write_bytes(data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, dest)
    return rel


__all__ = ["MAX_MEDIA_BYTES", "MediaProblem", "MediaRef", "check_image", "content_name", "decode_inline",
           "place", "resolve_in_root", "sniff_image"]

