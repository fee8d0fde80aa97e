"""Every check made before anything runs (or is submitted): bad values are named with their key and
the allowed values, all problems of a config at once.

``validate_config(cfg)`` checks the pipeline's own keys (rewrite_ratio, position, inputs, seed), the
launcher (a Slurm cluster needs a partition) and, for each stage that is installed, its typed config
(``CurateConfig/ModelConfig/TrainerConfig/EvalConfig.from_dict`` reject unknown keys and bad values).
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from lomo_ablate.utils.config import reject_unknown_keys

POSITIONS = ("prefix", "middle", "suffix", "multi_span", "full")
BUILTIN = "builtin"

# (stage, config key, module, class): typed stage configs checked when their module is installed
STAGE_CONFIGS = (
    ("curate", "curate", "lomo_ablate.curate", "CurateConfig"),
    ("train", "model", "lomo_ablate.models", "ModelConfig"),
    ("train", "trainer", "lomo_ablate.train", "TrainerConfig"),
    ("evaluate", "eval", "lomo_ablate.evaluate", "EvalConfig"),
)


@dataclasses.dataclass
class DataConfig:
    """``data``: the inputs of curation."""

    text: str = BUILTIN                 # a file, or `builtin`
    multimodal: str | None = BUILTIN    # a file, `builtin`, or None
    text_size: int = 200                # built-in pool sizes
    multimodal_size: int = 100

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "DataConfig":
        return cls(**_known(cls, d or {}, "data"))


@dataclasses.dataclass
class PipelineConfig:
    """The pipeline's own top-level keys (stage sections are checked by the stages' own configs)."""

    seed: int = 0
    rewrite_ratio: float = 0.5
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    store_dir: str = ".lomo_store"
    results_dir: str = "results"
    runs_dir: str = "outputs/runs"
    multirun_dir: str = "multirun"
    sweep_name: str = "adhoc"
    dry_run: bool = False
    estimate: dict = dataclasses.field(default_factory=dict)

    SECTIONS = ("curate", "model", "trainer", "eval", "logger", "cluster", "hydra")  # owned by others

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PipelineConfig":
        """Rejects unknown top-level keys (a typo in a sweep file) naming the allowed ones."""
        own = {k: v for k, v in d.items() if k not in cls.SECTIONS}
        kw = _known(cls, own, "config", extra=cls.SECTIONS)
        if "data" in kw:
            kw["data"] = DataConfig.from_dict(kw["data"])
        return cls(**kw)


def _known(cls: type, d: Mapping[str, Any], where: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    reject_unknown_keys([*(f.name for f in dataclasses.fields(cls)), *extra], d, where, KeyError,
                        root=where == "config")
    return dict(d)


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
                    where: str = "", check_stages: bool = True) -> None:
    """Raises :class:`ConfigValidationError` naming every bad key of ``cfg`` (a job's composed config).
    ``hydra_cfg``: the job's ``hydra`` node (launcher settings); taken from ``cfg.hydra`` if present."""
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(dict(cfg))
    if hydra_cfg is None and "hydra" in cfg:
        hydra_cfg = cfg.hydra
    problems: list[tuple[str, str]] = []
    problems += _check_resolves(cfg)
    if problems:
        raise ConfigValidationError(problems, where)
    problems += _check_known_keys(cfg)
    problems += _check_rewrite_ratio(cfg)
    problems += _check_position(cfg)
    problems += _check_inputs(cfg)
    problems += _check_seed(cfg)
    problems += _check_cluster(cfg)
    if hydra_cfg is not None:
        problems += _check_launcher(hydra_cfg)
    if check_stages:
        problems += _check_stage_configs(cfg)
    if problems:
        raise ConfigValidationError(problems, where)


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


def _check_known_keys(cfg: DictConfig) -> list[tuple[str, str]]:
    try:
        PipelineConfig.from_dict(OmegaConf.to_container(
            OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"]), resolve=True))
    except KeyError as e:
        msg = e.args[0]
        return [("data" if " in data;" in msg else "config", msg)]
    return []


def _check_rewrite_ratio(cfg: DictConfig) -> list[tuple[str, str]]:
    r = cfg.get("rewrite_ratio")
    allowed = "a float in [0, 1] (the paper's grid: 0, 0.25, 0.5, 0.75, 1)"
    if isinstance(r, bool) or not isinstance(r, (int, float)):
        return [("rewrite_ratio", f"{r!r} is not a number; allowed: {allowed}")]
    if math.isnan(r) or not 0.0 <= float(r) <= 1.0:
        return [("rewrite_ratio", f"{r} is out of range; allowed: {allowed}")]
    return []


def _check_position(cfg: DictConfig) -> list[tuple[str, str]]:
    pos = OmegaConf.select(cfg, "curate.localize.position", default=None)
    if pos is None or pos in POSITIONS:
        return []
    return [("curate.localize.position", f"unknown position {pos!r}; allowed: {', '.join(POSITIONS)}")]


def _check_inputs(cfg: DictConfig) -> list[tuple[str, str]]:
    out = []
    for kind in ("text", "multimodal"):
        value = OmegaConf.select(cfg, f"data.{kind}", default=None)
        if value is None and kind == "multimodal":
            continue
        if value == BUILTIN:
            continue
        if not isinstance(value, str) or not value:
            out.append((f"data.{kind}", f"{value!r}: allowed: `builtin` or the path of an existing file"))
        elif not Path(value).is_file():
            out.append((f"data.{kind}", f"input file {value} does not exist (cwd {Path.cwd()}); "
                                        "allowed: `builtin` or the path of an existing file"))
    for kind in ("text_size", "multimodal_size"):
        n = OmegaConf.select(cfg, f"data.{kind}", default=None)
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            out.append((f"data.{kind}", f"{n!r}: allowed: a positive integer"))
    return out


def _check_seed(cfg: DictConfig) -> list[tuple[str, str]]:
    s = cfg.get("seed")
    if isinstance(s, bool) or not isinstance(s, int) or s < 0:
        return [("seed", f"{s!r}: allowed: a non-negative integer")]
    return []


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


def _check_stage_configs(cfg: DictConfig) -> list[tuple[str, str]]:
    out = []
    for _stage, key, module, cls_name in STAGE_CONFIGS:
        cls = _optional_class(module, cls_name)
        if cls is None or key not in cfg:
            continue
        try:
            cls.from_dict(OmegaConf.to_container(cfg[key], resolve=True))
        except (ValueError, TypeError, KeyError) as e:
            out.append((key, f"{cls_name}: {e}"))
    return out


def _optional_class(module: str, name: str) -> Any:
    """``module.name`` if that stage is installed, else None (stages are optional in unit tests)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
