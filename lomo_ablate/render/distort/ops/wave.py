"""``wave``: a smooth sinusoidal displacement field (``cv2.remap``), as of folded paper or a warped scan:
amplitude ``wave_amplitude`` px and wavelength ``wave_length`` px per axis, random phases."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lomo_ablate.render.distort.registry import check_pair, register_op, rounded, uniform


@dataclass
class WaveParams:
    wave_amplitude: tuple[float, float] = (1.0, 4.0)  # px
    wave_length: tuple[float, float] = (40.0, 160.0)  # px

    def validate(self, where: str) -> None:
        for key in ("wave_amplitude", "wave_length"):
            check_pair(where, key, getattr(self, key))


@register_op("wave", params=WaveParams, p=0.2, gray=True, order=40)
def wave(arr: np.ndarray, rng: np.random.Generator, c: WaveParams):
    h, w = arr.shape[:2]
    ax, ay = uniform(rng, c.wave_amplitude), uniform(rng, c.wave_amplitude)
    lx, ly = uniform(rng, c.wave_length), uniform(rng, c.wave_length)
    px, py = uniform(rng, (0.0, 2 * np.pi)), uniform(rng, (0.0, 2 * np.pi))
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    map_x = xs[None, :] + ax * np.sin(2 * np.pi * ys[:, None] / ly + px).astype(np.float32)
    map_y = ys[:, None] + ay * np.sin(2 * np.pi * xs[None, :] / lx + py).astype(np.float32)
    out = cv2.remap(arr, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out, "wave", {"amplitude": [rounded(ax), rounded(ay)], "wavelength": [rounded(lx), rounded(ly)],
                         "phase": [rounded(px), rounded(py)]}
