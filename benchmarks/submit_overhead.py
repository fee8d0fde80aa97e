"""Submission overhead of a 100-job sweep on the loopback Slurm cluster (validate + submit, no waiting).

Measures, in one process, against a baseline of bare Slurm (``sbatch --array=0-99 --wrap true``):
  1. library: ``lomo_ablate.pipeline.submit.submit_jobs`` of 100 jobs (config validation, skip-done check
     of 100 job folders, code snapshot, submitit pickling and one sbatch array);
  2. the same again on the same sweep folder (a resubmission: all 100 still queued -> all skipped);
  3. the lomo_slurm launcher's launch() (job folders, snapshot, pickling, sbatch; from its log line) and
     end to end through Hydra: ``slurm_testapp.py -m x=range(0,100) cluster=slurm_loopback`` (interpreter
     start, composing and validating 100 job configs, the launcher, submission.json) as a subprocess.
Every submitted array is cancelled at once. Needs the cluster: ``bash scripts/slurm/start.sh``.

    .venv/bin/python benchmarks/submit_overhead.py [--jobs 100] [--repeat 3]
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lomo_ablate.pipeline.submit import ClusterConfig, JobSpec, submit_jobs  # noqa: E402

CLUSTER = dict(kind="slurm", partition="debug", cpus_per_task=1, mem_gb=1, timeout_min=5, wait=False,
               array_parallelism=4)


def _cancel(array_id: str | None) -> None:
    if array_id:
        subprocess.run(["scancel", str(array_id)], check=False)


def bare_sbatch(n: int, folder: Path) -> float:
    t = time.perf_counter()
    r = subprocess.run(["sbatch", "--parsable", f"--array=0-{n - 1}%4", "-p", "debug", "--mem=100M", "-t", "5",
                        "-o", str(folder / "bare-%A_%a.out"), "--hold", "--wrap", "true"],
                       capture_output=True, text=True, check=True)
    dt = time.perf_counter() - t
    _cancel(r.stdout.strip().split(";")[0])
    return dt


def library(n: int, sweep: Path) -> tuple[float, float]:
    cluster = ClusterConfig.from_dict({**CLUSTER, "additional_parameters": {"hold": True}})
    jobs = [JobSpec(name=f"x={i}", job_dir=sweep / f"x={i}", args=(float(i),)) for i in range(n)]
    t = time.perf_counter()
    submitted, entry = submit_jobs(math.sqrt, jobs, cluster, sweep)
    first = time.perf_counter() - t
    assert len(submitted) == n, len(submitted)
    t = time.perf_counter()
    again, entry2 = submit_jobs(math.sqrt, jobs, cluster, sweep)  # all still queued: nothing resubmitted
    second = time.perf_counter() - t
    assert not again and len(entry2["skipped"]) == n
    _cancel(entry["array_id"])
    return first, second


def hydra_end_to_end(n: int, sweep: Path) -> tuple[float, float, float]:
    """(wall seconds of the whole command, its CPU seconds, seconds inside the launcher's launch())."""
    cmd = [sys.executable, str(REPO / "tests/slurm/app/slurm_testapp.py"), "-m", f"x=range(0,{n})",
           "cluster=slurm_loopback", "+cluster.additional_parameters.hold=true", f"hydra.sweep.dir={sweep}",
           f"hydra.searchpath=[file://{REPO}/conf]"]
    import json
    import re
    import resource

    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    dt = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    _cancel(json.loads((sweep / "submission.json").read_text())["submissions"][-1]["array_id"])
    m = re.search(r"submitted \d+ job\(s\) as array \d+ in ([\d.]+) s", r.stdout + r.stderr)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return dt, cpu, float(m.group(1)) if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if "SLURM_CONF" not in os.environ and (REPO / ".slurm/slurm.conf").exists():
        os.environ["SLURM_CONF"] = str(REPO / ".slurm/slurm.conf")
    rows: dict[str, list[float]] = {"bare sbatch array": [], "library submit_jobs": [],
                                    "library resubmit (all skipped)": [], "hydra launcher launch()": [],
                                    "hydra -m end to end (wall)": [], "hydra -m end to end (CPU)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            base = Path(tmp) / f"r{k}"
            base.mkdir()
            rows["bare sbatch array"].append(bare_sbatch(args.jobs, base))
            first, second = library(args.jobs, base / "lib")
            rows["library submit_jobs"].append(first)
            rows["library resubmit (all skipped)"].append(second)
            wall, cpu, launch = hydra_end_to_end(args.jobs, base / "hydra")
            rows["hydra launcher launch()"].append(launch)
            rows["hydra -m end to end (wall)"].append(wall)
            rows["hydra -m end to end (CPU)"].append(cpu)
    baseline = statistics.median(rows["bare sbatch array"])
    load = os.getloadavg()[0]
    print(f"{args.jobs}-job array, median of {args.repeat} (seconds; ratio vs bare sbatch {baseline:.3f} s; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs)")
    for name, vals in rows.items():
        med = statistics.median(vals)
        print(f"  {name:<34} {med:7.3f} s   x{med / baseline:6.1f}   per job {1000 * med / args.jobs:6.1f} ms")


if __name__ == "__main__":
    main()
