"""Overhead of the sweep machinery on a 100-job grid (no stage runs): validation + dry run, and the
re-run of a finished sweep.

    .venv/bin/python benchmarks/sweep_overhead.py

1. In-process: the lomo sweeper's composition (compose once per group choice + Hydra's value-override
   code) + validation + dry run of 100 jobs, against Hydra composing each of the 100 jobs from scratch
   (what the basic sweeper does to validate a batch) -- the baseline, measured in the same process.
2. Subprocess: ``python -m lomo_ablate -m <grid>`` over a sweep folder where all 100 jobs are finished
   (result.json ``done`` with the config hash each job would compute; written by this script, since
   running 100 real jobs is not the point here), against ``... dry_run=true`` on the same grid (the same
   start-up, composition and validation, nothing launched).
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = ["rewrite_ratio=0,0.25,0.5,0.75,1.0", "position=prefix,middle,suffix,multi_span,full", "seed=0,1,2,3"]


def in_process(tmp: Path) -> tuple[float, float, int]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from lomo_ablate.pipeline.naming import job_name_from_overrides
    from lomo_ablate.pipeline.store import Store
    from lomo_ablate.pipeline.compose import compose_jobs
    from lomo_ablate.pipeline.dryrun import print_dry_run
    from lomo_ablate.pipeline.grid import expand_grid
    from lomo_ablate.pipeline.sweeper import validate_jobs
    from lomo_ablate.pipeline.validate import validate_config

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        master = compose("config", overrides=[], return_hydra_config=True)
        validate_config(master)  # warm-up: imports the stage packages once (torch, transformers)
        loader = GlobalHydra.instance().config_loader()
        jobs = expand_grid(OverridesParser.create().parse_overrides(GRID))
        t0 = time.perf_counter()
        for j in jobs:  # baseline: Hydra composes every job from scratch
            loader.load_sweep_config(master, list(j))
        baseline = time.perf_counter() - t0
        t0 = time.perf_counter()
        configs = compose_jobs(loader, master, jobs, progress=False)
        names = [job_name_from_overrides(j) for j in jobs]
        validate_jobs(configs, names)
        print_dry_run([(n, {}, c) for n, c in zip(names, configs)], Store(tmp / "store"), file=io.StringIO())
        ours = time.perf_counter() - t0
    return baseline, ours, len(jobs)


def write_finished_sweep(tmp: Path) -> int:
    """result.json 'done' for every job of the grid, with the hash run_job would compute."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from lomo_ablate.pipeline.compose import compose_jobs
    from lomo_ablate.pipeline.grid import expand_grid
    from lomo_ablate.pipeline.jobconfig import job_config_hash
    from lomo_ablate.pipeline.naming import job_name_from_overrides
    from lomo_ablate.utils import atomic_write_json

    GlobalHydra.instance().clear()
    common = [f"store_dir={tmp / 'store'}", f"multirun_dir={tmp / 'multirun'}", f"results_dir={tmp / 'results'}"]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        master = compose("config", overrides=common, return_hydra_config=True)
        jobs = expand_grid(OverridesParser.create().parse_overrides(GRID + common))
        configs = compose_jobs(GlobalHydra.instance().config_loader(), master, jobs, progress=False)
        exclude = list(master.hydra.job.config.override_dirname.exclude_keys)
        for j, cfg in zip(jobs, configs):
            name = job_name_from_overrides(j, exclude)
            atomic_write_json(tmp / "multirun" / "adhoc" / name / "result.json",
                              {"status": "done", "config_hash": job_config_hash(cfg),
                               "job": name, "sweep": "adhoc", "axes": {}, "stages": {}, "metrics": {}})
    return len(jobs)


def cli(tmp: Path, *extra: str) -> tuple[float, str]:
    args = [sys.executable, "-m", "lomo_ablate", "-m", *GRID, f"store_dir={tmp / 'store'}",
            f"multirun_dir={tmp / 'multirun'}", f"results_dir={tmp / 'results'}", *extra]
    env = dict(os.environ, WANDB_MODE="offline", HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{r.stderr[-3000:]}")
    return dt, r.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        baseline, ours, n = in_process(tmp)
        print(f"[1] {n}-job grid, in-process (after a warm-up that imports the stages):")
        print(f"    Hydra full composition of every job (baseline): {baseline:6.2f} s")
        print(f"    lomo sweeper compose + validate + dry run:      {ours:6.2f} s   "
              f"ratio {ours / baseline:.2f}x of baseline")
        write_finished_sweep(tmp)
        dry, _ = cli(tmp, "dry_run=true")
        rerun, out = cli(tmp)
        skipped = [l for l in out.splitlines() if "already done" in l]
        print(f"[2] {n}-job grid, `python -m lomo_ablate -m ...` (subprocess, interpreter start-up included):")
        print(f"    dry run (baseline):                 {dry:6.2f} s")
        print(f"    re-run of the finished sweep:        {rerun:6.2f} s   ratio {rerun / dry:.2f}x   "
              f"({skipped[0].strip() if skipped else 'no skip line!'})")


if __name__ == "__main__":
    main()
