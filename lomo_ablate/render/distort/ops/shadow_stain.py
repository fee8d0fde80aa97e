"""``shadow_stain``: with probability ``p_stain`` a ``stain`` (a soft tinted ellipse multiplied onto the page
like a coffee stain, opacity ``stain_opacity``), else a ``shadow`` (a darkening ramp from one edge of strength
``shadow_strength`` reaching ``shadow_extent`` of the image into it)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lomo_ablate.render.distort.registry import check_pair, check_probability, register_op, rounded, uniform


@dataclass
class ShadowStainParams:
    p_stain: float = 0.5  # within shadow_stain: stain vs edge shadow
    shadow_strength: tuple[float, float] = (0.25, 0.6)
    shadow_extent: tuple[float, float] = (0.2, 0.6)  # fraction of the image the shadow reaches into
    stain_opacity: tuple[float, float] = (0.15, 0.45)

    def validate(self, where: str) -> None:
        check_probability(where, "p_stain", self.p_stain)
        for key in ("shadow_strength", "shadow_extent", "stain_opacity"):
            check_pair(where, key, getattr(self, key))


@register_op("shadow_stain", params=ShadowStainParams, p=0.2, gray=True, order=30)
def shadow_stain(arr: np.ndarray, rng: np.random.Generator, c: ShadowStainParams):
    return _stain(arr, rng, c) if rng.random() < c.p_stain else _shadow(arr, rng, c)


def _shadow(arr: np.ndarray, rng: np.random.Generator, c: ShadowStainParams):
    h, w = arr.shape[:2]
    edge = ("left", "right", "top", "bottom")[int(rng.integers(4))]
    strength, extent = uniform(rng, c.shadow_strength), uniform(rng, c.shadow_extent)
    n = w if edge in ("left", "right") else h
    t = np.clip(np.arange(n, dtype=np.float32) / max(1.0, extent * n), 0.0, 1.0)  # 0 at the edge → 1 inside
    ramp = 1.0 - strength * (1.0 - t) ** 2
    if edge in ("right", "bottom"):
        ramp = ramp[::-1]
    factor = ramp[None, :] if edge in ("left", "right") else ramp[:, None]
    if arr.ndim == 3:
        factor = factor[:, :, None]
    out = (arr.astype(np.float32) * factor).astype(np.uint8)
    return out, "shadow", {"edge": edge, "strength": rounded(strength), "extent": rounded(extent)}


def _stain(arr: np.ndarray, rng: np.random.Generator, c: ShadowStainParams):
    h, w = arr.shape[:2]
    small = (max(4, w // 8), max(4, h // 8))
    cx, cy = uniform(rng, (0.1, 0.9)), uniform(rng, (0.1, 0.9))
    ax, ay = uniform(rng, (0.1, 0.35)), uniform(rng, (0.15, 0.6))
    angle = uniform(rng, (0.0, 180.0))
    opacity = uniform(rng, c.stain_opacity)
    tint = np.array([uniform(rng, (0.55, 0.85)), uniform(rng, (0.4, 0.7)), uniform(rng, (0.2, 0.5))],
                    np.float32)  # brownish
    mask = np.zeros((small[1], small[0]), np.float32)
    axes = (max(1, int(ax * small[0])), max(1, int(ay * small[1])))
    cv2.ellipse(mask, (int(cx * small[0]), int(cy * small[1])), axes, angle, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, min(axes) / 2))
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR) * opacity
    if arr.ndim == 2:  # a tinted stain needs colour: grey → RGB
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    factor = 1.0 - mask[:, :, None] * (1.0 - tint[None, None, :])
    out = (arr.astype(np.float32) * factor).astype(np.uint8)
    return out, "stain", {"center": [rounded(cx), rounded(cy)], "axes": [rounded(ax), rounded(ay)],
                          "angle": rounded(angle), "opacity": rounded(opacity), "tint": [rounded(x) for x in tint]}
