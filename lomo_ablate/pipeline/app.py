"""One job: validate -> data -> curate -> train -> evaluate, each through the store; ``result.json``.

``run_job(cfg, job_dir)`` is the plain-Python entry (the Hydra app calls it with the job folder Hydra
chose). Only rank 0 of a multi-task job writes the job folder, ``result.json`` and W&B; every rank
computes the same deterministic job folder and store keys, so a requeued job finds what it left.
"""
from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.distributed import DistributedEnvironment
from lomo_ablate.pipeline import stages as st
from lomo_ablate.pipeline.store import Store
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config
from lomo_ablate.utils import atomic_write_json, stable_hash

log = logging.getLogger("lomo_ablate.pipeline")
RESULT = "result.json"
RESUMABLE = ("curate", "read", "train")  # stages that resume from their kept work folder after a kill


class StageFailed(RuntimeError):
    """A stage raised; the message names the stage, the job and its log file."""


def config_hash(resolved: Mapping[str, Any]) -> str:
    return stable_hash(resolved)


def resolved_job_config(cfg: DictConfig) -> dict[str, Any]:
    """The job's config, resolved, without Hydra's own node (what result.json records and hashes)."""
    view = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    return OmegaConf.to_container(view, resolve=True)


def run_job(cfg: DictConfig, job_dir: str | Path, axes: Mapping[str, Any] | None = None,
            sweep: str | None = None, job: str | None = None, log_path: str | Path | None = None,
            env: DistributedEnvironment | None = None) -> dict[str, Any]:
    """Runs (or finds in the store) every stage of the job ``cfg`` and returns its result.json content.

    ``axes``: the job's override values (``{"position": "middle"}``); ``sweep``/``job``: names recorded in
    result.json. A job whose result.json says ``done`` for the same config hash returns at once."""
    env = env or DistributedEnvironment.detect()
    job_dir = Path(job_dir)
    resolved = resolved_job_config(cfg)
    chash = config_hash(resolved)
    result_path = job_dir / RESULT
    previous = _read_json(result_path)
    if previous.get("status") == "done" and previous.get("config_hash") == chash:
        log.info("job %s already done (%s): nothing to do", job or job_dir.name, result_path)
        return previous
    validate_config(cfg, where=str(job or job_dir.name))
    store = Store(cfg.store_dir)
    result: dict[str, Any] = {
        "sweep": sweep or cfg.get("sweep_name"), "job": job or job_dir.name, "axes": dict(axes or {}),
        "config": resolved, "config_hash": chash, "status": "running", "stages": {}, "metrics": {},
        "world_size": env.world_size, "log": str(log_path) if log_path else None,
    }
    writer = _Writer(result_path, result, enabled=env.is_main)
    writer.write()
    logger = _open_logger(cfg, job_dir, result, chash) if env.is_main else None
    paths: dict[str, Path] = {}
    current = "validate"
    try:
        for p in st.plan(cfg):
            current = p.name
            paths[p.name] = _run_stage(p, cfg, store, paths, env, result, writer, logger)
            if not env.is_main and p.name == "train":
                break  # evaluation and the job folder are rank 0's
        if env.is_main:
            result["metrics"] = st.read_metrics(paths["evaluate"], paths.get("read"))
            result["status"] = "done"
            writer.write()
            if logger is not None:
                logger.summary(_summary_metrics(result["metrics"]))
                _log_tables(logger, result["metrics"], paths.get("curate"))
                logger.finish()
    except (SystemExit, KeyboardInterrupt) as e:
        # submitit's USR2 checkpoint-and-requeue and Ctrl-C end the process with SystemExit /
        # KeyboardInterrupt: the job is interrupted, not failed, and resumes from its work folders.
        result["status"] = "interrupted"
        result["error"] = {"stage": current, "type": type(e).__name__, "message": str(e)}
        writer.write()
        if logger is not None:
            logger.finish(exit_code=0)
        raise
    except BaseException as e:
        result["status"] = "failed"
        result["error"] = {"stage": current, "type": type(e).__name__, "message": str(e),
                           "traceback": traceback.format_exc(limit=20)}
        writer.write()
        if logger is not None:
            logger.finish(exit_code=1)
        where = f"; log: {log_path}" if log_path else ""
        msg = f"job {result['job']} FAILED in stage {current}: {type(e).__name__}: {e}{where}"
        log.error(msg)
        print(f"[lomo-ablate] {msg}", file=sys.stderr, flush=True)
        if isinstance(e, Exception):
            raise StageFailed(msg) from e
        raise
    log.info("job %s done: %s", result["job"], result_path)
    return result


