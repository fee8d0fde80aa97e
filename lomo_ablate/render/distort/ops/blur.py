"""``blur``: Gaussian (``gaussian_sigma``), box (``box_kernel``) or motion (a short line kernel of
``motion_length`` px at a random angle via ``cv2.filter2D``; kernels stay small so this stays fast), the kind
drawn uniformly from ``blur_kinds``."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lomo_ablate.render.distort.registry import check_pair, register_op, rounded, uniform
from lomo_ablate.utils.config import ConfigError

KINDS = ("gaussian", "box", "motion")


@dataclass
class BlurParams:
    blur_kinds: tuple[str, ...] = KINDS
    gaussian_sigma: tuple[float, float] = (0.6, 1.6)
    box_kernel: tuple[int, int] = (2, 4)
    motion_length: tuple[int, int] = (3, 7)  # px; kept small so filter2D stays fast

    def validate(self, where: str) -> None:
        for key in ("gaussian_sigma", "box_kernel", "motion_length"):
            check_pair(where, key, getattr(self, key))
        if self.motion_length[1] > 15:
            raise ConfigError(f"{where}.motion_length={self.motion_length!r} must stay <= 15 px (filter2D cost "
                              "grows with the kernel area)")
        if not self.blur_kinds or any(k not in KINDS for k in self.blur_kinds):
            raise ConfigError(f"{where}.blur_kinds={self.blur_kinds!r} must list some of {', '.join(KINDS)}")


@register_op("blur", params=BlurParams, p=0.2, gray=True, order=20)
def blur(arr: np.ndarray, rng: np.random.Generator, c: BlurParams):
    kind = c.blur_kinds[int(rng.integers(len(c.blur_kinds)))]
    if kind == "gaussian":
        sigma = uniform(rng, c.gaussian_sigma)
        k = 2 * int(np.ceil(2.5 * sigma)) + 1
        return cv2.GaussianBlur(arr, (k, k), sigma), "blur", {"kind": kind, "sigma": rounded(sigma), "kernel": k}
    if kind == "box":
        k = int(rng.integers(c.box_kernel[0], c.box_kernel[1] + 1))
        k = max(k, 2)
        return cv2.blur(arr, (k, k)), "blur", {"kind": kind, "kernel": k}
    length = int(rng.integers(c.motion_length[0], c.motion_length[1] + 1))
    length = max(length, 2)
    angle = uniform(rng, (0.0, 180.0))
    kern = np.zeros((length, length), np.float32)
    mid = (length - 1) / 2
    dx, dy = np.cos(np.radians(angle)) * mid, np.sin(np.radians(angle)) * mid
    p0 = (int(round(mid - dx)), int(round(mid - dy)))
    p1 = (int(round(mid + dx)), int(round(mid + dy)))
    cv2.line(kern, p0, p1, 1.0, 1)
    kern /= kern.sum()
    out = cv2.filter2D(arr, -1, kern, borderType=cv2.BORDER_REPLICATE)
    return out, "blur", {"kind": kind, "kernel": length, "angle": rounded(angle)}
