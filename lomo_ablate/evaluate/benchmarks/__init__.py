"""Benchmark adapters: read a benchmark's local files, prompt, score; category averages.

    from lomo_ablate.evaluate.benchmarks import get_adapter
    adapter = get_adapter("mmmu", {"split": "validation"})
    items = adapter.load("data/MMMU/validation")          # parquet / arrow / jsonl / save_to_disk folder
    messages, images = adapter.build_prompt(items[0])     # role/content messages with <image> slots
    adapter.score("The answer is (B).", items[0])          # float in [0, 1]

One module per benchmark (``mmmu.py``, ``mathvista.py``, …, ``probe.py``), each registering its adapter and
category with :mod:`~lomo_ablate.evaluate.benchmarks.registry`; every module here is imported on first use,
so :data:`REGISTRY`, :data:`CATEGORIES` and :data:`THIN` are read from the registry. See
docs/evaluate_metrics.md for each benchmark's columns and scoring, docs/extending.md to add one.
"""
from __future__ import annotations

from typing import Any

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.evaluate.benchmarks.base import Adapter, AdapterConfig, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.categories import (GROUPS, TEXT_ONLY, category_averages, category_of, overall_average,
                                                        text_only_average)
from lomo_ablate.evaluate.benchmarks.records import DataFileError, ImageRef, iter_records, open_image
from lomo_ablate.evaluate.benchmarks import registry as _registry
from lomo_ablate.evaluate.benchmarks.registry import get_adapter, register, register_thin

def __getattr__(name: str) -> Any:
    """``REGISTRY`` (name -> adapter factory), ``CATEGORIES`` (name -> paper group) and ``THIN`` (names of
    the generic column-configured adapters), read from the registry. Adapter classes are imported from their
    benchmark's module (``from lomo_ablate.evaluate.benchmarks.mmmu import MMMUAdapter``)."""
    if name == "REGISTRY":
        return {n: b.factory for n, b in _registry.benchmarks().items()}
    if name == "CATEGORIES":
        return _registry.categories()
    if name == "THIN":
        return _registry.thin_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Adapter", "AdapterConfig", "BenchmarkFormatError", "DataFileError", "Item", "ImageRef", "IMAGE_SLOT",
           "REGISTRY", "THIN", "CATEGORIES", "GROUPS", "TEXT_ONLY", "get_adapter", "register", "register_thin",
           "category_averages", "category_of", "overall_average", "text_only_average", "iter_records", "open_image"]
