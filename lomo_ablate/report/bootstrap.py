"""Paired bootstrap confidence intervals on a difference of accuracies.

Both arms are scored on the same items; an item's score in an arm is the mean over that arm's seeds (so
seed noise is averaged before items are resampled). The statistic is the mean over items of
``score_arm - score_baseline``, the Δ of the two accuracies, or, for an average over benchmarks, the mean
over benchmarks of that (items resampled within their benchmark). Resampling items (with replacement) jointly
for both arms keeps each item's pair together, which is what makes the interval paired.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Hashable, Mapping, Sequence

import numpy as np

from lomo_ablate.utils import stable_hash


@dataclasses.dataclass(frozen=True)
class DeltaCI:
    """Δ = mean(arm) − mean(baseline) over ``n`` paired items, with a percentile interval."""

    delta: float
    lo: float
    hi: float
    n: int
    confidence: float = 0.95
    resamples: int = 1000

    @property
    def within_noise(self) -> bool:
        """True when the interval contains 0: the Δ could be noise."""
        return self.lo <= 0.0 <= self.hi

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "within_noise": self.within_noise}


def average_over_seeds(runs: Sequence[Mapping[Hashable, float]]) -> dict[Hashable, float]:
    """``[{item: score}, ...]`` (one dict per seed) -> ``{item: mean score over the seeds that have it}``."""
    total: dict[Hashable, float] = {}
    count: dict[Hashable, int] = {}
    for run in runs:
        for item, score in run.items():
            total[item] = total.get(item, 0.0) + float(score)
            count[item] = count.get(item, 0) + 1
    return {item: total[item] / count[item] for item in total}


def paired_bootstrap(baseline: Mapping[Hashable, float], arm: Mapping[Hashable, float], *,
                     strata: Callable[[Hashable], Hashable] | None = None, resamples: int = 1000,
                     confidence: float = 0.95, seed: int | str = 0, chunk: int = 250) -> DeltaCI | None:
    """Paired bootstrap of ``mean(arm) − mean(baseline)`` over the items both arms scored.

    With ``strata`` (item -> group, e.g. its benchmark), the statistic is the *macro* mean, the mean over
    groups of each group's mean difference, and items are resampled within their group: this matches an
    accuracy averaged over benchmarks, as evaluate's ``overall`` and ``categories`` are.
    ``seed`` makes the result reproducible (any hashable; strings are hashed), independent of the order in
    which intervals are computed. Returns None when the arms share no item."""
    items = sorted(set(baseline) & set(arm), key=repr)
    if not items:
        return None
    groups: dict[Hashable, list[float]] = {}
    for i in items:
        groups.setdefault(strata(i) if strata else None, []).append(float(arm[i]) - float(baseline[i]))
    return bootstrap_macro([np.asarray(g) for _, g in sorted(groups.items(), key=lambda kv: repr(kv[0]))],
                           resamples=resamples, confidence=confidence, seed=seed, chunk=chunk)


def bootstrap_mean(d: np.ndarray, *, resamples: int = 1000, confidence: float = 0.95, seed: int | str = 0,
                   chunk: int = 250) -> DeltaCI:
    """Percentile bootstrap interval of ``mean(d)`` for per-item paired differences ``d``."""
    return bootstrap_macro([np.asarray(d, dtype=np.float64)], resamples=resamples, confidence=confidence,
                           seed=seed, chunk=chunk)


def bootstrap_macro(groups: Sequence[np.ndarray], *, resamples: int = 1000, confidence: float = 0.95,
                    seed: int | str = 0, chunk: int = 250) -> DeltaCI:
    """Percentile bootstrap interval of the mean over groups of each group's mean, resampling items with
    replacement within each group (stratified); one group is the plain mean."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be ≥ 1, got {resamples}")
    groups = [np.asarray(g, dtype=np.float64) for g in groups if len(g)]
    if not groups:
        raise ValueError("bootstrap_macro: no items")
    rng = np.random.default_rng(int(stable_hash(seed)[:16], 16) if isinstance(seed, str) else seed)
    means = np.zeros(resamples, dtype=np.float64)
    for d in groups:
        n = d.size
        for start in range(0, resamples, chunk):
            stop = min(start + chunk, resamples)
            means[start:stop] += d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    means /= len(groups)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    delta = float(np.mean([d.mean() for d in groups]))
    return DeltaCI(delta=delta, lo=float(lo), hi=float(hi), n=int(sum(d.size for d in groups)),
                   confidence=confidence, resamples=resamples)
