"""Every check made before anything runs (or is submitted): bad values are named with their key and
the allowed values, all problems of a config at once.

``validate_config(cfg)`` checks what spans the sections of a job: the pipeline's own keys through
:class:`~lomo_ablate.pipeline.config.PipelineConfig` (unknown keys, types, ranges in its ``validate()``),
``rewrite_ratio`` (the ratio curation applies), the curation position, that input files exist, the
launcher (a Slurm cluster needs a partition) and, for each registered stage, its typed configs (the
registry's ``Stage.configs``, e.g. ``curate`` -> ``CurateConfig``). A stage package that fails to import
is an error, not a skipped check.
"""
from __future__ import annotations

import importlib
import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.pipeline.config import BUILTIN, PipelineConfig
from lomo_ablate.utils.config import ConfigError, check_range
from lomo_ablate.utils.secrets import is_secret_key, secret_key_problem, secret_keys


class ConfigValidationError(ValueError):
    """One or more invalid config values; ``problems`` lists ``(key, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]], where: str = "") -> None:
        self.problems = problems
        self.where = where
        head = f"invalid config{' (' + where + ')' if where else ''}: {len(problems)} problem(s)"
        super().__init__(head + "".join(f"\n  - {k}: {m}" for k, m in problems))

    def __reduce__(self):  # picklable, so submitit can hand a failed job's error back to the submitter
        return (type(self), (self.problems, self.where))


def validate_config(cfg: DictConfig | Mapping[str, Any], hydra_cfg: DictConfig | None = None,
                    where: str = "", check_stages: bool = True, registry: Any = None) -> None:
    """Raises :class:`ConfigValidationError` naming every bad key of ``cfg`` (a job's composed config).
    ``hydra_cfg``: the job's ``hydra`` node (launcher settings); taken from ``cfg.hydra`` if present.
    ``registry``: whose stages' typed configs are checked (default: the pipeline's)."""
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(dict(cfg))
    if hydra_cfg is None and "hydra" in cfg:
        hydra_cfg = cfg.hydra
    problems: list[tuple[str, str]] = _check_secret_keys(cfg, hydra_cfg)
    if problems:  # nothing else is looked at (or echoed) before the credential is gone
        raise ConfigValidationError(problems, where)
    problems += _check_resolves(cfg)
    if problems:
        raise ConfigValidationError(problems, where)
    problems += _check_rewrite_ratio(cfg)
    problems += _check_inputs(cfg)
    problems += _check_cluster(cfg)
    problems += _check_values(cfg)
    problems += _check_attention(cfg)
    if hydra_cfg is not None:
        problems += _check_launcher(hydra_cfg)
    seen = {k for k, _ in problems}
    problems += [(k, m) for k, m in _check_pipeline_config(cfg) if k not in seen]  # one message per key
    if check_stages:
        seen = {k for k, _ in problems}
        problems += [(k, m) for k, m in _check_stage_configs(cfg, registry) if k not in seen]
    if problems:
        raise ConfigValidationError(problems, where)


def check_secrets(cfg: DictConfig | Mapping[str, Any], overrides: Sequence[str] = (), where: str = "") -> None:
    """Raises :class:`ConfigValidationError` when a config key or an override names a credential
    (``+logger.api_key=...``, ``hydra.job.env_set.HF_TOKEN=...``): the first check of every job, before
    anything is looked up, written or locked. The message names the environment variable to use instead and
    never repeats the value."""
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(dict(cfg))
    problems = _check_secret_keys(cfg, None, overrides)
    if problems:
        raise ConfigValidationError(problems, where)


def _check_secret_keys(cfg: DictConfig, hydra_cfg: DictConfig | None,
                       overrides: Sequence[str] = ()) -> list[tuple[str, str]]:
    plain = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"]),
                                   resolve=False)
    keys = secret_keys(plain)
    given = list(overrides)
    if hydra_cfg is not None:
        for part in ("task", "hydra"):
            given += [str(o) for o in (OmegaConf.select(hydra_cfg, f"overrides.{part}", default=None) or [])]
    for o in given:
        key = o.partition("=")[0].lstrip("+~")
        if any(is_secret_key(seg) for seg in key.split(".")) and not any(key == k for k in keys):
            keys.append(key)
    # named "<key> (a credential)": a "<key>: ..." line would itself look like a credential to the log filter
    return [(f"{k} (a credential)", secret_key_problem(k)) for k in dict.fromkeys(keys)]


def _check_values(cfg: DictConfig) -> list[tuple[str, str]]:
    """Values the stage configs accept but that fail later: a learning rate that is not a finite positive
    number (the trainer's own check lets ``inf`` through) and the logger section (``logger.mode``), which no
    stage types."""
    out: list[tuple[str, str]] = []
    lr = OmegaConf.select(cfg, "trainer.lr", default=None, throw_on_resolution_failure=False)
    if isinstance(lr, (int, float)) and not isinstance(lr, bool):  # a wrong type is the trainer config's message
        try:
            check_range("trainer.lr", lr, 0, lo_open=True)
        except ConfigError as e:
            out.append(("trainer.lr", f"{e}; allowed: a finite number > 0"))
    if "logger" in cfg:
        from lomo_ablate.report.wandb_log import LoggerConfig

        try:
            LoggerConfig.from_dict(OmegaConf.to_container(cfg.logger, resolve=True))
        except (ConfigError, TypeError, ValueError) as e:
            key = _problem_key(str(e))
            out.append((key if key.startswith("logger") else "logger", str(e)))
    return out


def _check_resolves(cfg: DictConfig) -> list[tuple[str, str]]:
    out = []
    for key in cfg:
        if key == "hydra":
            continue
        try:
            OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        except Exception as e:  # noqa: BLE001  (an interpolation that does not resolve)
            out.append((str(key), f"does not resolve: {e}"))
    return out


def _check_pipeline_config(cfg: DictConfig) -> list[tuple[str, str]]:
    """The pipeline's own keys through PipelineConfig (unknown keys, types, its ``validate()``)."""
    try:
        PipelineConfig.from_dict(OmegaConf.to_container(
            OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"]), resolve=True))
    except ConfigError as e:
        return [(_problem_key(str(e)), str(e))]
    return []


def _problem_key(msg: str) -> str:
    """The key a ConfigError message is about: ``unknown key(s) ... in data;`` -> ``data``, ``seed: ...`` ->
    ``seed``, ``data.text_size: ...`` -> ``data.text_size``."""
    m = (re.match(r"unknown key\(s\) .* in ([\w.]+);", msg) or re.match(r"([\w.\[\]]+)\s*[:=]", msg)
         or re.match(r"([\w.\[\]]+) must be ", msg))
    return m.group(1) if m else "config"


def _check_rewrite_ratio(cfg: DictConfig) -> list[tuple[str, str]]:
    r = cfg.get("rewrite_ratio")
    allowed = "a float in [0, 1] (the paper's grid: 0, 0.25, 0.5, 0.75, 1)"
    if isinstance(r, bool) or not isinstance(r, (int, float)):
        return [("rewrite_ratio", f"{r!r} is not a number; allowed: {allowed}")]
    if math.isnan(r) or not 0.0 <= float(r) <= 1.0:
        return [("rewrite_ratio", f"{r} is out of range; allowed: {allowed}")]
    return []



def _check_inputs(cfg: DictConfig) -> list[tuple[str, str]]:
    """``data.text`` / ``data.multimodal``: ``builtin`` or a pool the curation reads (a file, a folder of shards, a
    glob, a ``datasets`` folder or a list of these; ``data.split`` picks a DatasetDict split), checked by the
    same function curation uses (:func:`lomo_ablate.curate.readers.expand_pool`)."""
    from lomo_ablate.curate.readers import expand_pool

    out = []
    split = OmegaConf.select(cfg, "data.split", default=None)
    for kind in ("text", "multimodal"):
        value = OmegaConf.select(cfg, f"data.{kind}", default=None)
        if value is None and kind == "multimodal":
            continue
        if value == BUILTIN:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        allowed = "allowed: `builtin`, a file, a folder of shards, a glob, a datasets folder or a list of these"
        if not value or not (isinstance(value, str) or (isinstance(value, list)
                                                         and all(isinstance(v, str) for v in value))):
            out.append((f"data.{kind}", f"{value!r}: {allowed}"))
            continue
        try:
            expand_pool(value, split)
        except (FileNotFoundError, ValueError) as e:
            out.append((f"data.{kind}", f"{e} (cwd {Path.cwd()}); {allowed}"))
    return out


def _check_attention(cfg: DictConfig) -> list[tuple[str, str]]:
    """FlashAttention requested for a CUDA run (``trainer.device`` cuda, or auto with a GPU here) without
    flash-attn installed and without ``model.attn_fallback``: refused with the install command."""
    from lomo_ablate.models.attention import FLASH, flash_attn_installed, missing_flash_message

    try:
        requested = OmegaConf.select(cfg, "model.attn_implementation", default=None)
        fallback = OmegaConf.select(cfg, "model.attn_fallback", default=None)
        device = OmegaConf.select(cfg, "trainer.device", default="auto")
    except Exception:  # noqa: BLE001  (unresolvable: reported by _check_resolves)
        return []
    if requested != FLASH or fallback or flash_attn_installed() or device == "cpu":
        return []
    if OmegaConf.select(cfg, "dry_run", default=False):
        return []  # a dry run (e.g. on a login node) runs nothing: the job itself is checked where it is submitted
    if device == "auto":
        import torch

        if not torch.cuda.is_available():
            return []  # decided where the job runs (the trainer refuses the same way)
    return [("model.attn_implementation", missing_flash_message())]


def _check_cluster(cfg: DictConfig) -> list[tuple[str, str]]:
    """``cluster.kind: slurm`` needs ``cluster.partition`` (else sbatch fails or picks one after submission)."""
    kind = OmegaConf.select(cfg, "cluster.kind", default=None)
    if kind != "slurm":
        return []
    try:
        partition = OmegaConf.select(cfg, "cluster.partition", default=None)
    except Exception:  # noqa: BLE001  (an unresolvable interpolation counts as unset)
        partition = None
    if partition in (None, "", "???"):
        return [("cluster.partition", "a Slurm cluster needs a partition: allowed: a partition name of your "
                 "cluster (`sinfo -s`); set cluster.partition=<name> or $LOMO_SLURM_PARTITION")]
    return []


def _check_launcher(hydra_cfg: DictConfig) -> list[tuple[str, str]]:
    """A Slurm launcher must know its partition (else sbatch picks one or fails after submission)."""
    launcher = hydra_cfg.get("launcher") or {}
    target = str(launcher.get("_target_", ""))
    if "slurm" not in target.lower() or "partition" not in launcher:
        return []
    choice = OmegaConf.select(hydra_cfg, "runtime.choices.cluster", default=None)
    partition = launcher.get("partition")
    if partition in (None, "", "???"):
        where = f" (cluster={choice})" if choice else ""
        return [("hydra.launcher.partition",
                 f"a Slurm cluster needs a partition{where}: allowed: a partition name of your cluster "
                 "(`sinfo -s`); set it in conf/cluster/<name>.yaml or as hydra.launcher.partition=<name>")]
    return []


def _check_stage_configs(cfg: DictConfig, registry: Any = None) -> list[tuple[str, str]]:
    """Each registered stage's typed configs built from their sections (errors named by the dotted key the
    config names, e.g. ``curate.localize.position``, else by the section)."""
    if registry is None:
        from lomo_ablate.pipeline.stages import REGISTRY as registry
    out = []
    for stage in registry:
        for key, target in stage.configs:
            if key not in cfg:
                continue
            cls = _config_class(target)
            try:
                cls.from_dict(OmegaConf.to_container(cfg[key], resolve=True))
            except (ValueError, TypeError, KeyError) as e:
                key_of = _problem_key(str(e))
                out.append((key_of if key_of.startswith(key) else key, f"{cls.__name__}: {e}"))
    return out


def _config_class(target: str) -> Any:
    """``"package.module:Class"`` imported. An ImportError propagates: a stage package whose import is
    broken must stop validation, not silently skip its checks."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
