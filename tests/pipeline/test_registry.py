"""The stage registry and ``run_job`` over it, with stub stages (no curation, no torch): order, caching,
failure recording, rank-0-only stages, and a finished result.json that a failed run must not hide."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lomo_ablate.contracts import METRICS, RESULT, load_result
from lomo_ablate.distributed import DistributedEnvironment
from lomo_ablate.pipeline import app
from lomo_ablate.pipeline.app import StageFailed, run_job
from lomo_ablate.pipeline.registry import Registry, Stage
from lomo_ablate.pipeline.store import Store


def env(rank: int = 0, world: int = 1) -> DistributedEnvironment:
    return DistributedEnvironment(rank=rank, world_size=world, local_rank=rank, local_world_size=world,
                                  master_addr="127.0.0.1", master_port=29500, source="torchrun")


def job_cfg(tmp_path: Path, **over) -> OmegaConf:
    return OmegaConf.create({"seed": over.pop("seed", 0), "rewrite_ratio": 0.5, "store_dir": str(tmp_path / "store"),
                             "data": {"text": "builtin", "multimodal": None}, **over})


class Stubs:
    """Three stub stages a -> b -> c; ``calls`` records which ran (with their upstream folders)."""

    def __init__(self, fail: str | None = None, rank0_only_b: bool = True) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail = fail

        def key(name: str):
            return lambda cfg, up: {"stage": name, "value": cfg.seed, "upstream": dict(up)}

        def run(name: str):
            def go(ctx) -> None:
                self.calls.append((name, sorted(ctx.inputs)))
                if name == self.fail:
                    raise RuntimeError(f"{name} broke")
                (ctx.out / f"{name}.txt").write_text(name)
                if name == "c":
                    (ctx.out / METRICS).write_text(json.dumps({"score": 0.75}))
            return go

        self.registry = Registry([
            Stage("a", key("a"), run("a")),
            Stage("b", key("b"), run("b"), rank0_only=rank0_only_b, resumable=True),
            Stage("c", key("c"), run("c"), metrics=lambda folder: json.loads((folder / METRICS).read_text())),
        ])


@pytest.fixture(autouse=True)
def _no_wandb(monkeypatch):
    monkeypatch.setattr(app, "_open_logger", lambda *a, **k: None)


def test_plan_chains_keys_in_registry_order_and_skips_stages_not_in_the_job(tmp_path):
    reg = Registry([Stage("a", lambda cfg, up: {"a": cfg.seed}, print),
                    Stage("skipped", lambda cfg, up: None, print),
                    Stage("b", lambda cfg, up: {"b": 1, "a": up["a"]}, print)])
    p1, p2 = reg.plan(job_cfg(tmp_path)), reg.plan(job_cfg(tmp_path, seed=2))
    assert [p.name for p in p1] == ["a", "b"]
    assert p1[1].inputs["a"] == p1[0].key
    assert p1[0].key != p2[0].key and p1[1].key != p2[1].key  # a change upstream changes every key below
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(Stage("a", lambda cfg, up: {}, print))
    with pytest.raises(KeyError, match="registered: a, skipped, b"):
        reg["nope"]


def test_run_job_runs_stages_in_order_then_finds_them_cached(tmp_path):
    stubs = Stubs()
    res = run_job(job_cfg(tmp_path), tmp_path / "job", env=env(), registry=stubs.registry)
    assert stubs.calls == [("a", []), ("b", ["a"]), ("c", ["a", "b"])]
    assert res["status"] == "done" and res["metrics"] == {"score": 0.75}
    assert [s["status"] for s in res["stages"].values()] == ["done", "done", "done"]
    assert load_result(tmp_path / "job") == json.loads(json.dumps(res))
    # another job with the same stage inputs finds every stage in the store
    again = run_job(job_cfg(tmp_path), tmp_path / "job2", env=env(), registry=stubs.registry)
    assert len(stubs.calls) == 3 and [s["status"] for s in again["stages"].values()] == ["cached"] * 3
    # the finished job itself returns at once
    assert run_job(job_cfg(tmp_path), tmp_path / "job", env=env(), registry=stubs.registry) == load_result(
        tmp_path / "job")


def test_a_failing_stage_is_recorded_and_later_stages_do_not_run(tmp_path, capsys):
    stubs = Stubs(fail="b")
    with pytest.raises(StageFailed, match="FAILED in stage b: RuntimeError: b broke"):
        run_job(job_cfg(tmp_path), tmp_path / "job", env=env(), registry=stubs.registry, log_path="x.log")
    assert [n for n, _ in stubs.calls] == ["a", "b"]
    res = load_result(tmp_path / "job")
    assert res["status"] == "failed" and res["error"]["stage"] == "b" and "b broke" in res["error"]["message"]
    assert res["stages"]["a"]["status"] == "done" and res["stages"]["b"]["status"] == "running"
    err = capsys.readouterr().err
    assert "[lomo-ablate] job job FAILED in stage b" in err and "log: x.log" in err
    # the resumable stage kept its work folder for the next attempt; the fixed stage runs and the job finishes
    stubs.fail = None
    res = run_job(job_cfg(tmp_path), tmp_path / "job", env=env(), registry=stubs.registry)
    assert res["status"] == "done" and res["stages"]["a"]["status"] == "cached"


def test_rank_0_only_stages_are_waited_for_and_ranks_above_0_stop_after_the_last_every_rank_stage(tmp_path):
    stubs = Stubs(rank0_only_b=False)  # b runs on every rank (like training); a and c are rank 0's
    cfg = job_cfg(tmp_path)
    a = stubs.registry.plan(cfg)[0]
    Store(cfg.store_dir).get_or_compute("a", a.inputs, lambda out: None)  # rank 0 built a already
    res1 = run_job(cfg, tmp_path / "job", env=env(rank=1, world=2), registry=stubs.registry)
    assert stubs.calls == [("b", ["a"])]  # rank 1 waited for a, ran b in the shared work folder, skipped c
    assert "c" not in res1["stages"] and not (tmp_path / "job" / RESULT).exists()
    store = Store(cfg.store_dir)
    b = stubs.registry.plan(cfg)[1]
    assert not store.is_done("b", b.key) and (store.work_path("b", b.key) / "b.txt").is_file()
    res0 = run_job(cfg, tmp_path / "job", env=env(rank=0, world=2), registry=stubs.registry)
    assert [n for n, _ in stubs.calls] == ["b", "b", "c"]  # rank 0 finished b (moved it into place) and ran c
    assert store.is_done("b", b.key) and res0["status"] == "done" and res0["world_size"] == 2


def test_a_finished_result_is_not_replaced_by_a_run_that_never_finishes(tmp_path, monkeypatch):
    """A job re-run with another config (e.g. after a default changed) keeps its finished result.json
    on disk until the new run has a final status; a logger that fails to start is a recorded failure."""
    job = tmp_path / "job"
    job.mkdir()
    (job / RESULT).write_text(json.dumps({"status": "done", "config_hash": "old", "metrics": {"score": 1}}))
    seen = []

    stubs = Stubs()
    original = stubs.registry["a"].run

    def watching(ctx):
        seen.append(load_result(job)["status"])
        original(ctx)

    reg = Registry([Stage("a", stubs.registry["a"].key, watching), stubs.registry["c"]])
    run_job(job_cfg(tmp_path), job, env=env(), registry=reg)
    assert seen == ["done"] and load_result(job)["status"] == "done" and load_result(job)["config_hash"] != "old"

    def broken_logger(*a, **k):
        raise RuntimeError("wandb cannot start")

    monkeypatch.setattr(app, "_open_logger", broken_logger)
    with pytest.raises(StageFailed, match="wandb cannot start"):
        run_job(job_cfg(tmp_path, seed=2), job, env=env(), registry=reg)
    res = load_result(job)
    assert res["status"] == "failed" and res["error"]["stage"] == "logger"


def test_a_stage_package_that_fails_to_import_fails_validation(tmp_path, monkeypatch):
    """A broken import in a stage package used to skip that stage's config checks silently."""
    (tmp_path / "broken_stage_pkg.py").write_text("import not_a_module_anywhere\nclass Cfg: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from lomo_ablate.pipeline.validate import validate_config

    reg = Registry([Stage("a", lambda cfg, up: {}, print, configs=(("curate", "broken_stage_pkg:Cfg"),))])
    cfg = job_cfg(tmp_path, curate={"x": 1})
    with pytest.raises(ModuleNotFoundError, match="not_a_module_anywhere"):
        validate_config(cfg, registry=reg)
    with pytest.raises(ModuleNotFoundError):  # and a job refuses to start
        run_job(cfg, tmp_path / "job", env=env(), registry=reg)
    assert load_result(tmp_path / "job") is None
