"""Assembly: put the rendered span back where it was (text–image–text) with safe ``<image>`` slots.

The literal ``<image>`` is the only slot marker (LLaMA-Factory counts it against ``len(images)``). Any literal
``<image>`` already in source text is escaped to ``< image>`` so it cannot become a slot; after assembly the
number of slots always equals the number of images (:func:`check_slots` raises otherwise).

Long spans are never cut silently: :func:`split_to_fit` cuts a span the renderer says does not fit one image
(``Renderer.fits``) into consecutive spans at block boundaries (sentences; formulas stay whole), each
rendered as its own image, in order (``text <image><image> text``: slots = images). A single block that
still does not fit is left as one span; the renderer then reports it ``clipped`` and curation rejects the
record (``span_clipped``) instead of keeping a cut image.
"""
from __future__ import annotations

from typing import Callable, Sequence

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


def split_to_fit(text: str, spans: Sequence[tuple[int, int]], fits: Callable[[str], bool],
                 max_block_chars: int = 400, commands: bool = True) -> list[tuple[int, int]]:
    """``spans`` with each span that does not ``fits`` one image cut into consecutive spans (greedy, at the
    block boundaries of :func:`lomo_ablate.curate.localize.split_blocks`; every piece starts and ends on
    non-whitespace), in order. Spans that fit are returned as they are."""
    from lomo_ablate.curate.localize import _strip_span, split_blocks

    out: list[tuple[int, int]] = []
    for s, e in spans:
        if fits(text[s:e]):
            out.append((s, e))
            continue
        blocks = [(s + b.start, s + b.end) for b in split_blocks(text[s:e], max_block_chars, commands)]
        start = None
        last_end = None
        for b_start, b_end in blocks:
            if start is None:
                start = b_start
            elif not fits(text[start:b_end]):
                out.append(_strip_span(text, start, last_end))
                start = b_start
            last_end = b_end
        if start is not None:
            out.append(_strip_span(text, start, last_end))
    return [sp for sp in out if sp[0] < sp[1]]
