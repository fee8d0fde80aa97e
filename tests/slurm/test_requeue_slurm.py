"""Requeue on the loopback cluster: a job interrupted mid-run resumes from the progress it checkpointed
to its (deterministic) job folder instead of starting over.

Two ways a job comes back: an outside ``scontrol requeue`` (an admin, a node failure) reruns the job
from the start of its script; a USR2 (what Slurm sends before the time limit or on preemption, here
sent by ``scancel --signal=USR2``) makes submitit checkpoint and requeue it. Either way the test app's
"training" continues from its last saved step.
"""
import json
import subprocess

import pytest

from slurm_helpers import collect_cli, run_app, wait_for

pytestmark = pytest.mark.slurm

STEPS = 16


def _progress(sweep, name):
    try:
        return json.loads((sweep / name / "progress.json").read_text())
    except (OSError, ValueError):
        return None


def test_interrupted_jobs_resume_from_their_checkpoint(slurm_cluster, tmp_path):
    sweep = tmp_path / "sweep"
    r = run_app(slurm_cluster, sweep, "x=7,8", f"steps={STEPS}", "step_s=0.5")
    assert r.returncode == 0, r.stderr[-3000:]
    jobs = {j["name"]: j["job_id"] for j in json.loads((sweep / "submission.json").read_text())["submissions"][-1]["jobs"]}

    # interrupt both jobs a few steps in: x=7 from outside, x=8 by the pre-timeout signal
    for name in jobs:
        wait_for(lambda: (_progress(sweep, name) or {}).get("step", 0) >= 3, 60, f"{name} to reach step 3")
    subprocess.run(["scontrol", "requeue", jobs["x=7"]], check=True, env=slurm_cluster)
    subprocess.run(["scancel", "--signal=USR2", jobs["x=8"]], check=True, env=slurm_cluster)

    c = collect_cli(slurm_cluster, sweep, "--wait", "--poll", "0.5", timeout=200)
    assert c.returncode == 0, c.stdout + c.stderr
    for name in ("x=7", "x=8"):
        result = json.loads((sweep / name / "result.json").read_text())
        assert result["status"] == "done"
        starts = result["metrics"]["starts"]
        assert len(starts) == 2, f"{name} should have been started twice: {starts}"
        assert starts[1]["step"] >= 3, f"{name} restarted from scratch instead of resuming: {starts}"
        # every step ran exactly once across the two runs: resumed, not repeated
        assert result["metrics"]["executed"] == list(range(STEPS))
