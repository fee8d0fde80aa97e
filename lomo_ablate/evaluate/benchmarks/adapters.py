"""Concrete benchmark adapters.

Full adapters (each benchmark's own columns and scoring): MMMU (+ MMMU-Pro standard, same schema),
MathVista, DocVQA, HallusionBench, CountBench, GSM8K, IFEval.
Thin adapters (a generic multiple-choice or short-answer adapter configured by column names):
MMMU-Pro vision, WeMath, ZeroBench, SimpleVQA — see docs/evaluate_metrics.md for what each leaves out.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import (IMAGE_SLOT, Adapter, AdapterConfig, BenchmarkFormatError,
                                                  Item, escape_slots, user_prompt)
from lomo_ablate.evaluate.benchmarks.ifeval import REQUIRED_KWARGS, check_instruction
from lomo_ablate.evaluate.benchmarks.records import RecordLocation

__all__ = ["MCInstruction", "MMMUAdapter", "MathVistaAdapter", "DocVQAAdapter", "HallusionBenchAdapter",
           "CountBenchAdapter", "GSM8KAdapter", "IFEvalAdapter", "IFEvalConfig", "GenericMCAdapter",
           "GenericMCConfig", "ShortAnswerAdapter", "ShortAnswerConfig", "parse_options"]

MCInstruction = "Answer with the option's letter from the given choices directly."
ShortInstruction = "Answer the question using a single word or phrase."
NumberInstruction = "Answer with a single number."
YesNoInstruction = "Answer yes or no."


# ---------------------------------------------------------------------------------- helpers
def _text(record: dict, key: str, where: RecordLocation, allow_empty: bool = False) -> str:
    value = record.get(key)
    if value is None or (not allow_empty and not str(value).strip()):
        raise BenchmarkFormatError(where, key, "empty")
    return str(value)


def _item_id(record: dict, keys: tuple[str, ...], where: RecordLocation) -> str:
    for k in keys:
        if record.get(k) not in (None, ""):
            return str(record[k])
    return f"row{where.row}"


def parse_options(value: Any, where: RecordLocation, key: str) -> list[str]:
    """Options as a list of strings, from a list, a stringified list ("['a', 'b']", MMMU) or a lettered
    string ("A. 3; B. 4" / one "A: ..." per line, WeMath)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    s = str(value).strip()
    if not s:
        return []
    if s.startswith("["):
        try:
            parsed = ast.literal_eval(s)
        except (ValueError, SyntaxError) as exc:
            raise BenchmarkFormatError(where, key, f"cannot parse options list: {exc}") from None
        if not isinstance(parsed, (list, tuple)):
            raise BenchmarkFormatError(where, key, "options is not a list")
        return [str(v) for v in parsed]
    parts = re.split(r"(?:^|[;\n]\s*)([A-P])\s*[\.:：\)]\s*", s)
    if len(parts) >= 3:
        letters, texts = parts[1::2], [t.strip().rstrip(";").strip() for t in parts[2::2]]
        if "".join(letters) == scoring.LETTERS[:len(letters)]:
            return texts
    raise BenchmarkFormatError(where, key, f"options are neither a list nor 'A. x; B. y' text: {s[:60]!r}")


def _lettered(options: list[str]) -> str:
    return "\n".join(f"{scoring.LETTERS[i]}. {o}" for i, o in enumerate(options))


def _single_image_item(adapter: Adapter, record: dict, where: RecordLocation, keys: tuple[str, ...],
                       required: bool) -> list:
    """Images from the first of ``keys`` that has a non-empty cell (a list cell gives several)."""
    for k in keys:
        cell = record.get(k)
        if cell in (None, "", []):
            continue
        cells = cell if isinstance(cell, list) else [cell]
        refs = [adapter.image_ref(c, where, k) for c in cells]
        refs = [r for r in refs if r is not None]
        if refs:
            return refs
    if required:
        raise BenchmarkFormatError(where, keys[0], "no image")
    return []


def _with_slots(question: str, n_images: int, escape: bool = True) -> str:
    """``question`` (escaped unless it already carries our slots) with ``n_images`` slots in front."""
    return "\n".join([IMAGE_SLOT] * n_images + [escape_slots(question) if escape else question])


class _SimplePromptMixin:
    """build_prompt = item.question (already with slots), [options], instruction."""

    instruction: str = ""

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        parts = [item.question]
        if item.options:
            parts.append(_lettered(item.options))
        if self.instruction:
            parts.append(self.instruction)
        return user_prompt("\n".join(parts)), self.open_images(item.images)


# ---------------------------------------------------------------------------------- MMMU
_TAG = re.compile(r"<image (\d+)>")


