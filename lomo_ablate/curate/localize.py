"""Structure-aware span localization: which characters of a prompt become the image.

A prompt is cut into an interleaved sequence of *blocks* that tile it exactly (``"".join(texts) == text``):

- ``math`` blocks — explicit math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, ``\\begin{env}…\\end{env}``) and
  bare LaTeX commands with their arguments (``\\frac{a}{b}``, ``\\sqrt[3]{x}``, ``\\alpha_1^2``). They are atomic:
  a span boundary never falls inside one.
- ``text`` blocks — one sentence each (with its trailing whitespace); sentences longer than
  ``max_block_chars`` are cut further at whitespace.

Currency rule for ``$`` (the Pandoc rule): a single ``$`` opens inline math only when the next character is
not whitespace, and a ``$`` closes it only when the previous character is not whitespace and the next is not
a digit; ``\\$`` is never a delimiter; inline math ends at a blank line. So ``costs $5 and $10`` stays text,
``$x+1$`` is math and ``$5$`` is math. A ``$`` that does not pair up stays text.

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


# --- math detection ---------------------------------------------------------------------------------------

_BEGIN = re.compile(r"\\begin\{([^{}\s]+)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"')\]]*(?=\s|$)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_NO_CUT_BEFORE = frozenset(".,;:!?)]}'\"。，；：！？")


def _escaped(text: str, i: int) -> bool:
    """True when the character at ``i`` is preceded by an odd number of backslashes."""
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _match_env(text: str, start: int, name: str) -> int | None:
    """End offset of ``\\begin{name}`` at ``start`` including its matching ``\\end{name}`` (nesting counted)."""
    begin, end = f"\\begin{{{name}}}", f"\\end{{{name}}}"
    depth, i = 0, start
    while i < len(text):
        if text.startswith(begin, i):
            depth += 1
            i += len(begin)
        elif text.startswith(end, i):
            depth -= 1
            i += len(end)
            if depth == 0:
                return i
        else:
            i += 1
    return None


def _find_closing(text: str, i: int, closer: str, stop_at_blank_line: bool = True) -> int | None:
    """Offset just past the first unescaped ``closer`` at or after ``i`` (None if absent)."""
    while True:
        j = text.find(closer, i)
        if j < 0:
            return None
        if stop_at_blank_line and _BLANK_LINE.search(text, i, j):
            return None
        if not _escaped(text, j):
            return j + len(closer)
        i = j + 1


def _inline_dollar_end(text: str, i: int) -> int | None:
    """End of ``$…$`` opening at ``i`` under the currency rule, or None when this ``$`` is not math."""
    if i + 1 >= len(text) or text[i + 1].isspace():
        return None
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\n" and _BLANK_LINE.match(text, j):
            return None
        if c == "$" and not _escaped(text, j):
            if text[j - 1].isspace() or (j + 1 < len(text) and text[j + 1].isdigit()):
                return None  # "costs $5 and $10": the second $ cannot close
            return j + 1
        j += 1
    return None


def _group_end(text: str, i: int, opener: str, closer: str) -> int | None:
    """End of a balanced ``{…}`` / ``[…]`` group starting at ``i`` (None if unbalanced)."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == opener and not _escaped(text, j):
            depth += 1
        elif c == closer and not _escaped(text, j):
            depth -= 1
            if depth == 0:
                return j + 1
    return None


def _command_end(text: str, i: int) -> int:
    """End of a bare LaTeX command at ``i`` with its ``[opt]``, ``{arg}``, ``_x`` and ``^x`` parts."""
    m = _COMMAND.match(text, i)
    assert m is not None
    j = m.end()
    while j < len(text):
        c = text[j]
        if c in "{[":
            end = _group_end(text, j, c, "}" if c == "{" else "]")
            if end is None:
                break
            j = end
        elif c in "_^" and j + 1 < len(text) and not text[j + 1].isspace():
            if text[j + 1] == "{":
                end = _group_end(text, j + 1, "{", "}")
                if end is None:
                    break
                j = end
            elif text[j + 1] == "\\" and _COMMAND.match(text, j + 1):
                j = _COMMAND.match(text, j + 1).end()
            else:
                j += 2
        else:
            break
    return j


def math_ranges(text: str, commands: bool = True) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``[start, end)`` ranges of math in ``text`` (see the module doc for the rules)."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        end: int | None = None
        if c == "$" and not _escaped(text, i):
            if text.startswith("$$", i):
                end = _find_closing(text, i + 2, "$$")
            else:
                end = _inline_dollar_end(text, i)
        elif c == "\\" and not _escaped(text, i) and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "(":
                end = _find_closing(text, i + 2, "\\)")
            elif nxt == "[":
                end = _find_closing(text, i + 2, "\\]", stop_at_blank_line=False)
            elif text.startswith("\\begin{", i):
                m = _BEGIN.match(text, i)
                end = _match_env(text, i, m.group(1)) if m else None
            elif commands and _COMMAND.match(text, i) and not text.startswith("\\end{", i):
                end = _command_end(text, i)
        if end is not None and end > i:
            out.append((i, end))
            i = end
        else:
            i += 1
    return out


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
