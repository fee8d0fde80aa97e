"""CountBenchQA (how many objects; digits or number words)."""
from __future__ import annotations

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.common import (NumberInstruction, SimplePromptMixin, image_cells, row_id,
                                                    text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register


@register("countbench", category="Visual perception")
class CountBenchAdapter(SimplePromptMixin, Adapter):
    """CountBenchQA: question, number (the count), image. Scored by the reply's final number (digits or
    number words)."""

    required_keys = ("question", "number")
    instruction = NumberInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        number = scoring.parse_number(str(record.get("number")))
        if number is None or number != int(number):
            raise BenchmarkFormatError(where, "number", f"{record.get('number')!r} is not a whole number")
        images = image_cells(self, record, where, ("image",), required=True)
        return Item(id=row_id(record, ("id", "question_id"), where),
                    question=with_slots(text_field(record, "question", where), len(images)), images=images,
                    answer=int(number), metadata={"source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.numbers_equal(scoring.final_number(prediction), float(item.answer)))

