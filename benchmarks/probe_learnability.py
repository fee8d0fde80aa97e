"""Are the probe tasks learnable by the tiny default VLM, and does carrier sensitivity show at toy scale?

    .venv/bin/python benchmarks/probe_learnability.py --steps 150 --batch-size 16 --out /tmp/learn

Writes the built-in pools (text + multimodal, interleaved; plain standard SFT, no LoMo rewriting), trains the
tiny default model (lomo_ablate.train, CPU) for --steps, then evaluates the probe suite (held-out seeds)
under the standard and the rendered protocol. Prints accuracy per protocol and task; the rendered/standard
ratio is the carrier gap (the question read from pixels instead of text).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lomo_ablate.data import write_multimodal_pool, write_text_pool
from lomo_ablate.evaluate import evaluate
from lomo_ablate.models import ModelConfig
from lomo_ablate.train import TrainerConfig, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--text-n", type=int, default=4000)
    ap.add_argument("--mm-n", type=int, default=2000)
    ap.add_argument("--probe-n", type=int, default=70)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    data = args.out / "data"
    data.mkdir(parents=True, exist_ok=True)
    text = write_text_pool(data / "text.jsonl", args.text_n, 0).read_text().splitlines()
    mm = write_multimodal_pool(data / "mm.jsonl", args.mm_n, 0).read_text().splitlines()
    rows = [r for pair in zip(text, mm) for r in pair] + text[len(mm):] + mm[len(text):]
    (data / "data.jsonl").write_text("\n".join(rows) + "\n")
    t0 = time.time()
    res = train(data, args.out / "train", ModelConfig.from_dict({}), TrainerConfig.from_dict(
        {"max_steps": args.steps, "per_device_batch_size": args.batch_size, "lr": args.lr, "max_seq_len": 512,
         "device": "cpu", "progress": False}), seed=0)
    t1 = time.time()
    m = evaluate(res.final_dir, args.out / "eval",
                 {"benchmarks": [{"name": "probe", "n": args.probe_n}], "protocols": ["standard", "rendered"],
                  "batch_size": 16, "max_new_tokens": 6, "render": {"math_renderer": "text"}, "progress": False,
                  "paired": {"n": args.probe_n}})
    print(f"trained {res.steps} steps x {args.batch_size} in {t1 - t0:.0f} s; final loss {res.final_loss:.3f}")
    s, r = m["overall"]["standard"], m["overall"]["rendered"]
    print(f"probe accuracy: standard {s:.3f}  rendered {r:.3f}  rendered/standard {r / s if s else float('nan'):.2f}")
    print(json.dumps(m["categories"], indent=1))


if __name__ == "__main__":
    main()
