"""Builds tiny curated dataset directories following the docs/DESIGN.md contract (data.jsonl + images/)."""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw


def render_text(text: str, size: tuple[int, int] = (96, 24)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((2, 4), text, fill="black")
    return img


def write_dataset(root: Path, n: int = 24, image_every: int = 2, extra_lines: list[str] | None = None) -> Path:
    """n records ``Compute a + b`` -> ``a+b``; every ``image_every``-th has its operand rendered as an image."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        a, b = i % 7, (3 * i) % 5
        rec = {"id": f"text:{i}", "meta": {"source": "text", "line": i}}
        if image_every and i % image_every == 0:
            rel = f"images/{i:03d}.png"
            render_text(f"{a} + {b}").save(root / rel)
            rec["messages"] = [{"role": "user", "content": "Compute <image> please."},
                               {"role": "assistant", "content": f"The sum is {a + b}."}]
            rec["images"] = [rel]
        else:
            rec["messages"] = [{"role": "user", "content": f"Compute {a} + {b} please."},
                               {"role": "assistant", "content": f"The sum is {a + b}."}]
            rec["images"] = []
        lines.append(json.dumps(rec))
    lines.extend(extra_lines or [])
    (root / "data.jsonl").write_text("\n".join(lines) + "\n")
    (root / "_SUCCESS").write_text("")
    return root
