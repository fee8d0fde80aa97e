"""Mixing the text-only and multimodal pools: which records, how many copies, which get rewritten.

- Selection is *systematic*: to take ``n`` of ``N`` records, record ``i`` (0-based) is taken
  ``floor((i+1)·n/N) − floor(i·n/N)`` times. That gives exactly ``n`` instances, spread evenly over the file,
  in one streaming pass with O(1) memory, and upsamples (copies ≥ 2) when ``n > N``.
- Rewriting is a Bernoulli draw from a hash of (seed, source, line, copy): a pure function of the record,
  so the same records are rewritten whatever the worker count or shard size.
- ``image_text_ratio`` (e.g. 1:1, image fraction f) solves for the multimodal count ``m`` in
  ``(m + r·(S − m)) / S = f`` → ``m = S·(f − r)/(1 − r)``, clipped to ``[0, S]`` (with a warning when the
  target cannot be met, e.g. ``rewrite_ratio > f``).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from lomo_ablate.curate.config import MixConfig


def copies(i: int, pool_size: int, selected: int) -> int:
    """How many instances of record ``i`` (0-based) of a pool of ``pool_size`` a selection of ``selected``
    takes (systematic sampling; sums to ``selected`` over the pool)."""
    if pool_size <= 0:
        return 0
    return (i + 1) * selected // pool_size - i * selected // pool_size


def unit_hash(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts (sha256; stable across processes and platforms)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def should_rewrite(seed: int, source: str, line: int, copy: int, ratio: float) -> bool:
    """Whether this text-only instance is rendered; a deterministic function of (seed, record, copy)."""
    return unit_hash("rewrite", seed, source, line, copy) < ratio


@dataclass
class MixPlan:
    """Pool sizes, how many instances are taken from each, and the image-bearing fraction to expect."""

    text_pool: int
    multimodal_pool: int
    text_selected: int
    multimodal_selected: int
    rewrite_ratio: float
    target_image_fraction: float | None
    expected_image_fraction: float
    warning: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def plan_mix(text_pool: int, multimodal_pool: int, mix: MixConfig) -> MixPlan:
    """Counts for each pool under ``mix`` (see the module doc)."""
    total_pool = text_pool + multimodal_pool
    if total_pool == 0:
        raise ValueError("both input pools are empty: nothing to curate")
    r, f = mix.rewrite_ratio, mix.image_fraction
    S = mix.scale if mix.scale is not None else total_pool
    warning = None
    if f is None or multimodal_pool == 0 or text_pool == 0:
        if f is not None:
            warning = (f"image_text_ratio={mix.image_text_ratio!r} needs both pools; "
                       f"keeping the original proportions")
        n_text = round(S * text_pool / total_pool)
    else:
        if r >= 1.0:
            m = S * multimodal_pool / total_pool
            warning = "rewrite_ratio=1 leaves no text-only instances; the image:text target cannot be met"
        else:
            m = S * (f - r) / (1.0 - r)
            if m < 0:
                warning = (f"rewrite_ratio={r} alone already exceeds the image fraction {f:.3f} of "
                           f"image_text_ratio={mix.image_text_ratio!r}; taking no multimodal instances")
            m = min(max(m, 0.0), float(S))
        n_text = S - round(m)
    n_mm = S - n_text
    expected = (n_mm + r * n_text) / S
    return MixPlan(text_pool, multimodal_pool, n_text, n_mm, r, f, round(expected, 6), warning)
