"""``rotate``: a small angle (|a| <= ``small_angle_max``) or, with probability ``p_large_angle``, a large one
(``large_angle_min``..``large_angle_max``); the canvas expands so nothing is cut, corners take the background
colour (the image's top-left pixel)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lomo_ablate.render.distort.registry import check_probability, register_op, rounded, uniform
from lomo_ablate.utils.config import ConfigError


@dataclass
class RotateParams:
    small_angle_max: float = 4.0  # degrees
    p_large_angle: float = 0.25  # share of rotations that are large
    large_angle_min: float = 10.0
    large_angle_max: float = 45.0

    def validate(self, where: str) -> None:
        check_probability(where, "p_large_angle", self.p_large_angle)
        if not 0 <= self.small_angle_max <= self.large_angle_min <= self.large_angle_max <= 180:
            raise ConfigError(f"{where}: need 0 <= small_angle_max <= large_angle_min <= large_angle_max <= 180")


@register_op("rotate", params=RotateParams, p=0.2, gray=True, order=10)
def rotate(arr: np.ndarray, rng: np.random.Generator, c: RotateParams):
    large = bool(rng.random() < c.p_large_angle)
    mag = uniform(rng, (c.large_angle_min, c.large_angle_max)) if large else uniform(rng, (0.3, c.small_angle_max))
    angle = mag if rng.random() < 0.5 else -mag
    h, w = arr.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    fill = tuple(int(v) for v in np.atleast_1d(arr[0, 0]))  # RGB, or one grey level
    out = cv2.warpAffine(arr, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=fill)
    return out, "rotate", {"angle": rounded(angle), "large": large}