class MMMUAdapter(_SimplePromptMixin, Adapter):
    """MMMU (validation/test parquet or save_to_disk): id, question, options (stringified list), answer,
    image_1..image_7, question_type ("multiple-choice"/"open"). ``<image k>`` tags in the question and
    options become ``<image>`` slots with image_k in tag order; images no tag mentions go first.
    Multiple choice scores option-letter extraction; open questions score :func:`match_short_answer`."""

    name, category = "mmmu", "Reasoning"
    required_keys = ("question", "options", "answer")
    instruction = MCInstruction
    n_image_columns = 7

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        question = escape_slots(_text(record, "question", where))
        options = [escape_slots(o) for o in parse_options(record.get("options"), where, "options")]
        answer = _text(record, "answer", where)
        qtype = record.get("question_type") or ("multiple-choice" if options else "open")
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
            question = _with_slots(question, len(untagged), escape=False)
            images = untagged + images
        return Item(id=_item_id(record, ("id",), where), question=question, images=images, answer=answer,
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
            return float(scoring.extract_choice(prediction, item.options) == item.answer)
        return scoring.match_short_answer(prediction, item.answer)

    @staticmethod
    def _check_slots(item: Item, where: RecordLocation) -> None:
        n = item.question.count(IMAGE_SLOT) + sum(o.count(IMAGE_SLOT) for o in item.options or [])
        if n != len(item.images):
            raise BenchmarkFormatError(where, "question", f"{n} <image> slot(s) for {len(item.images)} image(s)")


class MMMUProAdapter(MMMUAdapter):
    """MMMU-Pro "standard" configs: MMMU's schema with up to 10 options."""

    name = "mmmu_pro"


# ---------------------------------------------------------------------------------- MathVista
def _precision(value: Any, where: RecordLocation) -> int | None:
    """MathVista's precision column: decimals for float answers (stored as 1.0, 2.0; None/NaN if unset)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise BenchmarkFormatError(where, "precision", f"{value!r} is not a number") from None


class MathVistaAdapter(Adapter):
    """MathVista (testmini): pid, question, choices (list or None), answer, question_type
    ("multi_choice"/"free_form"), answer_type ("text"/"integer"/"float"/"list"), precision, unit,
    decoded_image (datasets Image) or image (a path relative to the data file / image_root).

    multi_choice: the extracted letter's choice text must equal the answer. free_form integer: the
    reply's final number equals the answer; float: equal after rounding both to ``precision`` decimals;
    list: the reply's numbers equal the answer list; text: normalised match.
    """

    name, category = "mathvista", "Math"
    required_keys = ("question", "answer", "question_type")

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        qtype = record["question_type"]
        if qtype not in ("multi_choice", "free_form"):
            raise BenchmarkFormatError(where, "question_type", f"{qtype!r} is not multi_choice or free_form")
        choices = parse_options(record.get("choices"), where, "choices") if qtype == "multi_choice" else None
        answer = _text(record, "answer", where)
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
        images = _single_image_item(self, record, where, ("decoded_image", "image"), required=False)
        unit = record.get("unit")
        question = _with_slots(_text(record, "question", where), len(images))
        return Item(id=_item_id(record, ("pid", "id"), where), question=question, images=images,
                    answer=answer, options=choices,
                    metadata={"question_type": qtype, "answer_type": atype, "unit": unit,
                              "precision": _precision(precision, where), "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        parts = [item.question]
        if item.options:
            parts += [_lettered(item.options), MCInstruction]
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


# ---------------------------------------------------------------------------------- DocVQA
class DocVQAAdapter(_SimplePromptMixin, Adapter):
    """DocVQA (validation): questionId, question, answers (list of acceptable strings), image.
    Scored by ANLS (threshold 0.5). Rows without answers (the test split) are rejected."""

    name, category = "docvqa", "Document & OCR"
    required_keys = ("question", "answers")
    instruction = ShortInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        answers = record.get("answers")
        if isinstance(answers, str):
            answers = parse_options(answers, where, "answers") if answers.startswith("[") else [answers]
        if not answers:
            raise BenchmarkFormatError(where, "answers", "no answers (test split rows have none)")
        images = _single_image_item(self, record, where, ("image",), required=True)
        return Item(id=_item_id(record, ("questionId", "question_id", "id"), where),
                    question=_with_slots(_text(record, "question", where), len(images)), images=images,
                    answer=[str(a) for a in answers], metadata={"source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return scoring.anls(prediction.strip(), item.answer, threshold=0.5)


# ---------------------------------------------------------------------------------- HallusionBench
class HallusionBenchAdapter(_SimplePromptMixin, Adapter):
    """HallusionBench: question, gt_answer ("1"=yes / "0"=no, or yes/no), image (absent for the
    no-visual-input questions), category/subcategory/set_id/figure_id/question_id for the id.
    Scored by the first yes/no in the reply (question-level accuracy)."""

    name, category = "hallusionbench", "Factuality"
    required_keys = ("question", "gt_answer")
    instruction = YesNoInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        raw = str(record.get("gt_answer")).strip().lower()
        gold = {"1": "yes", "yes": "yes", "true": "yes", "0": "no", "no": "no", "false": "no"}.get(raw)
        if gold is None:
            raise BenchmarkFormatError(where, "gt_answer", f"{raw!r} is not 1/0/yes/no")
        images = _single_image_item(self, record, where, ("image",), required=False)
        id_parts = [str(record[k]) for k in ("category", "subcategory", "set_id", "figure_id", "question_id")
                    if record.get(k) is not None]
        item_id = "_".join(id_parts) if len(id_parts) == 5 else _item_id(record, ("id",), where)
        return Item(id=item_id, question=_with_slots(_text(record, "question", where), len(images)),
                    images=images, answer=gold,
                    metadata={"visual_input": record.get("visual_input"), "source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.extract_yes_no(prediction) == item.answer)


# ---------------------------------------------------------------------------------- CountBench
class CountBenchAdapter(_SimplePromptMixin, Adapter):
    """CountBenchQA: question, number (the count), image. Scored by the reply's final number (digits or
    number words)."""

    name, category = "countbench", "Visual perception"
    required_keys = ("question", "number")
    instruction = NumberInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        number = scoring.parse_number(str(record.get("number")))
        if number is None or number != int(number):
            raise BenchmarkFormatError(where, "number", f"{record.get('number')!r} is not a whole number")
        images = _single_image_item(self, record, where, ("image",), required=True)
        return Item(id=_item_id(record, ("id", "question_id"), where),
                    question=_with_slots(_text(record, "question", where), len(images)), images=images,
                    answer=int(number), metadata={"source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.numbers_equal(scoring.final_number(prediction), float(item.answer)))


# ---------------------------------------------------------------------------------- text-only
class GSM8KAdapter(_SimplePromptMixin, Adapter):
    """GSM8K (JSONL/Parquet): question, answer (worked solution ending "#### <number>"). Scored by the
    reply's final number ("####", \\boxed{}, "answer is", else the last number)."""

    name, category = "gsm8k", "Math"
    required_keys = ("question", "answer")
    instruction = "Solve the problem step by step and give the final answer after '####'."

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        answer = _text(record, "answer", where)
        if "####" not in answer:
            raise BenchmarkFormatError(where, "answer", "no '####' before the final answer")
        gold = scoring.parse_number(answer.rsplit("####", 1)[1])
        if gold is None:
            raise BenchmarkFormatError(where, "answer", f"final answer {answer.rsplit('####', 1)[1].strip()!r} is not a number")
        return Item(id=_item_id(record, ("id",), where), question=escape_slots(_text(record, "question", where)),
                    answer=gold, metadata={"solution": answer, "source": str(where)})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.numbers_equal(scoring.final_number(prediction), item.answer))


