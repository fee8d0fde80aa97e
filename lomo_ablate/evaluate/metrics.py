"""Aggregation of scored predictions into metrics.json's ``scores``, ``categories``, ``overall`` and ``text_only``.

``overall`` is the paper's Table 1 Avg: the mean over the multimodal benchmarks only. The text-only
benchmarks (rows of category :data:`~lomo_ablate.contracts.TEXT_ONLY_GROUP`: MMLU-Pro, HumanEval,
LiveCodeBench, GSM8K, IFEval) have their own mean, ``text_only`` (the paper's Table 6 average), and their
own entry in ``categories``. ``overall_benchmarks`` names the benchmarks ``overall`` averages; a run with
text-only benchmarks only averages those in ``overall`` (there is nothing else to average) and says so there.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from lomo_ablate.contracts import TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks.categories import OTHER, split_text_only

__all__ = ["aggregate"]


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else float("nan")


def aggregate(rows: Sequence[dict], protocols: Sequence[str]) -> dict:
    """scores {bench: {protocol: acc}}, categories {cat: {protocol: acc}} (mean over benchmarks of the
    category's per-benchmark accuracy), overall {protocol: mean over the multimodal benchmarks} (macro
    average), overall_benchmarks [the benchmarks it averages], and text_only {protocol: mean over the
    text-only benchmarks} when the run has any."""
    by_bench: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_cat: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_bench[r["benchmark"]][r["protocol"]].append(r["score"])
        by_cat[(r["category"], r["benchmark"])][r["protocol"]].append(r["score"])
    scores = {b: {p: _mean(v[p]) for p in protocols if p in v} for b, v in by_bench.items()}
    cats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (cat, _), v in by_cat.items():
        for p in protocols:
            if p in v:
                cats[cat][p].append(_mean(v[p]))
    categories = {c: {p: _mean(v[p]) for p in protocols if p in v} for c, v in sorted(cats.items())}
    cats_of: dict[str, set[str]] = defaultdict(set)
    for cat, bench in by_cat:
        cats_of[bench].add(cat)
    # the split is categories.split_text_only's, by the rows' own categories (the probe's are per task)
    group_of = {b: TEXT_ONLY_GROUP if cats_of[b] == {TEXT_ONLY_GROUP} else OTHER for b in scores}
    multimodal, text = (list(part) for part in split_text_only(scores, group_of))
    multimodal = multimodal or text  # only text-only benchmarks: overall is theirs (as overall_average)

    def mean_of(benches: Sequence[str]) -> dict[str, float]:
        return {p: _mean([scores[b][p] for b in benches if p in scores[b]]) for p in protocols}

    out = {"scores": scores, "categories": categories, "overall": mean_of(multimodal),
           "overall_benchmarks": sorted(multimodal)}
    if text:
        out["text_only"] = mean_of(text)
    return out
