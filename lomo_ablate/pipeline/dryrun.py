"""Dry runs: one line per job (its axes, which stages are cached) and the estimated GPU-hours, then per stage
the Slurm jobs, their resources and dependencies, CPU-hours, GPU-hours and the expected wall time; runs nothing.

Estimates come from the ``estimate.*`` throughput figures: ``samples_per_gpu_hour`` (training, per GPU) and
``curate_records_per_cpu_s`` (curation, per CPU core; :data:`CURATE_RECORDS_PER_CPU_S` when unset). Evaluation
has no figure yet and is not in the totals.

``python -m lomo_ablate -m sweep=<name> dry_run=true`` (the sweeper, every job of the grid) and
``python -m lomo_ablate dry_run=true`` (the app, one job) both print through :func:`print_dry_run`.
"""
from __future__ import annotations

import sys
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.pipeline.stages import STAGES, plan
from lomo_ablate.pipeline.store import Store
from lomo_ablate.pipeline.submit import ClusterConfig

#: Curation throughput per CPU core when ``estimate.curate_records_per_cpu_s`` is unset (measured on this
#: project's CPU benchmark: ~500 records per CPU-second of LoMo curation, docs/curate.md / FACTS.md).
CURATE_RECORDS_PER_CPU_S = 500.0


def job_samples(cfg: DictConfig) -> int:
    """The records a job curates and trains on: ``curate.mix.scale``, else the built-in pool sizes."""
    return int(OmegaConf.select(cfg, "curate.mix.scale", default=None) or
               (OmegaConf.select(cfg, "data.text_size", default=0) or 0) +
               (OmegaConf.select(cfg, "data.multimodal_size", default=0) or 0))


def curate_cpu_hours(cfg: DictConfig) -> float:
    """CPU-hours of a job's curation: records / ``estimate.curate_records_per_cpu_s`` / 3600."""
    rate = OmegaConf.select(cfg, "estimate.curate_records_per_cpu_s", default=None) or CURATE_RECORDS_PER_CPU_S
    return job_samples(cfg) / float(rate) / 3600.0


def gpu_hours(cfg: DictConfig) -> float:
    """Estimated GPU-hours of a job's training: samples (curate.mix.scale, else the pool sizes) x epochs /
    ``estimate.samples_per_gpu_hour``; 0 without a throughput figure (a CPU job)."""
    rate = OmegaConf.select(cfg, "estimate.samples_per_gpu_hour", default=None)
    if not rate:
        return 0.0
    samples = job_samples(cfg)
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
    stages = stage_estimates(jobs, store)
    for line in stages.pop("lines"):
        print(line, file=file)
    print(f"[dry-run] fully cached: {n_done}/{len(jobs)}; to train: {uncached_train}; "
          f"estimated {total_h:.1f} GPU-hours; nothing was run or submitted", file=file)
    return {"jobs": lines, "gpu_hours": total_h, "fully_cached": n_done, "stages": stages}


def _hours(h: float) -> str:
    return f"{h * 60:.1f} min" if h < 1 else f"{h:.1f} h"


def _cluster(cfg: DictConfig) -> ClusterConfig:
    node = OmegaConf.select(cfg, "cluster", default=None)
    return ClusterConfig.from_dict(OmegaConf.to_container(node, resolve=True) if node is not None else None)


def _resources(c: ClusterConfig, partition: str | None, nodes: int, gpus: int, tasks: int, cpus: int,
               mem_gb: int | None, timeout_min: int) -> str:
    gpu = f" x {gpus} GPU" if gpus else ""
    mem = f", {mem_gb} GB" if mem_gb else ""
    where = f"partition {partition}, " if c.kind == "slurm" else ""
    return f"{where}{nodes} node(s){gpu}, {tasks} task(s) x {cpus} CPU{mem}, {timeout_min} min limit"


