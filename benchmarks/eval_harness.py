"""Harness time per item of the evaluate stage: the EvalScope engine against our adapters, one run.

    .venv/bin/python benchmarks/eval_harness.py --n 60 --protocols standard rendered

"Harness" is everything except the model's forward passes: loading the benchmark, building prompts under
each protocol (rendering included), scoring, the shard files, gathering, metrics, plots and, for EvalScope,
its dataset loading, per-row scorer and the review run that writes its reviews and reports. The model is
replaced by one that returns a fixed reply at once ("\\boxed{7}"; ``lomo_ablate.models.generate`` is
swapped for the run — this is the one thing not measured), MIR and the paired distance (model forwards)
are off. The same GSM8K items are written twice: as a hub-layout copy for EvalScope (README configs,
main/test-*.parquet) and as the JSONL our adapter reads. Prints seconds per item (item x protocol) for both
and the ratio.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import lomo_ablate.models as models
from lomo_ablate.data import probe_items
from lomo_ablate.evaluate import evaluate
from lomo_ablate.models import TinyModelConfig, build_tiny

RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}
REPLY = "The answer is \\boxed{7}."


def write_copies(root: Path, n: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"question": f"Tom has {i + 2} apples and buys {i % 5 + 1} more. How many apples does he have now?",
             "answer": f"{i + 2}+{i % 5 + 1}={i + 2 + i % 5 + 1}\n#### {i + 2 + i % 5 + 1}"} for i in range(n)]
    hub = root / "gsm8k"
    for split in ("test", "train"):
        (hub / "main").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), hub / "main" / f"{split}-00000-of-00001.parquet")
    (hub / "README.md").write_text("---\nconfigs:\n- config_name: main\n  data_files:\n  - split: test\n"
                                   "    path: main/test-*\n  - split: train\n    path: main/train-*\n---\n")
    jsonl = root / "gsm8k.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return hub, jsonl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--protocols", nargs="+", default=["standard", "rendered"])
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    def fixed(model, processor, prompts, batch_size, max_new_tokens, progress=True):  # no forward pass
        return [REPLY] * len(prompts)

    models.generate = fixed
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = [f"{it.question} {it.answer}" for _, it in probe_items(60, 0)]
        model_dir = build_tiny(TinyModelConfig(), corpus, tmp / "model")
        hub, jsonl = write_copies(tmp, args.n)
        base = {"protocols": args.protocols, "batch_size": args.batch_size, "max_new_tokens": 8, "render": RENDER,
                "progress": False, "mir": {"enabled": False}, "paired": {"enabled": False}}
        runs = {
            "native (our GSM8K adapter)": {**base, "benchmarks": [{"name": "gsm8k", "path": str(jsonl)}]},
            "evalscope (EvalScope 1.14.1)": {**base, "engine": "evalscope",
                                             "benchmarks": [{"name": "gsm8k", "path": str(hub)}],
                                             "evalscope": {"dataset_args": {"gsm8k": {"few_shot_num": 0}}}},
        }
        units = args.n * len(args.protocols)
        seconds = {}
        for name, cfg in runs.items():
            t0 = time.perf_counter()
            metrics = evaluate(model_dir, tmp / name.split()[0], cfg)
            seconds[name] = time.perf_counter() - t0
            print(f"{name}: {seconds[name]:.2f} s for {units} units = {1000 * seconds[name] / units:.1f} ms per "
                  f"item x protocol; scores {metrics['scores']['gsm8k']}", flush=True)
        a, b = seconds.values()
        print(f"evalscope / native: {b / a:.2f}x ({1000 * (b - a) / units:+.1f} ms per unit)")


if __name__ == "__main__":
    main()
