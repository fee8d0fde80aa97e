"""Generic adapters configured by column names ("thin" adapters): multiple choice and short answer.

A benchmark that is one of these with its own columns is a few lines (see ``wemath.py``)::

    register_thin("wemath", "Math", GenericMCAdapter, id_keys=["ID", "id"], options_key="option",
                  image_keys=["image_path", "image"])

Its ``options`` in the eval config override any column setting. docs/evaluate_metrics.md says what each thin
benchmark leaves out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import (Adapter, AdapterConfig, BenchmarkFormatError, Item, escape_slots,
                                                  user_prompt)
from lomo_ablate.evaluate.benchmarks.common import (MCInstruction, ShortInstruction, SimplePromptMixin, image_cells,
                                                    parse_options, row_id, text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation

__all__ = ["GenericMCAdapter", "GenericMCConfig", "ShortAnswerAdapter", "ShortAnswerConfig"]


@dataclass
class GenericMCConfig(AdapterConfig):
    """Column names for a generic multiple-choice benchmark.

    ``question_key`` None: the question is inside the image (MMMU-Pro vision). ``answer_is``: "letter"
    (gold is A, B, …) or "text" (gold is the option text). ``image_keys``: tried in order; a list cell
    gives several images.
    """

    name: str = "generic_mc"
    category: str = "Reasoning"
    id_keys: list[str] = field(default_factory=lambda: ["id"])
    question_key: str | None = "question"
    options_key: str = "options"
    answer_key: str = "answer"
    answer_is: str = "letter"
    image_keys: list[str] = field(default_factory=lambda: ["image"])
    image_required: bool = False


class GenericMCAdapter(SimplePromptMixin, Adapter):
    """Multiple choice configured by column names; scored by option-letter extraction."""

    config_cls = GenericMCConfig
    instruction = MCInstruction

    def __init__(self, config: GenericMCConfig | dict | None = None):
        super().__init__(config)
        self.name, self.category = self.config.name or self.name, self.config.category or self.category
        self.required_keys = tuple(k for k in (self.config.question_key, self.config.options_key,
                                               self.config.answer_key) if k)

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        c = self.config
        options = [escape_slots(o) for o in parse_options(record.get(c.options_key), where, c.options_key)]
        if not options:
            raise BenchmarkFormatError(where, c.options_key, "no options")
        answer = text_field(record, c.answer_key, where).strip()
        if c.answer_is == "letter":
            answer = answer.upper()
            if answer not in scoring.LETTERS[:len(options)]:
                raise BenchmarkFormatError(where, c.answer_key, f"{answer!r} is not a letter of {len(options)} options")
        else:
            norms = [scoring.normalize_text(o) for o in options]
            if scoring.normalize_text(answer) not in norms:
                raise BenchmarkFormatError(where, c.answer_key, f"{answer!r} is not one of the options")
            answer = scoring.LETTERS[norms.index(scoring.normalize_text(answer))]
        images = image_cells(self, record, where, tuple(c.image_keys), required=c.image_required)
        question = text_field(record, c.question_key, where) if c.question_key else "Answer the question in the image."
        return Item(id=row_id(record, tuple(c.id_keys), where), question=with_slots(question, len(images)),
                    images=images, answer=answer, options=options, metadata={"source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.extract_choice(prediction, item.options) == item.answer)


@dataclass
class ShortAnswerConfig(AdapterConfig):
    """Column names for a generic short-answer benchmark, scored by :func:`scoring.match_short_answer`
    (numbers compared numerically, text by normalised match / whole-word containment)."""

    name: str = "generic_short"
    category: str = "Reasoning"
    id_keys: list[str] = field(default_factory=lambda: ["id"])
    question_key: str = "question"
    answer_key: str = "answer"
    image_keys: list[str] = field(default_factory=lambda: ["image"])
    image_required: bool = False
    instruction: str = ShortInstruction


class ShortAnswerAdapter(Adapter):
    """Free-form short answers configured by column names."""

    config_cls = ShortAnswerConfig

    def __init__(self, config: ShortAnswerConfig | dict | None = None):
        super().__init__(config)
        self.name, self.category = self.config.name, self.config.category
        self.required_keys = (self.config.question_key, self.config.answer_key)

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        c = self.config
        gold = record.get(c.answer_key)
        golds = [str(g) for g in gold] if isinstance(gold, list) else [text_field(record, c.answer_key, where)]
        if not golds or not any(g.strip() for g in golds):
            raise BenchmarkFormatError(where, c.answer_key, "empty")
        images = image_cells(self, record, where, tuple(c.image_keys), required=c.image_required)
        return Item(id=row_id(record, tuple(c.id_keys), where),
                    question=with_slots(text_field(record, c.question_key, where), len(images)), images=images,
                    answer=golds if len(golds) > 1 else golds[0], metadata={"source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        text = item.question + (f"\n{self.config.instruction}" if self.config.instruction else "")
        return user_prompt(text), self.open_images(item.images)

    def score(self, prediction: str, item: Item) -> float:
        return scoring.match_short_answer(prediction, item.answer)
