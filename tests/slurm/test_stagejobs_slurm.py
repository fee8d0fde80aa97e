"""cluster.stage_jobs=true on the loopback cluster, with the real main app (tiny budgets): curation arrays and
dependent GPU jobs, one curation shared by the jobs that need the same data, a killed curation task resubmitted
alone, and the curated data equal to a one-process run byte for byte."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lomo_ablate.curate import CurateConfig, curate

from slurm_helpers import collect_cli, wait_for
from curated_tree import curated_tree as tree

pytestmark = pytest.mark.slurm

TINY = ["data.text_size=16", "data.multimodal_size=8", "curate.mix.scale=null", "curate.shard_size=4",
        "trainer.max_steps=2", "model.tiny.reading.steps=0", "trainer.save_every=0",
        "eval.benchmarks=[{name:probe,n:4,seed:1234}]", "eval.protocols=[standard]", "eval.mir.enabled=false",
        "eval.paired.enabled=false", "eval.progress=false", "model.tiny.layer_types=[full_attention,full_attention]",
        "model.tiny.max_pixels=16384", "trainer.per_device_batch_size=4", "trainer.progress=false"]
# three positions, and a fourth job that shares the middle position's curated data (another learning rate)
GRID = "zip(position,trainer.lr)=[prefix,middle,suffix,middle],[0.003,0.003,0.003,0.002]"


def _sweep(env: dict, cwd: Path, sweep: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "lomo_ablate", "-m", GRID, *TINY, "cluster=slurm_loopback", "cluster.stage_jobs=true",
           "cluster.array_parallelism=1", "cluster.wait=false", f"hydra.sweep.dir={sweep}"]
    env = dict(env, OMP_NUM_THREADS="1", WANDB_MODE="offline", HF_HUB_OFFLINE="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _squeue(*args: str) -> str:
    return subprocess.run(["squeue", "-h", *args], capture_output=True, text=True, timeout=30).stdout


def _sacct_state(job_id: str) -> str:
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", job_id.split("_")[0]],
                         capture_output=True, text=True, timeout=30).stdout
    return next((l.split("|")[1] for l in out.splitlines() if l.split("|")[0] == job_id), "")


def test_curation_arrays_gate_the_gpu_jobs_and_a_killed_task_is_resubmitted_alone(slurm_cluster, tmp_path):
    sweep, store = tmp_path / "multirun" / "sj", tmp_path / ".lomo_store"
    r = _sweep(slurm_cluster, tmp_path, sweep)
    assert r.returncode == 0, r.stderr[-3000:]
    sub = json.loads((sweep / "submission.json").read_text())["submissions"][-1]
    jobs = {j["name"]: j for j in sub["jobs"]}
    curations = {c["key"]: c for c in sub["curations"]}
    # three curated datasets (one per position): one array of 2 tasks each; the two middle jobs wait on one
    assert len(jobs) == 4 and len(curations) == 3
    assert sorted(len(c["jobs"]) for c in curations.values()) == [1, 1, 2]
    assert all(sorted(c["tasks"]) == ["0", "1"] for c in curations.values())
    for c in curations.values():
        for name in c["jobs"]:
            assert jobs[name]["dependency"] == f"afterok:{c['array_id']}"
    # the dependency is Slurm's: squeue shows it on the queued GPU jobs
    gpu_ids = [j["job_id"] for j in jobs.values()]
    deps = dict(l.split("|", 1) for l in _squeue("-j", ",".join(gpu_ids), "-o", "%i|%E").split())
    assert any(v.startswith("afterok:") for v in deps.values()), deps

    # kill task 1 of the prefix curation (array parallelism 1: it is still waiting behind task 0)
    prefix = next(c for c in curations.values() if "position=prefix" in c["jobs"][0])
    subprocess.run(["scancel", prefix["tasks"]["1"]], check=True, timeout=30)
    prefix_job = jobs[prefix["jobs"][0]]
    # nothing else is cancelled: task 0 completes its share, the prefix GPU job stays queued, never satisfied
    wait_for(lambda: _sacct_state(prefix["tasks"]["0"]) == "COMPLETED", 300, "task 0 of the prefix curation", 2)
    wait_for(lambda: "DependencyNeverSatisfied" in _squeue("-j", prefix_job["job_id"], "-o", "%r"), 60,
             "the prefix job to wait on a failed dependency", 1)
    work = store / "curate" / f".work-{prefix['key']}"
    assert sorted(p.name for p in (work / ".work").glob("shard-*.stats.json")) == [
        f"shard-{i:05d}.stats.json" for i in (0, 2, 4)]
    task0_images = {str(p.relative_to(work)): (p.stat().st_ino, p.stat().st_mtime_ns)
                    for p in (work / "images").rglob("*") if p.is_file()}

    # the next submit resubmits task 1 of the prefix curation alone and points the queued job at it
    r = _sweep(slurm_cluster, tmp_path, sweep)
    assert r.returncode == 0, r.stderr[-3000:]
    sub2 = json.loads((sweep / "submission.json").read_text())["submissions"][-1]
    again = {c["key"]: c for c in sub2["curations"]}
    assert sorted(again[prefix["key"]]["tasks"]) == ["1"]
    assert all(not c["tasks"] for k, c in again.items() if k != prefix["key"])  # done or still running
    assert sub2["jobs"] == []  # every GPU job is still queued (or done): none submitted twice
    assert [(p["name"], p["dependency"]) for p in sub2["repointed"]] == [
        (prefix_job["name"], f"afterok:{again[prefix['key']]['array_id']}")]
    assert not any("error" in p for p in sub2["repointed"])

    c = collect_cli(slurm_cluster, sweep, "--wait", "--poll", "2", timeout=900)
    assert c.returncode == 0, c.stdout + c.stderr
    results = {n: json.loads((sweep / n / "result.json").read_text()) for n in jobs}
    assert all(r["status"] == "done" for r in results.values())
    # the GPU jobs found their curation in the store: none curated
    assert all(r["stages"]["curate"]["status"] == "cached" for r in results.values())
    # task 0's shards were not curated again: its images are the same files
    final = store / "curate" / prefix["key"]
    assert {k: (p.stat().st_ino, p.stat().st_mtime_ns) for k in task0_images for p in [final / k]} == task0_images

    # each curated dataset is byte for byte what one local process makes of the same inputs
    for key, cur in curations.items():
        res = results[cur["jobs"][0]]
        data = Path(res["stages"]["data"]["path"])
        one = tmp_path / f"one-{key}"
        curate(data / "text.jsonl", one, CurateConfig.from_dict(res["config"]["curate"]),
               multimodal_input=data / "multimodal.jsonl", seed=res["config"]["seed"], workers=1, progress=False)
        assert tree(store / "curate" / key) == tree(one), key
