"""Builds realistic sweep folders following docs/DESIGN.md (job folder and evaluation output contracts).

Each job gets ``<sweep>/<job>/result.json`` whose ``stages.evaluate.path`` points at a store folder with
``predictions.jsonl``; ``metrics`` are computed from those predictions the way evaluate defines them
(accuracy = mean item score), so the tests can check the report against numbers derived independently.
Item correctness is drawn from a seeded RNG: item i of arm A is correct when ``u_i < acc_A`` with one
shared ``u_i`` per item (so arms are paired like real models on the same items) plus per-seed jitter.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

BENCHES = {  # benchmark -> categories of its items (probe mixes several, like the built-in probe suite)
    "probe": ["read_word", "arith", "count"],
    "mathq": ["math"],
}


def items(n_per_bench: int = 40) -> list[tuple[str, str, str]]:
    """(benchmark, item_id, category) for every item."""
    out = []
    for bench, cats in BENCHES.items():
        size = n_per_bench * 3 // 2 if bench == "probe" else n_per_bench // 2  # unequal: macro ≠ micro
        for i in range(size):
            out.append((bench, f"{bench}-{i}", cats[i % len(cats)]))
    return out


def make_job(sweep_dir: Path, sweep: str, axes: dict[str, Any], acc: dict[str, float] | float, *,
             seed: int = 0, n_per_bench: int = 40, status: str = "done", jitter: float = 0.0,
             mir_mean: float = 1.0, distance: float = 0.3) -> Path:
    """Write one job of ``sweep`` with the given axis values; ``acc`` is the target accuracy per protocol
    (a float means the same for standard, and 0.1 lower for rendered)."""
    if not isinstance(acc, dict):
        acc = {"standard": acc, "rendered": max(0.0, acc - 0.1)}
    name = ",".join(f"{k}={v}" for k, v in axes.items())
    job_dir = sweep_dir / name
    job_dir.mkdir(parents=True, exist_ok=True)
    eval_dir = sweep_dir.parent / "store" / "evaluate" / f"{sweep}-{name}"
    eval_dir.mkdir(parents=True, exist_ok=True)
    shared = np.random.default_rng(1234)  # the same u_i for every arm: paired items
    u = {it: shared.random() for it in items(n_per_bench)}
    noise = np.random.default_rng(seed + 17)
    preds = []
    for protocol, p in acc.items():
        for bench, item_id, cat in items(n_per_bench):
            correct = u[(bench, item_id, cat)] + jitter * noise.standard_normal() < p
            preds.append({"benchmark": bench, "protocol": protocol, "item_id": item_id, "category": cat,
                          "prediction": "x" if correct else "y", "answer": "x", "score": float(correct)})
    (eval_dir / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in preds), encoding="utf-8")
    metrics = metrics_from(preds)
    metrics["mir"] = {"per_layer": [mir_mean * f for f in (1.3, 1.0, 0.7)], "mean": mir_mean,
                      "log10_sum": float(np.log10(3 * mir_mean))}
    metrics["paired_distance"] = distance
    metrics["carrier_bins"] = [{"lo": 0.1 * i, "hi": 0.1 * (i + 1), "n": 10, "acc_standard": 0.6,
                                "acc_rendered": 0.6 - 0.05 * i, "drop": 0.05 * i} for i in range(4)]
    result = {"sweep": sweep, "job": name, "axes": axes, "config": {"seed": seed, "model": {"name": "tiny"}},
              "config_hash": f"h-{name}", "status": status,
              "stages": {"curate": {"status": "done", "seconds": 1.0, "key": "c", "path": str(eval_dir.parent)},
                         "train": {"status": "done", "seconds": 2.0, "key": "t", "path": str(eval_dir.parent)},
                         "evaluate": {"status": "done", "seconds": 0.5, "key": "e", "path": str(eval_dir)}},
              "metrics": metrics if status == "done" else {}}
    if status == "failed":  # as lomo_ablate.pipeline.app.run_job records a failure
        result["stages"]["train"] = {"status": "running", "key": "t", "path": str(eval_dir.parent)}
        result["stages"].pop("evaluate")
        result["error"] = {"stage": "train", "type": "OutOfMemoryError", "message": "CUDA out of memory\nmore",
                           "traceback": "Traceback ..."}
    (job_dir / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return job_dir


def metrics_from(preds: list[dict]) -> dict:
    """As evaluate aggregates (lomo_ablate/evaluate/__init__.py): accuracy per benchmark (mean item score),
    per category (mean over benchmarks of the category's per-benchmark accuracy) and overall (mean over
    benchmarks, a macro average)."""
    def mean(xs):
        return float(np.mean(xs))

    protocols = sorted({r["protocol"] for r in preds})
    benches = sorted({r["benchmark"] for r in preds})
    scores = {b: {p: mean([r["score"] for r in preds if r["benchmark"] == b and r["protocol"] == p])
                  for p in protocols} for b in benches}
    cats = {}
    for c in sorted({r["category"] for r in preds}):
        cats[c] = {p: mean([mean([r["score"] for r in preds if r["category"] == c and r["benchmark"] == b
                                   and r["protocol"] == p])
                             for b in benches if any(r["category"] == c and r["benchmark"] == b for r in preds)])
                   for p in protocols}
    overall = {p: mean([scores[b][p] for b in benches]) for p in protocols}
    return {"scores": scores, "categories": cats, "overall": overall}


def read_item_scores(job_dir: Path, protocol: str) -> dict[tuple[str, str], float]:
    """The per-item scores a job's predictions hold (for independent checks in tests)."""
    result = json.loads((job_dir / "result.json").read_text())
    path = Path(result["stages"]["evaluate"]["path"]) / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {(r["benchmark"], r["item_id"]): r["score"] for r in rows if r["protocol"] == protocol}
