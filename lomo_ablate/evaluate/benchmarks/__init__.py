"""Benchmark adapters: read a benchmark's local files, prompt, score; category averages.

    from lomo_ablate.evaluate.benchmarks import get_adapter
    adapter = get_adapter("mmmu", {"split": "validation"})
    items = adapter.load("data/MMMU/validation")          # parquet / arrow / jsonl / save_to_disk folder
    messages, images = adapter.build_prompt(items[0])     # role/content messages with <image> slots
    adapter.score("The answer is (B).", items[0])          # float in [0, 1]

See docs/evaluate_metrics.md for each benchmark's columns and scoring.
"""
from __future__ import annotations

from typing import Callable

from lomo_ablate.evaluate.benchmarks.adapters import (CountBenchAdapter, DocVQAAdapter, GenericMCAdapter,
                                                      GenericMCConfig, GSM8KAdapter, HallusionBenchAdapter,
                                                      IFEvalAdapter, IFEvalConfig, MathVistaAdapter,
                                                      MMMUAdapter, MMMUProAdapter, ShortAnswerAdapter,
                                                      ShortAnswerConfig, make_thin, thin_configs)
from lomo_ablate.evaluate.benchmarks.base import (IMAGE_SLOT, Adapter, AdapterConfig, BenchmarkFormatError,
                                                  Item)
from lomo_ablate.evaluate.benchmarks.categories import (CATEGORIES, GROUPS, category_averages, category_of,
                                                        overall_average)
from lomo_ablate.evaluate.benchmarks.records import DataFileError, ImageRef, iter_records, open_image

#: benchmark name → factory(config dict or None) → Adapter
REGISTRY: dict[str, Callable[[dict | None], Adapter]] = {
    "mmmu": MMMUAdapter,
    "mmmu_pro": MMMUProAdapter,
    "mathvista": MathVistaAdapter,
    "docvqa": DocVQAAdapter,
    "hallusionbench": HallusionBenchAdapter,
    "countbench": CountBenchAdapter,
    "gsm8k": GSM8KAdapter,
    "ifeval": IFEvalAdapter,
}
for _name in thin_configs():
    REGISTRY[_name] = (lambda n: (lambda config=None: make_thin(n, config)))(_name)

#: adapters that are a generic MC / short-answer adapter configured by column names
THIN = tuple(thin_configs())


def get_adapter(name: str, config: dict | AdapterConfig | None = None) -> Adapter:
    """A new adapter for benchmark ``name`` (case-insensitive); ``config`` holds its options
    (:class:`AdapterConfig` keys, plus column names for the thin ones)."""
    key = name.lower()
    if key not in REGISTRY:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key](config)


__all__ = ["Adapter", "AdapterConfig", "BenchmarkFormatError", "DataFileError", "Item", "ImageRef", "IMAGE_SLOT",
           "REGISTRY", "THIN", "CATEGORIES", "GROUPS", "get_adapter", "category_averages", "category_of",
           "overall_average", "iter_records", "open_image", "MMMUAdapter", "MMMUProAdapter", "MathVistaAdapter",
           "DocVQAAdapter", "HallusionBenchAdapter", "CountBenchAdapter", "GSM8KAdapter", "IFEvalAdapter",
           "IFEvalConfig", "GenericMCAdapter", "GenericMCConfig", "ShortAnswerAdapter", "ShortAnswerConfig"]
