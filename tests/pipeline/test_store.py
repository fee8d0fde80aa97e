"""The content-addressed store: computed once, never half-visible, shared by concurrent processes."""
from __future__ import annotations

import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from lomo_ablate.contracts import SUCCESS
from lomo_ablate.pipeline.store import Store, stage_key


def _write(text: str):
    def compute(out: Path) -> None:
        (out / "artifact.txt").write_text(text)
    return compute


def test_second_call_is_a_cache_hit_and_does_not_recompute(tmp_path):
    store = Store(tmp_path)
    calls = []
    inputs = {"stage": "curate", "config": {"a": 1}}

    def compute(out: Path) -> None:
        calls.append(out)
        (out / "artifact.txt").write_text("x")

    first = store.get_or_compute("curate", inputs, compute)
    second = store.get_or_compute("curate", inputs, compute)
    assert len(calls) == 1
    assert not first.cached and second.cached
    assert first.path == second.path == tmp_path / "curate" / stage_key(inputs)
    assert (first.path / "artifact.txt").read_text() == "x"
    assert json.loads((first.path / "_key.json").read_text())["inputs"] == inputs


def test_key_ignores_dict_order_and_changes_with_any_input(tmp_path):
    assert stage_key({"a": 1, "b": {"c": 2, "d": 3}}) == stage_key({"b": {"d": 3, "c": 2}, "a": 1})
    assert stage_key({"a": 1}) != stage_key({"a": 2})
    store = Store(tmp_path)
    p1 = store.get_or_compute("train", {"lr": 1e-3}, _write("1")).path
    p2 = store.get_or_compute("train", {"lr": 1e-4}, _write("2")).path
    assert p1 != p2 and (p1 / "artifact.txt").read_text() == "1" and (p2 / "artifact.txt").read_text() == "2"


def test_failed_compute_leaves_nothing_and_is_retried(tmp_path):
    store = Store(tmp_path)

    def boom(out: Path) -> None:
        (out / "half.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.get_or_compute("curate", {"k": 1}, boom)
    assert not store.is_done("curate", stage_key({"k": 1}))
    assert [p for p in (tmp_path / "curate").iterdir() if p.name != ".locks"] == []
    res = store.get_or_compute("curate", {"k": 1}, _write("ok"))
    assert not res.cached and (res.path / "artifact.txt").read_text() == "ok"


def test_resumable_stage_keeps_its_work_folder_after_a_failure(tmp_path):
    """A killed/failed training resumes from what its deterministic work folder holds."""
    store = Store(tmp_path)
    attempts = []

    def train(out: Path) -> None:
        step_file = out / "checkpoint-step"
        start = int(step_file.read_text()) if step_file.exists() else 0
        attempts.append(start)
        step_file.write_text(str(start + 5))
        if start == 0:
            raise KeyboardInterrupt  # killed half-way
        (out / "final").mkdir()

    with pytest.raises(KeyboardInterrupt):
        store.get_or_compute("train", {"k": 1}, train, resumable=True)
    key = stage_key({"k": 1})
    assert (store.work_path("train", key) / "checkpoint-step").read_text() == "5"
    res = store.get_or_compute("train", {"k": 1}, train, resumable=True)
    assert attempts == [0, 5]
    assert (res.path / "final").is_dir() and (res.path / SUCCESS).is_file()
    assert not store.work_path("train", key).exists()


def test_leftover_folder_without_success_is_recomputed(tmp_path):
    store = Store(tmp_path)
    key = stage_key({"k": 2})
    (store.path("data", key)).mkdir(parents=True)
    (store.path("data", key) / "stale.txt").write_text("from a killed run")
    res = store.get_or_compute("data", {"k": 2}, _write("fresh"))
    assert not res.cached and not (res.path / "stale.txt").exists()


def _worker(root: str, log: str, barrier_file: str, out_q) -> None:
    store = Store(root)
    while not Path(barrier_file).exists():  # start together
        time.sleep(0.005)

    def compute(out: Path) -> None:
        with open(log, "a") as f:
            f.write("computed\n")
        for i in range(50):  # a slow, multi-file artifact
            (out / f"part-{i}.txt").write_text(str(i))
            time.sleep(0.004)

    res = store.get_or_compute("curate", {"shared": True}, compute)
    files = sorted(p.name for p in res.path.iterdir())
    out_q.put((str(res.path), res.cached, len([f for f in files if f.startswith("part-")])))


def test_two_processes_needing_the_same_artifact_compute_it_once(tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    log, barrier = tmp_path / "log.txt", tmp_path / "go"
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "store"), str(log), str(barrier), q))
             for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    barrier.touch()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert log.read_text().count("computed") == 1
    paths = {r[0] for r in results}
    assert len(paths) == 1
    assert sorted(r[1] for r in results) == [False, True]  # one computed, the other found it
    assert all(r[2] == 50 for r in results)  # both saw the complete artifact


