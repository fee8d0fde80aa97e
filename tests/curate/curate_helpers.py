"""Helpers for curation tests: small input pools written to tmp_path (real files, real images)."""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from lomo_ablate.curate import CurateConfig

QUESTIONS = [
    "You are given a list. The list is 3, 7, 2. What is the largest number? Answer with a number.",
    "Let $f(x)=x^2+1$. We evaluate it at $x=3$. What is $f(3)$? Give the value only.",
    "A pen costs $5 and a cup costs $10. Tom buys both. How much does he pay? Answer in dollars.",
    "Consider \\begin{align} a &= b + c. \\\\ d &= e \\end{align} Then solve for $a$. Explain briefly. Be exact.",
    "Short question?",
    "Compute $$\\int_0^1 x\\,dx.$$ It is a classic. Use the power rule. Then simplify \\frac{1}{2} if needed. Done.",
]


def text_records(n: int) -> list[dict]:
    """``n`` text-only records in the LLaMA-Factory ``messages`` form (with some math and currency)."""
    return [{"messages": [{"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (item {i})"},
                          {"role": "assistant", "content": str(i)}]} for i in range(n)]


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def write_mm_pool(folder: Path, n: int) -> Path:
    """``n`` LLaVA-form records with real PNGs in ``folder/imgs`` (paths relative to the JSONL)."""
    (folder / "imgs").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        Image.new("RGB", (16, 16), (i * 7 % 256, 80, 160)).save(folder / "imgs" / f"{i}.png")
        rows.append({"image": f"imgs/{i}.png",
                     "conversations": [{"from": "human", "value": f"<image>\nWhat colour is picture {i}?"},
                                       {"from": "gpt", "value": "blue"}]})
    return write_jsonl(folder / "mm.jsonl", rows)


def fast_config(**over) -> CurateConfig:
    """Real renderer and distorter, text renderer for math (fast on 2 cores); small shards."""
    d = {"render": {"math_renderer": "text"}, "shard_size": 8}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k] = {**d[k], **v}
        else:
            d[k] = v
    return CurateConfig.from_dict(d)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
