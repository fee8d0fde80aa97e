"""Math as matplotlib mathtext (Computer Modern): the math renderer when TeX is absent (``math_renderer``
``mathtext``, or ``auto`` without latex + dvipng). A span mixing prose and formulas is laid out as one
paragraph: every word (drawn with the text font chain) and every formula (parsed once by mathtext) becomes
a small mask, then the masks are wrapped into lines at the given width on a common baseline.
"""
from __future__ import annotations

import re

import numpy as np
from PIL import Image, ImageDraw

from lomo_ablate.render.fonts import FontChain
from lomo_ablate.render.mathspans import math_ranges

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


def mathtext_mask(text: str, size: int, width: int, chain: FontChain, line_spacing: float) -> Image.Image:
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
