"""MMMU, ZeroBench, SimpleVQA, HallusionBench and WeMath scored by each benchmark's official rule, on small local
copies laid out as on the hub (Parquet with datasets' Image struct, base64 image strings, JSONL)."""
from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from hub_layouts import mmmu_copy, wemath_rows, write_jsonl, write_wemath, write_zerobench
from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.evaluate.score import rescore


# ------------------------------------------------------------------------------------------------ MMMU
def test_mmmu_list_valued_open_answers_and_marked_up_letters(tmp_path):
    adapter = get_adapter("mmmu", {"split": "validation"})
    open_q, mc = adapter.load(mmmu_copy(tmp_path))
    assert open_q.answer == ["0.5", "1/2"]
    assert adapter.score("x = 1/2", open_q) == 1.0 and adapter.score("The answer is 0.5.", open_q) == 1.0
    assert adapter.score("x = 2", open_q) == 0.0
    for reply in ("**B**", "\\boxed{\\text{B}}", "[B]", "The answer is **B**."):
        assert adapter.score(reply, mc) == 1.0, reply
    assert adapter.score("**C**", mc) == 0.0
    # where no letter of ours is read, MMMU's parse_multi_choice_response decides: the last standalone letter
    assert adapter.score("A or B", mc) == 1.0 and adapter.score("B or C", mc) == 0.0


# ------------------------------------------------------------------------------------------- ZeroBench
def test_zerobench_needs_braces_with_exactly_the_answer(tmp_path):
    adapter = get_adapter("zerobench")
    item = adapter.load(write_zerobench(tmp_path).path)[0]
    assert adapter.score("Counting carefully... {42}", item) == 1.0
    assert adapter.score("{ 42 }", item) == 1.0
    assert adapter.score("The answer is 42", item) == 0.0          # no braces
    assert adapter.score("{42 dots}", item) == 0.0                 # extra text inside
    assert adapter.score("{41} ... no wait, {42}", item) == 1.0    # the last braces count


# ------------------------------------------------------------------------------------------- SimpleVQA
def test_simplevqa_base64_images_aliases_and_hedges(tmp_path):
    noise = io.BytesIO()
    Image.effect_noise((400, 400), 60).convert("RGB").save(noise, "PNG")
    big = base64.b64encode(noise.getvalue()).decode()
    assert len(big) > 100_000                                        # a realistic hub image string
    rows = [{"data_id": 1, "question": "Which city is this?", "answer": "Paris", "aliases": "Paris, France|Lutetia",
             "image": big},
            {"data_id": 2, "question": "Which river?", "answer": "Seine", "image": "A" * 530_000 + "!"},  # not an image
            {"data_id": 3, "question": "Which bridge?", "answer": "Pont Neuf", "image": base64.b64encode(b"x" * 900).decode()}]
    path = write_jsonl(tmp_path / "SimpleVQA" / "test.jsonl", rows)
    adapter = get_adapter("simplevqa", {"strict": False})
    items = adapter.load(path)
    assert [it.id for it in items] == ["1"]
    assert [r["line"] for r in adapter.rejected] == [2, 3]
    assert "File name too long" in adapter.rejected[0]["reason"] and adapter.rejected[0]["detail"] == "image"
    assert "base64" in adapter.rejected[1]["reason"]
    assert adapter.open_images(items[0].images)[0].size == (400, 400)
    it = items[0]
    assert adapter.scored_by == "rule"
    assert adapter.score("Paris", it) == 1.0
    assert adapter.score("This is Lutetia.", it) == 1.0              # an alias
    assert adapter.score("It is either Paris or Lyon.", it) == 0.0  # hedged between candidates
    assert adapter.score("Maybe Paris.", it) == 0.0
    assert adapter.score("It is not Paris, it is Rome.", it) == 0.0  # contradicted
    assert adapter.score("Rome", it) == 0.0


