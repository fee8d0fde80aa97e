""":class:`Distorter`: at most one perceptual distortion per image, drawn from a :class:`DistortConfig`.

One draw of the image's generator picks the family (``none`` first, then the registered families in sampling
order, by their normalised probabilities); the family's function then draws its own parameters from the same
generator. Everything random comes from the ``numpy.random.Generator`` passed to :meth:`Distorter.apply`, so
the same generator state gives the same image and the same ``info``. ``enabled=False`` never distorts.

A mode ``L`` image (the renderer's black-on-white spans) stays ``L`` through the families registered with
``gray=True`` (all built-in ones; ``stain`` adds colour and returns RGB) — pixel-identical after
``convert("RGB")`` to distorting its RGB copy, and 2–3× faster; other families get the RGB copy.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from PIL import Image

from lomo_ablate.render.distort.config import _REGISTERED, DistortConfig
from lomo_ablate.render.distort.registry import rounded

__all__ = ["Distorter"]


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
        self._ops = {op.name: (op.apply, op.params_of(cfg), op.gray) for op in _REGISTERED}

    def apply(self, image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict]:
        """Returns ``(image, {"op": ..., "params": {...}})``; ``op`` is ``none`` when nothing was done."""
        if not self.cfg.enabled:
            return image, {"op": "none", "params": {}}
        k = int(np.searchsorted(self._cum, rng.random() * self._cum[-1], side="right"))
        name = self._names[min(k, len(self._names) - 1)]
        if name == "none":
            return image, {"op": "none", "params": {}}
        apply, params, gray = self._ops[name]
        arr = np.asarray(image) if gray and image.mode == "L" else np.asarray(image.convert("RGB"))
        out, op, info = apply(arr, rng, params)
        result = Image.fromarray(np.ascontiguousarray(out), "L" if out.ndim == 2 else "RGB")
        ms = self.cfg.max_side
        if ms and max(result.size) > ms:
            s = ms / max(result.size)
            result = result.resize((max(1, int(result.width * s)), max(1, int(result.height * s))),
                                   Image.Resampling.BILINEAR)
            info["scaled"] = rounded(s)
        return result, {"op": op, "params": info}
