"""IFEval: a subset of its verifiable instructions (Zhou et al., 2023), checked on a reply string, and its adapter.

Each check takes the reply and the instruction's kwargs and returns True when the instruction is
followed ("strict" mode: the reply as is, no loosening). Supported instruction ids are the keys of
:data:`CHECKS`; an IFEval row using any other id is rejected at load time with the id named.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from lomo_ablate.evaluate.benchmarks.base import (Adapter, AdapterConfig, BenchmarkFormatError, Item, escape_slots,
                                                  user_prompt)
from lomo_ablate.evaluate.benchmarks.common import row_id, text_field
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils.config import ConfigError

__all__ = ["CHECKS", "REQUIRED_KWARGS", "check_instruction", "word_count", "sentence_count", "IFEvalAdapter",
           "IFEvalConfig"]


def word_count(text: str) -> int:
    """Words as IFEval counts them (runs of word characters)."""
    return len(re.findall(r"\w+", text))


def sentence_count(text: str) -> int:
    """Sentences: non-empty pieces ending in . ! or ? (or the end of the text)."""
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if re.search(r"\w", s)])


def _relation(count: int, relation: str, n: int) -> bool:
    if relation == "less than":
        return count < n
    if relation == "at least":
        return count >= n
    raise ValueError(f"relation must be 'less than' or 'at least', got {relation!r}")


def _bullets(text: str) -> int:
    return len(re.findall(r"^\s*[\*\-]\s+\S", text, re.MULTILINE))


CHECKS: dict[str, Callable[..., bool]] = {
    "length_constraints:number_words":
        lambda r, num_words, relation: _relation(word_count(r), relation, int(num_words)),
    "length_constraints:number_sentences":
        lambda r, num_sentences, relation: _relation(sentence_count(r), relation, int(num_sentences)),
    "keywords:existence":
        lambda r, keywords: all(re.search(re.escape(k), r, re.IGNORECASE) for k in keywords),
    "keywords:forbidden_words":
        lambda r, forbidden_words: not any(re.search(r"\b" + re.escape(w) + r"\b", r, re.IGNORECASE)
                                           for w in forbidden_words),
    "keywords:frequency":
        lambda r, keyword, frequency, relation: _relation(
            len(re.findall(re.escape(keyword), r, re.IGNORECASE)), relation, int(frequency)),
    "change_case:english_lowercase": lambda r: r == r.lower(),
    "change_case:english_capital": lambda r: r == r.upper(),
    "punctuation:no_comma": lambda r: "," not in r,
    "startend:end_checker":
        lambda r, end_phrase: r.strip().lower().endswith(end_phrase.strip().lower()),
    "startend:quotation": lambda r: len(r.strip()) > 1 and r.strip()[0] == '"' and r.strip()[-1] == '"',
    "detectable_format:title": lambda r: re.search(r"<<[^\n]+>>", r) is not None,
    "detectable_format:number_bullet_lists": lambda r, num_bullets: _bullets(r) == int(num_bullets),
    "detectable_content:postscript":
        lambda r, postscript_marker: postscript_marker.strip().lower() in r.lower(),
}

#: kwargs each check needs (IFEval rows carry every kwarg key, most None: only these are read)
REQUIRED_KWARGS: dict[str, tuple[str, ...]] = {
    "length_constraints:number_words": ("num_words", "relation"),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "keywords:existence": ("keywords",),
    "keywords:forbidden_words": ("forbidden_words",),
    "keywords:frequency": ("keyword", "frequency", "relation"),
    "change_case:english_lowercase": (),
    "change_case:english_capital": (),
    "punctuation:no_comma": (),
    "startend:end_checker": ("end_phrase",),
    "startend:quotation": (),
    "detectable_format:title": (),
    "detectable_format:number_bullet_lists": ("num_bullets",),
    "detectable_content:postscript": ("postscript_marker",),
}


def check_instruction(instruction_id: str, response: str, kwargs: dict | None) -> bool:
    """Whether ``response`` follows one instruction (only the kwargs the check needs are used)."""
    needed = REQUIRED_KWARGS[instruction_id]
    args = {k: (kwargs or {})[k] for k in needed}
    return bool(CHECKS[instruction_id](response, **args))


@dataclass
class IFEvalConfig(AdapterConfig):
    """IFEval options. ``level``: "prompt" scores 1 only when every instruction is followed (IFEval's
    prompt-level strict accuracy); "instruction" scores the fraction followed."""

    level: str = "prompt"

    def validate(self, where: str = "IFEvalConfig") -> None:
        if self.level not in ("prompt", "instruction"):
            raise ConfigError(f"{where}.level must be 'prompt' or 'instruction', got {self.level!r}")


@register("ifeval", category="Instruction following")
class IFEvalAdapter(Adapter):
    """IFEval (JSONL): key, prompt, instruction_id_list, kwargs (one dict per instruction). Only the
    instruction ids in ``ifeval.CHECKS`` are supported; a row with another id is rejected naming it."""

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
        return Item(id=row_id(record, ("key", "id"), where), question=escape_slots(text_field(record, "prompt", where)),
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
