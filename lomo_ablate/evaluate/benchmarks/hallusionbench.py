"""HallusionBench (yes/no questions, some without an image) with its three accuracy levels."""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.common import (SimplePromptMixin, YesNoInstruction, image_cells, row_id,
                                                    text_field, with_slots)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

_GROUP_KEYS = ("category", "subcategory", "set_id", "figure_id", "question_id")


@register("hallusionbench", category="Factuality")
class HallusionBenchAdapter(SimplePromptMixin, Adapter):
    """HallusionBench: question, gt_answer ("1"=yes / "0"=no, or yes/no), image (absent for the
    no-visual-input questions), category/subcategory/set_id/figure_id/question_id for the id.
    Per item: the first yes/no in the reply equals the gold. ``aggregate``: the benchmark's aAcc (all
    questions), fAcc (a figure counts when every question about it is right: grouped by category,
    subcategory, set_id, figure_id; the VS questions of figure_id 0 — asked without a figure — are left out,
    as the official ``get_eval_fig`` leaves them out) and qAcc (a question counts when it is right for every
    figure it is asked of: grouped by category, subcategory, set_id, question_id, figure 0 included, as the
    official ``get_eval_pair_all``). Official code: github.com/tianyi-lab/HallusionBench ``utils.py``."""

    required_keys = ("question", "gt_answer")
    instruction = YesNoInstruction

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        raw = str(record.get("gt_answer")).strip().lower()
        gold = {"1": "yes", "yes": "yes", "true": "yes", "0": "no", "no": "no", "false": "no"}.get(raw)
        if gold is None:
            raise BenchmarkFormatError(where, "gt_answer", f"{raw!r} is not 1/0/yes/no")
        images = image_cells(self, record, where, ("image",), required=False)
        id_parts = [str(record[k]) for k in _GROUP_KEYS if record.get(k) is not None]
        item_id = "_".join(id_parts) if len(id_parts) == 5 else row_id(record, ("id",), where)
        # kept under "hb_" names: a plain "category" in metadata would replace the paper group of the row
        groups = {f"hb_{k}": (str(record[k]) if record.get(k) is not None else None) for k in _GROUP_KEYS}
        return Item(id=item_id, question=with_slots(text_field(record, "question", where), len(images)),
                    images=images, answer=gold,
                    metadata={"visual_input": record.get("visual_input"), "source": str(where), **groups})

    def score(self, prediction: str, item: Item) -> float:
        return float(scoring.extract_yes_no(prediction) == item.answer)

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        def level(keys: tuple[str, ...], skip=lambda it: False) -> tuple[float, int]:
            groups: dict[tuple, list[float]] = defaultdict(list)
            for it, s in zip(items, scores):
                if skip(it):
                    continue
                key = tuple(it.metadata.get(f"hb_{k}") for k in keys)
                groups[key if None not in key else ("item", it.id)].append(s)
            return (sum(all(v == 1.0 for v in g) for g in groups.values()) / len(groups), len(groups)) \
                if groups else (float("nan"), 0)

        f_acc, n_fig = level(("category", "subcategory", "set_id", "figure_id"), skip=_no_figure)
        q_acc, n_q = level(("category", "subcategory", "set_id", "question_id"))
        a_acc = sum(scores) / len(scores) if scores else float("nan")
        return {"aAcc": a_acc, "fAcc": f_acc, "qAcc": q_acc, "n": len(scores), "n_figures": n_fig,
                "n_questions": n_q, "accuracy": a_acc}


def _no_figure(item: Item) -> bool:
    """A VS question asked without its figure (figure_id 0): no figure to count it for (official
    ``get_eval_fig``: ``if r["category"] == "VS" and str(r["figure_id"]) == "0": continue``)."""
    return item.metadata.get("hb_category") == "VS" and item.metadata.get("hb_figure_id") == "0"
