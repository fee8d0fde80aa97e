"""Hydra composition for sweeps: the ONE module of lomo_ablate that touches Hydra's internals.

Hydra's public API composes one config at a time; a sweep needs more (a config per job, fast; a job's
folder without composing it; a config loader that reads a code snapshot). What that takes from Hydra's
internals (``hydra._internal``, the override parser, the plugin registry, job return codes) is here, so a
Hydra upgrade is checked in one place. Used by the ``lomo`` sweeper (``pipeline.sweeper``) and the
``lomo_slurm`` launcher (``hydra_plugins/lomo_ablate/launcher.py``).
"""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict


# ---- overrides and configs of the jobs of a sweep ----

def parse_overrides(args: Sequence[str], config_loader: Any = None) -> list[Any]:
    """Hydra's parsed override objects of ``key=value`` strings (sweeps such as ``a=1,2`` included)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create(config_loader=config_loader).parse_overrides(list(args))


def load_job_config(config_loader: Any, master: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """One job's config composed in full by Hydra (what the launcher composes in the job)."""
    return config_loader.load_sweep_config(master, list(overrides))


def compose_jobs(config_loader: Any, master: DictConfig, jobs: Sequence[Sequence[str]],
                 progress: bool = True) -> list[DictConfig]:
    """Each job's config, as the launcher will compose it.

    Hydra composes a config from scratch per job (~0.4 s here); a grid mostly varies plain values
    (``rewrite_ratio``, ``seed``), so the config is composed once per distinct set of *group* overrides
    and the value overrides are applied to a copy with Hydra's own override code. Jobs that override
    ``hydra.*`` values are composed in full."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from tqdm import tqdm

    repo = config_loader.repository
    base: dict[tuple[str, ...], DictConfig] = {}
    out = []
    for job in tqdm(jobs, desc="compose", unit="job", disable=not progress or len(jobs) < 20):
        parsed = parse_overrides(job, config_loader)
        groups = [o for o in parsed if not isinstance(o.value(), dict) and repo.group_exists(o.key_or_group)]
        values = [o for o in parsed if o not in groups]
        if any(o.key_or_group.startswith("hydra.") for o in values):
            out.append(load_job_config(config_loader, master, job))
            continue
        sig = tuple(o.input_line for o in groups)
        if sig not in base:
            base[sig] = load_job_config(config_loader, master, sig)
        cfg = copy.deepcopy(base[sig])
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        with open_dict(cfg.hydra):
            OmegaConf.set_readonly(cfg.hydra, False)
            cfg.hydra.overrides.task = list(job)
            OmegaConf.set_readonly(cfg.hydra, True)
        out.append(cfg)
    return out


# ---- launching ----

def instantiate_launcher(hydra_context: Any, task_function: Any, config: DictConfig) -> Any:
    """The launcher ``hydra/launcher`` selects, set up for this sweep."""
    from hydra.core.plugins import Plugins

    return Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function,
                                                   config=config)


def job_failed(job_return: Any) -> bool:
    """Whether a launcher's ``JobReturn`` is a failed job."""
    from hydra.core.utils import JobStatus

    return job_return.status == JobStatus.FAILED


# ---- job folders without composing (the Slurm launcher) ----

_JOB_ONLY = ("hydra.job.", "hydra.overrides.")


def job_dir_needs_compose(config: DictConfig) -> bool:
    """Whether the job folder (``hydra.sweep.dir/hydra.sweep.subdir``) depends on more than the job's
    overrides (``hydra.job.*``, ``hydra.overrides.*``). If not — the usual case, and the pipeline's — it
    is computed without composing the job's config, which costs Hydra ~0.25 s per job."""
    raw = OmegaConf.to_container(config.hydra.sweep, resolve=False)
    text = f"{raw.get('dir', '')} {raw.get('subdir', '')}"
    refs = re.findall(r"\$\{([\w.]+)\}", text)
    return any(not r.startswith(_JOB_ONLY) for r in refs) or "${now:" in text


def make_job_subdir(config: DictConfig) -> Callable[[Sequence[str], int], str]:
    """A function ``(overrides, job_num) -> hydra.sweep.subdir`` of one job, from the master config and
    the job's overrides: it fills ``hydra.job.override_dirname`` and ``hydra.overrides.task`` the way
    Hydra's config loader does (valid when :func:`job_dir_needs_compose` is false)."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    od = config.hydra.job.config.override_dirname
    kv_sep, item_sep, exclude = od.kv_sep, od.item_sep, list(od.exclude_keys)
    hydra_overrides = list(OmegaConf.to_container(config.hydra.overrides, resolve=False).get("hydra", []))
    cfg = OmegaConf.create({"hydra": {
        "job": OmegaConf.to_container(config.hydra.job, resolve=False),
        "overrides": {"hydra": hydra_overrides, "task": []},
        "sweep": {"subdir": OmegaConf.to_container(config.hydra.sweep, resolve=False)["subdir"]}}})

    def subdir(overrides: Sequence[str], job_num: int) -> str:
        parsed = parse_overrides(overrides)
        app = [o for o in parsed if not o.is_hydra_override()]
        cfg.hydra.overrides.hydra = hydra_overrides + [o.input_line for o in parsed if o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in app]
        cfg.hydra.job.override_dirname = get_overrides_dirname(overrides=app, kv_sep=kv_sep, item_sep=item_sep,
                                                               exclude_keys=exclude)
        cfg.hydra.job.num = job_num
        return str(cfg.hydra.sweep.subdir)

    return subdir


def cheap_job_subdir(config: DictConfig, overrides: Sequence[str], idx: int) -> str:
    """``hydra.sweep.subdir`` of one job without composing its config (see :func:`make_job_subdir`)."""
    return make_job_subdir(config)(overrides, idx)


# ---- composing from a code snapshot (the Slurm launcher) ----

def repoint_search_path(hydra_context: Any, repo_root: Path, snapshot: Path) -> Any:
    """A copy of ``hydra_context`` whose config search path reads the snapshot's copy of every config
    folder that lies in the checkout (``<repo>/conf`` -> ``<snapshot>/conf``), so a queued job composes
    its config from the files as they were at submission. Folders not in the snapshot stay as they are."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
    from hydra.types import HydraContext

    old = hydra_context.config_loader.get_search_path()
    new = ConfigSearchPathImpl()
    root = str(repo_root.resolve()).rstrip("/") + "/"
    for el in old.get_path():
        path = el.path
        scheme, sep, rest = path.partition("://")
        if not sep:  # a bare path (an absolute config_path in @hydra.main) is a file:// one
            scheme, rest = "", path
        if scheme in ("", "file") or rest.startswith("/"):
            rest_abs = os.path.normpath(rest)
            rel = rest_abs[len(root):] if (rest_abs + "/").startswith(root) else None
            if rel is not None and (snapshot / rel).exists():
                path = f"{scheme}://{snapshot / rel}" if sep else str(snapshot / rel)
        new.append(el.provider, path)
    return HydraContext(config_loader=ConfigLoaderImpl(config_search_path=new), callbacks=hydra_context.callbacks)
