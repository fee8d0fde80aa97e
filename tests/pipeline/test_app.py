"""The main app end to end, as a user runs it: ``python -m lomo_ablate`` in a fresh folder.

Real stages (built-in data, curation with Pillow, a tiny random-init VLM trained 2 steps on CPU, the probe
evaluation), real Hydra multirun with the basic launcher, real W&B offline files. The first sweep runs in
a subprocess exactly as a user types it; the other runs call the same entry point in-process (no
interpreter start-up and torch import per run; the torch.distributed variables training exports are
restored afterwards)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# the embedded default, shrunk: 16+8 records, a 2-step reading stage on 16 texts, 2 optimizer steps,
# 4 probe items, one protocol
TINY = ["data.text_size=16", "data.multimodal_size=8", "curate.mix.scale=null", "trainer.max_steps=2",
        "model.tiny.reading.steps=2", "model.tiny.reading.samples=16", "model.tiny.reading.batch_size=4",
        "model.tiny.reading.eval_n=2",
        "trainer.save_every=0", "eval.benchmarks=[{name:probe,n:4,seed:1234}]", "eval.protocols=[standard]",
        "eval.mir.enabled=false", "eval.paired.enabled=false", "eval.progress=false",
        "model.tiny.layer_types=[full_attention,full_attention]", "model.tiny.max_pixels=16384",
        "trainer.per_device_batch_size=4"]


def lomo(tmp: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="2")
    return subprocess.run([sys.executable, "-m", "lomo_ablate", *args], cwd=tmp, env=env, text=True,
                          capture_output=True, timeout=timeout)






def test_dry_run_prints_the_grid_and_runs_nothing(tmp_path, app):
    code, out, err = app(tmp_path, "-m", "sweep=position", "dry_run=true")
    assert code == 0, err[-3000:]
    lines = [l for l in out.splitlines() if l.startswith("  ")]
    assert len(lines) == 6  # 5 positions + the standard-SFT baseline
    for pos in ("prefix", "middle", "suffix", "multi_span", "full"):
        assert any(f"position={pos}" in l for l in lines)
    assert any("method=standard_sft" in l for l in lines)
    assert "GPU-hours" in out and "fully cached: 0/6" in out
    assert not (tmp_path / "multirun").exists() and not (tmp_path / ".lomo_store").exists()


def test_dry_run_estimates_gpu_hours_of_a_production_sweep(tmp_path, app):
    code, out, err = app(tmp_path, "-m", "sweep=scale", "dry_run=true")
    assert code == 0, err[-3000:]
    # 1M..4M samples x {standard_sft, lomo} at 25k samples per GPU-hour: 2 x (40+80+120+160) = 800
    assert "estimated 800.0 GPU-hours" in out


def test_invalid_sweep_is_rejected_before_any_job_runs(tmp_path, app):
    code, out, err = app(tmp_path, "-m", "rewrite_ratio=0.5,1.5", *TINY)
    assert code != 0
    assert "rewrite_ratio" in err and "1.5" in err and "[0, 1]" in err
    assert "nothing was launched" in err
    assert not (tmp_path / ".lomo_store").exists()


def test_single_run_rejects_an_unknown_position_naming_the_options(tmp_path, app):
    code, out, err = app(tmp_path, "position=diagonal")
    assert code != 0
    assert "diagonal" in err and "middle" in err


def test_zip_on_the_command_line_pairs_two_axes(tmp_path, app):
    code, out, err = app(tmp_path, "-m", "zip(model,trainer.lr)=[tiny,qwen3_5_9b],[0.003,0.001]",
                         "method=standard_sft,lomo", "dry_run=true")
    assert code == 0, err[-3000:]
    lines = [l for l in out.splitlines() if l.startswith("  ")]
    assert len(lines) == 4  # 2 methods x 2 (model, lr) pairs
    assert all(("model=tiny" in l) == ("trainer.lr=0.003" in l) for l in lines)


def test_slurm_cluster_without_partition_is_refused_before_submission(tmp_path, app, monkeypatch):
    monkeypatch.delenv("LOMO_SLURM_PARTITION", raising=False)
    code, out, err = app(tmp_path, "-m", "rewrite_ratio=0,0.5", "cluster=slurm")
    assert code != 0 and "cluster.partition" in err
    assert not (tmp_path / "multirun").exists() and not (tmp_path / ".lomo_store").exists()


@pytest.mark.slow
def test_local_multirun_shares_inputs_reports_failures_and_resumes(tmp_path, app):
    bad = tmp_path / "bad.jsonl"  # no usable record: curation rejects both, training has nothing
    bad.write_text('{"foo": 1}\n{"bar": 2}\n')
    args = ["-m", "rewrite_ratio=0,0.5", *TINY,
            f"hydra.sweeper.baselines=[['data.text={bad}','data.multimodal=null']]"]
    r = lomo(tmp_path, *args)
    sweep = tmp_path / "multirun" / "adhoc"
    results = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/result.json")}
    assert len(results) == 3, (r.stdout[-2000:], r.stderr[-4000:])

    # the failing job is reported with its log path, the others still ran, the sweep exits non-zero
    assert r.returncode != 0
    failed = [n for n, res in results.items() if res["status"] == "failed"]
    assert len(failed) == 1 and "data.text=" in failed[0]
    assert results[failed[0]]["error"]["stage"] == "train"
    assert "FAILED" in r.stderr and str(Path(failed[0]) / "lomo.log") in r.stderr

    # job folders are named from the overrides (constants included): rewrite_ratio=0,... and =0.5,...
    done = {res["axes"]["rewrite_ratio"]: res for res in results.values() if res["status"] == "done"}
    assert set(done) == {0, 0.5}
    for ratio, res in done.items():
        name = res["job"]
        assert f"rewrite_ratio={ratio:g}" in name and res["axes"]["trainer.max_steps"] == 2
        assert set(res["stages"]) == {"data", "curate", "read", "train", "evaluate"}
        assert "standard" in res["metrics"]["overall"]
        assert set(res["metrics"]["reading"]["transcription"]) == {"n", "questions", "random"}
        assert res["config"]["curate"]["mix"]["rewrite_ratio"] == res["axes"]["rewrite_ratio"]
        assert list((sweep / name / "wandb").glob("offline-run-*")), "no W&B offline run in the job folder"
    # both jobs share the built-in data: computed by the first, found by the second
    a, b = done[0]["stages"]["data"], done[0.5]["stages"]["data"]
    assert a["key"] == b["key"] and {a["status"], b["status"]} == {"done", "cached"}
    assert done[0]["stages"]["curate"]["key"] != done[0.5]["stages"]["curate"]["key"]
    # ... and one reader: the reading stage does not depend on the method (rewrite_ratio)
    a, b = done[0]["stages"]["read"], done[0.5]["stages"]["read"]
    assert a["key"] == b["key"] and {a["status"], b["status"]} == {"done", "cached"}
    assert len([p for p in (tmp_path / ".lomo_store" / "data").iterdir() if not p.name.startswith(".")]) == 1

    # the results were gathered and reported although one job failed
    summary = json.loads((sweep / "summary.json").read_text())
    assert sorted(row["status"] for row in summary) == ["done", "done", "failed"]
    assert (tmp_path / "results" / "adhoc").is_dir(), r.stdout[-2000:] + r.stderr[-2000:]

    # a dry run now shows what is cached
    code, out, err = app(tmp_path, *args, "dry_run=true")
    assert code == 0, err[-3000:]
    assert "fully cached: 2/3" in out

    # re-running the finished sweep does no work for the finished jobs
    stamps = {res["job"]: (sweep / res["job"] / "result.json").stat().st_mtime_ns for res in done.values()}
    code, out, err = app(tmp_path, *args)
    assert "2 of 3 job(s) already done" in out
    assert code != 0 and "FAILED" in err  # the failed job was retried (and fails again)
    assert {n: (sweep / n / "result.json").stat().st_mtime_ns for n in stamps} == stamps


def _compose(*overrides: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg


def test_only_rank_0_writes_the_job_folder(tmp_path):
    """Every rank of a 2-task job finds the same store artifacts; only rank 0 writes result.json and W&B.
    (The stages are already in the store here: this is about who writes what, not about training.)"""
    from lomo_ablate.distributed import DistributedEnvironment
    from lomo_ablate.pipeline.app import run_job
    from lomo_ablate.pipeline.stages import plan
    from lomo_ablate.pipeline.store import Store

    cfg = _compose(f"store_dir={tmp_path / 'store'}", "logger=wandb_offline")
    store = Store(cfg.store_dir)
    for p in plan(cfg):
        store.get_or_compute(p.name, p.inputs, lambda out: (out / "metrics.json").write_text(
            json.dumps({"overall": {"standard": 0.5}})))

    def env(rank: int) -> DistributedEnvironment:
        return DistributedEnvironment(rank=rank, world_size=2, local_rank=rank, local_world_size=2,
                                      master_addr="127.0.0.1", master_port=29500, source="torchrun")

    job = tmp_path / "job"
    res1 = run_job(cfg, job, axes={"x": 1}, env=env(1))
    assert not job.exists() or not any(job.iterdir())  # rank 1 wrote nothing
    assert res1["stages"]["train"]["key"] == {p.name: p for p in plan(cfg)}["train"].key
    res0 = run_job(cfg, job, axes={"x": 1}, env=env(0))
    on_disk = json.loads((job / "result.json").read_text())
    assert on_disk["status"] == "done" and on_disk["metrics"] == {"overall": {"standard": 0.5}}
    assert on_disk["world_size"] == 2 and res0["config_hash"] == on_disk["config_hash"]
    assert all(s["status"] == "cached" for s in on_disk["stages"].values())
    assert list((job / "wandb").glob("offline-run-*"))
