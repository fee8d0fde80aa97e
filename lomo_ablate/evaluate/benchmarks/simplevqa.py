"""SimpleVQA: factual short answers about an image (a thin adapter)."""
from __future__ import annotations

from lomo_ablate.evaluate.benchmarks.generic import ShortAnswerAdapter
from lomo_ablate.evaluate.benchmarks.registry import register_thin

register_thin("simplevqa", "Factuality", ShortAnswerAdapter, id_keys=["data_id", "id"], image_keys=["image"])
