"""The registry of distortion ops: every module in :mod:`lomo_ablate.render.distort.ops` registers one op family.

An op family is a function ``apply(arr, rng, params) -> (out, label, info)`` (``arr``: an RGB ``uint8`` array
``(H, W, 3)`` — or, for a family registered with ``gray=True``, also a grey ``(H, W)`` one when the image is
mode ``L``: it must then give the same result on each channel as on RGB, and may return ``(H, W, 3)`` when it
adds colour, as ``stain`` does;
``rng``: the ``numpy.random.Generator`` of the image, the only source of randomness; ``params``: an instance
of the family's parameter dataclass; ``label``: what ``info["op"]`` says, e.g. ``shadow`` or ``stain`` for the
``shadow_stain`` family; ``info``: JSON-ready sampled values) registered with :func:`register_op`::

    @dataclass
    class GrainParams:
        grain_sigma: tuple[float, float] = (2.0, 8.0)

        def validate(self, where: str) -> None:
            check_pair(where, "grain_sigma", self.grain_sigma)

    @register_op("grain", params=GrainParams, p=0.0, order=50)
    def grain(arr, rng, params): ...

Registration adds the family to :class:`~lomo_ablate.render.distort.config.DistortConfig`: a weight
``p_<name>`` (default ``p``, the weight in the ``distortion=on`` preset) and the fields of ``params`` as flat
keys (``curate.distort.grain_sigma``); ``only: <name>`` (``conf/distortion/<name>.yaml``) selects it alone.
``order`` is the family's place in the sampling order (the cumulative distribution one draw picks from): the
built-in families use 10-40, so a new one (default 100) leaves the draws of the existing ones unchanged.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lomo_ablate.utils.config import ConfigError

__all__ = ["Op", "register_op", "registered_ops", "load_ops", "uniform", "rounded", "check_pair",
           "check_probability"]

Apply = Callable[[np.ndarray, np.random.Generator, Any], tuple[np.ndarray, str, dict]]


@dataclass(frozen=True)
class Op:
    """One registered op family (see the module doc)."""

    name: str
    apply: Apply
    params: type | None
    p: float
    order: int
    gray: bool = False  # apply() also takes (H, W) grey arrays (see the module doc)

    def params_of(self, cfg: Any) -> Any:
        """The family's parameter dataclass filled from the flat fields of a DistortConfig."""
        if self.params is None:
            return None
        return self.params(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(self.params)})


_OPS: dict[str, Op] = {}
_LOADED = False


def register_op(name: str, *, params: type | None = None, p: float = 0.0, order: int = 100,
                gray: bool = False) -> Callable[[Apply], Apply]:
    """Decorator: registers ``apply`` as op family ``name`` (see the module doc)."""
    def deco(apply: Apply) -> Apply:
        if _LOADED:
            raise RuntimeError(f"distortion op {name!r} registered after DistortConfig was built: put its module "
                               "in lomo_ablate/render/distort/ops/ (every module there is loaded first)")
        if not name.isidentifier() or name == "none":
            raise ValueError(f"distortion op name {name!r} must be an identifier other than 'none'")
        if name in _OPS:
            raise ValueError(f"distortion op {name!r} is registered twice ({_OPS[name].apply.__module__} and "
                             f"{apply.__module__})")
        if params is not None and not dataclasses.is_dataclass(params):
            raise TypeError(f"distortion op {name!r}: params must be a dataclass, got {params!r}")
        _OPS[name] = Op(name, apply, params, float(p), int(order), bool(gray))
        return apply
    return deco


def load_ops() -> tuple[Op, ...]:
    """Imports every module of :mod:`lomo_ablate.render.distort.ops` (each registers its family) once, then
    closes the registry; returns the families in sampling order."""
    global _LOADED
    if not _LOADED:
        from lomo_ablate.render.distort import ops as package

        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
        _LOADED = True
    return registered_ops()


def registered_ops() -> tuple[Op, ...]:
    """The registered families in sampling order (``order``, then name)."""
    return tuple(sorted(_OPS.values(), key=lambda op: (op.order, op.name)))


# --- helpers for op modules ----------------------------------------------------------------------------------

def uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """One draw from ``U(lo, hi)`` as a Python float."""
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def rounded(x: float) -> float:
    """A sampled value as it goes into ``info`` (4 decimals)."""
    return round(float(x), 4)


def check_pair(where: str, key: str, value: Any) -> None:
    """``value`` is a ``[low, high]`` pair of numbers with ``0 <= low <= high``."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
            and 0 <= value[0] <= value[1]):
        raise ConfigError(f"{where}.{key}={value!r} must be a [low, high] pair with 0 <= low <= high")


def check_probability(where: str, key: str, value: Any) -> None:
    """``value`` is a number in ``[0, 1]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{where}.{key}={value!r} must be a probability in [0, 1]")
