"""Perceptual distortion of rendered spans: one operation, sampled per image, or none.

Operations (OpenCV headless + numpy, each a few milliseconds on an 800×200 image):

* ``rotate`` — small angle (|a| <= ``small_angle_max``) or, with probability ``p_large_angle``, a large one
  (``large_angle_min``..``large_angle_max``); the canvas expands so nothing is cut, corners take the
  background colour (the image's top-left pixel).
* ``blur`` — Gaussian (sigma), box (kernel) or motion (a short line kernel at a random angle via
  ``cv2.filter2D``; kernels stay <= 7 px so this stays fast).
* ``shadow`` / ``stain`` (the shadow-or-stain family, ``p_stain`` picks stain) — a darkening ramp from one edge,
  or a soft tinted ellipse multiplied onto the page like a coffee stain.
* ``wave`` — a smooth sinusoidal displacement field (``cv2.remap``), as of folded paper or a warped scan.

Everything random comes from the ``numpy.random.Generator`` passed to :meth:`Distorter.apply`, so the same
generator state gives the same image and the same ``info``. ``DistortConfig(enabled=False)`` never distorts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Mapping

import cv2
import numpy as np
from PIL import Image
from lomo_ablate.utils.config import reject_unknown_keys

OPS = ("rotate", "blur", "shadow_stain", "wave")


class DistortConfigError(ValueError):
    """A distortion config key or value is wrong; the message names the key and what is allowed."""


@dataclass
class DistortConfig:
    """Probabilities (``p_none``, ``p_rotate``, ``p_blur``, ``p_shadow_stain``, ``p_wave``; normalised to sum
    to 1) and the ranges each operation samples from. ``max_side``: if set, an image grown by rotation is
    scaled back so neither side exceeds it."""

    enabled: bool = True
    p_none: float = 0.2
    p_rotate: float = 0.2
    p_blur: float = 0.2
    p_shadow_stain: float = 0.2
    p_wave: float = 0.2
    small_angle_max: float = 4.0
    p_large_angle: float = 0.25
    large_angle_min: float = 10.0
    large_angle_max: float = 45.0
    blur_kinds: tuple[str, ...] = ("gaussian", "box", "motion")
    gaussian_sigma: tuple[float, float] = (0.6, 1.6)
    box_kernel: tuple[int, int] = (2, 4)
    motion_length: tuple[int, int] = (3, 7)
    p_stain: float = 0.5
    shadow_strength: tuple[float, float] = (0.25, 0.6)
    shadow_extent: tuple[float, float] = (0.2, 0.6)
    stain_opacity: tuple[float, float] = (0.15, 0.45)
    wave_amplitude: tuple[float, float] = (1.0, 4.0)
    wave_length: tuple[float, float] = (40.0, 160.0)
    max_side: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "DistortConfig":
        """Builds and checks a config; unknown keys and bad values raise :class:`DistortConfigError`."""
        d = dict(d or {})
        reject_unknown_keys(cls, d, "curate.distort", DistortConfigError)
        for k, v in list(d.items()):
            if isinstance(v, Sequence) and not isinstance(v, str):  # lists from YAML/JSON, OmegaConf ListConfig
                d[k] = tuple(v)
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def err(key: str, msg: str) -> DistortConfigError:
            return DistortConfigError(f"curate.distort.{key}={getattr(self, key)!r} {msg}")

        self.enabled = bool(self.enabled)
        for k in ("p_none", "p_rotate", "p_blur", "p_shadow_stain", "p_wave", "p_large_angle", "p_stain"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise err(k, "must be a probability in [0, 1]")
            setattr(self, k, float(v))
        if self.enabled and sum(self.probabilities().values()) <= 0:
            raise DistortConfigError("curate.distort: p_none + p_rotate + p_blur + p_shadow_stain + p_wave is 0")
        for k in ("gaussian_sigma", "box_kernel", "motion_length", "shadow_strength", "shadow_extent",
                  "stain_opacity", "wave_amplitude", "wave_length"):
            v = getattr(self, k)
            if not (isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)
                    and 0 <= v[0] <= v[1]):
                raise err(k, "must be a [low, high] pair with 0 <= low <= high")
        if self.motion_length[1] > 15:
            raise err("motion_length", "must stay <= 15 px (filter2D cost grows with the kernel area)")
        bad = [k for k in self.blur_kinds if k not in ("gaussian", "box", "motion")]
        if bad or not self.blur_kinds:
            raise err("blur_kinds", "must list some of gaussian, box, motion")
        if not 0 <= self.small_angle_max <= self.large_angle_min <= self.large_angle_max <= 180:
            raise DistortConfigError("curate.distort: need 0 <= small_angle_max <= large_angle_min <= "
                                     "large_angle_max <= 180")
        if self.max_side is not None and (not isinstance(self.max_side, int) or self.max_side < 16):
            raise err("max_side", "must be null or an integer >= 16")

    def probabilities(self) -> dict[str, float]:
        """Operation → probability (normalised), ``"none"`` included."""
        raw = {"none": self.p_none, "rotate": self.p_rotate, "blur": self.p_blur,
               "shadow_stain": self.p_shadow_stain, "wave": self.p_wave}
        total = sum(raw.values())
        return {k: (v / total if total else 0.0) for k, v in raw.items()}


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _r(x: float) -> float:
    return round(float(x), 4)


class Distorter:
    """Applies at most one perceptual distortion per image (see the module doc)."""

    def __init__(self, cfg: DistortConfig | Mapping[str, Any] | None = None):
        if cfg is None or isinstance(cfg, Mapping):
            cfg = DistortConfig.from_dict(cfg)
        cfg.validate()
        self.cfg = cfg
        probs = cfg.probabilities()
        self._names = list(probs)
        self._cum = np.cumsum([probs[k] for k in self._names])

    def apply(self, image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict]:
        """Returns ``(image, {"op": ..., "params": {...}})``; ``op`` is ``none`` when nothing was done."""
        if not self.cfg.enabled:
            return image, {"op": "none", "params": {}}
        k = int(np.searchsorted(self._cum, rng.random() * self._cum[-1], side="right"))
        name = self._names[min(k, len(self._names) - 1)]
        if name == "none":
            return image, {"op": "none", "params": {}}
        arr = np.asarray(image.convert("RGB"))
        if name == "rotate":
            out, op, params = self._rotate(arr, rng)
        elif name == "blur":
            out, op, params = self._blur(arr, rng)
        elif name == "shadow_stain":
            out, op, params = self._stain(arr, rng) if rng.random() < self.cfg.p_stain else self._shadow(arr, rng)
        else:
            out, op, params = self._wave(arr, rng)
        result = Image.fromarray(np.ascontiguousarray(out), "RGB")
        ms = self.cfg.max_side
        if ms and max(result.size) > ms:
            s = ms / max(result.size)
            result = result.resize((max(1, int(result.width * s)), max(1, int(result.height * s))),
                                   Image.Resampling.BILINEAR)
            params["scaled"] = _r(s)
        return result, {"op": op, "params": params}

    # --- operations -------------------------------------------------------------------------------------------

    def _rotate(self, arr: np.ndarray, rng: np.random.Generator):
        c = self.cfg
        large = bool(rng.random() < c.p_large_angle)
        mag = _u(rng, (c.large_angle_min, c.large_angle_max)) if large else _u(rng, (0.3, c.small_angle_max))
        angle = mag if rng.random() < 0.5 else -mag
        h, w = arr.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        fill = tuple(int(v) for v in arr[0, 0])
        out = cv2.warpAffine(arr, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=fill)
        return out, "rotate", {"angle": _r(angle), "large": large}

    def _blur(self, arr: np.ndarray, rng: np.random.Generator):
        c = self.cfg
        kind = c.blur_kinds[int(rng.integers(len(c.blur_kinds)))]
        if kind == "gaussian":
            sigma = _u(rng, c.gaussian_sigma)
            k = 2 * int(np.ceil(2.5 * sigma)) + 1
            return cv2.GaussianBlur(arr, (k, k), sigma), "blur", {"kind": kind, "sigma": _r(sigma), "kernel": k}
        if kind == "box":
            k = int(rng.integers(c.box_kernel[0], c.box_kernel[1] + 1))
            k = max(k, 2)
            return cv2.blur(arr, (k, k)), "blur", {"kind": kind, "kernel": k}
        length = int(rng.integers(c.motion_length[0], c.motion_length[1] + 1))
        length = max(length, 2)
        angle = _u(rng, (0.0, 180.0))
        kern = np.zeros((length, length), np.float32)
        mid = (length - 1) / 2
        dx, dy = np.cos(np.radians(angle)) * mid, np.sin(np.radians(angle)) * mid
        p0 = (int(round(mid - dx)), int(round(mid - dy)))
        p1 = (int(round(mid + dx)), int(round(mid + dy)))
        cv2.line(kern, p0, p1, 1.0, 1)
        kern /= kern.sum()
        out = cv2.filter2D(arr, -1, kern, borderType=cv2.BORDER_REPLICATE)
        return out, "blur", {"kind": kind, "kernel": length, "angle": _r(angle)}

    def _shadow(self, arr: np.ndarray, rng: np.random.Generator):
        c = self.cfg
        h, w = arr.shape[:2]
        edge = ("left", "right", "top", "bottom")[int(rng.integers(4))]
        strength, extent = _u(rng, c.shadow_strength), _u(rng, c.shadow_extent)
        n = w if edge in ("left", "right") else h
        t = np.clip(np.arange(n, dtype=np.float32) / max(1.0, extent * n), 0.0, 1.0)  # 0 at the edge → 1 inside
        ramp = 1.0 - strength * (1.0 - t) ** 2
        if edge in ("right", "bottom"):
            ramp = ramp[::-1]
        factor = ramp[None, :, None] if edge in ("left", "right") else ramp[:, None, None]
        out = (arr.astype(np.float32) * factor).astype(np.uint8)
        return out, "shadow", {"edge": edge, "strength": _r(strength), "extent": _r(extent)}

    def _stain(self, arr: np.ndarray, rng: np.random.Generator):
        c = self.cfg
        h, w = arr.shape[:2]
        small = (max(4, w // 8), max(4, h // 8))
        cx, cy = _u(rng, (0.1, 0.9)), _u(rng, (0.1, 0.9))
        ax, ay = _u(rng, (0.1, 0.35)), _u(rng, (0.15, 0.6))
        angle = _u(rng, (0.0, 180.0))
        opacity = _u(rng, c.stain_opacity)
        tint = np.array([_u(rng, (0.55, 0.85)), _u(rng, (0.4, 0.7)), _u(rng, (0.2, 0.5))], np.float32)  # brownish
        mask = np.zeros((small[1], small[0]), np.float32)
        axes = (max(1, int(ax * small[0])), max(1, int(ay * small[1])))
        cv2.ellipse(mask, (int(cx * small[0]), int(cy * small[1])), axes, angle, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, min(axes) / 2))
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR) * opacity
        factor = 1.0 - mask[:, :, None] * (1.0 - tint[None, None, :])
        out = (arr.astype(np.float32) * factor).astype(np.uint8)
        return out, "stain", {"center": [_r(cx), _r(cy)], "axes": [_r(ax), _r(ay)], "angle": _r(angle),
                              "opacity": _r(opacity), "tint": [_r(x) for x in tint]}

    def _wave(self, arr: np.ndarray, rng: np.random.Generator):
        c = self.cfg
        h, w = arr.shape[:2]
        ax, ay = _u(rng, c.wave_amplitude), _u(rng, c.wave_amplitude)
        lx, ly = _u(rng, c.wave_length), _u(rng, c.wave_length)
        px, py = _u(rng, (0.0, 2 * np.pi)), _u(rng, (0.0, 2 * np.pi))
        xs = np.arange(w, dtype=np.float32)
        ys = np.arange(h, dtype=np.float32)
        map_x = xs[None, :] + ax * np.sin(2 * np.pi * ys[:, None] / ly + px).astype(np.float32)
        map_y = ys[:, None] + ay * np.sin(2 * np.pi * xs[None, :] / lx + py).astype(np.float32)
        out = cv2.remap(arr, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        return out, "wave", {"amplitude": [_r(ax), _r(ay)], "wavelength": [_r(lx), _r(ly)],
                             "phase": [_r(px), _r(py)]}


# --- a contact sheet to look at -------------------------------------------------------------------------------

def contact_sheet(image: Image.Image, cfg: DistortConfig | None = None, per_op: int = 3, seed: int = 0,
                  cell: tuple[int, int] = (420, 160)) -> Image.Image:
    """A PNG-ready grid: one row per operation family (none, rotate, blur, shadow_stain, wave), ``per_op``
    samples each, every cell labelled with the sampled ``info`` — to see what a config does."""
    from PIL import ImageDraw

    base = cfg or DistortConfig()
    families = ("none", *OPS)
    label_h = 28
    sheet = Image.new("RGB", (cell[0] * per_op, (cell[1] + label_h) * len(families)), (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    rng = np.random.default_rng(seed)
    for r, fam in enumerate(families):
        probs = {f"p_{k}": 0.0 for k in ("none", *OPS)}
        probs[f"p_{fam}"] = 1.0
        d = Distorter(dataclasses.replace(base, enabled=True, **probs))
        for c in range(per_op):
            out, info = d.apply(image, rng)
            out.thumbnail((cell[0] - 8, cell[1] - 8))
            x, y = c * cell[0] + 4, r * (cell[1] + label_h)
            sheet.paste(out, (x, y + label_h))
            text = info["op"] + " " + ", ".join(f"{k}={v}" for k, v in info["params"].items())
            draw.text((x, y + 4), text[:70], fill=(0, 0, 0))
    return sheet


def _main(argv: list[str] | None = None) -> None:
    import argparse

    from lomo_ablate.curate.render import RenderConfig, Renderer

    ap = argparse.ArgumentParser(prog="python -m lomo_ablate.curate.distort",
                                 description="Write a contact sheet PNG of every distortion on a rendered span.")
    ap.add_argument("out", help="PNG path to write")
    ap.add_argument("--text", default=r"A rendered span with a formula $x^2 + \frac{1}{2} = y$ and plain words "
                                      "that wrap onto a second line.")
    ap.add_argument("--per-op", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    image = Renderer(RenderConfig(max_width=640)).render(args.text).image
    contact_sheet(image, per_op=args.per_op, seed=args.seed).save(args.out, format="PNG", compress_level=1)
    print(args.out)


if __name__ == "__main__":
    _main()
