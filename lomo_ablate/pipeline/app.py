"""One job: validate, then every stage of the registry (data -> curate -> (read) -> train -> evaluate) through
the store; ``result.json``.

``run_job(cfg, job_dir)`` is the plain-Python entry (the Hydra app calls it with the job folder Hydra
chose). Only rank 0 of a multi-task job writes the job folder, ``result.json`` and W&B; every rank
computes the same deterministic job folder and store keys, so a requeued job finds what it left. Which
stages run, in which order, how they resume and which ranks run them is the registry's
(:mod:`lomo_ablate.pipeline.registry`); this module only drives it.
"""
from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.contracts import DATA, RESULT, config_hash, is_done_for, load_result, save_result
from lomo_ablate.distributed import DistributedEnvironment
from lomo_ablate.pipeline import stages as st
from lomo_ablate.pipeline.jobconfig import resolved_job_config
from lomo_ablate.pipeline.registry import Registry, Stage, StageContext, StagePlan
from lomo_ablate.pipeline.store import Store, StoreResult
from lomo_ablate.pipeline.validate import ConfigValidationError, check_secrets, validate_config
from lomo_ablate.utils.logging import ALL_RANKS, console, drop_file_handlers, rank_zero_logging, readable_progress
from lomo_ablate.utils.secrets import install_redaction

log = logging.getLogger("lomo_ablate.pipeline")


class StageFailed(RuntimeError):
    """A stage raised; the message names the stage, the job and its log file."""


def run_job(cfg: DictConfig, job_dir: str | Path, axes: Mapping[str, Any] | None = None,
            sweep: str | None = None, job: str | None = None, log_path: str | Path | None = None,
            env: DistributedEnvironment | None = None, registry: Registry | None = None) -> dict[str, Any]:
    """Runs (or finds in the store) every stage of the job ``cfg`` and returns its result.json content.

    ``axes``: the job's override values (``{"position": "middle"}``); ``sweep``/``job``: names recorded in
    result.json. A job whose result.json says ``done`` for the same config hash returns at once.
    ``registry``: the stages to run (default: the pipeline's, :data:`lomo_ablate.pipeline.stages.REGISTRY`)."""
    env = env or DistributedEnvironment.detect()
    install_redaction([console()])  # a credential-looking value in a message is never logged as it is
    with rank_zero_logging(env.rank):  # ranks > 0 log nothing but their failures
        result = _run_job(cfg, Path(job_dir), axes, sweep, job, log_path, env, registry or st.REGISTRY)
        if env.is_main:
            log_job_summary(result, Path(job_dir))
        return result


def log_job_summary(result: Mapping[str, Any], job_dir: Path) -> None:
    """The end-of-job summary (:func:`lomo_ablate.report.summary.job_summary`) on the screen and in the job's
    log. A summary that cannot be made is a warning: the job's results are on disk."""
    try:
        from lomo_ablate.report.summary import job_summary

        text = job_summary(result, job_dir)
    except Exception as e:  # noqa: BLE001
        log.warning("no job summary (%s: %s); the results are in %s", type(e).__name__, e, job_dir / RESULT)
        return
    log.info("summary of job %s\n%s", result.get("job"), text)


