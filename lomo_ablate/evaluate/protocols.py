"""Evaluation protocols: how one item's question reaches the model.

- ``standard``: the item's own images (if any), then the question as text.
- ``rendered``: the item's own images, then the WHOLE text question rendered as one image by the curation
  :class:`~lomo_ablate.render.Renderer` (evaluation font settings) in place of the text.
- ``rendered_<f>`` (graded, ``0 < f < 1``, e.g. ``rendered_0.33``, ``rendered_0.67``): the question is cut
  into blocks exactly as curation cuts the prompts it renders (:func:`lomo_ablate.curate.localize.split_blocks`:
  one block per sentence, each formula its own atomic block, joined where curation never cuts — before
  closing punctuation, so ``$a$.`` stays whole) and the CENTRED run of ``round(f · n_blocks)`` blocks (at
  least one) is rendered and put back where it was: text–image–text, as LoMo's default middle span.
  ``rendered_0`` equals ``standard`` and ``rendered_1`` equals ``rendered`` in content.

A literal ``<image>`` in a question is escaped to ``< image>`` (as curation does) so it cannot become a
slot: the number of ``<image>`` placeholders always equals the number of images.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from PIL import Image

from lomo_ablate.contracts import ESCAPED_SLOT, IMAGE_SLOT
# _NO_CUT_BEFORE: the characters curation never starts a rendered span with (locate_spans' cut rule)
from lomo_ablate.curate.localize import _NO_CUT_BEFORE
from lomo_ablate.curate.localize import split_blocks as curation_blocks
from lomo_ablate.models.generation import Prompt

__all__ = ["EvalItem", "Protocol", "Prompt", "RenderFn", "build_prompt", "escape_placeholder", "from_adapter",
           "graded_span", "parse_protocol", "prompts_for", "renderer_fn", "split_blocks"]

_PROTOCOL_RE = re.compile(r"^rendered_(\d+(?:\.\d+)?)$")


@dataclass
class EvalItem:
    """One evaluation question with an exact answer.

    ``question`` is plain text without image slots (what the rendered protocols render); ``images`` are the
    item's own images (PIL, RGB). ``content`` is the user turn the benchmark itself built (with its
    ``<image>`` slots where it put them): the standard protocol uses it verbatim; without it, and under
    every rendering protocol, the item's images come first, then the question. ``source`` keeps the
    adapter's own item for scoring.
    """

    benchmark: str
    item_id: str
    category: str
    question: str
    answer: Any  # the benchmark's gold answer as JSON (a string, a number or a list of acceptable strings)
    images: list[Image.Image] = field(default_factory=list)
    content: str | None = None
    source: Any = None


def _paper_category(benchmark: str) -> str:
    from lomo_ablate.evaluate.benchmarks.categories import category_of

    return category_of(benchmark)


def from_adapter(adapter: Any, item: Any, benchmark: str | None = None) -> EvalItem:
    """An :class:`EvalItem` from a benchmark adapter's item, through ``adapter.build_prompt`` (so options,
    instructions and slot placement are the benchmark's own). The last user message is the question."""
    messages, images = adapter.build_prompt(item)
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        raise ValueError(f"{adapter.name}: item {item.id!r}: build_prompt returned no user message")
    content = users[-1]["content"]
    if content.count(IMAGE_SLOT) != len(images):
        raise ValueError(f"{adapter.name}: item {item.id!r}: {content.count(IMAGE_SLOT)} <image> slot(s) for "
                         f"{len(images)} image(s)")
    meta = getattr(item, "metadata", {}) or {}
    category = meta.get("category") or _paper_category(benchmark or adapter.name)
    answer = item.answer if isinstance(item.answer, (str, int, float, bool, list, dict)) else str(item.answer)
    return EvalItem(benchmark=benchmark or adapter.name, item_id=str(item.id), category=str(category),
                    question=re.sub(r" {2,}", " ", content.replace(IMAGE_SLOT, "")).strip(), answer=answer,
                    images=[im if im.mode == "RGB" else im.convert("RGB") for im in images], content=content, source=item)


@dataclass(frozen=True)
class Protocol:
    """A named way of delivering the question: ``fraction`` of its blocks arrive as pixels."""

    name: str
    fraction: float

    @property
    def renders(self) -> bool:
        return self.fraction > 0


