"""Status of a submitted sweep, from any shell: ``python -m lomo_ablate.pipeline.collect <sweep_dir>``.

Reads ``<sweep_dir>/submission.json`` (written by :func:`lomo_ablate.pipeline.submit.submit_jobs`), asks
Slurm (``sacct``, else ``squeue``) where each job is, reads each job's ``result.json``, and reports one
line per job. With ``--wait`` it polls until every job has finished and prints each failure — with the
path of its log and the log's last lines — as soon as it is seen. Writes ``<sweep_dir>/status.json``.
Exit status: 0 all done, 1 some failed, 2 some still queued or running (without ``--wait``).
``--verify`` checks the store entries of every done job against their content hashes (``_files.json``): a
corrupt one is moved aside and the job reported failed, so re-running the sweep computes it again.
``--report`` runs the sweep's report (tables, plots) once every job has finished — what the multirun's
own end-of-sweep report cannot do when the sweep was submitted without waiting.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lomo_ablate.contracts import STATUS, load_result
from lomo_ablate.pipeline.submit import latest_jobs, load_submission
from lomo_ablate.utils import atomic_write_json

# Slurm states after which a job will not run again by itself
_FAILED_STATES = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
                  "PREEMPTED", "REVOKED"}
_QUEUED_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESIZING", "SUSPENDED",
                  "STOPPED", "SIGNALING", "SPECIAL_EXIT"}
_RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT"}


@dataclasses.dataclass
class JobStatus:
    """One job of the sweep. ``status``: done | failed | running | queued | unknown."""

    name: str
    job_id: str
    job_dir: str
    status: str
    slurm_state: str | None
    log: str
    reason: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


@dataclasses.dataclass
class CollectReport:
    sweep_dir: Path
    jobs: list[JobStatus]

    def count(self, status: str) -> int:
        return sum(j.status == status for j in self.jobs)

    @property
    def finished(self) -> bool:
        return all(j.finished for j in self.jobs)

    @property
    def exit_code(self) -> int:
        if not self.finished:
            return 2
        return 1 if self.count("failed") else 0

    def summary_line(self) -> str:
        parts = [f"{s} {self.count(s)}" for s in ("done", "failed", "running", "queued", "unknown") if self.count(s)]
        return f"{self.sweep_dir}: {len(self.jobs)} job(s): " + ", ".join(parts)

    def table(self) -> str:
        w = max([len(j.name) for j in self.jobs] + [4])
        lines = [f"{'job':<{w}}  {'slurm id':<12} {'status':<8} {'slurm state':<14} detail"]
        for j in self.jobs:
            detail = j.reason if j.status == "failed" else (j.job_dir if j.status == "done" else "")
            lines.append(f"{j.name:<{w}}  {j.job_id:<12} {j.status:<8} {j.slurm_state or '-':<14} {detail}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"sweep_dir": str(self.sweep_dir), "finished": self.finished,
                "counts": {s: self.count(s) for s in ("done", "failed", "running", "queued", "unknown")},
                "jobs": [dataclasses.asdict(j) for j in self.jobs]}


def _expand_array(spec: str) -> list[str]:
    """``3-5,8%2`` -> ``["3", "4", "5", "8"]`` (a pending array's task list in sacct/squeue)."""
    spec = spec.split("%")[0]
    out: list[str] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")[:2]
            step = 1
            if ":" in b:
                b, s = b.split(":")
                step = int(s)
            out.extend(str(i) for i in range(int(a), int(b) + 1, step))
        elif part:
            out.append(part)
    return out


def parse_job_states(lines: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``JobID|State|ExitCode`` lines (sacct -P) -> ``{"123_4": ("FAILED", "1:0")}``; pending array
    ranges (``123_[5-9%2]``) are expanded. States like ``CANCELLED by 0`` keep only the first word."""
    states: dict[str, tuple[str, str]] = {}
    for line in lines:
        fields = line.strip().split("|")
        if len(fields) < 2 or not fields[0]:
            continue
        job, state = fields[0], fields[1].split()[0] if fields[1].split() else ""
        code = fields[2] if len(fields) > 2 else ""
        m = re.match(r"^(\d+)_\[(.+)\]$", job)
        if m:
            for task in _expand_array(m.group(2)):
                states[f"{m.group(1)}_{task}"] = (state, code)
        elif "." not in job:  # skip steps (123_4.batch)
            states[job] = (state, code)
    return states


def _run(cmd: list[str]) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def slurm_states(job_ids: Sequence[str]) -> dict[str, tuple[str, str]] | None:
    """Slurm's state of each job (``123_4`` ids): the controller's (``squeue -t all``: live jobs and
    those that ended in the last few minutes, always current) over accounting's (``sacct``: also older
    jobs, but it may lag behind a job that just started). None if Slurm cannot be asked at all."""
    arrays = sorted({j.split("_")[0] for j in job_ids})
    if not arrays:
        return {}
    acct = _run(["sacct", "-n", "-X", "-P", "-o", "JobID,State,ExitCode", "-j", ",".join(arrays)])
    live = _run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|", "-j", ",".join(arrays)])
    if acct is None and live is None:
        return None
    states = parse_job_states((acct or "").splitlines())
    states.update(parse_job_states((live or "").splitlines()))
    return states


def _log_tail(path: str, n: int = 3) -> str:
    try:
        lines = [l for l in Path(path).read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return ""
    return " | ".join(l.strip() for l in lines[-n:])


def classify(entry: dict, result: dict | None, state: tuple[str, str] | None, slurm_known: bool) -> JobStatus:
    """Combines a job's result.json and its Slurm state into one status with a reason."""
    slurm_state, code = state if state else (None, "")
    js = JobStatus(name=entry["name"], job_id=entry["job_id"], job_dir=entry["job_dir"], status="unknown",
                   slurm_state=slurm_state, log=entry.get("stderr", ""))
    res_status = (result or {}).get("status")
    if res_status == "done":
        js.status = "done"
    elif slurm_state in _QUEUED_STATES:
        js.status = "queued"
    elif slurm_state in _RUNNING_STATES:
        js.status = "running"
    elif res_status == "failed":
        js.status, js.reason = "failed", f"result.json says failed; log {js.log}"
    elif slurm_state in _FAILED_STATES:
        js.status, js.reason = "failed", f"Slurm {slurm_state} (exit {code}); log {js.log}"
    elif slurm_state == "COMPLETED" or (slurm_known and state is None):
        js.status = "failed"
        js.reason = f"job ended without a done result.json in {js.job_dir}; log {js.log}"
    if js.status == "failed":
        tail = _log_tail(js.log)
        if tail:
            js.reason += f" — last lines: {tail}"
    return js


def collect(sweep_dir: str | Path, only: Sequence[str] | None = None, verify: bool = False,
            verified: set[str] | None = None) -> CollectReport:
    """One look at the sweep: the latest submission of each job, its Slurm state and its result.json.
    ``verify``: the store entries of each done job are checked with content hashes (once per job name in
    ``verified``, when given); a corrupt one makes the job failed."""
    sweep_dir = Path(sweep_dir).resolve()
    record = load_submission(sweep_dir)
    if not record["submissions"]:
        raise FileNotFoundError(f"{sweep_dir}/submission.json: no submission recorded (was the sweep submitted "
                                "with hydra/launcher=lomo_slurm, e.g. cluster=slurm?)")
    jobs = latest_jobs(record)
    if only is not None:
        jobs = {n: jobs[n] for n in only if n in jobs}
    states = slurm_states([j["job_id"] for j in jobs.values()])
    # squeue-only answers do not list finished jobs: a job it does not list has left the queue
    out = []
    for e in jobs.values():
        result = load_result(e["job_dir"])
        js = classify(e, result, (states or {}).get(e["job_id"]), states is not None)
        if verify and js.status == "done" and (verified is None or js.name not in verified):
            from lomo_ablate.pipeline.store import verify_result_entries

            problems = verify_result_entries(result)
            if verified is not None and not problems:
                verified.add(js.name)
            if problems:
                js.status, js.reason = "failed", "; ".join(problems)
        out.append(js)
    return CollectReport(sweep_dir, sorted(out, key=lambda j: j.name))


def watch(sweep_dir: str | Path, poll_s: float = 10.0, timeout_s: float | None = None,
          only: Sequence[str] | None = None, echo: Callable[[str], None] | None = None,
          verify: bool = False) -> CollectReport:
    """Polls until every job has finished (or ``timeout_s``), printing each failure as soon as it is seen
    and a progress line when counts change. Writes ``<sweep_dir>/status.json`` at every change."""
    from tqdm import tqdm

    echo = echo or (lambda line: print(line, flush=True))
    start = time.monotonic()
    reported: set[str] = set()
    last_counts = None
    verified: set[str] = set()
    report = collect(sweep_dir, only, verify, verified)
    bar = tqdm(total=len(report.jobs), desc="sweep", unit="job", file=sys.stderr)
    try:
        while True:
            for j in report.jobs:
                if j.status == "failed" and j.name not in reported:
                    reported.add(j.name)
                    echo(f"FAILED {j.name} (Slurm job {j.job_id}): {j.reason}")
            counts = tuple(report.count(s) for s in ("done", "failed", "running", "queued"))
            if counts != last_counts:
                last_counts = counts
                bar.n = counts[0] + counts[1]
                bar.set_postfix(done=counts[0], failed=counts[1], running=counts[2], queued=counts[3])
                bar.refresh()
                atomic_write_json(Path(sweep_dir) / STATUS, report.to_json())
            if report.finished or (timeout_s is not None and time.monotonic() - start > timeout_s):
                return report
            time.sleep(poll_s)
            report = collect(sweep_dir, only, verify, verified)
    finally:
        bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lomo_ablate.pipeline.collect", description=__doc__.split("\n")[0])
    p.add_argument("sweep_dir", help="the sweep folder holding submission.json (hydra.sweep.dir)")
    p.add_argument("--wait", action="store_true", help="poll until every job has finished")
    p.add_argument("--poll", type=float, default=10.0, help="seconds between polls with --wait (default 10)")
    p.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    p.add_argument("--report", action="store_true",
                   help="once every job has finished, run the sweep's report (lomo_ablate.report.report_sweep)")
    p.add_argument("--results-dir", default="results", help="where --report writes (default: results)")
    p.add_argument("--verify", action="store_true",
                   help="check the store entries of done jobs against their content hashes (corrupt: moved aside)")
    args = p.parse_args(argv)
    try:
        if args.wait:
            report = watch(args.sweep_dir, poll_s=args.poll, timeout_s=args.timeout, verify=args.verify)
        else:
            report = collect(args.sweep_dir, verify=args.verify)
            atomic_write_json(Path(report.sweep_dir) / STATUS, report.to_json())
            for j in report.jobs:
                if j.status == "failed":
                    print(f"FAILED {j.name} (Slurm job {j.job_id}): {j.reason}")
    except (FileNotFoundError, ValueError) as e:
        print(f"collect: {e}", file=sys.stderr)
        return 1
    print(report.table())
    print(report.summary_line())
    if args.report:
        if not report.finished or not report.count("done"):
            print("collect: --report skipped: the sweep has not finished or no job is done", file=sys.stderr)
        else:
            from lomo_ablate.report import report_sweep

            print(f"report: {report_sweep(report.sweep_dir, args.results_dir)}")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