def _run_job(cfg: DictConfig, job_dir: Path, axes: Mapping[str, Any] | None, sweep: str | None,
             job: str | None, log_path: str | Path | None, env: DistributedEnvironment,
             registry: Registry) -> dict[str, Any]:
    check_secrets(cfg, where=str(job or job_dir.name))  # first: before the done check reads or writes anything
    resolved = resolved_job_config(cfg)
    chash = config_hash(resolved)
    previous = load_result(job_dir)
    if is_done_for(previous, chash):
        log.info("job %s already done (%s): nothing to do", job or job_dir.name, job_dir / RESULT)
        return previous
    validate_config(cfg, where=str(job or job_dir.name), registry=registry)
    store = Store(cfg.store_dir, verify=bool(cfg.get("verify", False)))
    result: dict[str, Any] = {
        "sweep": sweep or cfg.get("sweep_name"), "job": job or job_dir.name, "axes": dict(axes or {}),
        "config": resolved, "config_hash": chash, "status": "running", "stages": {}, "metrics": {},
        "world_size": env.world_size, "log": str(log_path) if log_path else None,
    }
    # a finished result.json (of another config) stays on disk until this run has a final status: a run
    # killed half-way must not leave a permanent "running" where a finished job was
    writer = _Writer(job_dir, result, enabled=env.is_main,
                     final_only=bool(previous) and previous.get("status") == "done")
    logger = None
    paths: dict[str, Path] = {}
    current = "logger"
    try:
        writer.write()
        logger = _open_logger(cfg, job_dir, result, chash) if env.is_main else None
        plans = registry.plan(cfg)
        last_every_rank = max((i for i, p in enumerate(plans) if not registry[p.name].rank0_only), default=-1)
        for i, p in enumerate(plans):
            if not env.is_main and i > last_every_rank:
                break  # what is left (evaluation) and the job folder are rank 0's
            current = p.name
            paths[p.name] = _run_stage(registry[p.name], p, cfg, store, paths, env, result, writer, logger)
        if env.is_main:
            current = "metrics"
            for p in plans:
                stage = registry[p.name]
                if stage.metrics is not None:
                    result["metrics"].update(stage.metrics(paths[p.name]))
            result["status"] = "done"
            writer.write(final=True)
            if logger is not None:
                logger.summary(_summary_metrics(result["metrics"]))
                _log_tables(logger, result["metrics"], paths.get("curate"))
                logger.finish()
    except (SystemExit, KeyboardInterrupt) as e:
        # submitit's USR2 checkpoint-and-requeue and Ctrl-C end the process with SystemExit /
        # KeyboardInterrupt: the job is interrupted, not failed, and resumes from its work folders.
        result["status"] = "interrupted"
        result["error"] = {"stage": current, "type": type(e).__name__, "message": str(e)}
        writer.write(final=True)
        if logger is not None:
            logger.finish(exit_code=0)
        raise
    except BaseException as e:
        result["status"] = "failed"
        result["error"] = {"stage": current, "type": type(e).__name__, "message": str(e),
                           "traceback": traceback.format_exc(limit=20)}
        writer.write(final=True)
        if logger is not None:
            logger.finish(exit_code=1)
        where = f"; log: {log_path}" if log_path else ""
        msg = f"job {result['job']} FAILED in stage {current}: {type(e).__name__}: {e}{where}"
        log.error(msg, extra=ALL_RANKS)
        console().error(msg, extra=ALL_RANKS)
        if isinstance(e, Exception):
            raise StageFailed(msg) from e
        raise
    log.info("job %s done: %s", result["job"], job_dir / RESULT)
    return result


def _run_stage(stage: Stage, p: StagePlan, cfg: DictConfig, store: Store, paths: dict[str, Path],
               env: DistributedEnvironment, result: dict, writer: "_Writer", logger: Any) -> Path:
    """One stage through the store; records status/seconds/key/path in ``result``."""
    entry = {"status": "running", "key": p.key, "path": str(store.path(p.name, p.key).resolve())}
    result["stages"][p.name] = entry
    writer.write()
    t0 = time.perf_counter()
    log.info("stage %s (key %s)", p.name, p.key)
    log_fn = (lambda step, metrics: logger.log(step, metrics)) if logger is not None else None

    def compute(out: Path) -> Any:
        return stage.run(StageContext(cfg=cfg, out=out, inputs=dict(paths), log_fn=log_fn))

    res: StoreResult
    if stage.sharded and env.is_distributed:
        res = store.get_or_compute_sharded(p.name, p.inputs, compute, is_main=env.is_main, token=_job_token(env))
    elif not stage.rank0_only and env.is_distributed:
        res = store.get_or_compute_on_every_rank(p.name, p.inputs, compute, is_main=env.is_main)
    elif not env.is_main:
        res = store.wait_for(p.name, p.inputs)  # rank 0 builds it; the other ranks use it
    else:
        res = store.get_or_compute(p.name, p.inputs, compute, resumable=stage.resumable)
    entry.update(status="cached" if res.cached else "done", seconds=round(time.perf_counter() - t0, 3))
    if res.warnings:  # a corrupt cached entry was moved aside and computed again
        entry["warnings"] = list(res.warnings)
        result.setdefault("warnings", []).extend(res.warnings)
        for w in res.warnings:
            console().warning(w)
    writer.write()
    if logger is not None:
        logger.summary({f"stage/{p.name}/seconds": entry["seconds"], f"stage/{p.name}/cached": res.cached})
    return res.path


def _job_token(env: DistributedEnvironment) -> str:
    """The same string on every rank of one job, another for a concurrent job (Slurm job id, rendezvous)."""
    import os

    return f"{os.environ.get('SLURM_JOB_ID', '')}:{env.master_addr}:{env.master_port}"


class _Writer:
    """Writes result.json atomically (rank 0 only). ``final_only``: only the final status is written (the
    job folder holds a finished result.json that a run still in progress must not replace)."""

    def __init__(self, job_dir: Path, result: dict, enabled: bool, final_only: bool = False) -> None:
        self.job_dir, self.result, self.enabled, self.final_only = job_dir, result, enabled, final_only

    def write(self, final: bool = False) -> None:
        if self.enabled and (final or not self.final_only):
            save_result(self.job_dir, self.result)


