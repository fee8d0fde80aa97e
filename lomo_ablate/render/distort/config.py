""":class:`DistortConfig`, the one schema of the ``distortion`` config group, composed from the op registry.

Its fields are flat (the keys users type: ``curate.distort.p_blur``, ``curate.distort.gaussian_sigma``):

* ``enabled`` — false never distorts (``distortion=off``);
* ``only`` — the name of one registered op family: it is applied to every image, the ``p_*`` weights are
  ignored (``distortion=blur`` is ``only: blur``; a single-op preset never needs to zero the other ops, so a
  newly registered op cannot leak into it);
* ``p_none`` and ``p_<op>`` per registered op — sampling weights, normalised to sum to 1;
* the fields of every op's parameter dataclass (see its module in :mod:`lomo_ablate.render.distort.ops`);
* ``max_side`` — an image grown by rotation is scaled back so neither side exceeds it (null: never).

The class is built once, when the registry is loaded (a ``dataclasses.make_dataclass`` over the registered
ops), so that adding an op needs no edit here. Its defaults are the ``distortion=on`` preset.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Mapping, Optional

from lomo_ablate.render.distort.registry import Op, check_probability, load_ops
from lomo_ablate.utils.config import ConfigError, config_from_dict

__all__ = ["DistortConfig", "OPS"]

WHERE = "curate.distort"


class _DistortConfigMethods:
    """The methods of :class:`DistortConfig` (its fields come from the registry)."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = WHERE) -> Any:
        """Builds and checks a config; unknown keys, wrong types and bad values raise ``ConfigError``."""
        return config_from_dict(cls, d, where)

    def validate(self, where: str = WHERE) -> None:
        """Range checks of the weights, ``only`` and ``max_side``, then each op's own ``validate``."""
        for key in ("p_none", *(f"p_{name}" for name in OPS)):
            check_probability(where, key, getattr(self, key))
        if self.only is not None and self.only not in OPS:
            raise ConfigError(f"{where}.only={self.only!r} is not a registered distortion op; allowed: null, "
                              f"{', '.join(OPS)}")
        if self.enabled and self.only is None and sum(self.probabilities().values()) <= 0:
            raise ConfigError(f"{where}: p_none + {' + '.join(f'p_{name}' for name in OPS)} is 0")
        for op in _REGISTERED:
            params = op.params_of(self)
            if params is not None and callable(getattr(params, "validate", None)):
                params.validate(where)
        ms = self.max_side
        if ms is not None and (isinstance(ms, bool) or not isinstance(ms, int) or ms < 16):
            raise ConfigError(f"{where}.max_side={ms!r} must be null or an integer >= 16")

    def probabilities(self) -> dict[str, float]:
        """Op family → probability (normalised), ``"none"`` first, then the families in sampling order."""
        if self.only is not None:
            return {name: float(name == self.only) for name in ("none", *OPS)}
        raw = {"none": self.p_none, **{name: getattr(self, f"p_{name}") for name in OPS}}
        total = sum(raw.values())
        return {k: (v / total if total else 0.0) for k, v in raw.items()}


def _field(f: dataclasses.Field) -> dataclasses.Field:
    if f.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=f.default_factory)
    return dataclasses.field(default=f.default)


def _build(ops: tuple[Op, ...]) -> type:
    specs: list[tuple[str, Any, dataclasses.Field]] = [
        ("enabled", bool, dataclasses.field(default=True)),
        ("only", Optional[str], dataclasses.field(default=None)),
        ("p_none", float, dataclasses.field(default=0.2)),
    ]
    specs += [(f"p_{op.name}", float, dataclasses.field(default=op.p)) for op in ops]
    owner = {name: "DistortConfig" for name, _, _ in specs} | {"max_side": "DistortConfig"}
    for op in ops:
        if op.params is None:
            continue
        hints = typing.get_type_hints(op.params)
        for f in dataclasses.fields(op.params):
            if f.name in owner:
                raise ValueError(f"distortion op {op.name!r}: parameter {f.name!r} is already a field of "
                                 f"{owner[f.name]}; give it a name of its own (e.g. {op.name}_{f.name})")
            owner[f.name] = op.name
            specs.append((f.name, hints[f.name], _field(f)))
    specs.append(("max_side", Optional[int], dataclasses.field(default=1024)))
    cls = dataclasses.make_dataclass("DistortConfig", specs, bases=(_DistortConfigMethods,))
    cls.__module__ = __name__
    groups = "; ".join(f"{op.name}: " + ", ".join(f.name for f in dataclasses.fields(op.params))
                       for op in ops if op.params is not None)
    cls.__doc__ = ("Perceptual distortion: one op family per image, or none (see the module doc of "
                   f"{__name__}). Fields: enabled, only, p_none, "
                   f"{', '.join(f'p_{op.name}' for op in ops)}; per op — {groups}; max_side.")
    return cls


_REGISTERED = load_ops()
#: The registered op families, in sampling order.
OPS: tuple[str, ...] = tuple(op.name for op in _REGISTERED)
DistortConfig = _build(_REGISTERED)
