"""MathVista (testmini)."""
from __future__ import annotations

import math
from typing import Any

from PIL import Image

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item, user_prompt
from lomo_ablate.evaluate.benchmarks.common import (MCInstruction, ShortInstruction, image_cells, lettered,
                                                    parse_options, row_id, text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register


def _precision(value: Any, where: RecordLocation) -> int | None:
    """MathVista's precision column: decimals for float answers (stored as 1.0, 2.0; None/NaN if unset)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise BenchmarkFormatError(where, "precision", f"{value!r} is not a number") from None


@register("mathvista", category="Math")
class MathVistaAdapter(Adapter):
    """MathVista (testmini): pid, question, choices (list or None), answer, question_type
    ("multi_choice"/"free_form"), answer_type ("text"/"integer"/"float"/"list"), precision, unit,
    decoded_image (datasets Image) or image (a path relative to the data file / image_root).

    multi_choice: the extracted letter's choice text must equal the answer. free_form integer: the
    reply's final number equals the answer; float: equal after rounding both to ``precision`` decimals;
    list: the reply's numbers equal the answer list; text: normalised match.
    """

    required_keys = ("question", "answer", "question_type")

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        qtype = record["question_type"]
        if qtype not in ("multi_choice", "free_form"):
            raise BenchmarkFormatError(where, "question_type", f"{qtype!r} is not multi_choice or free_form")
        choices = parse_options(record.get("choices"), where, "choices") if qtype == "multi_choice" else None
        answer = text_field(record, "answer", where)
        atype = record.get("answer_type") or "text"
        if atype not in ("text", "integer", "float", "list"):
            raise BenchmarkFormatError(where, "answer_type", f"unknown answer_type {atype!r}")
        if qtype == "multi_choice":
            if not choices:
                raise BenchmarkFormatError(where, "choices", "multi_choice question without choices")
            if scoring.normalize_text(answer) not in [scoring.normalize_text(c) for c in choices]:
                raise BenchmarkFormatError(where, "answer", f"{answer!r} is not one of the choices")
        elif atype in ("integer", "float") and scoring.parse_number(answer) is None:
            raise BenchmarkFormatError(where, "answer", f"{answer!r} is not a number ({atype})")
        precision = record.get("precision")
        images = image_cells(self, record, where, ("decoded_image", "image"), required=False)
        unit = record.get("unit")
        question = with_slots(text_field(record, "question", where), len(images))
        return Item(id=row_id(record, ("pid", "id"), where), question=question, images=images,
                    answer=answer, options=choices,
                    metadata={"question_type": qtype, "answer_type": atype, "unit": unit,
                              "precision": _precision(precision, where), "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        parts = [item.question]
        if item.options:
            parts += [lettered(item.options), MCInstruction]
        else:
            atype = item.metadata["answer_type"]
            hint = {"integer": "Answer with an integer.", "float":
                    f"Answer with a number with {item.metadata['precision'] or 1} decimal place(s).",
                    "list": "Answer with a Python list.", "text": ShortInstruction}[atype]
            parts.append(hint)
        return user_prompt("\n".join(parts)), self.open_images(item.images)

    def score(self, prediction: str, item: Item) -> float:
        if item.options:
            letter = scoring.extract_choice(prediction, item.options)
            if letter is None:
                return 0.0
            chosen = item.options[scoring.LETTERS.index(letter)]
            return float(scoring.normalize_text(chosen) == scoring.normalize_text(item.answer))
        atype = item.metadata["answer_type"]
        gold = item.answer
        if atype == "integer":
            got = scoring.final_number(prediction)
            return float(got is not None and got == round(got) and int(got) == int(float(gold)))
        if atype == "float":
            got = scoring.final_number(prediction)
            digits = item.metadata["precision"] if item.metadata["precision"] is not None else 1
            return float(got is not None and round(got, digits) == round(float(gold), digits))
        if atype == "list":
            want = scoring.find_numbers(gold)
            got = scoring.find_numbers(scoring.answer_span(prediction))
            return float(bool(want) and got[-len(want):] == want)
        return scoring.match_short_answer(prediction, gold)

