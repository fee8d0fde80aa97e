"""GSM8K (text-only grade-school math, the final number after "####")."""
from __future__ import annotations

from lomo_ablate.contracts import TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item, escape_slots
from lomo_ablate.evaluate.benchmarks.common import SimplePromptMixin, row_id, text_field
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register


@register("gsm8k", category=TEXT_ONLY_GROUP)  # paper Table 6
class GSM8KAdapter(SimplePromptMixin, Adapter):
    """GSM8K (JSONL/Parquet): question, answer (worked solution ending "#### <number>"). Scored by the
    reply's final number ("####", \\boxed{}, "answer is", else the last number)."""

    required_keys = ("question", "answer")
    instruction = "Solve the problem step by step and give the final answer after '####'."

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        answer = text_field(record, "answer", where)
        if "####" not in answer:
            raise BenchmarkFormatError(where, "answer", "no '####' before the final answer")
        gold = scoring.parse_number(answer.rsplit("####", 1)[1])
        if gold is None:
            final = answer.rsplit("####", 1)[1].strip()
            raise BenchmarkFormatError(where, "answer", f"final answer {final!r} is not a number")
        return Item(id=row_id(record, ("id",), where), question=escape_slots(text_field(record, "question", where)),
                    answer=gold, metadata={"solution": answer, "source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.numbers_equal(scoring.final_number(prediction), item.answer))

