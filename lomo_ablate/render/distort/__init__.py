"""Perceptual distortion of rendered spans: one op family per image, sampled per image, or none.

* :class:`DistortConfig` (:mod:`~lomo_ablate.render.distort.config`) — the flat config (``curate.distort.*``),
  composed from the registry: ``enabled``, ``only``, the weights ``p_none``/``p_<op>``, each op's parameters,
  ``max_side``.
* :class:`Distorter` (:mod:`~lomo_ablate.render.distort.distorter`) — ``apply(image, rng) -> (image, info)``.
* :func:`register_op` (:mod:`~lomo_ablate.render.distort.registry`) — one module per op family in
  :mod:`lomo_ablate.render.distort.ops` (``rotate``, ``blur``, ``shadow_stain``, ``wave``; docs/render.md has
  the table, docs/extending.md how to add one).
* :func:`~lomo_ablate.render.distort.sheet.contact_sheet` — a PNG of every op (``python -m
  lomo_ablate.render.distort sheet.png``).
"""
from lomo_ablate.render.distort.config import OPS, DistortConfig
from lomo_ablate.render.distort.distorter import Distorter
from lomo_ablate.render.distort.registry import Op, register_op, registered_ops
from lomo_ablate.render.distort.sheet import contact_sheet

__all__ = ["DistortConfig", "Distorter", "OPS", "Op", "register_op", "registered_ops", "contact_sheet"]