def test_every_rank_trains_in_one_work_folder_and_rank_0_finishes_it(tmp_path):
    """A stage every rank runs (training): the work folder is shared, only rank 0 moves it into place, and
    a rank waiting for a rank-0 artifact gets it once it is complete."""
    store = Store(tmp_path)
    inputs = {"stage": "train", "k": 1}
    seen = []

    def compute(out: Path) -> None:
        seen.append(out)
        (out / "final").mkdir(exist_ok=True)

    r1 = store.get_or_compute_on_every_rank("train", inputs, compute, is_main=False)
    assert not r1.cached and not store.is_done("train", r1.key)
    with pytest.raises(TimeoutError, match="not done"):
        store.wait_for("train", inputs, timeout_s=0.05, poll_s=0.01)
    r0 = store.get_or_compute_on_every_rank("train", inputs, compute, is_main=True)
    assert seen[0] == seen[1] == store.work_path("train", r0.key)  # one deterministic folder for all ranks
    assert store.is_done("train", r0.key) and (r0.path / "final").is_dir() and not seen[0].exists()
    assert json.loads((r0.path / "_key.json").read_text())["inputs"] == inputs
    assert store.wait_for("train", inputs).path == r0.path
    assert store.get_or_compute_on_every_rank("train", inputs, compute, is_main=False).cached and len(seen) == 2


def _sharded_rank(root: str, rank: int, token: str, log: str, out_q) -> None:
    """One rank of a job whose ranks share a stage's work (as curation does): each writes its share; rank 0
    waits for all shares before it returns (the store then finishes the folder)."""
    store = Store(root)

    def compute(out: Path) -> None:
        with open(log, "a") as f:
            f.write(f"{token} rank {rank}\n")
        (out / f"share-{rank}.txt").write_text(token)
        if rank == 0:
            while not (out / "share-1.txt").exists():
                time.sleep(0.01)

    res = store.get_or_compute_sharded("curate", {"shared": "sharded"}, compute, is_main=rank == 0, token=token,
                                       timeout_s=60, poll_s=0.01)
    out_q.put((token, rank, str(res.path), res.cached, sorted(p.name for p in res.path.iterdir())))


def test_ranks_of_one_job_share_a_sharded_stage_and_a_second_job_waits_for_it(tmp_path):
    """Job A's two ranks compute one artifact together; job B, started at the same time, neither joins A's
    work folder nor computes again: both its ranks get A's finished artifact."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    log = tmp_path / "log.txt"
    root = str(tmp_path / "store")
    procs = [ctx.Process(target=_sharded_rank, args=(root, 1, "job-B", str(log), q)),
             ctx.Process(target=_sharded_rank, args=(root, 1, "job-A", str(log), q)),
             ctx.Process(target=_sharded_rank, args=(root, 0, "job-A", str(log), q))]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(log.read_text().splitlines()) == ["job-A rank 0", "job-A rank 1"]
    assert len({r[2] for r in results}) == 1
    for token, rank, path, cached, files in results:
        assert {"share-0.txt", "share-1.txt", "_SUCCESS"} <= set(files)
        assert cached == (token == "job-B")
    # a late job: rank 0 and rank 1 both find it finished
    late = [Store(root).get_or_compute_sharded("curate", {"shared": "sharded"}, lambda out: 1 / 0,
                                               is_main=m, token="job-C", timeout_s=1) for m in (True, False)]
    assert all(r.cached for r in late)
