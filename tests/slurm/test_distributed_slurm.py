"""A two-task job on the loopback cluster (CPU, gloo): each task gets its rank and the world size from the
Slurm environment via lomo_ablate.distributed.init_distributed(), and an all_reduce across them works."""
import json
import subprocess
import sys

import pytest

from slurm_helpers import REPO

pytestmark = pytest.mark.slurm


def test_two_tasks_get_distinct_ranks_and_all_reduce(slurm_cluster, tmp_path):
    cmd = ["srun", "--ntasks=2", "--cpus-per-task=1", "--mem-per-cpu=1024", "--time=3",
           sys.executable, str(REPO / "tests/slurm/dist_worker.py"), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=slurm_cluster, cwd=REPO, timeout=150)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    seen = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    for k, s in enumerate(seen):
        assert s["source"] == "slurm" and s["rank"] == k == s["torch_rank"] == int(s["slurm_procid"])
        assert s["world_size"] == 2 == s["torch_world"]
        assert s["all_reduce_sum"] == 3.0  # (0 + 1) + (1 + 1)
    assert seen[0]["master"] == seen[1]["master"], "both tasks must rendezvous at the same address"


def test_a_sweep_job_with_two_tasks_runs_distributed(slurm_cluster, tmp_path):
    """cluster.tasks_per_node=2 through the Hydra launcher: both tasks of the job run the app, join
    torch.distributed from the Slurm environment and see each other; rank 0 writes the job's result."""
    from slurm_helpers import run_app

    sweep = tmp_path / "sweep"
    r = run_app(slurm_cluster, sweep, "x=5", "distributed=true", "steps=1", "cluster.tasks_per_node=2",
                "cluster.wait=true")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ranks = [json.loads((sweep / "x=5" / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert [s["rank"] for s in ranks] == [0, 1]
    assert all(s["world_size"] == 2 and s["all_reduce_sum"] == 3.0 for s in ranks)
    result = json.loads((sweep / "x=5" / "result.json").read_text())
    assert result["status"] == "done" and result["metrics"]["world_size"] == 2
