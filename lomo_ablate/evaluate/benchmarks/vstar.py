"""V* Bench (vstar_bench): attribute / spatial multiple choice on high-resolution images."""
from __future__ import annotations

import re

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.common import SimplePromptMixin, image_cells, row_id, text_field, with_slots
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

_OPTION = re.compile(r"\(([A-D])\)\s*([^\n(]*)")


@register("vstar", category="Visual perception")
class VStarAdapter(SimplePromptMixin, Adapter):
    """V* (craigwu/vstar_bench ``test_questions.jsonl``): question_id, image (path relative to the file),
    text (the question with "(A) … (B) …" options and the answer instruction), label (letter), category
    (direct_attributes / relative_position). Scored by option-letter extraction against ``label``."""

    required_keys = ("text", "label")

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        text = text_field(record, "text", where)
        options = [o.strip() for _, o in _OPTION.findall(text)]
        label = text_field(record, "label", where).strip().upper()
        if len(options) < 2:
            raise BenchmarkFormatError(where, "text", "no '(A) … (B) …' options in the question")
        if label not in scoring.LETTERS[:len(options)]:
            raise BenchmarkFormatError(where, "label", f"{label!r} is not a letter of {len(options)} options")
        images = image_cells(self, record, where, ("image",), required=True)
        return Item(id=row_id(record, ("question_id", "id"), where), question=with_slots(text, len(images)),
                    images=images, answer=label, options=None,
                    metadata={"n_options": len(options), "option_texts": options, "subset": record.get("category"),
                              "source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.extract_choice(prediction, item.metadata["option_texts"]) == item.answer)

    def aggregate(self, items, scores, details) -> dict:
        out = super().aggregate(items, scores, details)
        for subset in sorted({str(it.metadata.get("subset")) for it in items}):
            mine = [s for it, s in zip(items, scores) if str(it.metadata.get("subset")) == subset]
            out[f"accuracy_{subset}"] = sum(mine) / len(mine)
        return out
