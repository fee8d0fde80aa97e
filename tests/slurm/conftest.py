"""The loopback Slurm cluster for tests/slurm/ (scripts/slurm/start.sh), as a session fixture.

Uses a cluster that already runs (scripts/test.sh starts one), else starts it when root and stops it at
the end. Without Slurm or root the tests skip with the reason — except under CI=true, where a missing
cluster is a failure.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SLURM_CONF = REPO / ".slurm" / "slurm.conf"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _status_ok() -> bool:
    r = subprocess.run(["bash", str(REPO / "scripts/slurm/status")], capture_output=True, text=True)
    return r.returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster():
    """Yields the environment (a dict) in which sbatch/squeue/sacct reach the loopback cluster."""
    started, reason = False, None
    missing = [b for b in ("slurmctld", "slurmd", "sbatch", "munged", "slurmdbd") if shutil.which(b) is None]
    if missing:
        reason = f"Slurm is not installed ({', '.join(missing)} missing): run scripts/install.sh --slurm as root"
    elif _status_ok():
        pass
    elif os.geteuid() != 0:
        reason = "the loopback Slurm cluster is not running and starting it needs root (sudo bash scripts/slurm/start.sh)"
    else:
        r = subprocess.run(["bash", str(REPO / "scripts/slurm/start.sh")], capture_output=True, text=True)
        if r.returncode != 0:
            reason = f"scripts/slurm/start.sh failed: {(r.stdout + r.stderr)[-2000:]}"
        else:
            started = True
    if reason:
        if _in_ci():
            pytest.fail(f"CI=true and no Slurm cluster: {reason}")
        pytest.skip(reason)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(SLURM_CONF)
    # passed on as is, PYTHONPATH included: the subprocesses (the test app, collect, the Slurm jobs) import
    # the code this test process imports (the launcher puts the code snapshot before it)
    env = dict(os.environ)
    try:
        yield env
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        if started:
            subprocess.run(["bash", str(REPO / "scripts/slurm/stop.sh")], capture_output=True)
