"""Rendering a text span as an image, with content-aware routing and fallback.

Routing (``RenderConfig.math_renderer``):

* spans with math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, ``\\begin{env}…``, bare commands such as
  ``\\frac{a}{b}`` — the rules of :func:`lomo_ablate.curate.localize.math_ranges`) go to the math renderer:
  ``tex`` (real LaTeX + dvipng, sandboxed and batched, see :mod:`lomo_ablate.curate.tex`), else ``mathtext``
  (matplotlib, Computer Modern); ``auto`` picks ``tex`` when ``latex`` and ``dvipng`` are installed. A span
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
"""
from __future__ import annotations

import re
import textwrap
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageOps

from lomo_ablate.curate.fonts import DEFAULT_FALLBACKS, FontChain
from lomo_ablate.curate.localize import math_ranges
from lomo_ablate.curate.tex import (TexRenderer, UnsafeTeXError, UnsupportedTeXError, tex_available, tex_problem,
                                    to_latex)
from lomo_ablate.utils.config import reject_unknown_keys

MATH_RENDERERS = ("auto", "tex", "mathtext", "text")
LAYOUTS = ("wrap", "grid")
OVERFLOWS = ("shrink", "clip")


class RenderConfigError(ValueError):
    """A render config key or value is wrong; the message names the key and what is allowed."""


@dataclass
class RenderConfig:
    """How spans become images. Sizes are pixels.

    ``font``: name (fontconfig) or path of the text font; ``fallback_fonts``: tried per character after it.
    ``max_width``: image width limit, text wraps at ``max_width - 2*padding``; ``max_height``: image height
    limit. ``overflow``: ``shrink`` (smaller font down to ``min_font_size``, then clip) or ``clip``.
    ``trim``/``trim_threshold``: crop empty borders (pixels whose ink coverage is <= threshold of 255 are empty).
    ``math_renderer``: auto|tex|mathtext|text; ``math_font_size``: pixel size of the math body font.
    ``layout``: wrap|grid; ``cell_width``/``cell_height``/``grid_font``: the grid layout; ``grid_pad_multiple``:
    the grid canvas is padded (right and bottom) to a multiple of this many pixels — set it to the vision
    model's patch size × merge size, or its image processor resizes the image and glyphs leave their cells.
    """

    font: str = "DejaVu Sans"
    fallback_fonts: list[str] = field(default_factory=lambda: list(DEFAULT_FALLBACKS))
    font_size: int = 28
    min_font_size: int = 14
    line_spacing: float = 1.25
    max_width: int = 800
    max_height: int = 800
    padding: int = 8
    overflow: str = "shrink"
    trim: bool = True
    trim_threshold: int = 8
    background: str = "#ffffff"
    foreground: str = "#000000"
    math_renderer: str = "auto"
    math_font_size: int = 28
    tex_timeout_s: float = 20.0
    tex_batch_size: int = 64
    layout: str = "wrap"
    cell_width: int = 16
    cell_height: int = 16
    grid_font: str = "DejaVu Sans Mono"
    grid_pad_multiple: int = 1

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "RenderConfig":
        """Builds and checks a config; unknown keys and bad values raise :class:`RenderConfigError`."""
        d = dict(d or {})
        reject_unknown_keys(cls, d, "curate.render", RenderConfigError)
        if "fallback_fonts" in d:
            d["fallback_fonts"] = [str(x) for x in (d["fallback_fonts"] or [])]
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def choice(key: str, options: tuple[str, ...]) -> None:
            if getattr(self, key) not in options:
                raise RenderConfigError(f"curate.render.{key}={getattr(self, key)!r}; allowed: {', '.join(options)}")

        def number(key: str, kind: type, lo: float) -> None:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and int(v) != v):
                raise RenderConfigError(f"curate.render.{key}={v!r} is not {'an integer' if kind is int else 'a number'}")
            if v < lo:
                raise RenderConfigError(f"curate.render.{key}={v!r} must be >= {lo}")
            setattr(self, key, kind(v))

        choice("math_renderer", MATH_RENDERERS)
        choice("layout", LAYOUTS)
        choice("overflow", OVERFLOWS)
        for k in ("font_size", "min_font_size", "math_font_size", "cell_width", "cell_height"):
            number(k, int, 4)
        for k in ("max_width", "max_height"):
            number(k, int, 16)
        number("padding", int, 0)
        number("trim_threshold", int, 0)
        number("tex_batch_size", int, 1)
        number("grid_pad_multiple", int, 1)
        number("line_spacing", float, 0.5)
        number("tex_timeout_s", float, 0.1)
        if 2 * self.padding >= min(self.max_width, self.max_height):
            raise RenderConfigError(f"curate.render.padding={self.padding} leaves no room inside "
                                    f"max_width={self.max_width} x max_height={self.max_height}")
        if self.layout == "grid" and (self.cell_width > self.max_width or self.cell_height > self.max_height):
            raise RenderConfigError(f"curate.render.cell_width x cell_height = {self.cell_width}x{self.cell_height} "
                                    f"does not fit in max_width x max_height = {self.max_width}x{self.max_height}")
        for k in ("background", "foreground"):
            try:
                ImageColor.getrgb(getattr(self, k))
            except (ValueError, AttributeError):
                raise RenderConfigError(f"curate.render.{k}={getattr(self, k)!r} is not a colour "
                                        "(e.g. '#ffffff' or 'white')") from None
        self.trim = bool(self.trim)


