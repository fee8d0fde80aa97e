"""The dry run's per-stage plan: Slurm jobs, resources, dependencies, CPU-/GPU-hours and the wall time, from
the estimate.* figures of the composed configs (nothing is run or submitted)."""
from __future__ import annotations

import io

import pytest
from hydra import compose

from lomo_ablate.pipeline.dryrun import print_dry_run
from lomo_ablate.pipeline.store import Store

H200 = ["sweep=main", "scale=4M", "model=qwen3_5_9b", "estimate.samples_per_gpu_hour=25000", "cluster=slurm_h200",
        "cluster.partition=h200", "cluster.stages.curate.partition=cpu"]
# two curated datasets (LoMo, standard SFT); the third job shares LoMo's (another learning rate)
JOBS = [["method=lomo"], ["method=standard_sft"], ["method=lomo", "trainer.lr=2e-5"]]


def _dry_run(tmp_path, *extra: str) -> tuple[dict, str]:
    cfgs = [compose("config", overrides=H200 + j + list(extra), return_hydra_config=True) for j in JOBS]
    buf = io.StringIO()
    out = print_dry_run([(f"job{i}", {}, c) for i, c in enumerate(cfgs)], Store(tmp_path / "store"), file=buf)
    return out, buf.getvalue()


@pytest.mark.parametrize("stage_jobs", [True, False])
def test_per_stage_jobs_resources_and_hours(hydra_conf, tmp_path, stage_jobs):
    out, text = _dry_run(tmp_path, f"cluster.stage_jobs={str(stage_jobs).lower()}")
    curate_h = 4_000_000 / 500 / 3600  # records / estimate.curate_records_per_cpu_s (the default), per dataset
    assert out["stages"]["curate"] == {"jobs": 2, "cpu_hours": pytest.approx(2 * curate_h)}
    assert out["stages"]["train"] == {"jobs": 3, "gpu_hours": pytest.approx(3 * 4_000_000 / 25000)}
    train_wall = 4_000_000 / 25000 / 8  # one wave (array_parallelism 8) of 8-GPU jobs
    lines = text.splitlines()
    curate_line = next(l for l in lines if l.startswith("[dry-run]   curate"))
    train_line = next(l for l in lines if l.startswith("[dry-run]   train"))
    if stage_jobs:
        # conf/cluster/slurm_h200.yaml: 8 tasks x 32 CPUs per curation, on the CPU partition
        assert "2 CPU array(s) x 8 task(s) [partition cpu, 1 node(s), 1 task(s) x 32 CPU, 64 GB" in curate_line
        assert "afterok on its curation (2 distinct)" in train_line
        assert out["stages"]["idle_gpu_hours"] == 0
        assert out["stages"]["wall_hours"] == pytest.approx(curate_h / (32 * 8) + train_wall)
    else:
        # curation on the 8 x 12 CPUs of the GPU job, its 8 GPUs idle; the jobs sharing it wait too
        assert "on its 96 CPU(s)" in curate_line and "dependency: none" in train_line
        assert out["stages"]["idle_gpu_hours"] == pytest.approx(curate_h / 96 * 8 * 3)
        assert out["stages"]["wall_hours"] == pytest.approx(curate_h / 96 + train_wall)
    assert "[partition h200, 1 node(s) x 8 GPU, 8 task(s) x 12 CPU, 960 GB, 1440 min limit]" in train_line
    assert "expected wall time" in text and "nothing was run or submitted" in text
    assert not (tmp_path / "store").exists()


def test_cached_curations_cost_nothing_and_set_no_dependency(hydra_conf, tmp_path):
    from lomo_ablate.pipeline.stages import plan

    cfg = compose("config", overrides=H200 + JOBS[0] + ["cluster.stage_jobs=true"], return_hydra_config=True)
    key = next(p.key for p in plan(cfg) if p.name == "curate")
    done = tmp_path / "store" / "curate" / key
    done.mkdir(parents=True)
    (done / "_SUCCESS").write_text("x\n")
    out, text = _dry_run(tmp_path, "cluster.stage_jobs=true")
    assert out["stages"]["curate"]["jobs"] == 1  # only standard SFT's dataset is left to curate
    assert "afterok on its curation (1 distinct)" in text