@dataclass
class IFEvalConfig(AdapterConfig):
    """IFEval options. ``level``: "prompt" scores 1 only when every instruction is followed (IFEval's
    prompt-level strict accuracy); "instruction" scores the fraction followed."""

    level: str = "prompt"

    def __post_init__(self):
        if self.level not in ("prompt", "instruction"):
            raise ValueError(f"IFEvalConfig.level must be 'prompt' or 'instruction', got {self.level!r}")


class IFEvalAdapter(Adapter):
    """IFEval (JSONL): key, prompt, instruction_id_list, kwargs (one dict per instruction). Only the
    instruction ids in ``ifeval.CHECKS`` are supported; a row with another id is rejected naming it."""

    name, category = "ifeval", "Instruction following"
    required_keys = ("prompt", "instruction_id_list")
    config_cls = IFEvalConfig

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        ids = list(record.get("instruction_id_list") or [])
        kwargs = list(record.get("kwargs") or [{} for _ in ids])
        if not ids:
            raise BenchmarkFormatError(where, "instruction_id_list", "empty")
        if len(kwargs) != len(ids):
            raise BenchmarkFormatError(where, "kwargs", f"{len(kwargs)} kwargs for {len(ids)} instructions")
        for iid, kw in zip(ids, kwargs):
            if iid not in REQUIRED_KWARGS:
                raise BenchmarkFormatError(where, "instruction_id_list", f"unsupported instruction {iid!r}")
            missing = [k for k in REQUIRED_KWARGS[iid] if (kw or {}).get(k) is None]
            if missing:
                raise BenchmarkFormatError(where, "kwargs", f"{iid} needs {', '.join(missing)}")
        clean = [{k: (kw or {})[k] for k in REQUIRED_KWARGS[iid]} for iid, kw in zip(ids, kwargs)]
        return Item(id=_item_id(record, ("key", "id"), where), question=escape_slots(_text(record, "prompt", where)),
                    answer=None, metadata={"instruction_id_list": ids, "kwargs": clean, "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        return user_prompt(item.question), []

    def followed(self, prediction: str, item: Item) -> list[bool]:
        """Per-instruction strict results."""
        return [check_instruction(i, prediction, kw)
                for i, kw in zip(item.metadata["instruction_id_list"], item.metadata["kwargs"])]

    def score(self, prediction: str, item: Item) -> float:
        ok = self.followed(prediction, item)
        return float(all(ok)) if self.config.level == "prompt" else sum(ok) / len(ok)


# ---------------------------------------------------------------------------------- generic (thin)
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


class GenericMCAdapter(_SimplePromptMixin, Adapter):
    """Multiple choice configured by column names; scored by option-letter extraction."""

    config_cls = GenericMCConfig
    instruction = MCInstruction

    def __init__(self, config: GenericMCConfig | dict | None = None):
        super().__init__(config)
        self.name, self.category = self.config.name, self.config.category
        self.required_keys = tuple(k for k in (self.config.question_key, self.config.options_key,
                                               self.config.answer_key) if k)

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        c = self.config
        options = [escape_slots(o) for o in parse_options(record.get(c.options_key), where, c.options_key)]
        if not options:
            raise BenchmarkFormatError(where, c.options_key, "no options")
        answer = _text(record, c.answer_key, where).strip()
        if c.answer_is == "letter":
            answer = answer.upper()
            if answer not in scoring.LETTERS[:len(options)]:
                raise BenchmarkFormatError(where, c.answer_key, f"{answer!r} is not a letter of {len(options)} options")
        else:
            norms = [scoring.normalize_text(o) for o in options]
            if scoring.normalize_text(answer) not in norms:
                raise BenchmarkFormatError(where, c.answer_key, f"{answer!r} is not one of the options")
            answer = scoring.LETTERS[norms.index(scoring.normalize_text(answer))]
        images = _single_image_item(self, record, where, tuple(c.image_keys), required=c.image_required)
        question = _text(record, c.question_key, where) if c.question_key else "Answer the question in the image."
        return Item(id=_item_id(record, tuple(c.id_keys), where), question=_with_slots(question, len(images)),
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
        golds = [str(g) for g in gold] if isinstance(gold, list) else [_text(record, c.answer_key, where)]
        if not golds or not any(g.strip() for g in golds):
            raise BenchmarkFormatError(where, c.answer_key, "empty")
        images = _single_image_item(self, record, where, tuple(c.image_keys), required=c.image_required)
        return Item(id=_item_id(record, tuple(c.id_keys), where),
                    question=_with_slots(_text(record, c.question_key, where), len(images)), images=images,
                    answer=golds if len(golds) > 1 else golds[0], metadata={"source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        text = item.question + (f"\n{self.config.instruction}" if self.config.instruction else "")
        return user_prompt(text), self.open_images(item.images)

    def score(self, prediction: str, item: Item) -> float:
        return scoring.match_short_answer(prediction, item.answer)


def thin_configs() -> dict[str, tuple[type, dict]]:
    """Column settings of the thin adapters (real column names of each benchmark's HF release)."""
    return {
        "mmmu_pro_vision": (GenericMCAdapter, dict(
            name="mmmu_pro_vision", category="Reasoning", question_key=None, image_keys=["image"],
            image_required=True)),
        "wemath": (GenericMCAdapter, dict(
            name="wemath", category="Math", id_keys=["ID", "id"], options_key="option",
            image_keys=["image_path", "image"])),
        "zerobench": (ShortAnswerAdapter, dict(
            name="zerobench", category="Reasoning", id_keys=["question_id"], question_key="question_text",
            answer_key="question_answer", image_keys=["question_images_decoded", "question_images"],
            instruction="Give the final answer in curly braces, like {answer}.")),
        "simplevqa": (ShortAnswerAdapter, dict(
            name="simplevqa", category="Factuality", id_keys=["data_id", "id"], image_keys=["image"])),
    }


def make_thin(name: str, overrides: dict | None = None) -> Adapter:
    """A thin adapter with its default columns, updated by ``overrides`` (any of its config's keys)."""
    cls, base = thin_configs()[name]
    return cls({**base, **(overrides or {})})

