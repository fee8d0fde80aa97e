"""Typed configs of the curation stage, built through :func:`lomo_ablate.utils.config.config_from_dict`
(``from_dict(d)``): an unknown key or a value of the wrong type is a :class:`ConfigError` naming the dotted
key, and each config's ``validate()`` checks ranges and choices, so a typo in YAML or on the command line
fails before any work starts."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from lomo_ablate.render.distort import DistortConfig
from lomo_ablate.curate.localize import POSITIONS
from lomo_ablate.render import RenderConfig
from lomo_ablate.utils.config import ConfigError, check_range, config_from_dict

__all__ = ["ConfigError", "CurateAppConfig", "CurateConfig", "LocalizeConfig", "MixConfig", "available_cpus",
           "parse_image_text_ratio"]


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not allowed; choose one of {', '.join(allowed)}")


@dataclass
class LocalizeConfig:
    """Where the span goes. ``position``: one of prefix, middle, suffix, multi_span, full.
    Texts with fewer than ``min_sentences`` sentences are rendered whole. ``multi_span_images``: images per
    text for ``multi_span``. ``max_block_chars``: longer sentences are cut at whitespace into blocks.
    ``latex_commands``: bare LaTeX commands (``\\frac{a}{b}``) count as atomic math blocks."""

    position: str = "middle"
    min_sentences: int = 3
    multi_span_images: int = 2
    max_block_chars: int = 400
    latex_commands: bool = True

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "LocalizeConfig":
        return config_from_dict(cls, d, "curate.localize")

    def validate(self, where: str = "curate.localize") -> None:
        _choice(f"{where}.position", self.position, POSITIONS)
        check_range(f"{where}.min_sentences", self.min_sentences, 0, integer=True)
        check_range(f"{where}.multi_span_images", self.multi_span_images, 1, integer=True)
        check_range(f"{where}.max_block_chars", self.max_block_chars, 20, integer=True)


def parse_image_text_ratio(value: Any) -> float | None:
    """``None``/``"original"`` → None (keep the pools' own proportions); ``"1:1"`` → 0.5; ``"2:1"`` → 2/3;
    a number in (0, 1) → that image-bearing fraction."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "original", "none", "null")):
        return None
    if isinstance(value, str) and ":" in value:
        try:
            a, b = (float(x) for x in value.split(":"))
        except ValueError:
            raise ConfigError(f"image_text_ratio={value!r} is not of the form 'A:B' (e.g. '1:1')") from None
        if a < 0 or b < 0 or a + b == 0:
            raise ConfigError(f"image_text_ratio={value!r} needs non-negative parts, not both zero")
        return a / (a + b)
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"image_text_ratio={value!r} must be 'original', 'A:B' or a fraction in [0, 1]") from None
    if not 0.0 <= f <= 1.0:
        raise ConfigError(f"image_text_ratio={value!r} as a fraction must be in [0, 1]")
    return f


@dataclass
class MixConfig:
    """How the text-only and multimodal pools are combined.

    ``rewrite_ratio``: fraction of text-only instances rendered (0–1), decided per record from (seed, record).
    ``scale``: total instances written (None: every input record once). ``image_text_ratio``: ``original``
    (the pools' own proportions) or the image-bearing : text-only target, e.g. ``"1:1"`` (matched control).
    ``name``: a label for reports."""

    name: str = "original"
    rewrite_ratio: float = 0.5
    scale: int | None = None
    image_text_ratio: Any = "original"

    @property
    def image_fraction(self) -> float | None:
        return parse_image_text_ratio(self.image_text_ratio)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "MixConfig":
        return config_from_dict(cls, d, "curate.mix")

    def validate(self, where: str = "curate.mix") -> None:
        if not 0.0 <= self.rewrite_ratio <= 1.0:  # a float (config_from_dict); NaN fails too
            raise ConfigError(f"{where}.rewrite_ratio={self.rewrite_ratio} is outside [0, 1]")
        if self.scale is not None:
            check_range(f"{where}.scale", self.scale, 1, integer=True)
        try:
            parse_image_text_ratio(self.image_text_ratio)
        except ConfigError as e:
            raise ConfigError(f"{where}.{e}") from None


TURNS = ("first", "last")
IMAGE_MODES = ("copy", "hardlink", "symlink")


