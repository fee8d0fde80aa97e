"""What the benchmark modules share: instructions, field readers, option parsing, image slots, the plain prompt.

Scorers live in :mod:`lomo_ablate.evaluate.benchmarks.scoring`; the adapter interface in
:mod:`lomo_ablate.evaluate.benchmarks.base`.
"""
from __future__ import annotations

import ast
import re
from typing import Any

from PIL import Image

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item, escape_slots, user_prompt
from lomo_ablate.evaluate.benchmarks.records import RecordLocation

__all__ = ["MCInstruction", "ShortInstruction", "NumberInstruction", "YesNoInstruction", "text_field", "row_id",
           "parse_options", "lettered", "image_cells", "with_slots", "SimplePromptMixin"]

MCInstruction = "Answer with the option's letter from the given choices directly."
ShortInstruction = "Answer the question using a single word or phrase."
NumberInstruction = "Answer with a single number."
YesNoInstruction = "Answer yes or no."


def text_field(record: dict, key: str, where: RecordLocation, allow_empty: bool = False) -> str:
    value = record.get(key)
    if value is None or (not allow_empty and not str(value).strip()):
        raise BenchmarkFormatError(where, key, "empty")
    return str(value)


def row_id(record: dict, keys: tuple[str, ...], where: RecordLocation) -> str:
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


def lettered(options: list[str]) -> str:
    return "\n".join(f"{scoring.LETTERS[i]}. {o}" for i, o in enumerate(options))


def image_cells(adapter: Adapter, record: dict, where: RecordLocation, keys: tuple[str, ...],
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
    if required and not adapter.rescoring:
        raise BenchmarkFormatError(where, keys[0], "no image")
    return []


def with_slots(question: str, n_images: int, escape: bool = True) -> str:
    """``question`` (escaped unless it already carries our slots) with ``n_images`` slots in front."""
    return "\n".join([IMAGE_SLOT] * n_images + [escape_slots(question) if escape else question])

class SimplePromptMixin:
    """build_prompt = item.question (already with slots), [options], instruction."""

    instruction: str = ""

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        parts = [item.question]
        if item.options:
            parts.append(lettered(item.options))
        if self.instruction:
            parts.append(self.instruction)
        return user_prompt("\n".join(parts)), self.open_images(item.images)

