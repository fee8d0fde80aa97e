"""MMMU, MMMU-Pro standard (same schema, up to 10 options) and MMMU-Pro vision (the question inside the image;
a thin multiple-choice adapter)."""
from __future__ import annotations

import re

from PIL import Image

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item, escape_slots, user_prompt
from lomo_ablate.evaluate.benchmarks.common import (MCInstruction, ShortInstruction, SimplePromptMixin, parse_options,
                                                    row_id, text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.generic import GenericMCAdapter
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register, register_thin

_TAG = re.compile(r"<image (\d+)>")


def mmmu_choice(prediction: str, options: list[str]) -> str | None:
    """The option letter an MMMU / MMMU-Pro reply picks, or None: our reading first
    (:func:`scoring.extract_choice`: explicit cues, a bare letter, "(X)", "X.", option text); where it finds
    none, MMMU's own ``parse_multi_choice_response`` (github.com/MMMU-Benchmark/MMMU ``eval/eval_utils.py``)
    decides: "(X)" candidates, else letters standing alone between spaces, else — in a reply of more than five
    words — option texts it contains; of several candidates the one occurring last wins ("A or J" is J).
    Where MMMU's parser finds nothing it picks a random option; we return None (not reproducible)."""
    found = scoring.extract_choice(prediction, options)
    if found is not None:
        return found
    letters = scoring.LETTERS[:len(options)]
    reply = str(prediction)
    for ch in (",", ".", "!", "?", ";", ":", "'"):
        reply = reply.strip(ch)
    reply = f" {reply} "
    low = reply.lower()
    for cands, where in (([c for c in letters if f"({c})" in reply], lambda c: reply.rfind(f"({c})")),
                         ([c for c in letters if f" {c} " in reply], lambda c: reply.rfind(f" {c} ")),
                         ([c for c, o in zip(letters, options) if len(reply.split()) > 5 and o.lower() in low],
                          lambda c: low.rfind(options[letters.index(c)].lower()))):
        if cands:
            return max(cands, key=where)  # the first of equal positions, as np.argmax
    return None


@register("mmmu", category="Reasoning")
class MMMUAdapter(SimplePromptMixin, Adapter):
    """MMMU (validation/test parquet or save_to_disk): id, question, options (stringified list), answer,
    image_1..image_7, question_type ("multiple-choice"/"open"). ``<image k>`` tags in the question and
    options become ``<image>`` slots with image_k in tag order; images no tag mentions go first.
    Multiple choice scores option-letter extraction; open questions score :func:`match_short_answer`."""

    required_keys = ("question", "options", "answer")
    instruction = MCInstruction
    n_image_columns = 7

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        question = escape_slots(text_field(record, "question", where))
        options = [escape_slots(o) for o in parse_options(record.get("options"), where, "options")]
        answer: str | list[str] = text_field(record, "answer", where)
        qtype = record.get("question_type") or ("multiple-choice" if options else "open")
        if qtype != "multiple-choice" and answer.strip().startswith("["):
            # open answers with several accepted forms are stringified lists: "['0.5', '1/2']" (any matches)
            answer = [a for a in parse_options(answer, where, "answer") if a.strip()]
            if not answer:
                raise BenchmarkFormatError(where, "answer", "empty list of accepted answers")
        if qtype == "multiple-choice":
            if not options:
                raise BenchmarkFormatError(where, "options", "multiple-choice question without options")
            if answer.strip().upper() not in scoring.LETTERS[:len(options)]:
                raise BenchmarkFormatError(where, "answer", f"{answer!r} is not a letter of {len(options)} options")
            answer = answer.strip().upper()
        images: list = []

        def slot(m: re.Match) -> str:
            key = f"image_{m.group(1)}"
            ref = self.image_ref(record.get(key), where, key)
            if ref is None and self.rescoring:
                return IMAGE_SLOT
            if ref is None:
                raise BenchmarkFormatError(where, key, f"question mentions <image {m.group(1)}> but {key} is empty")
            images.append(ref)
            return IMAGE_SLOT

        tagged = {int(t) for t in _TAG.findall(question + " ".join(options))}
        question = _TAG.sub(slot, question)
        options = [_TAG.sub(slot, o) for o in options]
        untagged = [self.image_ref(record.get(f"image_{k}"), where, f"image_{k}")
                    for k in range(1, self.n_image_columns + 1) if k not in tagged]
        untagged = [r for r in untagged if r is not None]
        if untagged:
            question = with_slots(question, len(untagged), escape=False)
            images = untagged + images
        return Item(id=row_id(record, ("id",), where), question=question, images=images, answer=answer,
                    options=options if qtype == "multiple-choice" else None,
                    metadata={"question_type": qtype, "subfield": record.get("subfield"),
                              "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        if item.options:
            return super().build_prompt(item)
        text = f"{item.question}\n{ShortInstruction}"
        return user_prompt(text), self.open_images(item.images)

    def score(self, prediction: str, item: Item) -> float:
        if item.options:
            return float(mmmu_choice(prediction, item.options) == item.answer)
        return scoring.match_short_answer(prediction, item.answer)

    def _check_slots(self, item: Item, where: RecordLocation) -> None:
        if self.rescoring:
            return
        n = item.question.count(IMAGE_SLOT) + sum(o.count(IMAGE_SLOT) for o in item.options or [])
        if n != len(item.images):
            raise BenchmarkFormatError(where, "question", f"{n} <image> slot(s) for {len(item.images)} image(s)")


@register("mmmu_pro", category="Reasoning")
class MMMUProAdapter(MMMUAdapter):
    """MMMU-Pro "standard" configs: MMMU's schema with up to 10 options."""


class MMMUProVisionAdapter(GenericMCAdapter):
    """MMMU-Pro "vision": the question and options inside the image; the options column gives the letters.
    Scored by MMMU's choice rule (:func:`mmmu_choice`)."""

    def score(self, prediction: str, item: Item) -> float:
        return float(mmmu_choice(prediction, item.options) == item.answer)


register_thin("mmmu_pro_vision", "Reasoning", MMMUProVisionAdapter, question_key=None, image_keys=["image"],
              image_required=True)
