"""scripts/slurm/: start twice is fine, stop when nothing runs is fine, status tells which daemon runs."""
import shutil
import subprocess

import pytest

from slurm_helpers import REPO


@pytest.mark.slurm
def test_start_again_is_a_no_op_and_status_sees_every_daemon(slurm_cluster):
    r = subprocess.run(["bash", str(REPO / "scripts/slurm/start.sh")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "already running" in r.stdout
    s = subprocess.run(["bash", str(REPO / "scripts/slurm/status")], capture_output=True, text=True, timeout=30)
    assert s.returncode == 0
    for daemon in ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd"):
        assert f"{daemon}: running (pid" in s.stdout
    assert (REPO / ".slurm/env.sh").read_text().count("SLURM_CONF=") == 1


def test_stop_and_status_without_a_cluster(tmp_path):
    """In a checkout where the cluster never ran: stop succeeds and says so, status fails naming daemons.
    A stale pidfile pointing at some other live process must not make stop kill it."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "scripts/slurm", repo / "scripts/slurm")
    r = subprocess.run(["bash", str(repo / "scripts/slurm/stop.sh")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "nothing to stop" in r.stdout
    (repo / ".slurm/run").mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        (repo / ".slurm/run/slurmctld.pid").write_text(f"{bystander.pid}\n")
        s = subprocess.run(["bash", str(repo / "scripts/slurm/status")], capture_output=True, text=True, timeout=30)
        assert s.returncode != 0 and "slurmctld: not running" in s.stdout
        r = subprocess.run(["bash", str(repo / "scripts/slurm/stop.sh")], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "nothing was running" in r.stdout
        assert bystander.poll() is None, "stop.sh killed a process that was not its daemon"
    finally:
        bystander.kill()
        bystander.wait()