@dataclass
class CurateConfig:
    """Everything curation depends on (except inputs and seed).

    ``render``/``distort``: :class:`RenderConfig` / :class:`DistortConfig` (plain mappings are built).
    ``turn``: which user turn is rewritten — ``first`` (default) or ``last``.
    ``max_chars``: a rewritten turn longer than this is rejected (``too_long``).
    ``shard_size``: input records per shard (the unit of parallel work and of resume).
    ``workers``: curation processes; ``None`` (default): the CPUs this process may use, resolved at run time
    (:func:`available_cpus`). The output is the same for any count, so it enters no key.
    ``image_mode``: how multimodal-pool images get into OUT/images (copy keeps OUT self-contained).
    ``png_compress_level``: zlib level of the rendered PNGs (1: ~2x faster than 6 for ~5% bigger files).
    ``gallery``/``gallery_samples``: write gallery.png with that many samples."""

    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    mix: MixConfig = field(default_factory=MixConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    distort: DistortConfig = field(default_factory=DistortConfig)
    turn: str = "first"
    max_chars: int = 20000
    shard_size: int = 256
    workers: int | None = None
    image_mode: str = "copy"
    png_compress_level: int = 1
    gallery: bool = False
    gallery_samples: int = 8

    def __post_init__(self) -> None:
        # library calls may pass plain mappings (or None) for the nested configs
        for key, cls in (("localize", LocalizeConfig), ("mix", MixConfig), ("render", RenderConfig),
                         ("distort", DistortConfig)):
            value = getattr(self, key)
            if value is None or isinstance(value, Mapping):
                setattr(self, key, config_from_dict(cls, value, f"curate.{key}"))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "CurateConfig":
        return config_from_dict(cls, d, "curate")

    def validate(self, where: str = "curate") -> None:
        _choice(f"{where}.turn", self.turn, TURNS)
        _choice(f"{where}.image_mode", self.image_mode, IMAGE_MODES)
        for key in ("max_chars", "shard_size", "workers", "gallery_samples"):
            if key == "workers" and self.workers is None:
                continue  # auto: available_cpus() at run time
            check_range(f"{where}.{key}", getattr(self, key), 1, integer=True)
        check_range(f"{where}.png_compress_level", self.png_compress_level, 0, 9, integer=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form (the input of the config hash)."""
        return {
            "localize": dataclasses.asdict(self.localize),
            "mix": dataclasses.asdict(self.mix),
            "render": _plain(self.render),
            "distort": _plain(self.distort),
            **{k: getattr(self, k) for k in ("turn", "max_chars", "shard_size", "workers", "image_mode",
                                              "png_compress_level", "gallery", "gallery_samples")},
        }


def available_cpus(environ: Mapping[str, str] | None = None) -> int:
    """The CPUs this process may use: its affinity (``os.sched_getaffinity``, else ``os.cpu_count()``), capped
    by ``SLURM_CPUS_PER_TASK`` inside a Slurm job (a task may see the whole node's CPUs when the cluster does
    not bind tasks to cores). What ``curate.workers: null`` resolves to."""
    import os

    env = os.environ if environ is None else environ
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    slurm = env.get("SLURM_CPUS_PER_TASK", "").strip()
    if slurm.isdigit() and int(slurm) >= 1:
        n = min(n, int(slurm))
    return max(1, n)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return obj


@dataclass
class CurateAppConfig:
    """The stand-alone curation app's own keys (``python -m lomo_ablate.curate``, conf/curate_app.yaml); its
    Hydra schema is made from this class (lomo_ablate.pipeline.schema). ``input``: the text-only pool
    (required); ``multimodal_input``: the multimodal pool (optional) — each a file, folder of shards, glob,
    datasets folder or list of these; ``image_dir``/``multimodal_image_dir``: the root of each pool's
    relative image paths (default: each input file's folder); ``split``: a DatasetDict split; ``output``: the output folder
    (required); ``rewrite_ratio``: fraction of text-only instances rendered, in [0, 1]; ``workers`` /
    ``gallery``: shortcuts for ``curate.workers`` / ``curate.gallery``; ``overwrite``: replace a finished
    curation of another config in ``output``."""

    input: Any = None
    multimodal_input: Any = None
    image_dir: str | None = None
    multimodal_image_dir: str | None = None
    split: str | None = None
    output: str | None = None
    seed: int = 0
    rewrite_ratio: float = 0.5
    workers: int | None = None
    gallery: bool = False
    overwrite: bool = False
    curate: CurateConfig = field(default_factory=CurateConfig)