@dataclass
class RenderResult:
    """One rendered span. ``renderer``: "tex" | "mathtext" | "text"; ``fallback_reason``: why a span with math
    was drawn by the text renderer (None otherwise); ``clipped``: text was cut to stay within max size."""

    image: Image.Image
    renderer: str
    fallback_reason: str | None = None
    clipped: bool = False


def has_math(text: str) -> bool:
    """Whether ``text`` contains LaTeX math (delimited, an environment, or a bare command like ``\\frac``)."""
    try:
        return bool(math_ranges(text))
    except Exception:  # noqa: BLE001 - a segmentation error must not lose the span: it renders as text
        return False


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    """Tabs become 4 spaces, other control characters a space (they would draw as boxes), CRLF → LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub(" ", text)


class Renderer:
    """Renders spans as RGB images according to a :class:`RenderConfig` (see the module doc).

    >>> r = Renderer(RenderConfig.from_dict({"math_renderer": "text"}))
    >>> r.render("Hello").image.mode
    'RGB'
    """

    def __init__(self, cfg: RenderConfig | Mapping[str, Any] | None = None):
        if cfg is None or isinstance(cfg, Mapping):
            cfg = RenderConfig.from_dict(cfg)
        cfg.validate()
        self.cfg = cfg
        self.math_engine = self._resolve_engine(cfg.math_renderer)
        self.chain = FontChain.build(cfg.font, cfg.fallback_fonts, cfg.font_size)
        self._bg = ImageColor.getrgb(cfg.background)[:3]
        self._fg = ImageColor.getrgb(cfg.foreground)[:3]
        self._tex = TexRenderer(font_px=cfg.math_font_size, width_px=cfg.max_width - 2 * cfg.padding,
                                batch_size=cfg.tex_batch_size, timeout_s=cfg.tex_timeout_s)
        self._grid = None
        self.counts: Counter[str] = Counter()
        # coverage 0..255 → background..foreground, one 768-entry LUT applied to an RGB copy of the mask
        self._colour_lut = [round(b + (f - b) * v / 255) for b, f in zip(self._bg, self._fg) for v in range(256)]

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
        """Counts so far: ``renderer.<name>``, ``fallback.<error type>``, ``clipped``."""
        return dict(sorted(self.counts.items()))

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
            mask = _mathtext_mask(text, self.cfg.math_font_size, self.cfg.max_width - 2 * self.cfg.padding,
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
        """Coverage mask → RGB in the configured colours (black on white: a plain inversion, twice as fast)."""
        if self._bg == (255, 255, 255) and self._fg == (0, 0, 0):
            return ImageOps.invert(mask).convert("RGB")
        return mask.convert("RGB").point(self._colour_lut)

    def _finish(self, mask: Image.Image, clipped: bool, renderer: str, reason: str | None = None) -> RenderResult:
        cfg = self.cfg
        if cfg.layout == "grid":
            rgb = self._colourise(mask)
            return RenderResult(rgb, renderer, reason, clipped)
        if cfg.trim:
            bbox = self._ink_bbox(mask)
            if bbox:
                mask = mask.crop(bbox)
        p = cfg.padding
        if p:
            canvas = Image.new("L", (mask.width + 2 * p, mask.height + 2 * p), 0)
            canvas.paste(mask, (p, p))
            mask = canvas
        rgb = self._colourise(mask)
        return RenderResult(rgb, renderer, reason, clipped)


# --- mathtext paragraphs ------------------------------------------------------------------------------------

#: LaTeX spellings mathtext does not know, and what it knows instead.
_MATHTEXT_SUBS = [(r"\\le(?![a-zA-Z])", r"\\leq"), (r"\\ge(?![a-zA-Z])", r"\\geq"), (r"\\[dt]frac", r"\\frac"),
                  (r"\\ne(?![a-zA-Z])", r"\\neq"), (r"\\lvert|\\rvert", "|"), (r"\\text(?:rm)?\{", r"\\mathrm{"),
                  (r"\\operatorname\{", r"\\mathrm{"), (r"\\displaystyle", "")]


def _mathtext_source(seg: str) -> str:
    """A math range as a mathtext ``$…$`` string (display delimiters become inline)."""
    if seg.startswith("$$"):
        body = seg[2:-2]
    elif seg.startswith("$"):
        body = seg[1:-1]
    elif seg.startswith(("\\(", "\\[")):
        body = seg[2:-2]
    else:
        body = seg  # environments fail in mathtext, bare commands are fine
    for pat, rep in _MATHTEXT_SUBS:
        body = re.sub(pat, rep, body)
    return "$" + body.strip() + "$"


def _mathtext_mask(text: str, size: int, width: int, chain: FontChain, line_spacing: float) -> Image.Image:
    """A paragraph of prose and mathtext formulas: each word/formula is drawn once, then words are wrapped."""
    from matplotlib.font_manager import FontProperties

    parser = _parser()
    prop = FontProperties(size=size, math_fontfamily="cm")
    tokens: list[tuple[Image.Image, int, bool]] = []  # (mask, baseline from top, newline-before)
    words_chain = chain.with_size(size)
    asc, desc = words_chain.fonts[0].getmetrics()
    pos, newline = 0, False

    def add_words(s: str) -> None:
        nonlocal newline
        for m in re.finditer(r"\n|[^\s]+", s):
            if m.group(0) == "\n":
                newline = True
                continue
            w = max(1, int(words_chain.length(m.group(0))) + 1)
            im = Image.new("L", (w, asc + desc), 0)
            d = ImageDraw.Draw(im)
            x = 0.0
            for idx, run in words_chain.runs(m.group(0)):
                x += words_chain.draw_run(d, (x, asc), idx, run, 255)
            tokens.append((im, asc, newline))
            newline = False

    for s, e in math_ranges(text):
        add_words(text[pos:s])
        rp = parser.parse(_mathtext_source(text[s:e]), dpi=72, prop=prop)
        arr = np.asarray(rp.image)
        im = Image.fromarray(arr.astype(np.uint8), "L")
        tokens.append((im, int(round(rp.height - rp.depth)), newline))
        newline = False
        pos = e
    add_words(text[pos:])
    if not tokens:
        return Image.new("L", (1, 1), 0)
    space = max(1, int(size * 0.3))
    lines: list[list[tuple[Image.Image, int]]] = [[]]
    cur_w = 0
    for im, base, nl in tokens:
        if lines[-1] and (nl or cur_w + space + im.width > width):
            lines.append([])
            cur_w = 0
        cur_w += (space if lines[-1] else 0) + im.width
        lines[-1].append((im, base))
    min_gap = int(size * (line_spacing - 1))
    heights = []
    for line in lines:
        up = max(b for _, b in line)
        down = max(im.height - b for im, b in line)
        heights.append((up, down))
    total_h = sum(u + d for u, d in heights) + min_gap * (len(lines) - 1)
    total_w = max(sum(im.width for im, _ in line) + space * (len(line) - 1) for line in lines)
    out = Image.new("L", (max(1, total_w), max(1, total_h)), 0)
    y = 0
    for line, (up, down) in zip(lines, heights):
        x = 0
        for im, b in line:
            out.paste(im, (x, y + up - b))
            x += im.width + space
        y += up + down + min_gap
    return out


_PARSER = None


def _parser():
    global _PARSER
    if _PARSER is None:
        from matplotlib.mathtext import MathTextParser

        _PARSER = MathTextParser("agg")
    return _PARSER
