"""The LoMo paper's six multimodal benchmark groups, its text-only group, and their averages.

The paper reports its multimodal results in six groups (Table 1, whose Avg is over the multimodal
benchmarks only) and its text-only benchmarks apart (Table 6: MMLU-Pro, HumanEval, LiveCodeBench, GSM8K,
IFEval, with their own average): :data:`TEXT_ONLY` is that group, never one of :data:`GROUPS` and never in
:func:`overall_average` (:func:`text_only_average` is its mean). Each benchmark module registers its group with the benchmark
(``@register(name, category=...)`` in :mod:`~lomo_ablate.evaluate.benchmarks.registry`), so the table
:data:`CATEGORIES` (benchmark -> group) is read from the registry, never kept by hand. The assignment is our
reading of the paper's grouping (MMMU/MMMU-Pro as reasoning, MathVista/ZeroBench/WeMath as math,
HallusionBench/SimpleVQA as factuality, MM-IFEval as instruction following, DocVQA as document & OCR, CountBench
as perception; the five text-only benchmarks as :data:`TEXT_ONLY`); pass ``categories=`` to :func:`category_averages` to use another mapping.
"""
from __future__ import annotations

from typing import Any, Mapping

from lomo_ablate.contracts import TEXT_ONLY_GROUP

__all__ = ["GROUPS", "CATEGORIES", "OTHER", "TEXT_ONLY", "category_of", "category_averages", "overall_average",
           "text_only_average", "split_text_only"]

#: the paper's six multimodal groups, in its order
GROUPS = ("Reasoning", "Math", "Factuality", "Instruction following", "Document & OCR", "Visual perception")
#: the paper's text-only group (Table 6), reported after the six
TEXT_ONLY = TEXT_ONLY_GROUP
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
    Groups come out in the paper's order, then :data:`TEXT_ONLY`, then ``"Other"``.
    """
    grouped: dict[str, list] = {}
    for bench, value in scores.items():
        grouped.setdefault(category_of(bench, categories), []).append(value)
    order = [g for g in (*GROUPS, TEXT_ONLY, OTHER) if g in grouped] + sorted(set(grouped) - {*GROUPS, TEXT_ONLY, OTHER})
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


def split_text_only(scores: Mapping[str, Any], categories: Mapping[str, str] | None = None) -> tuple[dict, dict]:
    """``(multimodal, text_only)``: ``scores`` split by whether a benchmark's group is :data:`TEXT_ONLY`."""
    mm, text = {}, {}
    for bench, value in scores.items():
        (text if category_of(bench, categories) == TEXT_ONLY else mm)[bench] = value
    return mm, text


def _mean_over(scores: Mapping[str, float | Mapping[str, float]], what: str) -> float | dict[str, float]:
    values = list(scores.values())
    if not values:
        raise ValueError(f"{what}: no scores")
    if all(isinstance(v, Mapping) for v in values):
        per: dict[str, list[float]] = {}
        for v in values:
            for p, acc in v.items():
                per.setdefault(p, []).append(float(acc))
        return {p: sum(a) / len(a) for p, a in per.items()}
    return sum(float(v) for v in values) / len(values)


def overall_average(scores: Mapping[str, float | Mapping[str, float]],
                    categories: Mapping[str, str] | None = None) -> float | dict[str, float]:
    """Unweighted mean over the multimodal benchmarks (per protocol for ``{bench: {protocol: acc}}`` input):
    the paper's Table 1 Avg. Text-only benchmarks are left out (:func:`text_only_average`), unless ``scores``
    has no other benchmark (then there is nothing else to average; metrics.json's ``overall_benchmarks``
    says which were averaged)."""
    mm, text = split_text_only(scores, categories)
    return _mean_over(mm or text, "overall_average")


def text_only_average(scores: Mapping[str, float | Mapping[str, float]],
                      categories: Mapping[str, str] | None = None) -> float | dict[str, float]:
    """Unweighted mean over the text-only benchmarks of ``scores`` (the paper's Table 6 average)."""
    _, text = split_text_only(scores, categories)
    return _mean_over(text, "text_only_average")
