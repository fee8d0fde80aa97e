"""Structure-aware span localization: which characters of a prompt become the image.

A prompt is cut into an interleaved sequence of *blocks* that tile it exactly (``"".join(texts) == text``):

- ``math`` blocks — the ranges of :func:`lomo_ablate.render.mathspans.math_ranges` (explicit math and bare
  LaTeX commands with their arguments; the rules, including the ``$`` currency rule, are documented there,
  shared with the renderer). They are atomic: a span boundary never falls inside one.
- ``text`` blocks — one sentence each (with its trailing whitespace); sentences longer than
  ``max_block_chars`` are cut further at whitespace.

The span is chosen at block granularity from character positions: a third of the text for ``prefix``,
``middle`` and ``suffix`` (the block boundary nearest to L/3 and 2L/3), the whole text for ``full`` and for
short texts (fewer than ``min_sentences`` sentences), and ``2k+1`` alternating segments for ``multi_span``
(the odd ones rendered: text–image–text–image–text). Spans never start or end with whitespace, so the text
around the image keeps its spaces and ``text[:s] + text[s:e] + text[e:] == text`` always.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from lomo_ablate.render.mathspans import math_ranges

POSITIONS = ("prefix", "middle", "suffix", "multi_span", "full")


@dataclass(frozen=True)
class Block:
    """A half-open character range ``[start, end)`` of the source text; ``kind`` is ``"text"`` or ``"math"``."""

    kind: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def text(self, source: str) -> str:
        return source[self.start:self.end]


#: Latin-style ends (``.``, ``!``, ``?``, Arabic ``؟``, Urdu ``۔``, Devanagari ``।``/``॥``) need whitespace or
#: the end after them; full-width / CJK ends (``。！？．｡︒`` and ``‼⁇⁈⁉``) end a sentence wherever they
#: stand, since Chinese and Japanese put no space after them (closing quotes/brackets stay with it).
_SENTENCE_END = re.compile(r"[.!?؟۔।॥]+[\"')\]]*(?=\s|$)"
                           r"|[。！？．｡︒‼⁇⁈⁉]+[\"'”’」』）】〕》〉)\]]*")
_NO_CUT_BEFORE = frozenset(".,;:!?)]}'\"。，；：！？")


# --- sentences and blocks ---------------------------------------------------------------------------------

def _sentence_cuts(text: str, start: int, end: int) -> Iterator[int]:
    """Offsets in ``(start, end)`` just after a sentence end and its following whitespace."""
    for m in _SENTENCE_END.finditer(text, start, end):
        j = m.end()
        while j < end and text[j].isspace():
            j += 1
        if start < j < end:
            yield j


def _split_long(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut ``[start, end)`` into pieces of at most ~``max_chars`` at whitespace (never inside a word)."""
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        if cut <= start:
            cut = text.find(" ", start + max_chars)
            if cut < 0 or cut >= end:
                break
        yield start, cut + 1
        start = cut + 1
    if end > start:
        yield start, end


def split_blocks(text: str, max_block_chars: int = 400, commands: bool = True) -> list[Block]:
    """Tile ``text`` with atomic math blocks and sentence-sized text blocks, in order."""
    blocks: list[Block] = []

    def add_text(a: int, b: int) -> None:
        cuts = [a, *_sentence_cuts(text, a, b), b]
        for s, e in zip(cuts, cuts[1:]):
            for ps, pe in _split_long(text, s, e, max_block_chars):
                blocks.append(Block("text", ps, pe))

    pos = 0
    for s, e in math_ranges(text, commands=commands):
        if s > pos:
            add_text(pos, s)
        blocks.append(Block("math", s, e))
        pos = e
    if pos < len(text):
        add_text(pos, len(text))
    return blocks


def count_sentences(text: str) -> int:
    """Sentences in ``text``, counting outside math only (a period inside a formula ends nothing).
    Any non-blank text is at least one sentence."""
    if not text.strip():
        return 0
    n, pos = 0, 0
    ranges = math_ranges(text) + [(len(text), len(text))]
    for s, e in ranges:
        n += sum(1 for _ in _SENTENCE_END.finditer(text, pos, s))
        pos = e
    # trailing text without a final period is a sentence too
    last_end = max((m.end() for m in _SENTENCE_END.finditer(text)), default=0)
    if text[last_end:].strip():
        n += 1
    return max(n, 1)


# --- spans --------------------------------------------------------------------------------------------------

def _strip_span(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _nearest_boundary(bounds: list[int], target: float, lo: int = 0, hi: int | None = None) -> int:
    """Index into ``bounds`` (within ``[lo, hi]``) of the boundary nearest to ``target``; ties go left."""
    hi = len(bounds) - 1 if hi is None else hi
    return min(range(lo, hi + 1), key=lambda k: (abs(bounds[k] - target), k))


def locate_spans(text: str, position: str = "middle", min_sentences: int = 3, multi_span_images: int = 2,
                 max_block_chars: int = 400, commands: bool = True) -> list[tuple[int, int]]:
    """Character spans of ``text`` to render, in order, for one of :data:`POSITIONS`.

    Every span is non-empty, starts and ends on non-whitespace and on block boundaries (never inside math).
    Returns ``[]`` only for blank text.
    """
    if position not in POSITIONS:
        raise ValueError(f"position={position!r} is not one of {', '.join(POSITIONS)}")
    whole = _strip_span(text, 0, len(text))
    if whole[0] == whole[1]:
        return []
    if position == "full" or count_sentences(text) < min_sentences:
        return [whole]
    blocks = split_blocks(text, max_block_chars=max_block_chars, commands=commands)
    # a boundary right before closing punctuation ("$a$|. Next") would strand the period: not a cut point
    bounds = [b.start for k, b in enumerate(blocks) if k == 0 or text[b.start] not in _NO_CUT_BEFORE]
    bounds.append(len(text))
    last = len(bounds) - 1
    if last < 2:
        return [whole]
    L = len(text)
    if position == "multi_span":
        segments = 2 * multi_span_images + 1
        if last < segments:  # too few blocks for k separate images: fall back to the middle third
            return locate_spans(text, "middle", min_sentences, multi_span_images, max_block_chars, commands)
        cuts, lo = [0], 1
        for k in range(1, segments):
            remaining = segments - k  # keep at least one block per remaining segment
            idx = _nearest_boundary(bounds, L * k / segments, lo=lo, hi=last - remaining)
            cuts.append(idx)
            lo = idx + 1
        cuts.append(last)
        spans = [_strip_span(text, bounds[cuts[k]], bounds[cuts[k + 1]]) for k in range(1, segments, 2)]
        return [sp for sp in spans if sp[0] < sp[1]] or [whole]
    if position == "prefix":
        a, b = 0, _nearest_boundary(bounds, L / 3, lo=1, hi=last - 1)
    elif position == "suffix":
        a, b = _nearest_boundary(bounds, 2 * L / 3, lo=1, hi=last - 1), last
    else:  # middle
        a = _nearest_boundary(bounds, L / 3, lo=1, hi=last - 1)
        b = _nearest_boundary(bounds, 2 * L / 3, lo=a + 1, hi=last - 1) if a + 1 <= last - 1 else last
    span = _strip_span(text, bounds[a], bounds[b])
    return [span] if span[0] < span[1] else [whole]
