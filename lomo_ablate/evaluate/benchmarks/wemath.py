"""WeMath (testmini): multiple choice with lettered options in one string, and its four-dimensional metrics.

Per item, WeMath's own answer rule: the text after the reply's last "Answer" (the whole reply when it has
none), stripped of ``< > : .`` and spaces, must start with the gold letter (A–H). ``aggregate`` follows
WeMath's ``four_dimensional_metrics.py``: rows whose ``key`` is ``2steps_1``, ``2steps_2``,
``2steps_multi`` (likewise ``3steps_*``) and that share an ``ID`` form one composite problem; with
``one-step`` results s_i and the composite result m:

- IK (insufficient knowledge): some s_i wrong and m wrong;  IG (inadequate generalisation): all s_i right, m wrong;
- CM strict: all s_i right and m right;  CM loose: some s_i right and m right;
- RM strict: some s_i wrong and m right;  RM loose: all s_i wrong and m right;
- rates: IK, IG, CM over the composite problems; RM over CM + RM (its strict/loose variant);
- score = (N − 0.5·IG − RM − IK) / N, strict and loose (N: the composite problems; the official script
  hard-codes N = 525, testmini's count — we count the composites present, which is 525 on testmini).
A composite with a sub-problem missing from the data is left out of the four dimensions and counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from lomo_ablate.evaluate.benchmarks.base import Item
from lomo_ablate.evaluate.benchmarks.generic import GenericMCAdapter, GenericMCConfig
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

__all__ = ["WeMathAdapter", "wemath_letter", "four_dimensional"]


def wemath_letter(prediction: str) -> str | None:
    """WeMath's answer extraction (see the module docstring)."""
    tail = str(prediction).split("Answer")[-1].strip()
    tail = re.sub(r"[><:.]", "", tail).strip()
    return tail[0] if tail and tail[0] in "ABCDEFGH" else None


def four_dimensional(results: dict[tuple[str, str], dict[str, bool]]) -> dict:
    """``{(steps, ID): {"1": bool, "2": bool, ["3": bool,] "multi": bool}}`` -> WeMath's metrics."""
    c = dict(IK=0, IG=0, CM_strict=0, CM_loose=0, RM_strict=0, RM_loose=0)
    complete = incomplete = 0
    for (steps, _), parts in results.items():
        subs = [parts.get(str(i)) for i in range(1, int(steps) + 1)]
        multi = parts.get("multi")
        if multi is None or any(s is None for s in subs):
            incomplete += 1
            continue
        complete += 1
        all_right, any_right = all(subs), any(subs)
        if multi:
            c["CM_strict"] += all_right
            c["CM_loose"] += any_right
            c["RM_strict"] += not all_right
            c["RM_loose"] += not any_right
        else:
            c["IG"] += all_right
            c["IK"] += not all_right
    n = complete

    def rate(x: int, d: int) -> float:
        return x / d if d else float("nan")

    out = {"n_composite": n, "n_incomplete": incomplete, "counts": c,
           "IK": rate(c["IK"], n), "IG": rate(c["IG"], n), "CM_strict": rate(c["CM_strict"], n),
           "CM_loose": rate(c["CM_loose"], n),
           "RM_strict": rate(c["RM_strict"], c["CM_strict"] + c["RM_strict"]),
           "RM_loose": rate(c["RM_loose"], c["CM_loose"] + c["RM_loose"]),
           "score_strict": rate(n - 0.5 * c["IG"] - c["RM_strict"] - c["IK"], n),
           "score_loose": rate(n - 0.5 * c["IG"] - c["RM_loose"] - c["IK"], n)}
    return out


@dataclass
class WeMathConfig(GenericMCConfig):
    name: str = "wemath"
    category: str = "Math"
    id_keys: list[str] = field(default_factory=lambda: ["ID", "id"])
    options_key: str = "option"
    image_keys: list[str] = field(default_factory=lambda: ["image_path", "image"])


@register("wemath", category="Math")
class WeMathAdapter(GenericMCAdapter):
    """WeMath: ID, key (``2steps_1`` … ``3steps_multi``), question, option ("A. …; B. …"), answer (letter),
    image_path. Item ids are ``<ID>@<key>`` (an ID names a composite problem shared by its sub-problems)."""

    config_cls = WeMathConfig
    instruction = ("Answer with the option's letter from the given choices, in the form 'Answer: <letter>'.")

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        item = super().parse_record(record, where)
        key = str(record.get("key") or "")
        m = re.fullmatch(r"([23])steps_(1|2|3|multi)", key)
        item.metadata.update({"wemath_id": item.id, "key": key, "steps": m.group(1) if m else None,
                              "part": m.group(2) if m else None})
        if key:
            item.id = f"{item.id}@{key}"
        return item

    def score(self, prediction: str, item: Item) -> float:
        return float(wemath_letter(prediction) == item.answer)

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        results: dict[tuple[str, str], dict[str, bool]] = {}
        for it, s in zip(items, scores):
            if it.metadata.get("steps"):
                results.setdefault((it.metadata["steps"], it.metadata["wemath_id"]), {})[it.metadata["part"]] = s == 1.0
        out = four_dimensional(results)
        out.update({"accuracy": sum(scores) / len(scores) if scores else float("nan"), "n": len(scores)})
        return out
