"""The one way a typed config is built from a mapping, for the whole package.

Every config of lomo-ablate is a dataclass (the one schema); ``config_from_dict(cls, d, where)`` builds it
from a plain mapping (a YAML section, a Hydra node, a library call's dict) and raises :class:`ConfigError`
naming the full dotted key for

* an unknown key (with the allowed ones),
* a value of the wrong type (``trainer.lr: expected a float, got 'abc' (str)``),

then calls the dataclass's ``validate()`` if it has one (cross-field and range checks live there, next to the
fields they check). Nested dataclass fields, ``list[Dataclass]`` and ``dict[str, Dataclass]`` are built
recursively. A ``from_dict`` classmethod on a config is a one-line call of this function.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any, Iterable, Mapping, Sequence, TypeVar

T = TypeVar("T")

__all__ = ["ConfigError", "SEED_MAX", "config_from_dict", "reject_unknown_keys", "check_range", "check_seed"]

#: The largest seed every RNG the project seeds accepts (numpy takes 0..2**32-1; torch and Python take more).
SEED_MAX = 2**32 - 1


class ConfigError(ValueError):
    """A config has an unknown key, a value of the wrong type or an out-of-range value; the message names the
    full dotted key (what a user types on the command line to fix it)."""


def reject_unknown_keys(allowed: type | Iterable[str], d: Mapping[str, Any], where: str,
                        error: type[Exception] = ConfigError, root: bool = False) -> None:
    """Raises ``error("unknown key(s) '<where>.x' in <where>; allowed: a, b")`` if ``d`` has a key that is
    not a field of the dataclass ``allowed`` (or not in the iterable of names ``allowed``). ``root``: ``d`` is
    a top-level config, whose keys are named bare."""
    names = [f.name for f in dataclasses.fields(allowed)] if isinstance(allowed, type) else list(allowed)
    unknown = sorted(set(d) - set(names), key=str)
    if unknown:
        raise error(f"unknown key(s) {', '.join(repr(k if root else f'{where}.{k}') for k in unknown)} in {where}; "
                    f"allowed: {', '.join(names)}")


def check_range(where: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                integer: bool = False, finite: bool = True, lo_open: bool = False) -> None:
    """Raises ConfigError unless ``value`` is a (finite) number in ``[lo, hi]`` (``(lo, hi]`` with
    ``lo_open``); ``integer``: a whole number (bools are not numbers here)."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{where}: expected {kind}, got {value!r}")
    if finite and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ConfigError(f"{where} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where} must be <= {hi}, got {value!r}")


def check_seed(where: str, value: Any) -> None:
    """Raises ConfigError unless ``value`` is an integer seed every RNG accepts (0..:data:`SEED_MAX`)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"{where}: {value!r}: allowed: an integer in [0, {SEED_MAX}] (the range numpy, "
                          "torch and Python's random all accept)")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def config_from_dict(cls: type[T], d: Mapping[str, Any] | T | None, where: str | None = None) -> T:
    """Builds dataclass ``cls`` from ``d`` (None: the defaults; an instance: itself), checking keys and types
    and running ``validate()``. ``where`` is the dotted key of ``d`` in the job config (e.g. ``trainer``)."""
    where = where or cls.__name__
    if isinstance(d, cls):
        obj = d
    elif d is None:
        obj = cls()
    else:
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {d!r} ({type(d).__name__})")
        reject_unknown_keys(cls, d, where)
        hints = _hints(cls)
        kwargs = {key: _coerce(hints.get(key, Any), value, f"{where}.{key}") for key, value in d.items()}
        try:
            obj = cls(**kwargs)
        except ConfigError:
            raise
        except (TypeError, ValueError) as e:  # a __post_init__ check
            raise ConfigError(f"{where}: {e}") from e
    validate = getattr(obj, "validate", None)
    if callable(validate):
        _call_validate(validate, where)
    return obj


def _call_validate(validate: Any, where: str) -> None:
    """``validate()`` or ``validate(where)``: configs nested at several places name their own prefix."""
    import inspect

    try:
        params = inspect.signature(validate).parameters
    except (TypeError, ValueError):  # pragma: no cover  (builtins)
        params = {}
    validate(where) if "where" in params else validate()


def _type_name(hint: Any) -> str:
    names = {int: "an integer", float: "a float", str: "a string", bool: "a boolean (true/false)",
             list: "a list", dict: "a mapping", tuple: "a list"}
    if hint in names:
        return names[hint]
    origin = typing.get_origin(hint)
    if origin in (list, tuple, set, frozenset):
        return "a list"
    if origin is dict or origin is Mapping:
        return "a mapping"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if dataclasses.is_dataclass(hint):
        return f"a mapping ({hint.__name__})"
    return getattr(hint, "__name__", str(hint))


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked against ``hint``; ints are accepted where floats are expected (as YAML writes
    ``1`` for ``1.0``), sequences (lists, tuples, OmegaConf ListConfig) become lists, nested dataclasses are
    built."""
    if hint is Any or hint is object:
        return value
    if _is_union(hint):
        args = typing.get_args(hint)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in args)}, got null")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        allowed = " or ".join(_type_name(a) for a in args if a is not type(None))
        raise ConfigError(f"{where}: expected {allowed}, got {value!r} ({type(value).__name__})")
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if value is None:
            raise ConfigError(f"{where}: expected {_type_name(hint)}, got null")
        return config_from_dict(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{where}: {value!r} is not allowed; allowed: "
                              f"{', '.join(repr(a) for a in typing.get_args(hint))}")
        return value
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}: expected a list, got {value!r} ({type(value).__name__})")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed-length tuple: element-wise
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
            return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        out = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r} ({type(value).__name__})")
        args = typing.get_args(hint)
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(vt, v, f"{where}.{k}") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected {_type_name(bool)}, got {value!r} ({type(value).__name__})")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r} ({type(value).__name__})")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a float, got {value!r} ({type(value).__name__})")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r} ({type(value).__name__})")
        return value
    return value
