"""The pipeline's own top-level config keys as dataclasses (built with ``utils.config.config_from_dict``).

Stage sections (``curate``, ``model``, ``trainer``, ``eval``) are typed by their stage packages and checked
through the stage registry (:mod:`lomo_ablate.pipeline.validate`); ``logger``, ``cluster`` and ``hydra``
belong to the launcher. Single-key range checks live in the dataclasses' ``validate()`` below; checks that
span sections (``rewrite_ratio`` against curation, inputs on disk, the cluster partition) in validate.py.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from lomo_ablate.utils.config import ConfigError, check_seed, config_from_dict

BUILTIN = "builtin"


@dataclasses.dataclass
class DataConfig:
    """``data``: the inputs of curation. ``text``/``multimodal``: ``builtin``, or a pool — a file, a folder
    of shards, a glob, a ``datasets`` folder, or a list of these (docs/curate.md "Inputs"); ``multimodal``
    may be None. ``text_image_dir``/``multimodal_image_dir``: the root that the pool's relative image paths
    resolve against (None: each input file's folder); nothing outside it is read. ``split``: the split of a
    ``DatasetDict`` folder."""

    text: Any = BUILTIN                 # `builtin`, or a pool (str or list of str)
    multimodal: Any = BUILTIN           # `builtin`, a pool, or None
    text_size: int = 200                # built-in pool sizes
    multimodal_size: int = 100
    text_image_dir: str | None = None
    multimodal_image_dir: str | None = None
    split: str | None = None

    def validate(self, where: str = "data") -> None:
        for key in ("text_size", "multimodal_size"):
            n = getattr(self, key)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"{where}.{key}: {n!r}: allowed: a positive integer")
        for key in ("text", "multimodal"):
            value = getattr(self, key)
            if value is None and key == "multimodal":
                continue
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if not items or not all(isinstance(v, str) and v for v in items):
                raise ConfigError(f"{where}.{key}: {value!r}: allowed: `builtin`, or a file, folder, glob or "
                                  f"datasets folder (or a list of these)")
        for key in ("text_image_dir", "multimodal_image_dir", "split"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{where}.{key}: {value!r}: allowed: null or a non-empty string")


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
    verify: bool = False                # check cached store entries' content hashes too (sizes are always checked)
    estimate: dict = dataclasses.field(default_factory=dict)

    #: top-level sections owned by the stages and the launcher (typed there, not here)
    SECTIONS = ("curate", "model", "trainer", "eval", "logger", "cluster", "hydra")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PipelineConfig":
        """Rejects unknown top-level keys (a typo in a sweep file) naming the allowed ones."""
        own = {k: v for k, v in d.items() if k not in cls.SECTIONS}
        unknown = sorted(set(own) - {f.name for f in dataclasses.fields(cls)}, key=str)
        if unknown:
            allowed = [*(f.name for f in dataclasses.fields(cls)), *cls.SECTIONS]
            raise ConfigError(f"unknown key(s) {', '.join(repr(k) for k in unknown)} in config; "
                              f"allowed: {', '.join(allowed)}")
        if "data" in own:
            own["data"] = config_from_dict(DataConfig, own["data"], "data")
        try:
            return config_from_dict(cls, own, "config")
        except ConfigError as e:  # top-level keys are named bare: `seed: ...`, not `config.seed: ...`
            msg = str(e)
            raise ConfigError(msg[len("config."):] if msg.startswith("config.") else msg) from None

    def validate(self, where: str = "config") -> None:
        check_seed("seed", self.seed)