def _open_logger(cfg: DictConfig, job_dir: Path, result: dict, chash: str) -> Any:
    try:
        from lomo_ablate.report.wandb_log import RunLogger
    except ImportError:
        return None
    logger_cfg = OmegaConf.to_container(cfg.logger, resolve=True) if "logger" in cfg else None
    return RunLogger.create(logger_cfg, job_dir, run_id=f"{result['sweep']}-{result['job']}-{chash}",
                            group=result["sweep"], tags=result["axes"], config=result["config"])


def _log_tables(logger: Any, metrics: Mapping[str, Any], curate_dir: Path | None) -> None:
    """The scores table and a table of curated samples (what the model saw). Logging never fails a job
    whose results are on disk: a problem here is a warning."""
    try:
        logger.log_scores(metrics)
        if curate_dir is not None and (Path(curate_dir) / DATA).exists():
            logger.log_curated_samples(curate_dir)
    except Exception as e:  # noqa: BLE001
        log.warning("W&B tables not logged: %s: %s", type(e).__name__, e)


def _summary_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar metrics of metrics.json, flattened (``overall/standard``, ``mir/mean``...)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            out[prefix] = node

    walk("", metrics)
    return out


# ---- the Hydra task function ----

def hydra_task(cfg: DictConfig) -> dict[str, Any] | None:
    """What ``python -m lomo_ablate`` runs per job: the job folder, axes and names come from Hydra."""
    from hydra.core.hydra_config import HydraConfig

    readable_progress()  # a job writing to a log or Slurm file: progress bars redraw every ~30 s at most
    hc = HydraConfig.get()
    job_dir = Path(hc.runtime.output_dir)
    install_redaction([console()])
    try:
        check_secrets(cfg, overrides=[*hc.overrides.task, *hc.overrides.hydra], where=job_dir.name)
    except ConfigValidationError as e:
        _reject(hc, job_dir, e)
    axes = axes_from_overrides(list(hc.overrides.task), exclude=list(hc.job.config.override_dirname.exclude_keys),
                               cfg=cfg, groups=set(hc.runtime.choices.keys()))
    if cfg.get("dry_run"):
        from lomo_ablate.pipeline.dryrun import print_dry_run

        print_dry_run([(job_dir.name, axes, cfg)], store=Store(cfg.store_dir))
        return None
    log_path = job_dir / f"{hc.job.name}.log"
    try:
        return run_job(cfg, job_dir, axes=axes, sweep=cfg.get("sweep_name"), job=job_dir.name, log_path=log_path)
    except ConfigValidationError as e:
        _reject(hc, job_dir, e)


def _reject(hc: Any, job_dir: Path, e: ConfigValidationError) -> None:
    """A job whose config is invalid: what Hydra made for it before the task ran (``<job>/.hydra``, its
    empty log; they may hold the rejected value) is removed, then the error is reported — without a
    traceback and with exit status 2 in a single run; raised again in a multirun (the launcher reports it)."""
    import shutil

    from hydra.types import RunMode

    shutil.rmtree(job_dir / str(hc.output_subdir or ".hydra"), ignore_errors=True)
    log_file = job_dir / f"{hc.job.name}.log"
    if log_file.is_file() and not (job_dir / RESULT).exists():  # a previous run's log stays
        drop_file_handlers(job_dir)  # Hydra's handler would re-open it in a removed folder
        log_file.unlink()
    cwd = Path.cwd().resolve()
    for folder in (job_dir, *job_dir.parents):  # the job folder, then outputs/runs, outputs when left empty
        folder = folder.resolve()
        if folder == cwd or cwd not in folder.parents:
            break
        try:
            folder.rmdir()  # only when nothing else (a previous run's files) is in it
        except OSError:
            break
    if hc.mode != RunMode.RUN:
        raise e
    console().error(str(e))  # a user error: no traceback
    raise SystemExit(2) from e


def axes_from_overrides(overrides: list[str], exclude: Sequence[str] = (), cfg: DictConfig | None = None,
                        groups: set[str] | None = None) -> dict[str, Any]:
    """``["position=middle", "+x=1", "sweep=position"]`` -> ``{"position": "middle", "x": "1"}`` (minus
    ``exclude`` keys and their sub-keys). With ``cfg``, a non-group key takes its typed value from the
    config (``rewrite_ratio`` -> 0.5, not "0.5")."""
    axes: dict[str, Any] = {}
    for o in overrides:
        key, _, value = o.partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra.") or any(key == e or key.startswith(e + ".") for e in exclude):
            continue
        if cfg is not None and key not in (groups or set()):
            typed = OmegaConf.select(cfg, key, default=value)
            value = typed if not OmegaConf.is_config(typed) else value
        axes[key] = value
    return axes
