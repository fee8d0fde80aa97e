"""A contact sheet of curated samples: what the model will see, text drawn as text and images inline.

Each panel shows one record: a grey header (id, position, renderer, distortion), the user turn with its
``<image>`` slots replaced by the images themselves (scaled to the panel), and the assistant's answer.
Rewritten records come first so the text–image–text layout is visible at a glance.
"""
from __future__ import annotations

import functools
import json
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.render.fonts import DEFAULT_FALLBACKS, FontChain

PANEL_W, MARGIN, FONT_PX, MAX_IMG_H = 640, 12, 15, 220


def _font(size: int, bold: bool = False) -> ImageFont.ImageFont:
    for name in (("DejaVuSans-Bold.ttf",) if bold else ()) + ("DejaVuSans.ttf",):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=1)
def _prompt_fonts() -> FontChain:
    """The prompt text may be in any script: the renderer's per-character font fallback draws it."""
    return FontChain.build("DejaVu Sans", DEFAULT_FALLBACKS, FONT_PX)


def _wrap(text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    avg = max(font.getlength("abcdefghij") / 10, 1)
    cols = max(int(width / avg), 10)
    lines: list[str] = []
    for para in text.split("\n"):
        lines.extend(textwrap.wrap(para, cols, break_long_words=True, replace_whitespace=False) or [""])
    return lines


def _panel(record: dict, root: Path) -> Image.Image:
    font, small, bold = _font(FONT_PX), _font(FONT_PX - 3), _font(FONT_PX, bold=True)
    inner = PANEL_W - 2 * MARGIN
    line_h = FONT_PX + 5
    meta = record.get("meta", {})
    ops = ",".join(d.get("op", "?") for d in meta.get("distortion", [])) or "-"
    header = (f"{record.get('id')}  position={meta.get('position', '-')}  "
              f"renderer={','.join(meta.get('renderer', [])) or '-'}  distortion={ops}")
    items: list[tuple[str, object]] = [("small", header)]
    user = next((m["content"] for m in record["messages"] if m["role"] == "user"), "")
    answer = next((m["content"] for m in record["messages"] if m["role"] == "assistant"), "")
    images = iter(record.get("images", []))
    for k, piece in enumerate(user.split(IMAGE_SLOT)):
        if k:
            path = next(images, None)
            items.append(("image", root / path if path else None))
        if piece.strip():
            items.append(("text", piece.strip()))
    items.append(("bold", "Assistant: " + answer))

    drawn: list[tuple[str, object, int]] = []  # (kind, payload, height)
    for kind, payload in items:
        if kind == "image":
            try:
                im = Image.open(payload).convert("RGB") if payload else None
            except OSError:
                im = None
            if im is None:
                drawn.append(("text", ["[missing image]"], line_h))
                continue
            scale = min(inner / im.width, MAX_IMG_H / im.height, 1.0)
            im = im.resize((max(1, int(im.width * scale)), max(1, int(im.height * scale))))
            drawn.append(("image", im, im.height + 6))
        else:
            f = small if kind == "small" else bold if kind == "bold" else font
            lines = _wrap(str(payload), f, inner)[:12]
            drawn.append((kind, lines, len(lines) * line_h + 4))
    height = 2 * MARGIN + sum(h for _, _, h in drawn)
    panel = Image.new("RGB", (PANEL_W, height), "white")
    d = ImageDraw.Draw(panel)
    y = MARGIN
    for kind, payload, h in drawn:
        if kind == "image":
            panel.paste(payload, (MARGIN, y + 3))
            d.rectangle([MARGIN - 1, y + 2, MARGIN + payload.width, y + 3 + payload.height], outline=(70, 130, 220))
        else:
            f = small if kind == "small" else bold if kind == "bold" else font
            color = (120, 120, 120) if kind == "small" else (20, 90, 20) if kind == "bold" else (0, 0, 0)
            for i, ln in enumerate(payload):
                if kind == "text":  # prompt text: font fallback per character (CJK, Arabic ...)
                    chain, x = _prompt_fonts(), float(MARGIN)
                    for index, run in chain.runs(ln):
                        x += chain.draw_run(d, (x, y + i * line_h + FONT_PX), index, run, color)
                else:
                    d.text((MARGIN, y + i * line_h), ln, fill=color, font=f)
        y += h
    d.rectangle([0, 0, PANEL_W - 1, height - 1], outline=(180, 180, 180))
    return panel


def write_gallery(out_dir: str | Path, n: int = 8, columns: int = 2, path: str | Path | None = None) -> Path:
    """Draw ``n`` records of ``out_dir/data.jsonl`` (rewritten ones first) into ``gallery.png``; returns its path."""
    root = Path(out_dir)
    rewritten, plain = [], []
    with (root / "data.jsonl").open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("meta", {}).get("rewritten"):
                rewritten.append(rec)
            elif len(plain) < n:
                plain.append(rec)
            if len(rewritten) >= n:
                break
    chosen = (rewritten + plain)[:n]
    panels = [_panel(r, root) for r in chosen] or [_empty_panel()]
    columns = max(1, min(columns, len(panels)))
    rows = [panels[i:i + columns] for i in range(0, len(panels), columns)]
    width = columns * PANEL_W + (columns + 1) * MARGIN
    height = sum(max(p.height for p in row) for row in rows) + (len(rows) + 1) * MARGIN
    sheet = Image.new("RGB", (width, height), (235, 235, 235))
    y = MARGIN
    for row in rows:
        for k, p in enumerate(row):
            sheet.paste(p, (MARGIN + k * (PANEL_W + MARGIN), y))
        y += max(p.height for p in row) + MARGIN
    dest = Path(path) if path else root / "gallery.png"
    sheet.save(dest, format="PNG")
    return dest


def _empty_panel() -> Image.Image:
    im = Image.new("RGB", (PANEL_W, 60), "white")
    ImageDraw.Draw(im).text((MARGIN, MARGIN), "no records were written", fill=(0, 0, 0), font=_font(FONT_PX))
    return im
