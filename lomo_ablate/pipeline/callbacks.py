"""Hydra callbacks: the end of a multirun (gather every job's result.json into the sweep's summary.json, then
the report) and the redaction of what Hydra itself writes.

``conf/config.yaml`` registers :class:`ReportCallback` under ``hydra.callbacks.report``; the ``lomo``
sweeper calls it itself when a job failed (Hydra skips ``on_multirun_end`` when the sweep raises).
:class:`RedactCallback` (``hydra.callbacks.redact``, in both apps) rewrites Hydra's ``<job>/.hydra/*.yaml``
and the sweep's ``multirun.yaml`` through :func:`lomo_ablate.utils.secrets.redact_text` as soon as Hydra has
written them (a URL's ``user:password@`` or a ``Bearer`` header given as a value; credential *keys* are
rejected by validation before the job runs, and those files are removed then).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lomo_ablate import contracts
from lomo_ablate.utils import atomic_write_json
from lomo_ablate.utils.secrets import redact_files

log = logging.getLogger("lomo_ablate.sweep")


def waits_for_jobs(config: DictConfig) -> bool:
    """False when the launcher submits and exits (``cluster.wait=false``): the jobs have not run yet."""
    wait = OmegaConf.select(config, "hydra.launcher.wait", default=None)
    if wait is None:
        wait = (config.get("cluster") or {}).get("wait", True)
    return wait is not False


#: The files Hydra writes into ``<job>/<hydra.output_subdir>/`` before the task function runs.
HYDRA_JOB_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")


def redact_hydra_files(config: DictConfig) -> int:
    """Redacts Hydra's files of the job (``.hydra/*.yaml``) and of its sweep (``multirun.yaml``); how many
    changed."""
    paths: list[Path] = []
    hc = config.get("hydra") if OmegaConf.is_config(config) else None
    if hc is None:
        return 0
    out_dir = OmegaConf.select(hc, "runtime.output_dir", default=None, throw_on_resolution_failure=False)
    sub = OmegaConf.select(hc, "output_subdir", default=None, throw_on_resolution_failure=False)
    if out_dir and sub:
        paths += [Path(out_dir) / sub / n for n in HYDRA_JOB_FILES]
    sweep_dir = OmegaConf.select(hc, "sweep.dir", default=None, throw_on_resolution_failure=False)
    if sweep_dir:
        paths.append(Path(sweep_dir) / contracts.MULTIRUN_CONFIG)
    return redact_files(paths)


class RedactCallback(Callback):
    """Hydra callback: Hydra's own files of a job and a sweep pass through the redaction right after Hydra
    wrote them (``on_job_start`` runs after ``.hydra/*.yaml`` are saved; ``multirun.yaml`` is saved by the
    launcher and rewritten at the start of each job and at the end of the sweep)."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        redact_hydra_files(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        redact_hydra_files(config)


class ReportCallback(Callback):
    """Hydra callback: after a multirun, gathers the job results (``<sweep_dir>/summary.json``) and runs
    the report (``lomo_ablate.report.report_sweep``) when it is installed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("dry_run"):
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        if not waits_for_jobs(config):
            # submit-and-exit: the jobs have not run yet; `collect --wait --report` makes the report later
            print(f"[lomo-ablate] submitted; collect with `python -m lomo_ablate.pipeline.collect {sweep_dir} "
                  "--wait --report`", flush=True)
            return
        rows = gather(sweep_dir)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        print(f"[lomo-ablate] sweep {sweep_dir}: {len(rows)} job(s) {counts}", flush=True)
        try:
            from lomo_ablate.report import report_sweep
        except ImportError:
            return
        try:
            out = report_sweep(sweep_dir, config.results_dir)
        except Exception as e:  # noqa: BLE001  (the jobs' results stay; the report can be re-run alone)
            log.exception("report of %s failed", sweep_dir)
            print(f"[lomo-ablate] report FAILED: {type(e).__name__}: {e}; re-run with "
                  f"`python -m lomo_ablate.report {sweep_dir}`", file=sys.stderr, flush=True)
            return
        print(f"[lomo-ablate] report: {out}", flush=True)
        print_sweep_summary(out)


def print_sweep_summary(report_dir: Path) -> None:
    """The report's table (overall accuracy per arm and protocol, Δ vs the baseline with its interval) and
    alignment on the screen (:func:`lomo_ablate.report.summary.sweep_summary`)."""
    try:
        from lomo_ablate.report.summary import sweep_summary

        text = sweep_summary(report_dir)
    except Exception as e:  # noqa: BLE001  (the report is on disk; the summary is a convenience)
        log.warning("no sweep summary of %s: %s: %s", report_dir, type(e).__name__, e)
        return
    print(text, flush=True)


def gather(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The ``result.json`` of every job folder of a sweep, summarised (written to ``contracts.SUMMARY``)."""
    rows = []
    for p in sorted(Path(sweep_dir).glob(f"*/{contracts.RESULT}")):
        r = contracts.load_result(p.parent)
        if r is None:
            rows.append({"job": p.parent.name, "status": "unreadable",
                         "error": f"{p}: not a JSON object (invalid or half-written)"})
            continue
        rows.append({"job": r.get("job"), "status": r.get("status"), "axes": r.get("axes"),
                     "overall": (r.get("metrics") or {}).get("overall")})
    if rows:
        atomic_write_json(Path(sweep_dir) / contracts.SUMMARY, rows)
    return rows
