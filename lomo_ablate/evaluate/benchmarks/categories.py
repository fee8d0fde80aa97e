"""The LoMo paper's six benchmark groups and category averages.

The paper reports results in six groups. Each benchmark module registers its group with the benchmark
(``@register(name, category=...)`` in :mod:`~lomo_ablate.evaluate.benchmarks.registry`), so the table
:data:`CATEGORIES` (benchmark -> group) is read from the registry, never kept by hand. The assignment is our
reading of the paper's grouping (MMMU/MMMU-Pro as reasoning, MathVista/ZeroBench/WeMath as math,
HallusionBench/SimpleVQA as factuality, IFEval as instruction following, DocVQA as document & OCR, CountBench
as perception); pass ``categories=`` to :func:`category_averages` to use another mapping.
"""
from __future__ import annotations

from typing import Any, Mapping

__all__ = ["GROUPS", "CATEGORIES", "OTHER", "category_of", "category_averages", "overall_average"]

GROUPS = ("Reasoning", "Math", "Factuality", "Instruction following", "Document & OCR", "Visual perception")
OTHER = "Other"


def __getattr__(name: str) -> Any:
    if name == "CATEGORIES":  # benchmark -> group, from the registry (a fresh copy each time)
        from lomo_ablate.evaluate.benchmarks.registry import categories

        return categories()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def category_of(benchmark: str, categories: Mapping[str, str] | None = None) -> str:
    """The group of ``benchmark`` (case-insensitive); :data:`OTHER` for a benchmark the map lacks."""
    from lomo_ablate.evaluate.benchmarks.registry import categories as registered

    table = {k.lower(): v for k, v in (categories or registered()).items()}
    return table.get(benchmark.lower(), OTHER)


def category_averages(scores: Mapping[str, float | Mapping[str, float]],
                      categories: Mapping[str, str] | None = None) -> dict:
    """Unweighted mean of benchmark scores per group.

    ``scores`` is either ``{bench: acc}`` → ``{group: acc}``, or metrics.json's ``{bench: {protocol: acc}}``
    → ``{group: {protocol: acc}}`` (a protocol's group mean over the benchmarks that have it). Groups with
    no benchmark are left out; benchmarks the map lacks are averaged under ``"Other"`` (never dropped).
    Groups come out in the paper's order, then ``"Other"``.
    """
    grouped: dict[str, list] = {}
    for bench, value in scores.items():
        grouped.setdefault(category_of(bench, categories), []).append(value)
    order = [g for g in (*GROUPS, OTHER) if g in grouped] + sorted(set(grouped) - {*GROUPS, OTHER})
    out: dict = {}
    for group in order:
        values = grouped[group]
        if all(isinstance(v, Mapping) for v in values):
            per_protocol: dict[str, list[float]] = {}
            for v in values:
                for protocol, acc in v.items():
                    per_protocol.setdefault(protocol, []).append(float(acc))
            out[group] = {p: sum(a) / len(a) for p, a in per_protocol.items()}
        elif any(isinstance(v, Mapping) for v in values):
            raise ValueError(f"category_averages: group {group!r} mixes plain scores and per-protocol dicts")
        else:
            out[group] = sum(float(v) for v in values) / len(values)
    return out


def overall_average(scores: Mapping[str, float | Mapping[str, float]]) -> float | dict[str, float]:
    """Unweighted mean over benchmarks (per protocol for ``{bench: {protocol: acc}}`` input)."""
    values = list(scores.values())
    if not values:
        raise ValueError("overall_average: no scores")
    if all(isinstance(v, Mapping) for v in values):
        per: dict[str, list[float]] = {}
        for v in values:
            for p, acc in v.items():
                per.setdefault(p, []).append(float(acc))
        return {p: sum(a) / len(a) for p, a in per.items()}
    return sum(float(v) for v in values) / len(values)
