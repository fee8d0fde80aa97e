"""How spans become images: :class:`RenderConfig`, the one schema of the ``render`` config group.

Its defaults are the ``render=default`` preset (``conf/render/default.yaml`` may only repeat them; a test
composes the group with Hydra and checks that it does).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from PIL import ImageColor

from lomo_ablate.render.fonts import DEFAULT_FALLBACKS
from lomo_ablate.utils.config import ConfigError, check_range, config_from_dict

MATH_RENDERERS = ("auto", "tex", "mathtext", "text")
LAYOUTS = ("wrap", "grid")
OVERFLOWS = ("shrink", "clip")


@dataclass
class RenderConfig:
    """How spans become images. Sizes are pixels.

    ``font``: name (fontconfig) or path of the text font; ``fallback_fonts``: tried per character after it.
    ``max_width``: image width limit, text wraps at ``max_width - 2*padding``; ``max_height``: image height
    limit. ``overflow``: ``shrink`` (smaller font down to ``min_font_size``, then clip) or ``clip``.
    ``trim``/``trim_threshold``: crop empty borders (pixels whose ink coverage is <= threshold of 255 are empty).
    ``math_renderer``: auto|tex|mathtext|text; ``math_font_size``: pixel size of the math body font.
    ``tex_timeout_s``: the time budget of one TeX batch run; ``tex_batch_size``: items per latex run (256:
    1.37 ms per formula against 2.78 ms at 64); ``tex_item_timeout_s``: the limit of each item retried alone
    after its batch failed or ran out of time; ``tex_memory_mb``: address-space limit of each latex/dvipng
    process; ``tex_max_pixels``: the largest TeX image accepted (read from the PNG header before decoding;
    a larger one falls back to the text renderer, counted); ``tex_run_budget_s``: total TeX time of one
    renderer (one curation process), after which math falls back to the text renderer.
    ``layout``: wrap|grid; ``cell_width``/``cell_height``/``grid_font``: the grid layout; ``grid_pad_multiple``:
    the grid canvas is padded (right and bottom) to a multiple of this many pixels — set it to the vision
    model's patch size × merge size, or its image processor resizes the image and glyphs leave their cells.
    """

    font: str = "DejaVu Sans"
    fallback_fonts: list[str] = field(default_factory=lambda: list(DEFAULT_FALLBACKS))
    font_size: int = 28
    min_font_size: int = 14
    line_spacing: float = 1.25
    max_width: int = 800
    max_height: int = 800
    padding: int = 8
    overflow: str = "shrink"
    trim: bool = True
    trim_threshold: int = 8
    background: str = "#ffffff"
    foreground: str = "#000000"
    math_renderer: str = "auto"
    math_font_size: int = 28
    tex_timeout_s: float = 20.0
    tex_batch_size: int = 256
    tex_item_timeout_s: float = 2.0
    tex_memory_mb: int = 2048
    tex_max_pixels: int = 50_000_000
    tex_run_budget_s: float = 1800.0
    layout: str = "wrap"
    cell_width: int = 16
    cell_height: int = 16
    grid_font: str = "DejaVu Sans Mono"
    grid_pad_multiple: int = 1

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "curate.render") -> "RenderConfig":
        """Builds and checks a config; unknown keys, wrong types and bad values raise ``ConfigError``."""
        return config_from_dict(cls, d, where)

    def validate(self, where: str = "curate.render") -> None:
        """Range and cross-field checks (``where``: the dotted key errors name)."""
        for key, options in (("math_renderer", MATH_RENDERERS), ("layout", LAYOUTS), ("overflow", OVERFLOWS)):
            if getattr(self, key) not in options:
                raise ConfigError(f"{where}.{key}={getattr(self, key)!r}; allowed: {', '.join(options)}")
        minimum = {"font_size": 4, "min_font_size": 4, "math_font_size": 4, "cell_width": 4, "cell_height": 4,
                   "max_width": 16, "max_height": 16, "padding": 0, "trim_threshold": 0, "tex_batch_size": 1,
                   "grid_pad_multiple": 1, "tex_memory_mb": 64, "tex_max_pixels": 1024}
        for key, lo in minimum.items():
            v = getattr(self, key)
            if isinstance(v, float) and v.is_integer():  # a whole number written as 28.0
                v = int(v)
                setattr(self, key, v)
            check_range(f"{where}.{key}", v, lo, integer=True)
        for key, lo in (("line_spacing", 0.5), ("tex_timeout_s", 0.1), ("tex_item_timeout_s", 0.1),
                        ("tex_run_budget_s", 0.1)):
            check_range(f"{where}.{key}", getattr(self, key), lo)
            setattr(self, key, float(getattr(self, key)))
        if 2 * self.padding >= min(self.max_width, self.max_height):
            raise ConfigError(f"{where}.padding={self.padding} leaves no room inside "
                              f"max_width={self.max_width} x max_height={self.max_height}")
        if self.layout == "grid" and (self.cell_width > self.max_width or self.cell_height > self.max_height):
            raise ConfigError(f"{where}.cell_width x cell_height = {self.cell_width}x{self.cell_height} "
                              f"does not fit in max_width x max_height = {self.max_width}x{self.max_height}")
        for key in ("background", "foreground"):
            try:
                ImageColor.getrgb(getattr(self, key))
            except (ValueError, AttributeError):
                raise ConfigError(f"{where}.{key}={getattr(self, key)!r} is not a colour "
                                  "(e.g. '#ffffff' or 'white')") from None
