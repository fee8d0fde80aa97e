"""Are the probe tasks learnable by the tiny default VLM, and does carrier sensitivity show at toy scale?

    .venv/bin/python benchmarks/probe_learnability.py --steps 150 --batch-size 16 --out /tmp/learn
    .venv/bin/python benchmarks/probe_learnability.py --speed     # layer_types: hybrid vs all full attention

Writes the built-in pools (text + multimodal, interleaved; plain standard SFT, no LoMo rewriting), trains the
tiny default model (lomo_ablate.train, CPU) for --steps, then evaluates the probe suite (held-out seeds)
under the standard and the rendered protocol. Prints accuracy per protocol and task; the rendered/standard
ratio is the carrier gap (the question read from pixels instead of text).

``--speed`` instead times one training step (forward + backward, text-only batch) of the tiny model built with
Qwen3.5's hybrid ``[linear_attention, full_attention]`` and with ``[full_attention, full_attention]``, in one
process on the same batch, and prints the ratio (the linear-attention layer runs reference kernels on CPU).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from lomo_ablate.data import write_multimodal_pool, write_text_pool
from lomo_ablate.evaluate import evaluate
from lomo_ablate.models import ModelConfig, TinyModelConfig
from lomo_ablate.models.tiny import build_model, build_processor
from lomo_ablate.train import TrainerConfig, train


def step_seconds(layer_types: list[str], batch_size: int, seq_len: int, repeats: int) -> float:
    """Median seconds of one forward+backward step of the tiny model with ``layer_types`` (text-only batch)."""
    import torch

    corpus = [f"You are given a list. The list is {i}, {i + 1}. What is the largest number?" for i in range(50)]
    cfg = TinyModelConfig.from_dict({"layer_types": layer_types})
    model = build_model(cfg, build_processor(cfg, corpus))
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 300, (batch_size, seq_len), generator=gen)
    times = []
    for _ in range(repeats + 1):                      # the first step warms up and is dropped
        t0 = time.perf_counter()
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
        out.loss.backward()
        model.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def speed(batch_size: int, seq_len: int, repeats: int) -> None:
    hybrid = step_seconds(["linear_attention", "full_attention"], batch_size, seq_len, repeats)
    full = step_seconds(["full_attention", "full_attention"], batch_size, seq_len, repeats)
    print(f"train step, batch {batch_size} x {seq_len} tokens: hybrid {hybrid:.3f} s, all full attention "
          f"{full:.3f} s, ratio hybrid/full {hybrid / full:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", action="store_true", help="only time layer_types (hybrid vs full attention)")
    ap.add_argument("--seq-len", type=int, default=96, help="--speed: tokens per sample")
    ap.add_argument("--repeats", type=int, default=5, help="--speed: timed steps per variant")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--text-n", type=int, default=4000)
    ap.add_argument("--mm-n", type=int, default=2000)
    ap.add_argument("--probe-n", type=int, default=70)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.speed:
        return speed(args.batch_size, args.seq_len, args.repeats)
    if args.out is None:
        ap.error("--out is required (unless --speed)")
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
