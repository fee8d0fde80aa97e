"""Pillow drawings for the built-in image tasks: shapes to count, words and sums to read.

Everything is drawn on a square canvas divided into a grid of ``cells × cells`` equal cells, at most one
glyph or one shape per cell. A tiny vision tower with one patch per cell then sees one symbol per patch,
which is what made reading learnable at toy scale (prior probe: reading needed monospaced glyphs one per
vision patch). Drawings are deterministic functions of their arguments.
"""
from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

#: Colours of the shapes (name → RGB). Names are not used in questions yet; kept for readable metadata.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 40),
    "blue": (30, 60, 220),
    "black": (20, 20, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

_MONO_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "DejaVuSansMono.ttf",
)


@lru_cache(maxsize=16)
def mono_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Mono at ``size`` px; Pillow's built-in bitmap font (scaled) if DejaVu is missing."""
    for cand in _MONO_CANDIDATES:
        if Path(cand).exists() or "/" not in cand:
            try:
                return ImageFont.truetype(cand, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def draw_glyph_row(text: str, image_size: int = 64, cells: int = 4) -> Image.Image:
    """``text`` in monospaced glyphs, one per grid cell, on the middle row (wrapped onto further rows
    when longer than ``cells``). Raises ValueError when the text does not fit in the grid."""
    if len(text) > cells * cells:
        raise ValueError(f"text {text!r} has {len(text)} characters; a {cells}x{cells} grid holds {cells * cells}")
    cell = image_size // cells
    img = Image.new("RGB", (image_size, image_size), "white")
    draw = ImageDraw.Draw(img)
    font = mono_font(max(6, int(cell * 0.8)))
    rows = [text[i:i + cells] for i in range(0, len(text), cells)] or [""]
    top = (cells - len(rows)) // 2
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            cx = c * cell + cell / 2
            cy = (top + r) * cell + cell / 2
            draw.text((cx, cy), ch, fill=(0, 0, 0), font=font, anchor="mm")
    return img


def draw_shapes(count: int, rng: random.Random, image_size: int = 64, cells: int = 4) -> Image.Image:
    """``count`` coloured shapes (circle, square, triangle), each alone in a random grid cell, never touching
    (a margin of 1/6 cell keeps neighbours apart)."""
    if not 0 <= count <= cells * cells:
        raise ValueError(f"count must be in [0, {cells * cells}], got {count}")
    cell = image_size // cells
    img = Image.new("RGB", (image_size, image_size), "white")
    draw = ImageDraw.Draw(img)
    margin = max(1, cell // 6)
    for idx in rng.sample(range(cells * cells), count):
        r, c = divmod(idx, cells)
        x0, y0 = c * cell + margin, r * cell + margin
        x1, y1 = (c + 1) * cell - margin - 1, (r + 1) * cell - margin - 1
        colour = COLOURS[rng.choice(sorted(COLOURS))]
        shape = rng.choice(SHAPES)
        if shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    return img
