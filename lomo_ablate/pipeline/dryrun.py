"""Dry runs: one line per job (its axes, which stages are cached) and the estimated GPU-hours; runs nothing.

``python -m lomo_ablate -m sweep=<name> dry_run=true`` (the sweeper, every job of the grid) and
``python -m lomo_ablate dry_run=true`` (the app, one job) both print through :func:`print_dry_run`.
"""
from __future__ import annotations

import sys
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.pipeline.stages import STAGES, plan
from lomo_ablate.pipeline.store import Store


def gpu_hours(cfg: DictConfig) -> float:
    """Estimated GPU-hours of a job's training: samples (curate.mix.scale, else the pool sizes) x epochs /
    ``estimate.samples_per_gpu_hour``; 0 without a throughput figure (a CPU job)."""
    rate = OmegaConf.select(cfg, "estimate.samples_per_gpu_hour", default=None)
    if not rate:
        return 0.0
    samples = OmegaConf.select(cfg, "curate.mix.scale", default=None) or \
        (OmegaConf.select(cfg, "data.text_size", default=0) or 0) + \
        (OmegaConf.select(cfg, "data.multimodal_size", default=0) or 0)
    epochs = OmegaConf.select(cfg, "trainer.epochs", default=None) or \
        OmegaConf.select(cfg, "trainer.num_train_epochs", default=1) or 1
    return float(samples) * float(epochs) / float(rate)


def print_dry_run(jobs: Sequence[tuple[str, Mapping[str, Any], DictConfig]], store: Store,
                  file: Any = None) -> dict[str, Any]:
    """Prints one line per job (axis values, cached stages) and the totals; returns them as a dict."""
    file = file or sys.stdout
    total_h, uncached_train, lines = 0.0, 0, []
    width = max([len(n) for n, _, _ in jobs] + [3])
    print(f"[dry-run] {len(jobs)} job(s); stages {'/'.join(STAGES)} (+ cached, . to compute)", file=file)
    for i, (name, axes, cfg) in enumerate(jobs):
        plans = plan(cfg)
        marks = "".join("+" if store.is_done(p.name, p.key) else "." for p in plans)
        cached = {p.name: store.is_done(p.name, p.key) for p in plans}
        hours = 0.0 if cached.get("train") else gpu_hours(cfg)
        uncached_train += not cached.get("train")
        total_h += hours
        axes_txt = " ".join(f"{k}={v}" for k, v in axes.items()) or "(defaults)"
        print(f"  {i:>3} {name:<{width}}  {marks:<5}  {hours:8.1f} GPU-h  {axes_txt}", file=file)
        lines.append({"job": name, "axes": dict(axes), "cached": cached, "gpu_hours": hours})
    n_done = sum(all(l["cached"].values()) for l in lines)
    print(f"[dry-run] fully cached: {n_done}/{len(jobs)}; to train: {uncached_train}; "
          f"estimated {total_h:.1f} GPU-hours; nothing was run or submitted", file=file)
    return {"jobs": lines, "gpu_hours": total_h, "fully_cached": n_done}
