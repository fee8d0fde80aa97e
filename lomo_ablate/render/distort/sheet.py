"""A contact sheet of every distortion op on a rendered span, to see what a config does:
``python -m lomo_ablate.render.distort sheet.png [--text "..."] [--per-op 3] [--seed 0]``."""
from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageDraw

from lomo_ablate.render.distort.config import OPS, DistortConfig
from lomo_ablate.render.distort.distorter import Distorter


def contact_sheet(image: Image.Image, cfg: DistortConfig | None = None, per_op: int = 3, seed: int = 0,
                  cell: tuple[int, int] = (420, 160)) -> Image.Image:
    """A PNG-ready grid: one row per op family (``none``, then every registered family), ``per_op`` samples
    each, every cell labelled with the sampled ``info``."""
    base = cfg or DistortConfig()
    families = ("none", *OPS)
    label_h = 28
    sheet = Image.new("RGB", (cell[0] * per_op, (cell[1] + label_h) * len(families)), (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    rng = np.random.default_rng(seed)
    for r, fam in enumerate(families):
        probs = {f"p_{k}": float(k == fam) for k in families}
        d = Distorter(dataclasses.replace(base, enabled=True, only=None, **probs))
        for c in range(per_op):
            out, info = d.apply(image, rng)
            out.thumbnail((cell[0] - 8, cell[1] - 8))
            x, y = c * cell[0] + 4, r * (cell[1] + label_h)
            sheet.paste(out, (x, y + label_h))
            text = info["op"] + " " + ", ".join(f"{k}={v}" for k, v in info["params"].items())
            draw.text((x, y + 4), text[:70], fill=(0, 0, 0))
    return sheet


def main(argv: list[str] | None = None) -> None:
    import argparse

    from lomo_ablate.render import RenderConfig, Renderer

    ap = argparse.ArgumentParser(prog="python -m lomo_ablate.render.distort",
                                 description="Write a contact sheet PNG of every distortion on a rendered span.")
    ap.add_argument("out", help="PNG path to write")
    ap.add_argument("--text", default=r"A rendered span with a formula $x^2 + \frac{1}{2} = y$ and plain words "
                                      "that wrap onto a second line.")
    ap.add_argument("--per-op", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    image = Renderer(RenderConfig(max_width=640)).render(args.text).image
    contact_sheet(image, per_op=args.per_op, seed=args.seed).save(args.out, format="PNG", compress_level=1)
    print(args.out)
