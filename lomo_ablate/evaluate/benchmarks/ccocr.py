"""CC-OCR (v1), its two OCR tracks (``multi_scene_ocr``, ``multi_lan_ocr``) with the official token F1.

The official ``ocr_evaluator``: both texts have tabs/newlines turned to spaces, ``###`` / ``***`` removed,
whitespace collapsed and are lower-cased; they are split into words — or into characters for the Arabic,
Japanese and Korean subsets and any subset whose name contains ``zh`` — and, for word-level
``multi_scene_ocr``, each word is reduced to ``[A-Za-z0-9]``. Matched = Σ min(count in gold, count in reply)
over gold tokens. Per item: F1 of recall = matched / gold tokens and precision = matched / reply tokens (the
official macro F1 is their mean); ``aggregate``: ``macro_f1`` and ``micro_f1`` (F1 of the summed counts).
The document-parsing and KIE tracks (TEDS / field F1) are not implemented: ``track`` must name an OCR track.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from lomo_ablate.evaluate.benchmarks.base import AdapterConfig, Item
from lomo_ablate.evaluate.benchmarks.common import SimplePromptMixin, image_cells, row_id, text_field, with_slots
from lomo_ablate.evaluate.benchmarks.base import Adapter
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils.config import ConfigError

__all__ = ["CCOCRAdapter", "ocr_tokens", "ocr_counts"]

TRACKS = ("multi_scene_ocr", "multi_lan_ocr")
_CHAR_LEVEL = ("Arabic", "Japanese", "Korean")


def ocr_tokens(text: str, word_level: bool, alphanum_only: bool) -> list[str]:
    t = str(text).strip().replace("\t", " ").replace("\n", " ").replace("###", "").replace("***", "")
    t = re.sub(r"\s+", " ", t).lower()
    toks = t.split(" ") if word_level else list(t.replace(" ", ""))
    if alphanum_only:
        toks = [re.sub(r"[^A-Za-z0-9]+", "", x) for x in toks]
    return [x for x in toks if x]


def ocr_counts(prediction: str, gold: str, subset: str, track: str) -> dict:
    word_level = not (subset in _CHAR_LEVEL or "zh" in subset)
    alnum = track == "multi_scene_ocr" and word_level
    g, p = ocr_tokens(gold, word_level, alnum), ocr_tokens(prediction, word_level, alnum)
    pc = Counter(p)
    right = sum(min(n, pc.get(tok, 0)) for tok, n in Counter(g).items())
    return {"right": right, "n_gold": len(g), "n_pred": len(p)}


def _f1(right: int, n_gold: int, n_pred: int) -> float:
    r = right / (n_gold + 1e-9)
    p = right / (n_pred + 1e-9)
    return 2 * r * p / (r + p + 1e-9)


@dataclass
class CCOCRConfig(AdapterConfig):
    """``track``: multi_scene_ocr or multi_lan_ocr; column names as on the hub."""

    track: str = "multi_scene_ocr"
    id_keys: list[str] = field(default_factory=lambda: ["index", "id"])
    subset_key: str = "l2-category"

    def validate(self, where: str = "CCOCRConfig") -> None:
        if self.track not in TRACKS:
            raise ConfigError(f"{where}.track must be one of {', '.join(TRACKS)} (doc_parsing and kie are not "
                              f"implemented), got {self.track!r}")


@register("ccocr", category="Document & OCR")
class CCOCRAdapter(SimplePromptMixin, Adapter):
    """CC-OCR OCR tracks: index, question (the OCR instruction), answer (the text), image, l2-category."""

    required_keys = ("question", "answer")
    config_cls = CCOCRConfig

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        images = image_cells(self, record, where, ("image",), required=True)
        return Item(id=row_id(record, tuple(self.config.id_keys), where),
                    question=with_slots(text_field(record, "question", where), len(images)), images=images,
                    answer=text_field(record, "answer", where),
                    metadata={"subset": str(record.get(self.config.subset_key) or ""), "source": str(where)})

    def detail(self, prediction: str, item: Item) -> dict:
        return ocr_counts(prediction, item.answer, item.metadata["subset"], self.config.track)

    def score(self, prediction: str, item: Item) -> float:
        return _f1(**self.detail(prediction, item))

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        ds = [d for d in details if d is not None]
        tot = {k: sum(d[k] for d in ds) for k in ("right", "n_gold", "n_pred")}
        return {"macro_f1": sum(scores) / len(scores) if scores else float("nan"),
                "micro_f1": _f1(**tot) if ds else float("nan"), "n": len(scores), "track": self.config.track}
