"""Paired bootstrap speed: lomo_ablate.report.bootstrap (vectorised, chunked, stratified by benchmark) against
a plain per-resample Python loop measured in the same process, on a paper-sized table cell: 13 benchmarks,
``--items`` items each, 1,000 resamples. Also times a whole report of a synthetic 4-arm sweep.

    .venv/bin/python benchmarks/report_bootstrap.py [--items 500] [--resamples 1000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lomo_ablate.report import ReportConfig, report_sweep
from lomo_ablate.report.bootstrap import paired_bootstrap


def naive(baseline: dict, arm: dict, strata, resamples: int, seed: int = 0) -> tuple[float, float]:
    """The textbook loop: per resample, per benchmark, draw items and average."""
    rng = np.random.default_rng(seed)
    groups: dict = {}
    for k in baseline:
        groups.setdefault(strata(k), []).append(arm[k] - baseline[k])
    stats = []
    for _ in range(resamples):
        per_group = []
        for d in groups.values():
            idx = rng.integers(0, len(d), len(d))
            per_group.append(sum(d[i] for i in idx) / len(d))
        stats.append(sum(per_group) / len(per_group))
    return tuple(np.quantile(stats, [0.025, 0.975]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    keys = [(f"bench{b}", i) for b in range(13) for i in range(args.items)]
    base = {k: float(rng.random() < 0.5) for k in keys}
    arm = {k: float(rng.random() < 0.55) for k in keys}

    t = time.perf_counter()
    lo_n, hi_n = naive(base, arm, lambda k: k[0], args.resamples)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    ci = paired_bootstrap(base, arm, strata=lambda k: k[0], resamples=args.resamples)
    t_fast = time.perf_counter() - t
    print(f"one overall cell, 13 benchmarks x {args.items} items, {args.resamples} resamples")
    print(f"  naive loop : {t_naive:8.3f} s  CI [{lo_n:+.4f}, {hi_n:+.4f}]")
    print(f"  report     : {t_fast:8.3f} s  CI [{ci.lo:+.4f}, {ci.hi:+.4f}]  (Δ {ci.delta:+.4f})")
    print(f"  speed-up   : {t_naive / t_fast:.0f}x")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
    from report_fixtures import make_job

    with tempfile.TemporaryDirectory() as tmp:
        sd = Path(tmp) / "multirun" / "components"
        for method, acc in (("standard_sft", 0.5), ("full_text", 0.52), ("lomo_no_distortion", 0.55), ("lomo", 0.6)):
            for seed in (0, 1, 2):
                make_job(sd, "components", {"method": method, "seed": seed}, acc, seed=seed, jitter=0.05,
                         n_per_bench=400)
        t = time.perf_counter()
        report_sweep(sd, Path(tmp) / "results", config=ReportConfig(resamples=args.resamples))
        print(f"whole report, 4 arms x 3 seeds, 2 protocols, 800 items/protocol, with plots: "
              f"{time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
