"""Deterministic job names and folders: the same overrides give the same folder on every rank and
every requeue (no timestamps, no job numbers)."""
from __future__ import annotations

import re

from omegaconf import OmegaConf

from lomo_ablate.utils import stable_hash

DEFAULT_JOB = "default"
MAX_NAME = 120


def job_name(override_dirname: str | None) -> str:
    """A folder name from Hydra's ``override_dirname`` (``method=lomo,position=middle``): ``default`` when
    there are no overrides; ``/`` and odd characters made safe; long names shortened with a hash suffix."""
    name = (override_dirname or "").strip()
    if not name:
        return DEFAULT_JOB
    safe = re.sub(r"[^A-Za-z0-9=,._+\-@]", "_", name)
    if len(safe) > MAX_NAME:
        safe = safe[: MAX_NAME - 17] + "~" + stable_hash(name)
    return safe


def register_resolvers() -> None:
    """``${lomo.job_name:${hydra.job.override_dirname}}`` in conf/config.yaml."""
    if not OmegaConf.has_resolver("lomo.job_name"):
        OmegaConf.register_new_resolver("lomo.job_name", job_name)


register_resolvers()
