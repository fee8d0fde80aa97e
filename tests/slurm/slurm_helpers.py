"""Helpers of the Slurm tests: run the test app's sweep and the collector as real subprocesses."""
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "tests" / "slurm" / "app" / "slurm_testapp.py"


def run_app(env: dict, sweep_dir: Path, *overrides: str, cluster: str = "slurm_loopback",
            timeout: float = 120) -> subprocess.CompletedProcess:
    """``slurm_testapp.py -m <overrides>`` submitted through hydra/launcher=lomo_slurm (cluster group)."""
    cmd = [sys.executable, str(APP), "-m", *overrides, f"cluster={cluster}", f"hydra.sweep.dir={sweep_dir}",
           f"hydra.searchpath=[file://{REPO}/conf]"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)


def collect_cli(env: dict, sweep_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "lomo_ablate.pipeline.collect", str(sweep_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.25):
    """Polls ``predicate()`` until it returns something truthy; fails naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
