"""ZeroBench: the final answer in curly braces, scored as the benchmark's own evaluation does."""
from __future__ import annotations

import re

from lomo_ablate.evaluate.benchmarks.base import Item
from lomo_ablate.evaluate.benchmarks.generic import ShortAnswerAdapter, ShortAnswerConfig
from lomo_ablate.evaluate.benchmarks.registry import register

_BRACES = re.compile(r"\{(.*?)\}", re.DOTALL)


def zerobench_correct(prediction: str, gold: str) -> bool:
    """ZeroBench's rule: the content of the reply's last ``{…}`` (stripped, lower-cased) equals the gold
    answer (stripped, lower-cased). No braces, or anything else inside them, is wrong."""
    found = _BRACES.findall(str(prediction).strip().lower())
    return bool(found) and found[-1].strip() == str(gold).strip().lower()


@register("zerobench", category="Math")  # the paper groups ZeroBench with the math benchmarks (lomo_tables.json)
class ZeroBenchAdapter(ShortAnswerAdapter):
    """ZeroBench: question_id, question_text, question_answer, question_images_decoded (list)."""

    def __init__(self, config: ShortAnswerConfig | dict | None = None):
        defaults = {"name": "zerobench", "category": type(self).category,  # the group @register set "id_keys": ["question_id"],
                    "question_key": "question_text", "answer_key": "question_answer",
                    "image_keys": ["question_images_decoded", "question_images"],
                    "instruction": "Give the final answer in curly braces, like {answer}."}
        super().__init__({**defaults, **(config if isinstance(config, dict) else {})}
                         if not isinstance(config, ShortAnswerConfig) else config)

    def score(self, prediction: str, item: Item) -> float:
        golds = item.answer if isinstance(item.answer, list) else [item.answer]
        return float(any(zerobench_correct(prediction, g) for g in golds))
