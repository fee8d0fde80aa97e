"""Rendering a text span as an image, with content-aware routing and fallback.

Routing (``RenderConfig.math_renderer``):

* spans with math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, ``\\begin{env}…``, bare commands such as
  ``\\frac{a}{b}`` — the rules of :func:`lomo_ablate.render.mathspans.math_ranges`) go to the math renderer:
  ``tex`` (real LaTeX + dvipng, sandboxed and batched, see :mod:`lomo_ablate.render.tex`), else ``mathtext``
  (matplotlib, Computer Modern, :mod:`lomo_ablate.render.mathtext`); ``auto`` picks ``tex`` when ``latex`` and ``dvipng`` are installed. A span
  mixing prose and math is typeset as one paragraph (text mode with inline math).
* everything else, and every span the math renderer fails on, goes to the text renderer (Pillow, per-character
  font fallback). An item is never dropped: :class:`RenderResult` says which renderer drew it and why it fell
  back; :meth:`Renderer.stats` counts both.

Layouts: ``wrap`` (proportional font, word wrap at ``max_width``) and ``grid`` (a monospaced font, one glyph
per ``cell_width × cell_height`` cell on a pixel grid — for tiny vision models whose patch is one cell; grid
renders math as its LaTeX source, one character per cell, and never trims).

Size: an image is never larger than ``max_width × max_height``. Text that does not fit is first shrunk (font
size steps down to ``min_font_size``, or a TeX/mathtext image is scaled down) when ``overflow="shrink"``,
then clipped; ``RenderResult.clipped`` says when text was cut. The trim removes empty borders and keeps
``padding`` pixels of margin.

Mode: with neutral colours (background and foreground both grey levels — the default black on white) an
image is mode ``L``, one byte per pixel: PNG-encoded 1.6× faster and ~0.6× the bytes, and pixel-identical
to the RGB image after ``convert("RGB")``. Coloured schemes give ``RGB``; ``Renderer(cfg, keep_gray=False)``
always gives ``RGB`` (the output before the grey path).
"""
from __future__ import annotations

import re
import textwrap
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageOps

from lomo_ablate.render.config import RenderConfig
from lomo_ablate.render.fonts import FontChain
from lomo_ablate.render.mathspans import has_math
from lomo_ablate.render.mathtext import mathtext_mask
from lomo_ablate.render.tex import (TexRenderer, UnsafeTeXError, UnsupportedTeXError, tex_available, tex_problem,
                                    to_latex)


