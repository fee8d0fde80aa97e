"""WeMath: multiple choice with lettered options in one string (a thin adapter)."""
from __future__ import annotations

from lomo_ablate.evaluate.benchmarks.generic import GenericMCAdapter
from lomo_ablate.evaluate.benchmarks.registry import register_thin

register_thin("wemath", "Math", GenericMCAdapter, id_keys=["ID", "id"], options_key="option",
              image_keys=["image_path", "image"])
