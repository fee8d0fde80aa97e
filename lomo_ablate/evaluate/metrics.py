"""Aggregation of scored predictions into metrics.json's ``scores``, ``categories`` and ``overall``."""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

__all__ = ["aggregate"]


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else float("nan")


def aggregate(rows: Sequence[dict], protocols: Sequence[str]) -> dict:
    """scores {bench: {protocol: acc}}, categories {cat: {protocol: acc}} (mean over benchmarks of the
    category's per-benchmark accuracy), overall {protocol: mean over benchmarks} (macro average)."""
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
    overall = {p: _mean([s[p] for s in scores.values() if p in s]) for p in protocols}
    return {"scores": scores, "categories": categories, "overall": overall}