@dataclass
class RenderResult:
    """One rendered span. ``renderer``: "tex" | "mathtext" | "text"; ``fallback_reason``: why a span with math
    was drawn by the text renderer (None otherwise); ``clipped``: text was cut to stay within max size."""

    image: Image.Image
    renderer: str
    fallback_reason: str | None = None
    clipped: bool = False


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    """Tabs become 4 spaces, other control characters a space (they would draw as boxes), CRLF → LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub(" ", text)


class Renderer:
    """Renders spans as images according to a :class:`~lomo_ablate.render.config.RenderConfig` (see the
    module doc): mode ``L`` for neutral colours unless ``keep_gray=False``, else ``RGB``.

    >>> r = Renderer(RenderConfig.from_dict({"math_renderer": "text"}))
    >>> r.render("Hello").image.mode
    'L'
    >>> r.render("Hello").image.convert("RGB") == Renderer({"math_renderer": "text"}, keep_gray=False).render("Hello").image
    True
    """

    def __init__(self, cfg: RenderConfig | Mapping[str, Any] | None = None, keep_gray: bool = True):
        if cfg is None or isinstance(cfg, Mapping):
            cfg = RenderConfig.from_dict(cfg)
        cfg.validate()
        self.cfg = cfg
        self.math_engine = self._resolve_engine(cfg.math_renderer)
        self.chain = FontChain.build(cfg.font, cfg.fallback_fonts, cfg.font_size)
        self._bg = ImageColor.getrgb(cfg.background)[:3]
        self._fg = ImageColor.getrgb(cfg.foreground)[:3]
        self._tex = TexRenderer(font_px=cfg.math_font_size, width_px=cfg.max_width - 2 * cfg.padding,
                                batch_size=cfg.tex_batch_size, timeout_s=cfg.tex_timeout_s,
                                item_timeout_s=cfg.tex_item_timeout_s, memory_mb=cfg.tex_memory_mb,
                                max_pixels=cfg.tex_max_pixels, run_budget_s=cfg.tex_run_budget_s)
        self._grid = None
        self.counts: Counter[str] = Counter()
        # coverage 0..255 → background..foreground, one 768-entry LUT applied to an RGB copy of the mask
        self._colour_lut = [round(b + (f - b) * v / 255) for b, f in zip(self._bg, self._fg) for v in range(256)]
        neutral = len(set(self._bg)) == 1 and len(set(self._fg)) == 1
        self.gray = keep_gray and neutral  # images come out as mode L (see the module doc)

    @staticmethod
    def _resolve_engine(name: str) -> str:
        """``auto`` → tex when TeX is installed and typesets a probe formula, else mathtext."""
        if name == "auto":
            if not tex_available():
                return "mathtext"
            problem = tex_problem()
            if problem:
                warnings.warn(f"TeX is installed but does not work ({problem}); using mathtext", stacklevel=3)
                return "mathtext"
            return "tex"
        if name == "tex":
            problem = tex_problem()
            if problem:
                raise RuntimeError(f"curate.render.math_renderer=tex but TeX cannot be used ({problem}); install "
                                   "TeX Live (scripts/install.sh --all) or choose auto|mathtext|text")
        return name

    # --- public API ---------------------------------------------------------------------------------------

    def render(self, text: str) -> RenderResult:
        """Renders one span."""
        return self.render_many([text])[0]

    def render_many(self, texts: list[str]) -> list[RenderResult]:
        """Renders spans in order; spans going to TeX are typeset together in batches."""
        results: list[RenderResult | None] = [None] * len(texts)
        tex_items: list[tuple[int, str]] = []
        for i, raw in enumerate(texts):
            text = _clean(raw)
            if self.cfg.layout == "grid":
                results[i] = self._finish(*self._grid_mask(text), "text")
            elif self.math_engine == "text" or not has_math(text):
                results[i] = self._text(text)
            elif self.math_engine == "mathtext":
                results[i] = self._mathtext_or_fallback(text)
            else:
                try:
                    tex_items.append((i, to_latex(text)))
                except (UnsafeTeXError, UnsupportedTeXError) as e:
                    results[i] = self._text(text, f"tex: {type(e).__name__}: {e}")
        if tex_items:
            masks = self._tex.render([body for _, body in tex_items])
            for (i, _), mask in zip(tex_items, masks):
                if isinstance(mask, Image.Image):
                    results[i] = self._finish(*self._fit(mask), "tex")
                else:
                    results[i] = self._text(_clean(texts[i]), f"tex: {type(mask).__name__}: {mask}")
        for r in results:
            self.counts[f"renderer.{r.renderer}"] += 1
            if r.fallback_reason:
                self.counts[f"fallback.{r.fallback_reason.split(':', 2)[1].strip()}"] += 1
            if r.clipped:
                self.counts["clipped"] += 1
        return results  # type: ignore[return-value]

    def stats(self) -> dict[str, int]:
        """Counts so far: ``renderer.<name>``, ``fallback.<error type>`` (``fallback.TeXOutputTooLarge``,
        ``fallback.TeXBudgetExceeded`` ...), ``clipped``."""
        return dict(sorted(self.counts.items()))

    def tex_stats(self) -> dict[str, float]:
        """The TeX renderer's totals: ``seconds`` of TeX time (capped by ``tex_run_budget_s``), ``runs``,
        ``batches_split`` (retried item by item), ``too_large``, ``budget_exceeded``."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self._tex.stats.items()}

    def fits(self, text: str) -> bool:
        """Whether ``text`` fits one image without being clipped, as the text renderer lays it out at its
        smallest size (``min_font_size`` with ``overflow=shrink``), without drawing it (a measure for the
        math renderers too). Curation cuts a span that does not fit into several images."""
        cfg = self.cfg
        text = _clean(text)
        if cfg.layout == "grid":
            return not self._grid_mask(text)[1]
        size = cfg.min_font_size if cfg.overflow == "shrink" else cfg.font_size
        line_h = max(1, round(size * cfg.line_spacing))
        lines = self._wrap(self.chain.with_size(size), text, cfg.max_width - 2 * cfg.padding)
        return len(lines) * line_h <= cfg.max_height - 2 * cfg.padding

    # --- text renderer (wrap layout) ----------------------------------------------------------------------

    def _text(self, text: str, fallback_reason: str | None = None) -> RenderResult:
        return self._finish(*self._text_mask(text), "text", fallback_reason)

    def _wrap(self, chain: FontChain, text: str, width: float) -> list[str]:
        lines: list[str] = []
        for para in text.split("\n"):
            cur, cur_w = "", 0.0
            for tok in re.findall(r"\s+|\S+", para):
                w = chain.wrap_length(tok)
                if cur_w + w <= width:
                    cur, cur_w = cur + tok, cur_w + w
                    continue
                if tok.isspace():
                    lines.append(cur.rstrip())
                    cur, cur_w = "", 0.0
                    continue
                if cur.strip():
                    lines.append(cur.rstrip())
                cur, cur_w = "", 0.0
                for ch in tok:  # a word wider than the line (or CJK without spaces): break between characters
                    cw = chain.wrap_length(ch)
                    if cur and cur_w + cw > width:
                        lines.append(cur)
                        cur, cur_w = "", 0.0
                    cur, cur_w = cur + ch, cur_w + cw
            lines.append(cur.rstrip())
        while len(lines) > 1 and not lines[-1]:
            lines.pop()
        return lines

    def _text_mask(self, text: str) -> tuple[Image.Image, bool]:
        cfg = self.cfg
        inner_w, inner_h = cfg.max_width - 2 * cfg.padding, cfg.max_height - 2 * cfg.padding
        size = cfg.font_size
        while True:
            chain = self.chain.with_size(size)
            line_h = max(1, round(size * cfg.line_spacing))
            lines = self._wrap(chain, text, inner_w)
            fits = len(lines) * line_h <= inner_h
            if fits or cfg.overflow == "clip" or size <= cfg.min_font_size:
                break
            size = max(cfg.min_font_size, int(size * 0.85))
        max_lines = max(1, inner_h // line_h)
        clipped = len(lines) > max_lines
        lines = lines[:max_lines]
        width = min(inner_w, int(max((chain.length(l) for l in lines), default=0)) + 2)
        ascent, descent = chain.fonts[0].getmetrics()
        height = min(inner_h, (len(lines) - 1) * line_h + ascent + descent)
        mask = Image.new("L", (max(1, width), max(1, height)), 0)
        draw = ImageDraw.Draw(mask)
        for k, line in enumerate(lines):
            x, y = 0.0, k * line_h + ascent
            for idx, run in chain.runs(line):
                x += chain.draw_run(draw, (x, y), idx, run, 255)
        return mask, clipped

    # --- text renderer (grid layout) ----------------------------------------------------------------------

    def _grid_fonts(self) -> tuple[FontChain, int]:
        if self._grid is None:
            cw, ch = self.cfg.cell_width, self.cfg.cell_height
            base = FontChain.build(self.cfg.grid_font, self.cfg.fallback_fonts, ch)
            size = ch
            while size > 4:
                f = base.with_size(size).fonts[0]
                asc, desc = f.getmetrics()
                if f.getlength("M") <= cw and asc + desc <= ch + 1:
                    break
                size -= 1
            self._grid = (base.with_size(size), size)
        return self._grid

    def _grid_mask(self, text: str) -> tuple[Image.Image, bool]:
        cfg = self.cfg
        cw, chh = cfg.cell_width, cfg.cell_height
        chain, size = self._grid_fonts()
        cols = max(1, cfg.max_width // cw)
        max_rows = max(1, cfg.max_height // chh)
        lines: list[str] = []
        for para in text.split("\n"):
            lines.extend(textwrap.wrap(para, cols, break_long_words=True, drop_whitespace=True,
                                       replace_whitespace=False, break_on_hyphens=False) or [""])
        while len(lines) > 1 and not lines[-1]:
            lines.pop()
        clipped = len(lines) > max_rows
        lines = lines[:max_rows]
        n_cols = max(1, max(len(l) for l in lines))
        m = cfg.grid_pad_multiple
        mask = Image.new("L", (-(-n_cols * cw // m) * m, -(-len(lines) * chh // m) * m), 0)
        draw = ImageDraw.Draw(mask)
        asc, desc = chain.fonts[0].getmetrics()
        base_y = (chh - (asc + desc)) / 2 + asc
        for r, line in enumerate(lines):
            for c, ch in enumerate(line):
                if ch.isspace():
                    continue
                font = chain.fonts[chain.font_index(ch)]
                adv = font.getlength(ch)
                if adv > cw:  # a wide glyph (CJK) from a fallback font: draw it smaller to stay in its cell
                    font = font.font_variant(size=max(4, int(font.size * cw / adv)))
                    adv = font.getlength(ch)
                draw.text((c * cw + (cw - adv) / 2, r * chh + base_y), ch, fill=255, font=font, anchor="ls")
        return mask, clipped

    # --- mathtext renderer --------------------------------------------------------------------------------

    def _mathtext_or_fallback(self, text: str) -> RenderResult:
        try:
            mask = mathtext_mask(text, self.cfg.math_font_size, self.cfg.max_width - 2 * self.cfg.padding,
                                 self.chain, self.cfg.line_spacing)
        except Exception as e:  # matplotlib raises ValueError (and others) for what it cannot parse
            first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
            return self._text(text, f"mathtext: {type(e).__name__}: {first[:200]}")
        return self._finish(*self._fit(mask), "mathtext")

    # --- common finishing: size limit, trim, padding, colours ---------------------------------------------

    def _fit(self, mask: Image.Image) -> tuple[Image.Image, bool]:
        """Keeps a TeX/mathtext mask within the inner box: scaled down (shrink) or cut (clip)."""
        cfg = self.cfg
        inner_w, inner_h = cfg.max_width - 2 * cfg.padding, cfg.max_height - 2 * cfg.padding
        bbox = self._ink_bbox(mask)
        if bbox:
            mask = mask.crop(bbox)
        w, h = mask.size
        if w <= inner_w and h <= inner_h:
            return mask, False
        if cfg.overflow == "shrink":
            # scale down, but not below what min_font_size allows (as the text renderer), then clip the rest
            s = max(min(inner_w / w, inner_h / h), cfg.min_font_size / cfg.math_font_size)
            if s < 1:
                mask = mask.resize((max(1, int(w * s)), max(1, int(h * s))), Image.Resampling.LANCZOS)
                w, h = mask.size
            if w <= inner_w and h <= inner_h:
                return mask, False
        return mask.crop((0, 0, min(w, inner_w), min(h, inner_h))), True

    def _ink_bbox(self, mask: Image.Image) -> tuple[int, int, int, int] | None:
        """Bounding box of pixels with coverage above ``trim_threshold`` (None when there are none)."""
        ink = np.asarray(mask) > self.cfg.trim_threshold
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        if not len(rows):
            return None
        return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1

    def _colourise(self, mask: Image.Image) -> Image.Image:
        """Coverage mask → the configured colours: mode L when :attr:`gray`, else RGB (black on white: a plain
        inversion, twice as fast as the LUT)."""
        black_on_white = self._bg == (255, 255, 255) and self._fg == (0, 0, 0)
        if self.gray:
            return ImageOps.invert(mask) if black_on_white else mask.point(self._colour_lut[:256])
        if black_on_white:
            return ImageOps.invert(mask).convert("RGB")
        return mask.convert("RGB").point(self._colour_lut)

    def _finish(self, mask: Image.Image, clipped: bool, renderer: str, reason: str | None = None) -> RenderResult:
        cfg = self.cfg
        if cfg.layout == "grid":
            image = self._colourise(mask)
            return RenderResult(image, renderer, reason, clipped)
        if cfg.trim:
            bbox = self._ink_bbox(mask)
            if bbox:
                mask = mask.crop(bbox)
        p = cfg.padding
        if p:
            canvas = Image.new("L", (mask.width + 2 * p, mask.height + 2 * p), 0)
            canvas.paste(mask, (p, p))
            mask = canvas
        image = self._colourise(mask)
        return RenderResult(image, renderer, reason, clipped)
