"""Greedy decoding throughput: batched (left padding) against one prompt at a time, same process.

    .venv/bin/python benchmarks/eval_generation.py --n 28 --batch-size 16 --max-new-tokens 6

Builds the tiny default VLM (random init, from config), takes the probe suite's standard-protocol prompts,
and times lomo_ablate.models.generation.generate at batch size 1 (baseline) and --batch-size. Prints
items/s of both and the ratio; also checks that both give the same answers.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from lomo_ablate.data import probe_items
from lomo_ablate.evaluate.benchmarks.probe import ProbeAdapter
from lomo_ablate.evaluate.protocols import from_adapter, parse_protocol, prompts_for
from lomo_ablate.models import TinyModelConfig, build_tiny, load_pretrained
from lomo_ablate.models.generation import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=28)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = [f"{it.question} {it.answer}" for _, it in probe_items(200, 0)]
        model, processor = load_pretrained(build_tiny(TinyModelConfig(), corpus, Path(tmp) / "m"))
        adapter = ProbeAdapter({"n": args.n})
        prompts = prompts_for([from_adapter(adapter, it) for it in adapter.load()], parse_protocol("standard"), None)
        generate(model, processor, prompts[:2], 2, 2, progress=False)  # warm-up
        t0 = time.perf_counter()
        single = generate(model, processor, prompts, 1, args.max_new_tokens, progress=False)
        t1 = time.perf_counter()
        batched = generate(model, processor, prompts, args.batch_size, args.max_new_tokens, progress=False)
        t2 = time.perf_counter()
    base, fast = args.n / (t1 - t0), args.n / (t2 - t1)
    print(f"items={args.n} max_new_tokens={args.max_new_tokens} threads={args.threads}")
    print(f"batch 1: {base:.2f} items/s   batch {args.batch_size}: {fast:.2f} items/s   ratio {fast / base:.2f}x")
    print(f"same answers: {single == batched}")


if __name__ == "__main__":
    main()
