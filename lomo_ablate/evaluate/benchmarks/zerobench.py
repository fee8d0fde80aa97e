"""ZeroBench: the final answer in curly braces, scored as the benchmark's own evaluation does — or, with
``judge`` set (``eval.judge``, an OpenAI-compatible endpoint), graded by that judge as EvalScope 1.14.1 does
(its default correctness prompt, :data:`lomo_ablate.evaluate.judge.CORRECTNESS_PROMPT`: A correct, B
incorrect), marked ``judge``."""
from __future__ import annotations

import re
from dataclasses import dataclass

from lomo_ablate.evaluate.benchmarks.base import Item
from lomo_ablate.evaluate.benchmarks.generic import ShortAnswerAdapter, ShortAnswerConfig
from lomo_ablate.evaluate.benchmarks.registry import register

_BRACES = re.compile(r"\{(.*?)\}", re.DOTALL)


def zerobench_correct(prediction: str, gold: str) -> bool:
    """ZeroBench's rule: the content of the reply's last ``{…}`` (stripped, lower-cased) equals the gold
    answer (stripped, lower-cased). No braces, or anything else inside them, is wrong."""
    found = _BRACES.findall(str(prediction).strip().lower())
    return bool(found) and found[-1].strip() == str(gold).strip().lower()


@dataclass
class ZeroBenchConfig(ShortAnswerConfig):
    """ShortAnswerConfig plus ``judge``: an ``eval.judge`` mapping or None (the braces rule)."""

    judge: dict | None = None


@register("zerobench", category="Math")  # the paper groups ZeroBench with the math benchmarks (lomo_tables.json)
class ZeroBenchAdapter(ShortAnswerAdapter):
    """ZeroBench: question_id, question_text, question_answer, question_images_decoded (list)."""

    config_cls = ZeroBenchConfig

    def __init__(self, config: ZeroBenchConfig | dict | None = None):
        defaults = {"name": "zerobench", "category": type(self).category,  # the group @register set
                    "id_keys": ["question_id"], "question_key": "question_text", "answer_key": "question_answer",
                    "image_keys": ["question_images_decoded", "question_images"],
                    "instruction": "Give the final answer in curly braces, like {answer}."}
        super().__init__({**defaults, **(config if isinstance(config, dict) else {})}
                         if not isinstance(config, ShortAnswerConfig) else config)
        from lomo_ablate.evaluate.judge import make_judge

        self.judge = make_judge(self.config.judge, "zerobench options.judge")
        self.scored_by = "judge" if self.judge is not None else "rule"

    def score(self, prediction: str, item: Item) -> float:
        golds = item.answer if isinstance(item.answer, list) else [item.answer]
        if self.judge is not None:
            from lomo_ablate.evaluate.judge import CORRECTNESS_PROMPT

            prompt = CORRECTNESS_PROMPT.format(question=item.question, gold=" / ".join(map(str, golds)),
                                               pred=prediction)
            return float(self.judge.grade(prompt, choices=("A", "B")) == "A")
        return float(any(zerobench_correct(prediction, g) for g in golds))
