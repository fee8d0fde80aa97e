"""SimpleVQA: factual short answers about an image.

SimpleVQA is graded by an LLM judge (correct / incorrect / not attempted). With ``judge`` set (an
OpenAI-compatible endpoint, :mod:`lomo_ablate.evaluate.judge`) the judge grades each reply with the
benchmark's grading prompt and the score is marked ``judge``. Without one, a documented rule stands in and
the score is marked ``rule``:

- the reply's answer span (``\\boxed{}``, "answer is …", else the whole reply) normalised equals the gold
  answer or one of its aliases: correct;
- else the gold (or an alias) occurs as whole words in the reply **and** the reply neither hedges
  ("maybe", "possibly", "not sure", "I think", "either … or", "or") nor negates it ("not <gold>",
  "isn't <gold>"): correct;
- anything else (a hedged, contradicted or missing answer) is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.generic import ShortAnswerAdapter, ShortAnswerConfig
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

__all__ = ["SimpleVQAAdapter", "SimpleVQAConfig", "rule_correct", "HEDGES"]

HEDGES = ("maybe", "perhaps", "possibly", "probably", "might be", "could be", "not sure", "unsure", "i think",
          "i believe", "i guess", "either", "or", "hard to say", "cannot determine", "can't determine")
_NEGATION = r"(?:not|isn't|isnt|is not|no|never|nor|wasn't|aren't)"

GRADER_PROMPT = (
    "Grade a model's answer to a factual question about an image against the gold target.\n"
    "Question: {question}\nGold target: {gold}\nPredicted answer: {prediction}\n"
    "Reply with one letter: A if the predicted answer is CORRECT (contains the gold target's meaning and "
    "contradicts nothing), B if INCORRECT (contradicts it, or hedges between candidates), C if NOT_ATTEMPTED "
    "(no answer given). Letter only.")


def rule_correct(prediction: str, golds: list[str]) -> bool:
    """The no-judge rule of the module docstring."""
    span = scoring.normalize_text(scoring.answer_span(prediction))
    full = f" {scoring.normalize_text(prediction)} "
    norm_golds = [g for g in (scoring.normalize_text(x) for x in golds) if g]
    if span in norm_golds:
        return True
    if any(re.search(rf"(?<!\w){re.escape(h)}(?!\w)", full) for h in HEDGES):
        return False
    for g in norm_golds:
        if f" {g} " in full and not re.search(rf"{_NEGATION}\s+(?:\w+\s+)?{re.escape(g)}(?!\w)", full):
            return True
    return False


@dataclass
class SimpleVQAConfig(ShortAnswerConfig):
    """SimpleVQA columns (data_id, question, answer, image as base64 or a datasets Image) and options:
    ``alias_keys``: columns holding further accepted answers (a list, or one string split at ``|`` / ``;``);
    ``judge``: an ``eval.judge`` mapping (base_url, model, api_key_env) or None for the rule."""

    name: str = "simplevqa"
    category: str = "Factuality"
    id_keys: list[str] = field(default_factory=lambda: ["data_id", "id"])
    alias_keys: list[str] = field(default_factory=lambda: ["aliases", "answer_aliases"])
    judge: dict | None = None


@register("simplevqa", category="Factuality")
class SimpleVQAAdapter(ShortAnswerAdapter):
    config_cls = SimpleVQAConfig

    def __init__(self, config: SimpleVQAConfig | dict | None = None):
        super().__init__(config)
        from lomo_ablate.evaluate.judge import make_judge

        self.judge = make_judge(self.config.judge, "simplevqa options.judge")
        self.scored_by = "judge" if self.judge is not None else "rule"

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        item = super().parse_record(record, where)
        golds = item.answer if isinstance(item.answer, list) else [item.answer]
        for k in self.config.alias_keys:
            v = record.get(k)
            if v in (None, "", []):
                continue
            extra = v if isinstance(v, list) else re.split(r"\s*[|;]\s*", str(v))
            golds += [str(a) for a in extra if str(a).strip()]
        if not golds:
            raise BenchmarkFormatError(where, self.config.answer_key, "empty")
        item.answer = golds if len(golds) > 1 else golds[0]
        item.metadata["raw_question"] = str(record.get(self.config.question_key))
        return item

    def score(self, prediction: str, item: Item) -> float:
        golds = item.answer if isinstance(item.answer, list) else [item.answer]
        if self.judge is not None:
            letter = self.judge.grade(GRADER_PROMPT.format(question=item.metadata["raw_question"],
                                                           gold=" / ".join(golds), prediction=prediction),
                                      choices=("A", "B", "C"))
            return float(letter == "A")
        return float(rule_correct(prediction, golds))