def _run_stage(p: st.StagePlan, cfg: DictConfig, store: Store, paths: dict[str, Path],
               env: DistributedEnvironment, result: dict, writer: "_Writer", logger: Any) -> Path:
    """One stage through the store; records status/seconds/key/path in ``result``."""
    entry = {"status": "running", "key": p.key, "path": str(store.path(p.name, p.key).resolve())}
    result["stages"][p.name] = entry
    writer.write()
    t0 = time.perf_counter()
    log.info("stage %s (key %s)", p.name, p.key)
    if p.name == "train" and env.is_distributed:
        cached = store.is_done(p.name, p.key)
        out = _train_distributed(p, cfg, store, paths, env, logger)
    elif not env.is_main and p.name in ("data", "curate", "read"):
        out = _wait_for(store, p)  # rank 0 builds the data (and the tiny model's reader); the others use it
        cached = True
    else:
        compute = _compute_fn(p.name, cfg, paths, logger)
        res = store.get_or_compute(p.name, p.inputs, compute, resumable=p.name in RESUMABLE)
        out, cached = res.path, res.cached
    entry.update(status="cached" if cached else "done", seconds=round(time.perf_counter() - t0, 3))
    writer.write()
    if logger is not None:
        logger.summary({f"stage/{p.name}/seconds": entry["seconds"], f"stage/{p.name}/cached": cached})
    return out


def _compute_fn(name: str, cfg: DictConfig, paths: dict[str, Path], logger: Any):
    log_fn = (lambda step, metrics: logger.log(step, metrics)) if logger is not None else None
    if name == "data":
        return lambda out: st.run_data(out, cfg)
    if name == "curate":
        return lambda out: st.run_curate(out, cfg, paths.get("data"))
    if name == "read":
        return lambda out: st.run_read(out, cfg)
    if name == "train":
        return lambda out: st.run_train(out, cfg, paths["curate"], log_fn=log_fn, reader=_reader(paths))
    if name == "evaluate":
        return lambda out: st.run_evaluate(out, cfg, paths["train"] / "final")
    raise ValueError(f"unknown stage {name!r}; allowed: {', '.join(st.STAGES)}")


def _train_distributed(p: st.StagePlan, cfg: DictConfig, store: Store, paths: dict[str, Path],
                       env: DistributedEnvironment, logger: Any) -> Path:
    """Every rank trains into the same deterministic work folder; rank 0 moves it into the store."""
    import os

    from lomo_ablate.pipeline.store import _finish
    from lomo_ablate.utils import locked

    final = store.path(p.name, p.key)
    if store.is_done(p.name, p.key):
        return final
    work = store.work_path(p.name, p.key)
    work.mkdir(parents=True, exist_ok=True)
    log_fn = (lambda step, metrics: logger.log(step, metrics)) if logger is not None else None
    st.run_train(work, cfg, paths["curate"], log_fn=log_fn, reader=_reader(paths))
    if env.is_main:
        with locked(store.lock_path(p.name, p.key)):
            if not store.is_done(p.name, p.key):
                _finish(work, p.name, p.key, p.inputs)
                os.replace(work, final)
    return final


def _reader(paths: dict[str, Path]) -> Path | None:
    return st.reader_dir(paths["read"]) if "read" in paths else None


def _wait_for(store: Store, p: st.StagePlan, timeout_s: float = 24 * 3600) -> Path:
    t0 = time.monotonic()
    while not store.is_done(p.name, p.key):
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"stage {p.name} ({store.path(p.name, p.key)}) not done after {timeout_s} s")
        time.sleep(2.0)
    return store.path(p.name, p.key)


class _Writer:
    """Writes result.json atomically (rank 0 only)."""

    def __init__(self, path: Path, result: dict, enabled: bool) -> None:
        self.path, self.result, self.enabled = path, result, enabled

    def write(self) -> None:
        if self.enabled:
            atomic_write_json(self.path, self.result)


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
        if curate_dir is not None and (Path(curate_dir) / "data.jsonl").exists():
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


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# ---- the Hydra task function ----

def hydra_task(cfg: DictConfig) -> dict[str, Any] | None:
    """What ``python -m lomo_ablate`` runs per job: the job folder, axes and names come from Hydra."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    job_dir = Path(hc.runtime.output_dir)
    axes = axes_from_overrides(list(hc.overrides.task), exclude=list(hc.job.config.override_dirname.exclude_keys),
                               cfg=cfg, groups=set(hc.runtime.choices.keys()))
    if cfg.get("dry_run"):
        from lomo_ablate.pipeline.sweep import print_dry_run

        print_dry_run([(job_dir.name, axes, cfg)], store=Store(cfg.store_dir))
        return None
    log_path = job_dir / f"{hc.job.name}.log"
    try:
        return run_job(cfg, job_dir, axes=axes, sweep=cfg.get("sweep_name"), job=job_dir.name, log_path=log_path)
    except ConfigValidationError as e:
        from hydra.types import RunMode

        if hc.mode != RunMode.RUN:
            raise
        print(f"[lomo-ablate] {e}", file=sys.stderr, flush=True)  # a user error: no traceback
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
