"""MMLU-Pro (text-only, up to 10 options), scored by its official answer extraction."""
from __future__ import annotations

import re

from lomo_ablate.contracts import TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item, escape_slots
from lomo_ablate.evaluate.benchmarks.common import SimplePromptMixin, parse_options, row_id, text_field
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

__all__ = ["MMLUProAdapter", "mmlu_pro_letter"]


def mmlu_pro_letter(prediction: str) -> str | None:
    """MMLU-Pro's extraction (``evaluate_from_local.py``): "answer is (X)", else "Answer: X", else the last
    standalone capital A–J. The official script then guesses at random; we score no letter as wrong."""
    p = str(prediction)
    for pat, flags in ((r"answer is \(?([A-J])\)?", 0), (r".*[aA]nswer:\s*([A-J])", 0),
                       (r"\b[A-J]\b(?!.*\b[A-J]\b)", re.DOTALL)):
        m = re.search(pat, p, flags)
        if m:
            return m.group(1) if m.groups() else m.group(0)
    return None


@register("mmlu_pro", category=TEXT_ONLY_GROUP)  # paper Table 6
class MMLUProAdapter(SimplePromptMixin, Adapter):
    """MMLU-Pro (TIGER-Lab/MMLU-Pro test parquet): question_id, question, options (list), answer (letter),
    category. The prompt asks for "The answer is (X)" as the benchmark's CoT prompt does."""

    required_keys = ("question", "options", "answer")
    instruction = ('Think step by step and then finish your answer with "The answer is (X)" where X is the '
                   "correct letter choice.")

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        options = [escape_slots(o) for o in parse_options(record.get("options"), where, "options")
                   if str(o).strip() != "N/A"]
        if not options:
            raise BenchmarkFormatError(where, "options", "no options")
        answer = text_field(record, "answer", where).strip().upper()
        if answer not in scoring.LETTERS[:len(options)]:
            raise BenchmarkFormatError(where, "answer", f"{answer!r} is not a letter of {len(options)} options")
        return Item(id=row_id(record, ("question_id", "id"), where),
                    question=escape_slots(text_field(record, "question", where)), answer=answer, options=options,
                    metadata={"subject": record.get("category"), "source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(mmlu_pro_letter(prediction) == item.answer)
