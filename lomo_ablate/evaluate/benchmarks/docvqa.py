"""DocVQA (validation), scored by ANLS."""
from __future__ import annotations

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.common import (ShortInstruction, SimplePromptMixin, image_cells, parse_options,
                                                    row_id, text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register


@register("docvqa", category="Document & OCR")
class DocVQAAdapter(SimplePromptMixin, Adapter):
    """DocVQA (validation): questionId, question, answers (list of acceptable strings), image.
    Scored by ANLS (threshold 0.5). Rows without answers (the test split) are rejected."""

    required_keys = ("question", "answers")
    instruction = ShortInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        answers = record.get("answers")
        if isinstance(answers, str):
            answers = parse_options(answers, where, "answers") if answers.startswith("[") else [answers]
        if not answers:
            raise BenchmarkFormatError(where, "answers", "no answers (test split rows have none)")
        images = image_cells(self, record, where, ("image",), required=True)
        return Item(id=row_id(record, ("questionId", "question_id", "id"), where),
                    question=with_slots(text_field(record, "question", where), len(images)), images=images,
                    answer=[str(a) for a in answers], metadata={"source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return scoring.anls(prediction.strip(), item.answer, threshold=0.5)

