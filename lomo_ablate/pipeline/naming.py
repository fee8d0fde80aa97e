"""Deterministic job names and folders: the same overrides give the same folder on every rank and
every requeue (no timestamps, no job numbers).

The keys left out of a job folder name are ``hydra.job.config.override_dirname.exclude_keys``, which
conf/config.yaml sets to ``${lomo.not_in_job:}``, i.e. ``contracts.NOT_IN_JOB``: the same keys that
``contracts.config_hash`` leaves out, so two jobs share a folder exactly when they compute the same job.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from omegaconf import OmegaConf

from lomo_ablate.contracts import NOT_IN_JOB
from lomo_ablate.utils import stable_hash
from lomo_ablate.utils.secrets import is_secret_key, redact_text

DEFAULT_JOB = "default"
MAX_NAME = 200       # a path component may have 255 bytes
MAX_VALUE = 32       # a longer override value is replaced by its hash in the name


def job_name(override_dirname: str | None) -> str:
    """A folder name from Hydra's ``override_dirname`` (``method=lomo,position=middle``): ``default`` when
    there are no overrides; ``/`` and odd characters made safe; long names shortened with a hash suffix."""
    name = (override_dirname or "").strip()
    if not name:
        return DEFAULT_JOB
    safe = re.sub(r"[^A-Za-z0-9=,._+\-@~]", "_", name)
    if safe.startswith("."):  # never ".", ".." or a hidden folder
        safe = "_" + safe[1:]
    if len(safe) > MAX_NAME:
        safe = safe[: MAX_NAME - 17] + "~" + stable_hash(name)
    return safe


def job_name_from_overrides(overrides: Sequence[str] | None, exclude: Sequence[str] | None = None) -> str:
    """Like Hydra's ``override_dirname`` (``k=v`` joined by ``,``) with three differences: ``exclude``
    matches key prefixes (``cluster`` also drops ``cluster.partition=gpu``, so where a job runs never
    renames it); the order is kept (the sweeper puts the swept axes first, so they survive shortening);
    a value longer than 32 characters, or one that looks like a credential (``utils.secrets``), is shown as
    its hash."""
    exclude = list(exclude or [])
    kept = []
    for o in overrides or []:
        o = str(o)
        key, _, value = o.lstrip("+").partition("=")
        if key.lstrip("~").startswith("hydra.") or any(key == e or key.startswith(e + ".") for e in exclude):
            continue
        if len(value) > MAX_VALUE or is_secret_key(key) or redact_text(value) != value:
            value = "~" + stable_hash(value, 8)  # long, or credential-looking: never spelled in a folder name
        kept.append(f"{key}={value}")
    return job_name(",".join(kept))


def job_dir_name(cfg: Any, overrides: Sequence[str]) -> str:
    """The job folder name Hydra will use for these overrides (``hydra.sweep.subdir``) under the master
    config ``cfg`` (its ``hydra.job.config.override_dirname.exclude_keys``)."""
    return job_name_from_overrides(overrides, list(cfg.hydra.job.config.override_dirname.exclude_keys))


def register_resolvers() -> None:
    """``${lomo.job_name:${hydra.overrides.task},${hydra.job.config.override_dirname.exclude_keys}}`` and
    ``${lomo.not_in_job:}`` (the list ``contracts.NOT_IN_JOB``)."""
    if not OmegaConf.has_resolver("lomo.not_in_job"):
        OmegaConf.register_new_resolver("lomo.not_in_job", lambda: list(NOT_IN_JOB))
    if not OmegaConf.has_resolver("lomo.job_name"):
        OmegaConf.register_new_resolver(
            "lomo.job_name", lambda overrides, exclude=None: job_name_from_overrides(
                list(overrides) if overrides is not None else [], list(exclude) if exclude is not None else []))


register_resolvers()