def stage_estimates(jobs: Sequence[tuple[str, Mapping[str, Any], DictConfig]], store: Store) -> dict[str, Any]:
    """Per stage: the Slurm jobs a submission makes, their resources and dependencies, CPU-/GPU-hours and
    the expected wall time (``lines``: what the dry run prints). Curations shared by several jobs count once;
    cached stages count nothing. With ``cluster.stage_jobs`` curation is a CPU array of its own
    (``cluster.stages.curate``); without it it runs inside each GPU job on that job's CPUs, its GPUs idle."""
    cfgs = [c for _, _, c in jobs]
    if not cfgs:
        return {"lines": []}
    c = _cluster(cfgs[0])
    par = c.array_parallelism if c.kind == "slurm" else 1
    gpus_per_job = c.nodes * (c.gpus_per_node or 0)
    cpus_per_job = c.nodes * c.tasks_per_node * (c.cpus_per_task or 1)
    curations: dict[str, float] = {}  # key -> CPU-hours
    waiting: dict[str, int] = {}      # key -> jobs that wait for it
    train_h: list[float] = []
    for cfg in cfgs:
        plans = {p.name: p for p in plan(cfg)}
        cur = plans["curate"]
        if not store.is_done("curate", cur.key):
            curations.setdefault(cur.key, curate_cpu_hours(cfg))
            waiting[cur.key] = waiting.get(cur.key, 0) + 1
        if not store.is_done("train", plans["train"].key):
            train_h.append(gpu_hours(cfg))
    cpu_h = sum(curations.values())
    waves = -(-len(train_h) // par) if train_h else 0
    per_job_wall = max(train_h, default=0.0) / max(gpus_per_job, 1)
    train_wall = waves * per_job_wall
    out: dict[str, Any] = {"curate": {"jobs": len(curations), "cpu_hours": cpu_h},
                           "train": {"jobs": len(train_h), "gpu_hours": sum(train_h)}}
    lines = ["[dry-run] per stage (" + ("cluster.stage_jobs=true" if c.stage_jobs else "in the jobs") + "):"]
    if c.stage_jobs:
        sc = c.stages.curate
        tasks = min(sc.array, par)
        wall = max(curations.values(), default=0.0) / (sc.cpus_per_task * tasks)
        res = _resources(c, sc.partition or c.partition, 1, 0, 1, sc.cpus_per_task, sc.mem_gb, sc.timeout_min)
        lines.append(f"[dry-run]   curate    {len(curations)} CPU array(s) x {sc.array} task(s) [{res}]; no dependency; "
                     f"{cpu_h:.2f} CPU-h, 0 GPU-h; ~{_hours(wall)} wall")
        dep = f"afterok on its curation ({len(curations)} distinct)" if curations else "none (curations cached)"
        idle, curate_wall = 0.0, wall
    else:
        wall = max(curations.values(), default=0.0) / max(cpus_per_job, 1)
        idle = sum(h / max(cpus_per_job, 1) * gpus_per_job * waiting[k] for k, h in curations.items())
        lines.append(f"[dry-run]   curate    inside the first job needing each curated dataset ({len(curations)}), on its "
                     f"{cpus_per_job} CPU(s): {cpu_h:.2f} CPU-h, ~{_hours(wall)} wall, {idle:.1f} GPU-h idle "
                     f"(cluster.stage_jobs=true moves it to CPU arrays)")
        dep, curate_wall = "none", wall
    res = _resources(c, c.partition, c.nodes, c.gpus_per_node or 0, c.tasks_per_node, c.cpus_per_task or 1,
                     c.mem_gb, c.timeout_min)
    lines.append(f"[dry-run]   train     {len(train_h)} job(s) [{res}]; dependency: {dep}; {sum(train_h):.1f} GPU-h; "
                 f"~{_hours(per_job_wall)} per job, {waves} wave(s) of <= {par} (array_parallelism): ~{_hours(train_wall)}")
    lines.append("[dry-run]   evaluate  inside the train jobs (no estimate.* figure: not in the totals)")
    total = curate_wall + train_wall
    lines.append(f"[dry-run] expected wall time ~{_hours(total)} (curation, then training)"
                 + (f"; {idle:.1f} GPU-h idle during curation" if idle else ""))
    out.update(wall_hours=total, idle_gpu_hours=idle, lines=lines)
    return out