# -------------------------------------------------------------------------------------- HallusionBench
def test_hallusionbench_question_figure_and_all_levels(tmp_path):
    base = {"category": "VD", "subcategory": "illusion", "set_id": "0"}
    rows = [dict(base, figure_id="0", question_id="0", question="Is A longer?", gt_answer="1"),
            dict(base, figure_id="0", question_id="1", question="Is B longer?", gt_answer="0"),
            dict(base, figure_id="1", question_id="0", question="Is A longer?", gt_answer="0"),
            dict(base, figure_id="1", question_id="1", question="Is B longer?", gt_answer="0")]
    path = write_jsonl(tmp_path / "HallusionBench" / "HallusionBench.jsonl", rows)
    adapter = get_adapter("hallusionbench")
    items = adapter.load(path)
    replies = ["Yes.", "No.", "Yes.", "No."]          # wrong only on figure 1 / question 0
    scores = [adapter.score(r, it) for r, it in zip(replies, items)]
    agg = adapter.aggregate(items, scores, [None] * 4)
    assert scores == [1.0, 1.0, 0.0, 1.0]
    assert agg["aAcc"] == 0.75
    assert agg["fAcc"] == 0.5 and agg["n_figures"] == 2      # figure 0 all right, figure 1 not
    assert agg["qAcc"] == 0.5 and agg["n_questions"] == 2    # question 1 right on both figures, question 0 not


def test_hallusionbench_figure_level_leaves_out_visual_supplement_questions_without_a_figure(tmp_path):
    """Official get_eval_fig (tianyi-lab/HallusionBench utils.py) skips VS questions of figure_id 0 (asked with no
    figure); get_eval_pair_all (qAcc) keeps them."""
    vs = {"category": "VS", "subcategory": "chart", "set_id": "3"}
    rows = [dict(vs, figure_id="0", question_id="0", question="Is 2020 the peak?", gt_answer="1"),
            dict(vs, figure_id="1", question_id="0", question="Is 2020 the peak?", gt_answer="0")]
    path = write_jsonl(tmp_path / "HallusionBench" / "HallusionBench.jsonl", rows)
    adapter = get_adapter("hallusionbench")
    items = adapter.load(path)
    scores = [adapter.score(r, it) for r, it in zip(["No.", "No."], items)]   # wrong without the figure only
    agg = adapter.aggregate(items, scores, [None] * 2)
    assert agg["aAcc"] == 0.5
    assert agg["fAcc"] == 1.0 and agg["n_figures"] == 1      # figure 1 only: right
    assert agg["qAcc"] == 0.0 and agg["n_questions"] == 1    # the question, over both figures: not all right


# ---------------------------------------------------------------------------------------------- WeMath
def test_wemath_four_dimensional_metrics_strict_and_loose(tmp_path):
    path = write_wemath(tmp_path, wemath_rows()).path
    adapter = get_adapter("wemath")
    items = adapter.load(path)
    assert items[0].id == "1@2steps_1" and len(items) == 13
    assert adapter.score("Reasoning... Answer: A.", items[0]) == 1.0
    assert adapter.score("The answer is A", items[0]) == 0.0    # WeMath's rule: the text after "Answer" only
    # 1: subs right, multi right (CM); 2: subs right, multi wrong (IG); 3: one sub wrong, multi right (RM strict,
    # CM loose); 4: all subs wrong, multi wrong (IK)
    right = {"1@2steps_1", "1@2steps_2", "1@2steps_multi", "2@2steps_1", "2@2steps_2",
             "3@3steps_1", "3@3steps_2", "3@3steps_multi"}
    replies = [f"Answer: {it.answer}" if it.id in right else "Answer: Z" for it in items]
    scores = [adapter.score(r, it) for r, it in zip(replies, items)]
    agg = adapter.aggregate(items, scores, [None] * len(items))
    assert agg["n_composite"] == 4
    assert agg["counts"] == {"IK": 1, "IG": 1, "CM_strict": 1, "CM_loose": 2, "RM_strict": 1, "RM_loose": 0}
    assert agg["IK"] == 0.25 and agg["IG"] == 0.25 and agg["CM_strict"] == 0.25 and agg["CM_loose"] == 0.5
    assert agg["RM_strict"] == 0.5 and agg["RM_loose"] == 0.0
    assert agg["score_strict"] == pytest.approx((4 - 0.5 - 1 - 1) / 4)
    assert agg["score_loose"] == pytest.approx((4 - 0.5 - 0 - 1) / 4)
    # the CLI gives the same numbers from {record, prediction} lines without images
    lines = [{"record": {k: v for k, v in r.items() if k != "image_path"}, "prediction": p}
             for r, p in zip(wemath_rows(), replies)]
    out = rescore("wemath", write_jsonl(tmp_path / "preds.jsonl", lines))
    assert [p["score"] for p in out["per_item"]] == scores
    assert {k: out["aggregate"][k] for k in ("counts", "score_strict")} == {k: agg[k] for k in ("counts", "score_strict")}
