"""Text spans as images: rendering, TeX, fonts and perceptual distortion — one package used by curation,
the rendered evaluation protocols and the tiny model's reading stage (docs/render.md).

    from lomo_ablate.render import Renderer, RenderConfig
    from lomo_ablate.render.distort import Distorter, DistortConfig

Modules: :mod:`~lomo_ablate.render.config` (RenderConfig), :mod:`~lomo_ablate.render.renderer` (Renderer,
RenderResult; routing, text and grid layouts), :mod:`~lomo_ablate.render.mathtext` (matplotlib math),
:mod:`~lomo_ablate.render.tex` (sandboxed LaTeX), :mod:`~lomo_ablate.render.fonts` (font chains),
:mod:`~lomo_ablate.render.mathspans` (where the math is in a text; also curation's localizer uses it) and the
:mod:`~lomo_ablate.render.distort` package (DistortConfig, Distorter and the registry of distortion ops).
This package imports nothing from :mod:`lomo_ablate.curate` (curation imports it).
"""
from __future__ import annotations

from typing import Any

from lomo_ablate.render.config import LAYOUTS, MATH_RENDERERS, OVERFLOWS, RenderConfig
from lomo_ablate.render.fonts import DEFAULT_FALLBACKS, FontChain, FontNotFoundError, find_font
from lomo_ablate.render.mathspans import has_math, math_ranges
from lomo_ablate.render.renderer import Renderer, RenderResult
from lomo_ablate.render.tex import tex_available

__all__ = ["Renderer", "RenderConfig", "RenderResult", "has_math", "math_ranges", "tex_available", "FontChain",
           "FontNotFoundError", "find_font", "DEFAULT_FALLBACKS", "MATH_RENDERERS", "LAYOUTS", "OVERFLOWS",
           "Distorter", "DistortConfig", "register_op"]

_DISTORT = ("Distorter", "DistortConfig", "register_op")


def __getattr__(name: str) -> Any:
    """``Distorter``, ``DistortConfig`` and ``register_op`` are loaded on first use (they import OpenCV)."""
    if name in _DISTORT:
        from lomo_ablate.render import distort

        return getattr(distort, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