def parse_protocol(name: str) -> Protocol:
    """``standard`` → 0, ``rendered`` → 1, ``rendered_<f>`` → f in [0, 1]; anything else is an error."""
    if name == "standard":
        return Protocol(name, 0.0)
    if name == "rendered":
        return Protocol(name, 1.0)
    m = _PROTOCOL_RE.match(name)
    if m and 0.0 <= float(m.group(1)) <= 1.0:
        return Protocol(name, float(m.group(1)))
    raise ValueError(f"unknown protocol {name!r}; allowed: 'standard', 'rendered', 'rendered_<f>' with 0 <= f <= 1 "
                     "(e.g. rendered_0.33)")


# ------------------------------------------------------------------------------------------ blocks
def split_blocks(text: str) -> list[tuple[int, int]]:
    """Blocks of ``text`` as ``(start, end)`` character offsets, cut where curation cuts: the blocks of
    :func:`lomo_ablate.curate.localize.split_blocks` (sentences; every formula atomic and its own block), a
    block that starts with closing punctuation joined to the one before (curation never starts a span
    there), each trimmed of surrounding whitespace (whitespace between blocks is in no block)."""
    joined: list[list[int]] = []
    for block in curation_blocks(text):
        if joined and text[block.start] in _NO_CUT_BEFORE:
            joined[-1][1] = block.end
        else:
            joined.append([block.start, block.end])
    out = []
    for s, e in joined:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def graded_span(text: str, fraction: float) -> tuple[int, int] | None:
    """Character span of the centred ``round(fraction · n_blocks)`` blocks (≥ 1 block when fraction > 0);
    None for fraction 0 or an empty text. fraction 1 covers the whole (stripped) text."""
    blocks = split_blocks(text)
    if fraction <= 0 or not blocks:
        return None
    n = len(blocks)
    k = min(n, max(1, math.floor(fraction * n + 0.5)))
    first = (n - k) // 2
    return blocks[first][0], blocks[first + k - 1][1]


# ------------------------------------------------------------------------------------------ prompts
def escape_placeholder(text: str) -> str:
    return text.replace(IMAGE_SLOT, ESCAPED_SLOT)


RenderFn = Callable[[str], Image.Image]


def build_prompt(item: EvalItem, protocol: Protocol, render: RenderFn | None = None) -> Prompt:
    """The user turn for ``item`` under ``protocol``. ``render(text) -> PIL image`` is needed only when the
    protocol renders; pass :func:`renderer_fn` of a curation Renderer so evaluation renders as curation."""
    question = escape_placeholder(item.question).strip()
    prefix = IMAGE_SLOT * len(item.images) + ("\n" if item.images else "")
    span = graded_span(question, protocol.fraction) if protocol.renders else None
    if span is None:
        if item.content is not None:
            return Prompt([{"role": "user", "content": item.content}], list(item.images))
        return Prompt([{"role": "user", "content": prefix + question}], list(item.images))
    if render is None:
        raise ValueError(f"protocol {protocol.name!r} renders text but no renderer was given")
    s, e = span
    piece = question[s:e]
    content = prefix + question[:s] + IMAGE_SLOT + question[e:]
    return Prompt([{"role": "user", "content": content}], [*item.images, render(piece)], piece, span)


def renderer_fn(renderer: Any) -> RenderFn:
    """Adapt a curation ``Renderer`` to ``text -> RGB image`` with a per-text cache."""
    cache: dict[str, Image.Image] = {}

    def render(text: str) -> Image.Image:
        if text not in cache:
            cache[text] = renderer.render(text).image.convert("RGB")
        return cache[text]

    render.prefetch = lambda texts: _prefetch(renderer, cache, texts)  # type: ignore[attr-defined]
    render.clear = cache.clear  # type: ignore[attr-defined]  (evaluate clears it after each chunk)
    return render


def _prefetch(renderer: Any, cache: dict[str, Image.Image], texts: Sequence[str]) -> None:
    """Render many texts at once (``render_many`` batches TeX runs) into the cache."""
    todo = list(dict.fromkeys(t for t in texts if t not in cache))
    if not todo:
        return
    if hasattr(renderer, "render_many"):
        for t, res in zip(todo, renderer.render_many(todo)):
            cache[t] = res.image.convert("RGB")
    else:
        for t in todo:
            cache[t] = renderer.render(t).image.convert("RGB")


def prompts_for(items: Sequence[EvalItem], protocol: Protocol, render: RenderFn | None) -> list[Prompt]:
    """Prompts of all items under one protocol; rendered pieces are batch-rendered first when possible."""
    if protocol.renders and render is not None and hasattr(render, "prefetch"):
        pieces = []
        for it in items:
            q = escape_placeholder(it.question).strip()
            span = graded_span(q, protocol.fraction)
            if span:
                pieces.append(q[span[0]:span[1]])
        render.prefetch(pieces)
    return [build_prompt(it, protocol, render) for it in items]
