"""HallusionBench (yes/no questions, some without an image)."""
from __future__ import annotations

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.common import (SimplePromptMixin, YesNoInstruction, image_cells, row_id,
                                                    text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register


@register("hallusionbench", category="Factuality")
class HallusionBenchAdapter(SimplePromptMixin, Adapter):
    """HallusionBench: question, gt_answer ("1"=yes / "0"=no, or yes/no), image (absent for the
    no-visual-input questions), category/subcategory/set_id/figure_id/question_id for the id.
    Scored by the first yes/no in the reply (question-level accuracy)."""

    required_keys = ("question", "gt_answer")
    instruction = YesNoInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        raw = str(record.get("gt_answer")).strip().lower()
        gold = {"1": "yes", "yes": "yes", "true": "yes", "0": "no", "no": "no", "false": "no"}.get(raw)
        if gold is None:
            raise BenchmarkFormatError(where, "gt_answer", f"{raw!r} is not 1/0/yes/no")
        images = image_cells(self, record, where, ("image",), required=False)
        id_parts = [str(record[k]) for k in ("category", "subcategory", "set_id", "figure_id", "question_id")
                    if record.get(k) is not None]
        item_id = "_".join(id_parts) if len(id_parts) == 5 else row_id(record, ("id",), where)
        return Item(id=item_id, question=with_slots(text_field(record, "question", where), len(images)),
                    images=images, answer=gold,
                    metadata={"visual_input": record.get("visual_input"), "source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.extract_yes_no(prediction) == item.answer)

