"""A job's config as result.json records and hashes it, and "is this job already done?".

One definition for every place that decides whether a job must run: the job itself
(``pipeline.app.run_job``), the sweeper before launching (:func:`already_done`) and the Slurm launcher's
skip-done check (``hydra_plugins/lomo_ablate/launcher.py``). The hash is ``contracts.config_hash``, which
leaves out the keys that do not change what a job computes (``contracts.NOT_IN_JOB``: logger, cluster,
output folders...) — the same keys the job folder name leaves out (``pipeline.naming``), so a job's folder
and its hash always agree: re-running a done job with another logger or on another cluster skips it.

Imports only OmegaConf and ``lomo_ablate.contracts`` (no Hydra, no app), so app, sweeper and launcher can
all import it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.contracts import config_hash, is_done_for, load_result


def resolved_job_config(cfg: DictConfig) -> dict[str, Any]:
    """The job's config, resolved, without Hydra's own node (what result.json records as ``config``)."""
    view = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    return OmegaConf.to_container(view, resolve=True)


def job_config_hash(cfg: DictConfig) -> str:
    """``contracts.config_hash`` of :func:`resolved_job_config` (result.json's ``config_hash``)."""
    return config_hash(resolved_job_config(cfg))


def already_done(job_dir: str | Path, cfg: DictConfig) -> bool:
    """True when ``job_dir/result.json`` says done for exactly this job (same :func:`job_config_hash`)."""
    result = load_result(job_dir)
    if result is None or result.get("status") != "done":
        return False
    try:
        chash = job_config_hash(cfg)
    except Exception:  # noqa: BLE001  (a value that only resolves inside the job: let the job decide)
        return False
    return is_done_for(result, chash)
