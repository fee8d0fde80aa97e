"""The benchmark registry: every benchmark is one module of this package that registers itself here.

    @register("countbench", category="Visual perception")
    class CountBenchAdapter(SimplePromptMixin, Adapter): ...

    register_thin("simplevqa", "Factuality", ShortAnswerAdapter, id_keys=["data_id", "id"])

``register`` sets the class's ``name`` and ``category`` (defined once, here); ``register_thin`` registers a
generic adapter configured by column names. Every module of ``lomo_ablate.evaluate.benchmarks`` is imported
on the first lookup (:func:`discover`), so a new benchmark module needs no edit anywhere else: the name is
known to ``get_adapter`` and to ``EvalConfig``, and its category joins the category table
(:func:`categories`) that metrics and reports group by. See docs/extending.md "Add a benchmark".
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Benchmark", "register", "register_thin", "discover", "benchmarks", "lookup", "get_adapter",
           "categories", "thin_names"]


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark.

    ``category``: its paper group (``categories.GROUPS``); None when its items carry their own category
    (the probe suite: one per task). ``factory(options)`` builds a fresh adapter. ``spec_keys``: the
    ``eval.benchmarks[]`` keys its adapter config takes as they are (the probe suite: ``n``, ``seed``,
    ``tasks``); otherwise ``n`` caps the items read (``limit``). ``needs_path``: it reads local files.
    ``thin``: a generic adapter configured by column names.
    """

    name: str
    category: str | None
    factory: Callable[[Any], Any]
    spec_keys: tuple[str, ...] = ()
    needs_path: bool = True
    thin: bool = False


_BENCHMARKS: dict[str, Benchmark] = {}
_discovered = False


def _add(entry: Benchmark) -> None:
    if entry.name != entry.name.lower():
        raise ValueError(f"benchmark names are lower case, got {entry.name!r}")
    if entry.name in _BENCHMARKS:
        raise ValueError(f"benchmark {entry.name!r} registered twice ({_BENCHMARKS[entry.name].factory} and "
                         f"{entry.factory})")
    _BENCHMARKS[entry.name] = entry


def register(name: str, category: str | None, *, spec_keys: tuple[str, ...] = (),
             needs_path: bool = True) -> Callable[[type], type]:
    """Class decorator: register an Adapter subclass as benchmark ``name`` of ``category`` (sets the class's
    ``name``, and its ``category`` unless None)."""

    def deco(cls: type) -> type:
        cls.name = name
        if category is not None:
            cls.category = category
        _add(Benchmark(name, category, cls, tuple(spec_keys), needs_path))
        return cls

    return deco


def register_thin(name: str, category: str, adapter_cls: type, **columns: Any) -> Benchmark:
    """Register a generic adapter (``GenericMCAdapter`` / ``ShortAnswerAdapter``) with its column settings;
    a benchmark's ``options`` override any of them."""

    def factory(options: dict | None = None) -> Any:
        return adapter_cls({"name": name, "category": category, **columns, **dict(options or {})})

    factory.__qualname__ = f"register_thin({name!r})"
    entry = Benchmark(name, category, factory, thin=True)
    _add(entry)
    return entry


def discover() -> None:
    """Import every module of this package once (each registers its benchmarks)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = __name__.rpartition(".")[0]
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def benchmarks() -> dict[str, Benchmark]:
    """All registered benchmarks by name (sorted)."""
    discover()
    return dict(sorted(_BENCHMARKS.items()))


def lookup(name: str) -> Benchmark:
    """The benchmark ``name`` (case-insensitive); KeyError naming the known ones."""
    discover()
    key = str(name).lower()
    if key not in _BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_BENCHMARKS))}")
    return _BENCHMARKS[key]


def get_adapter(name: str, config: Any = None) -> Any:
    """A new adapter for benchmark ``name`` (case-insensitive); ``config`` holds its options
    (:class:`~lomo_ablate.evaluate.benchmarks.base.AdapterConfig` keys, plus column names for the thin ones)."""
    return lookup(name).factory(config)


def categories() -> dict[str, str]:
    """benchmark name -> paper group, for every registered benchmark that has one."""
    return {n: b.category for n, b in benchmarks().items() if b.category is not None}


def thin_names() -> tuple[str, ...]:
    """Names of the benchmarks that are a generic adapter configured by column names."""
    return tuple(n for n, b in benchmarks().items() if b.thin)
