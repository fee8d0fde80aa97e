"""Typed configs of the curation stage. Every config has ``from_dict(d)`` that rejects unknown keys by name
and checks values early, so a typo in YAML or on the command line fails before any work starts."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from lomo_ablate.curate.localize import POSITIONS
from lomo_ablate.utils.config import reject_unknown_keys


class ConfigError(ValueError):
    """A config value or key is wrong; the message names the key and what is allowed."""


def _check_keys(cls: type, d: Mapping[str, Any], where: str) -> None:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(d).__name__}: {d!r}")
    reject_unknown_keys(cls, d, where, ConfigError)


def _as_int(value: Any, key: str, minimum: int | None = None, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            raise ConfigError(f"{key}={value!r} is not an integer")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}={value} must be >= {minimum}")
    return value


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
        d = dict(d or {})
        _check_keys(cls, d, "curate.localize")
        cfg = cls(**d)
        if cfg.position not in POSITIONS:
            raise ConfigError(f"position={cfg.position!r} is not allowed; choose one of {', '.join(POSITIONS)}")
        cfg.min_sentences = _as_int(cfg.min_sentences, "curate.localize.min_sentences", 0)
        cfg.multi_span_images = _as_int(cfg.multi_span_images, "curate.localize.multi_span_images", 1)
        cfg.max_block_chars = _as_int(cfg.max_block_chars, "curate.localize.max_block_chars", 20)
        cfg.latex_commands = bool(cfg.latex_commands)
        return cfg


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
    image_text_ratio: Any = None

    @property
    def image_fraction(self) -> float | None:
        return parse_image_text_ratio(self.image_text_ratio)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "MixConfig":
        d = dict(d or {})
        _check_keys(cls, d, "curate.mix")
        cfg = cls(**d)
        try:
            cfg.rewrite_ratio = float(cfg.rewrite_ratio)
        except (TypeError, ValueError):
            raise ConfigError(f"rewrite_ratio={cfg.rewrite_ratio!r} is not a number") from None
        if not 0.0 <= cfg.rewrite_ratio <= 1.0:
            raise ConfigError(f"rewrite_ratio={cfg.rewrite_ratio} is outside [0, 1]")
        cfg.scale = _as_int(cfg.scale, "scale", 1, allow_none=True)
        parse_image_text_ratio(cfg.image_text_ratio)  # validates
        return cfg


TURNS = ("first", "last")
IMAGE_MODES = ("copy", "hardlink", "symlink")


@dataclass
class CurateConfig:
    """Everything curation depends on (except inputs and seed).

    ``render``/``distort`` are the render colleague's ``RenderConfig``/``DistortConfig`` (built from dicts).
    ``turn``: which user turn is rewritten — ``first`` (default) or ``last``.
    ``max_chars``: a rewritten turn longer than this is rejected (``too_long``).
    ``shard_size``: input records per shard (the unit of parallel work and of resume).
    ``image_mode``: how multimodal-pool images get into OUT/images (copy keeps OUT self-contained).
    ``png_compress_level``: zlib level of the rendered PNGs (1: ~2x faster than 6 for ~5% bigger files).
    ``gallery``/``gallery_samples``: write gallery.png with that many samples."""

    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    mix: MixConfig = field(default_factory=MixConfig)
    render: Any = None
    distort: Any = None
    turn: str = "first"
    max_chars: int = 20000
    shard_size: int = 256
    workers: int = 1
    image_mode: str = "copy"
    png_compress_level: int = 1
    gallery: bool = False
    gallery_samples: int = 8

    def __post_init__(self) -> None:
        if self.render is None or isinstance(self.render, Mapping):
            from lomo_ablate.render import RenderConfig

            self.render = RenderConfig.from_dict(dict(self.render or {}))
        if self.distort is None or isinstance(self.distort, Mapping):
            from lomo_ablate.render.distort import DistortConfig

            self.distort = DistortConfig.from_dict(dict(self.distort or {}))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "CurateConfig":
        d = dict(d or {})
        _check_keys(cls, d, "curate")
        d["localize"] = LocalizeConfig.from_dict(d.get("localize"))
        d["mix"] = MixConfig.from_dict(d.get("mix"))
        cfg = cls(**d)
        if cfg.turn not in TURNS:
            raise ConfigError(f"curate.turn={cfg.turn!r} is not allowed; choose one of {', '.join(TURNS)}")
        if cfg.image_mode not in IMAGE_MODES:
            raise ConfigError(f"curate.image_mode={cfg.image_mode!r} is not allowed; "
                              f"choose one of {', '.join(IMAGE_MODES)}")
        cfg.max_chars = _as_int(cfg.max_chars, "curate.max_chars", 1)
        cfg.shard_size = _as_int(cfg.shard_size, "curate.shard_size", 1)
        cfg.workers = _as_int(cfg.workers, "workers", 1)
        cfg.gallery_samples = _as_int(cfg.gallery_samples, "curate.gallery_samples", 1)
        cfg.png_compress_level = _as_int(cfg.png_compress_level, "curate.png_compress_level", 0)
        if cfg.png_compress_level > 9:
            raise ConfigError(f"curate.png_compress_level={cfg.png_compress_level} must be in [0, 9]")
        cfg.gallery = bool(cfg.gallery)
        return cfg

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


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return obj
