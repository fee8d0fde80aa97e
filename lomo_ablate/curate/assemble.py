"""Assembly: put the rendered span back where it was (text–image–text) with safe ``<image>`` slots.

The literal ``<image>`` is the only slot marker (LLaMA-Factory counts it against ``len(images)``). Any literal
``<image>`` already in source text is escaped to ``< image>`` so it cannot become a slot; after assembly the
number of slots always equals the number of images (:func:`check_slots` raises otherwise).
"""
from __future__ import annotations

from typing import Sequence

from lomo_ablate.contracts import ESCAPED_SLOT, IMAGE_SLOT


def escape_placeholders(text: str) -> tuple[str, int]:
    """``text`` with every literal ``<image>`` replaced by ``< image>``, and how many were replaced."""
    n = text.count(IMAGE_SLOT)
    return (text.replace(IMAGE_SLOT, ESCAPED_SLOT) if n else text), n


def assemble_content(text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, int]:
    """The turn text with each span replaced by one ``<image>`` slot; the text around the spans is kept
    (escaped). Returns ``(content, escaped_count)``. Spans must be sorted and non-overlapping."""
    pieces, escaped, pos = [], 0, 0
    for s, e in spans:
        if not (pos <= s < e <= len(text)):
            raise ValueError(f"span {(s, e)} is empty, out of order or outside a text of {len(text)} chars")
        piece, k = escape_placeholders(text[pos:s])
        pieces.append(piece)
        escaped += k
        pos = e
    tail, k = escape_placeholders(text[pos:])
    pieces.append(tail)
    escaped += k
    # "<image>" has no proper border (no prefix equal to a suffix), so joining cannot create extra slots
    return IMAGE_SLOT.join(pieces), escaped


def count_slots(messages: Sequence[dict]) -> int:
    """Number of ``<image>`` slots over all message contents."""
    return sum(str(m.get("content", "")).count(IMAGE_SLOT) for m in messages)


def check_slots(messages: Sequence[dict], images: Sequence[str], record_id: str = "") -> None:
    """Raise ValueError unless the slot count equals the image count."""
    slots = count_slots(messages)
    if slots != len(images):
        raise ValueError(f"record {record_id}: {slots} <image> slot(s) but {len(images)} image(s)")
