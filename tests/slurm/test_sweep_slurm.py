"""A real sweep on the loopback cluster: Hydra multirun -> lomo_slurm launcher -> submitit -> one sbatch array.

Covers submit-and-exit, one array per sweep, every job's result.json, a failure reported with its log
path, the code snapshot, and resubmission running only what is not done.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lomo_ablate.contracts import load_result

from slurm_helpers import APP, REPO, collect_cli, run_app

pytestmark = pytest.mark.slurm


def _results(sweep: Path) -> dict:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/result.json")}


def test_sweep_submits_one_array_exits_and_is_collected_later(slurm_cluster, tmp_path):
    sweep = tmp_path / "sweep"
    bug = tmp_path / "bug"  # x=2 fails while this file exists; the config stays the same
    bug.touch()
    grid = ("x=1,2,3", "fail_on=2", f"fail_if_exists={bug}")
    # submit and exit: the submitting process returns while the jobs are still queued or running
    r = run_app(slurm_cluster, sweep, *grid)
    assert r.returncode == 0, r.stderr[-3000:]
    record = json.loads((sweep / "submission.json").read_text())
    sub = record["submissions"][-1]
    assert sorted(j["name"] for j in sub["jobs"]) == ["x=1", "x=2", "x=3"]
    assert {j["job_id"].split("_")[0] for j in sub["jobs"]} == {sub["array_id"]}, "one sweep = one job array"

    # a later, separate command collects: the failure is reported with the job's log, which exists
    c = collect_cli(slurm_cluster, sweep, "--wait", "--poll", "0.5")
    assert c.returncode == 1, c.stdout + c.stderr
    failed_line = next(l for l in c.stdout.splitlines() if l.startswith("FAILED x=2"))
    log = failed_line.split("log ")[1].split()[0].rstrip(";")
    assert Path(log).exists() and log.startswith(str(sweep))
    assert "done 2, failed 1" in c.stdout

    results = _results(sweep)
    assert {k: v["status"] for k, v in results.items()} == {"x=1": "done", "x=2": "failed", "x=3": "done"}
    assert results["x=3"]["metrics"]["square"] == 9
    # queued jobs ran the code snapshot taken at submission, not the checkout
    code = Path(sub["code_snapshot"])
    assert code.parent == sweep / ".code" and (code / "lomo_ablate" / "__init__.py").exists()
    assert results["x=1"]["metrics"]["lomo_ablate_file"] == str(code / "lomo_ablate" / "__init__.py")
    status = json.loads((sweep / "status.json").read_text())
    assert status["counts"]["done"] == 2 and status["counts"]["failed"] == 1

    # the bug is fixed: resubmitting the same sweep runs only what is missing or failed
    bug.unlink()
    r = run_app(slurm_cluster, sweep, *grid)
    assert r.returncode == 0, r.stderr[-3000:]
    sub2 = json.loads((sweep / "submission.json").read_text())["submissions"][-1]
    assert [j["name"] for j in sub2["jobs"]] == ["x=2"]
    assert sorted((s["name"], s["reason"]) for s in sub2["skipped"]) == [("x=1", "done"), ("x=3", "done")]
    c = collect_cli(slurm_cluster, sweep, "--wait", "--poll", "0.5")
    assert c.returncode == 0, c.stdout + c.stderr
    assert all(v["status"] == "done" for v in _results(sweep).values())
    # x=1 and x=3 ran exactly once over both submissions
    for name in ("x=1", "x=3"):
        starts = json.loads((sweep / name / "progress.json").read_text())["starts"]
        assert len(starts) == 1

    # a config change that keeps the folder names (steps is not in them) makes done results stale
    r = run_app(slurm_cluster, sweep, *grid, "steps=4")
    assert r.returncode == 0, r.stderr[-3000:]
    sub3 = json.loads((sweep / "submission.json").read_text())["submissions"][-1]
    assert sorted(j["name"] for j in sub3["jobs"]) == ["x=1", "x=2", "x=3"] and not sub3["skipped"]
    assert all("config_hash differs" in s["reason"] for s in sub3["stale"]) and len(sub3["stale"]) == 3
    assert collect_cli(slurm_cluster, sweep, "--wait", "--poll", "0.5").returncode == 0


def test_cluster_without_partition_is_rejected_before_submission(slurm_cluster, tmp_path):
    env = {k: v for k, v in slurm_cluster.items() if k != "LOMO_SLURM_PARTITION"}
    sweep = tmp_path / "sweep"
    r = run_app(env, sweep, "x=1,2", cluster="slurm")
    assert r.returncode != 0
    assert "cluster.partition is not set" in r.stderr
    assert not (sweep / "submission.json").exists()


def test_collect_without_a_submission_says_so(tmp_path):
    c = collect_cli(dict(os.environ), tmp_path)
    assert c.returncode == 1 and "no submission recorded" in c.stderr


def test_waiting_sweep_reports_a_failure_as_soon_as_it_is_seen(slurm_cluster, tmp_path):
    """cluster.wait=true: the submitting command blocks, prints each failure with its log path while the
    rest of the array still runs (x=1 fails after ~1 s, x=2 runs ~10 s), and exits non-zero at the end."""
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, str(APP), "-m", "x=1,2", "fail_on=1", "slow_on=2", "steps=2", "step_s=0.5",
           "cluster=slurm_loopback", "cluster.wait=true", f"hydra.sweep.dir={sweep}",
           f"hydra.searchpath=[file://{REPO}/conf]"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=slurm_cluster, cwd=REPO)
    try:
        for line in proc.stdout:
            if line.startswith("FAILED x=1"):
                # seen while x=2 is still running
                assert (load_result(sweep / "x=2") or {}).get("status") != "done"
                log = line.split("log ")[1].split()[0].rstrip(";")
                assert Path(log).exists()
                break
        else:
            raise AssertionError("no FAILED line for x=1")
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) != 0
    finally:
        proc.kill()
    assert "done 1, failed 1" in rest
    assert json.loads((sweep / "x=2" / "result.json").read_text())["status"] == "done"
