"""Mixing the text-only and multimodal pools: which records, how many copies, which get rewritten.

- Selection is *systematic*: to take ``n`` of ``N`` records, record ``i`` (0-based) is taken
  ``floor((i+1)·n/N) − floor(i·n/N)`` times. That gives exactly ``n`` instances, spread evenly over the file,
  in one streaming pass with O(1) memory, and upsamples (copies ≥ 2) when ``n > N``.
- Rewriting is a Bernoulli draw from a hash of (seed, source, line, copy): a pure function of the record,
  so the same records are rewritten whatever the worker count or shard size.
- ``image_text_ratio`` (e.g. 1:1, image fraction f) is the paper's *matched control* (Table 5): it keeps the
  number of rewritten instances of the original mix and resamples the pools so that image-bearing :
  text-only = f : (1 − f) at the same total S. With T, M the pool sizes, r the rewrite ratio and p the
  fraction of multimodal records that bear an image (:func:`estimate_image_fraction`; LLaVA-OneVision has
  text-only subsets):

      R  = r · S·T/(T + M)          rewritten instances of the original mix (kept)
      m  = (f·S − R) / p            multimodal instances, clipped to [0, S − R]
      S − m                         text-pool instances, of which a fraction r' = R / (S − m) is rewritten

  so image-bearing = R + p·m = f·S. When the rewritten instances alone exceed f·S, m = 0 (warning).
  The manifest's ``realised_image_fraction`` is counted from what was written.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    """Pool sizes, how many instances are taken from each, and the image-bearing fraction to expect.
    ``text_rewrite_ratio``: the rewrite probability applied to text-pool instances (``rewrite_ratio`` in the
    original mix; ``R / text_selected`` in the matched control)."""

    text_pool: int
    multimodal_pool: int
    text_selected: int
    multimodal_selected: int
    rewrite_ratio: float
    target_image_fraction: float | None
    expected_image_fraction: float
    warning: str | None = None
    text_rewrite_ratio: float = 0.0
    multimodal_image_fraction: float | None = None
    rewritten_expected: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def plan_mix(text_pool: int, multimodal_pool: int, mix: MixConfig,
             multimodal_image_fraction: float | None = None) -> MixPlan:
    """Counts for each pool under ``mix`` (see the module doc). ``multimodal_image_fraction``: p, the share
    of multimodal records with an image (None: 1)."""
    total_pool = text_pool + multimodal_pool
    if total_pool == 0:
        raise ValueError("both input pools are empty: nothing to curate")
    r, f = mix.rewrite_ratio, mix.image_fraction
    S = mix.scale if mix.scale is not None else total_pool
    p = 1.0 if multimodal_image_fraction is None else float(multimodal_image_fraction)
    warning = None
    n_text = round(S * text_pool / total_pool)
    R = r * n_text
    r_text = r
    if f is not None and (multimodal_pool == 0 or text_pool == 0):
        warning = f"image_text_ratio={mix.image_text_ratio!r} needs both pools; keeping the original proportions"
    elif f is not None:
        if p <= 0:
            warning = "no multimodal record bears an image; the image:text target cannot be met"
            m = 0.0
        else:
            m = (f * S - R) / p
            if m < 0:
                warning = (f"the rewritten instances of the original mix ({R:.0f}) alone exceeds the image fraction "
                           f"{f:.3f} of image_text_ratio={mix.image_text_ratio!r}; taking no multimodal instances")
            m = min(max(m, 0.0), S - R)
        n_text = S - round(m)
        r_text = min(1.0, R / n_text) if n_text else 0.0
    n_mm = S - n_text
    expected = (p * n_mm + r_text * n_text) / S
    return MixPlan(text_pool, multimodal_pool, n_text, n_mm, r, f, round(expected, 6), warning,
                   round(r_text, 12), multimodal_image_fraction, round(r_text * n_text, 3))


def _bears_image(raw: bytes) -> bool:
    try:
        obj = json.loads(raw)
    except Exception:  # noqa: BLE001 - a bad line bears no image
        return False
    if not isinstance(obj, dict):
        return False
    for key in ("images", "image"):
        if obj.get(key):
            return True
    turns = obj.get("messages") or obj.get("conversations")
    for t in turns if isinstance(turns, list) else []:
        parts = t.get("content") if isinstance(t, dict) else None
        if isinstance(parts, list) and any(isinstance(x, dict) and x.get("type") in ("image", "image_url",
                                                                                      "input_image") for x in parts):
            return True
    return False


def estimate_image_fraction(path: Path, index: Any, full_below: int = 4096) -> float | None:
    """p: the fraction of a pool's records that bear an image — every record of a pool under ``full_below``
    records, else the first record of every shard (spread evenly over the file)."""
    from lomo_ablate.curate.io import read_lines

    if index.records == 0:
        return None
    if index.records < full_below:
        lines = [raw for _, raw in read_lines(path, 0, 1, index.records)]
    else:
        lines = [raw for off, ln, _ in index.shard_starts for _, raw in read_lines(path, off, ln, 1)]
    return sum(map(_bears_image, lines)) / len(lines) if lines else None
