"""MM-IFEval on a small local copy laid out as the official repository's ``data/`` (C-Level.jsonl, P-Level.jsonl
under MM-IFEval/, real PNGs under data/images/): the ported rule functions against the official outcomes, the
evaluate stage with the real tiny VLM against the score CLI, and the judge path against an OpenAI-compatible
server on loopback — the one mock here: it stands in for the hosted judge (GPT-4o in the paper), which cannot
run on this machine; the client, its requests and the scoring around it are the real code."""
from __future__ import annotations

import json
from dataclasses import replace
import subprocess
import sys

import pytest
from PIL import Image

from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.evaluate.benchmarks._mm_ifeval_rules import RULES
from lomo_ablate.evaluate.benchmarks.base import BenchmarkFormatError
from lomo_ablate.evaluate.benchmarks.mm_ifeval import (parse_c_level_verdict, parse_cmp_verdict,
                                                       parse_p_level_verdict)
from lomo_ablate.evaluate.score import rescore
from loopback_judge import LoopbackJudge

RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}


def rule(func, *params):
    return {"method": "rule_based", "verify_funcs": [{"func": func, "params": list(params)}]}


C_ROWS = [
    {"id": "c1", "tag": "C-Level", "infer_type": "main", "image": "images/cat.png",
     "instruction": "Describe the picture.",
     "constraints": [{"key": "word_count", "value": "Use at most 5 words.",
                      "judge": rule("check_whether_response_word_count_in_range", 1, 5)},
                     {"key": "no_comma", "value": "Do not use commas.",
                      "judge": rule("check_whether_whole_response_not_contain_certain_substring", ",")},
                     {"key": "tone", "value": "Write in a cheerful tone.", "judge": {"method": "direct_gpt"}},
                     {"key": "style", "value": "Write like a poet.", "judge": {"method": "cmp_gpt"}}]},
    {"id": "c1", "tag": "C-Level", "infer_type": "aux_cmp_gpt", "del_cons": "style", "image": "images/cat.png",
     "instruction": "Describe the picture.",
     "constraints": [{"key": "word_count", "value": "Use at most 5 words.",
                      "judge": rule("check_whether_response_word_count_in_range", 1, 5)}]},
    {"id": "c2", "tag": "C-Level", "infer_type": "main", "image": "images/dog.png", "instruction": "Name the animal.",
     "constraints": json.dumps([{"key": "end", "value": "End with an exclamation mark.",
                                 "judge": rule("check_whether_whole_response_end_with_certain_substring", "!")}])},
    {"id": "c3", "tag": "C-Level", "infer_type": "main", "image": "images/cat.png", "instruction": "Write a caption.",
     "constraints": [{"key": "tone", "value": "Be formal.", "judge": {"method": "direct_gpt"}}]},
]
P_ROWS = [{"id": "p1", "tag": "P-Level", "infer_type": "main", "image": "images/dog.png",
           "question": "What animals and colours are shown?", "answer": ["dog", "brown"]}]


def hub_copy(root):
    data = root / "data"
    (data / "images").mkdir(parents=True)
    Image.new("RGB", (32, 24), "orange").save(data / "images" / "cat.png")
    Image.new("RGB", (24, 32), "brown").save(data / "images" / "dog.png")
    folder = data / "MM-IFEval"
    folder.mkdir()
    (folder / "C-Level.jsonl").write_text("".join(json.dumps(r) + "\n" for r in C_ROWS))
    (folder / "P-Level.jsonl").write_text("".join(json.dumps(r) + "\n" for r in P_ROWS))
    return folder


# ------------------------------------------------------------------------------------- the official rule
# (reply, function, params, the official function's result); each case was also checked against the official
# function_and_compare.py (MM-IFEngine bb844a7) on this machine.
OFFICIAL_CASES = [
    ("One.\n\nTwo.\n \nThree.", "check_whether_response_paragraph_number_in_range", (3, 3), True),
    ("One.\nTwo.", "check_whether_response_paragraph_number_in_range", (2, 2), False),  # a single newline: 1
    ("Dr. Smith came. He left.", "check_whether_response_sentence_number_in_range", (2, 2), True),  # "Dr." no split
    ("It rains. We stay. You go.", "check_whether_response_sentence_number_in_range", (1, 2), False),
    ("It rains. We stay.\n\nFine.", "check_whether_each_paragraph_sentence_number_in_range", (1, 2), True),
    ("It rains. We stay. You go.\n\nFine.", "check_whether_each_paragraph_sentence_number_in_range", (1, 2), False),
    ("It rains. We stay.\n\nFine.", "check_whether_each_paragraph_sentence_number_in_range_list", ([[2, 2], [1, 1]],),
     True),
    ("It rains. We stay.\n\nFine.", "check_whether_each_paragraph_sentence_number_in_range_list", ([[2, 2]],),
     False),  # paragraph count differs from the ranges
    ("well-known e.g. a , b !", "check_whether_response_word_count_in_range", (4, 4), True),  # "," "!" dropped
    ("one two three", "check_whether_response_word_count_in_range", (4, 10), False),
    ("a b c\n\nd e", "check_whether_each_paragraph_word_count_in_range", (2, 3), True),
    ("a b c\n\nd", "check_whether_each_paragraph_word_count_in_range", (2, 3), False),
    ("An apple pie.", "check_whether_whole_response_not_contain_certain_substrings", (["banana", "kiwi"],), True),
    ("Pineapple.", "check_whether_whole_response_not_contain_certain_substrings", (["apple"],), False),  # substring
    ("No commas here.", "check_whether_whole_response_not_contain_certain_substring", (",",), True),
    ("Yes, one.", "check_whether_whole_response_not_contain_certain_substring", (",",), False),
    ("So it goes. So be it.", "check_whether_each_sentence_begin_with_certain_substring", ("So",), True),
    ("So it goes. Then not.", "check_whether_each_sentence_begin_with_certain_substring", ("So",), False),
    ("  - a\n\n- b", "check_whether_each_paragraph_begin_with_certain_substring", ("-",), True),  # lines stripped
    ("- a\n\nb", "check_whether_each_paragraph_begin_with_certain_substring", ("-",), False),
    ("a!\n\nb!", "check_whether_each_paragraph_end_with_certain_substring", ("!",), True),
    ("a!\n\nb.", "check_whether_each_paragraph_end_with_certain_substring", ("!",), False),
    ("Go now! Run fast!", "check_whether_each_sentence_end_with_certain_substring", ("!",), True),
    ("Go now! Run fast.", "check_whether_each_sentence_end_with_certain_substring", ("!",), False),
    ("  Dear team, hi", "check_whether_whole_response_begin_with_certain_substring", ("Dear",), True),
    ("Hi. Dear team", "check_whether_whole_response_begin_with_certain_substring", ("Dear",), False),
    ("Thanks.  \n", "check_whether_whole_response_end_with_certain_substring", ("Thanks.",), True),
    ("Thanks!", "check_whether_whole_response_end_with_certain_substring", ("Thanks.",), False),
    ("Reddit is fun; reddit again.", "check_whether_each_keyword_in_list_metioned_in_range", (["Reddit"], 2, 2), True),
    ("Redditors like Reddit.", "check_whether_each_keyword_in_list_metioned_in_range", (["reddit"], 2, 3), False),
    ("cat dog cat", "check_whether_total_keyword_in_list_metioned_in_range", (["cat", "dog"], 3, 3), True),
    ("cat dog", "check_whether_total_keyword_in_list_metioned_in_range", (["cat", "dog"], 3, 5), False),
    ("Up 12.50 % and 3.25%.", "check_percentage_number_precision_in_response", (2,), True),
    ("Up 12 % today.", "check_percentage_number_precision_in_response", (2,), False),  # an integer percentage
    ("No numbers at all.", "check_percentage_number_precision_in_response", (2,), True),
    ("It costs 1,234.50 or 2.00e+3.", "check_number_precision_in_response", (2,), True),
    ("It costs 3 dollars.", "check_number_precision_in_response", (2,), False),
    ("Year 2024 and 7.", "check_number_precision_in_response", (0,), True),
    ("There are three cats.", "check_whether_has_no_arabic_number_in_response", (), True),
    ("There are 3 cats.", "check_whether_has_no_arabic_number_in_response", (), False),
    ("Version v2 of it.", "check_whether_has_no_arabic_number_in_response", (), True),  # "v2": a word, no number
]


def test_every_official_rule_function_is_ported():
    assert set(RULES) == {c[1] for c in OFFICIAL_CASES} and len(RULES) == 19


@pytest.mark.parametrize("reply,func,params,expected", OFFICIAL_CASES)
def test_rule_functions_give_the_official_outcome(reply, func, params, expected):
    assert RULES[func](reply, *params) is expected


def test_official_verdict_parsers():
    assert parse_c_level_verdict("Judgement: ...\n**Summary:** Score of constraint_1: 1/1, Score of "
                                 "Constraint_2: 0 / 1.") == {"constraint_1": 1.0, "constraint_2": 0.0}
    with pytest.raises(ValueError):
        parse_c_level_verdict("all good")
    assert parse_p_level_verdict("right") == 1 and parse_p_level_verdict("The answer is Wrong.") == 0
    assert parse_p_level_verdict("right, not wrong") == 1        # the official code searches "right" first
    assert parse_cmp_verdict('Reasoning: true things.\nSummary: "False".') == 0


# ------------------------------------------------------------------------------------- loading, no judge
def test_hub_layout_loads_and_without_a_judge_only_rule_constraints_count(tmp_path):
    folder = hub_copy(tmp_path)
    adapter = get_adapter("mm_ifeval")
    items = adapter.load(folder)
    assert [it.id for it in items] == ["C-Level/c1", "C-Level/c2"]
    reasons = {r["line"]: r["reason"] for r in adapter.rejected}
    assert len(adapter.rejected) == 3                      # aux row, judged-only c3, the P-Level item
    assert "aux_cmp_gpt" in reasons[2] and "no eval.judge set" in reasons[2]   # nothing generated for it
    assert "no rule-verified constraint" in reasons[4]
    assert any("P-Level items are scored by an LLM judge only" in r for r in reasons.values())
    messages, images = adapter.build_prompt(items[0])     # official make_prompt_v2 after the image
    assert messages[0]["content"] == ("<image>\nDescribe the picture. Use at most 5 words. Do not use commas. "
                                      "Write in a cheerful tone. Write like a poet.")
    assert images[0].size == (32, 24)                     # data/images/cat.png: relative to data/, as officially
    d = adapter.detail("A happy orange cat", items[0])
    assert d["scores"] == {"word_count": 1.0, "no_comma": 1.0} and d["score"] == 1.0
    assert {(x["key"], x["method"]) for x in d["left_out"]} == {("tone", "direct_gpt"), ("style", "cmp_gpt")}
    assert adapter.score("A happy, orange, fluffy, big cat", items[0]) == 0.0
    assert adapter.score("A dog!", items[1]) == 1.0 and adapter.score("A dog.", items[1]) == 0.0
    agg = adapter.aggregate(items, [1.0, 0.0], [adapter.detail("A happy orange cat", items[0]),
                                                adapter.detail("A dog.", items[1])])
    assert agg["scored_by"] == "rule" and agg["c_level"] == 0.5 and agg["n_p_level"] == 0
    assert agg["constraints_scored"] == {"rule_based": 3, "direct_gpt": 0, "cmp_gpt": 0}
    assert agg["left_out"] == {"cmp_gpt": 1, "direct_gpt": 1}


def test_bad_rows_are_named_by_file_line_and_key(tmp_path):
    bad = dict(C_ROWS[2], constraints=[{"key": "x", "value": "v", "judge": rule("check_whether_no_such_rule", 1)}])
    path = tmp_path / "MM-IFEval" / "C-Level.jsonl"
    path.parent.mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "dog.png")
    path.write_text(json.dumps(dict(bad, image="dog.png")) + "\n" + json.dumps(dict(C_ROWS[1], image="dog.png")) + "\n")
    with pytest.raises(BenchmarkFormatError, match=r"C-Level.jsonl:line 1: key 'constraints\[0\]"
                                                   r"\.judge\.verify_funcs\[0\]\.func': unknown verification"):
        get_adapter("mm_ifeval").load(path)
    wrong_params = dict(C_ROWS[2], image="dog.png", constraints=[{"key": "x", "value": "v", "judge": rule(
        "check_whether_response_word_count_in_range", 1)}])
    path.write_text(json.dumps(wrong_params) + "\n")
    lenient = get_adapter("mm_ifeval", {"strict": False})
    assert lenient.load(path) == [] and "missing a required argument" in lenient.rejected[0]["reason"]


# ------------------------------------------------------------------------------------- stage and CLI
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.data import probe_items
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(60, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


def test_stage_and_cli_give_the_same_scores(tiny_dir, tmp_path):
    from lomo_ablate.evaluate import evaluate

    folder = hub_copy(tmp_path)
    cfg = {"benchmarks": [{"name": "mm_ifeval", "path": str(folder)}], "protocols": ["standard", "rendered"],
           "max_new_tokens": 6, "progress": False, "render": RENDER, "mir": {"enabled": False},
           "paired": {"enabled": False}}
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    rows = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert [(r["protocol"], r["item_id"]) for r in rows] == [
        (p, i) for p in ("standard", "rendered") for i in ("C-Level/c1", "C-Level/c2")]
    assert metrics["rejected"] == {"mm_ifeval": 3} and metrics["scored_by"] == {"mm_ifeval": "rule"}
    bm = metrics["benchmark_metrics"]["mm_ifeval"]["standard"]
    assert bm["left_out"] == {"cmp_gpt": 1, "direct_gpt": 1} and bm["n_c_level"] == 2
    assert metrics["scores"]["mm_ifeval"]["standard"] == pytest.approx(bm["overall"])
    # the same predictions re-scored from the hub rows, through the CLI
    records = {f"C-Level/{r['id']}": r for r in C_ROWS if r["infer_type"] == "main"}
    std = [r for r in rows if r["protocol"] == "standard"]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"record": records[r["item_id"]], "prediction": r["prediction"]}) + "\n"
                             for r in std))
    out = subprocess.run([sys.executable, "-m", "lomo_ablate.evaluate.score", "mm_ifeval", str(preds)],
                         capture_output=True, text=True, check=True)
    cli = json.loads(out.stdout)
    assert [p["score"] for p in cli["per_item"]] == [r["score"] for r in std]
    assert [p["detail"] for p in cli["per_item"]] == [r["detail"] for r in std]
    assert cli["aggregate"]["scored_by"] == "rule"


# ------------------------------------------------------------------------------------- the judge path
def _grade(body: dict) -> str:
    """Loopback stand-in for the hosted judge: C-Level prompts get 1/1 for every constraint when the reply has
    "cheerful" in it (else 0/1); compare prompts "True" when the reply under the constraint differs from the
    one without it and has "verse" in it; P-Level prompts "right" when every gold word is in the reply."""
    content = body["messages"][-1]["content"]
    text = content if isinstance(content, str) else content[0]["text"]
    if "<start of response without the constraint>" in text:
        under = text.split("<start of response under the constraint>\n")[1].split("\n<end of response under")[0]
        without = text.split("<start of response without the constraint>\n")[1].split("\n<end of response")[0]
        ok = under != without and "verse" in under
        return f'Reasoning: compared.\nSummary: "{ok}".'
    if "<start of constraint list>" in text:
        reply = text.split("<start of response>\n")[1].split("\n<end of response>")[0]
        n = text.count("\nConstraint_")
        s = int("cheerful" in reply)
        answer = "Judgement: fine.\nSummary: " + ", ".join(f"Score of constraint_{i + 1}: {s}/1" for i in range(n))
    else:
        reply = text.split("Response from the model: ")[1].split("\n")[0].lower()
        gold = json.loads(text.split("Ground Truth List: ")[1].split("\n")[0].replace("'", '"'))
        answer = "right" if all(g in reply for g in gold) else "wrong"
    return answer


@pytest.fixture
def judge_server():
    with LoopbackJudge(_grade) as judge:
        yield judge


def test_judged_constraints_and_p_level_go_through_the_judge(judge_server, tmp_path):
    judge_url = judge_server.url
    folder = hub_copy(tmp_path)
    adapter = get_adapter("mm_ifeval", {"judge": {"base_url": judge_url, "model": "judge-4o"}})
    items = adapter.load(folder)
    assert [it.id for it in items] == ["C-Level/c1", "C-Level/c2", "C-Level/c3", "P-Level/p1"]
    assert adapter.rejected == []                          # the aux_cmp_gpt row is c1's companion, not an item
    c1, _, c3, p1 = items
    assert list(c1.companions) == ["style"]                # keyed by del_cons; its own prompt, same image
    assert c1.companions["style"].question == "<image>\nDescribe the picture. Use at most 5 words."
    d = adapter.detail("A cheerful cat", c1)               # no reply without the constraint: left out, said why
    assert d["scores"] == {"tone": 1.0, "word_count": 1.0, "no_comma": 1.0} and d["by"] == "judge"
    assert d["left_out"] == [{"key": "style", "method": "cmp_gpt", "reason": d["left_out"][0]["reason"]}]
    assert "no aux_cmp_gpt row" in d["left_out"][0]["reason"]
    assert adapter.score("A cheerful cat", c1) == 1.0 and len(judge_server.bodies) == 1   # score+detail: one call
    req = judge_server.bodies[0]
    assert req["model"] == "judge-4o" and req["temperature"] == 0 and req["max_tokens"] == 4096
    parts = req["messages"][-1]["content"]                # the official C-Level judge sees the image
    assert parts[1]["type"] == "image_url" and parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "Constraint_1: Write in a cheerful tone." in parts[0]["text"]
    assert adapter.score("A formal caption", c3) == 0.0
    assert adapter.score("A brown dog.", p1) == 1.0 and adapter.score("A dog.", p1) == 0.0
    assert isinstance(judge_server.bodies[-1]["messages"][-1]["content"], str)   # P-Level: text only, as officially
    agg = adapter.aggregate(items, [1.0, 1.0, 0.0, 1.0],
                            [adapter.detail(p, it) for p, it in zip(["A cheerful cat", "Dog!", "x", "brown dog"],
                                                                    items)])
    assert agg["scored_by"] == "judge" and agg["c_level"] == pytest.approx(2 / 3) and agg["p_level"] == 1.0
    assert agg["overall"] == 0.75 and agg["left_out"] == {"cmp_gpt": 1, "direct_gpt": 0}
    # the compare judge: shown the constraint and both replies, text only (official run_once_without_image)
    n = len(judge_server.bodies)
    with_reply = replace(c1, replies={"style": "A cat."})
    d = adapter.detail("A cheerful cat in verse", with_reply)
    assert d["scores"] == {"tone": 1.0, "word_count": 1.0, "no_comma": 1.0, "style": 1.0} and d["left_out"] == []
    cmp_req = judge_server.bodies[n + 1]["messages"][-1]["content"]
    assert isinstance(cmp_req, str) and "<start of constraint>\nWrite like a poet.\n<end of constraint>" in cmp_req
    assert "without the constraint>\nA cat.\n<end" in cmp_req
    assert adapter.score("A cheerful cat", replace(c1, replies={"style": "A cheerful cat"})) == 0.75  # same reply
    agg = adapter.aggregate([c1], [1.0], [d])
    assert agg["constraints_scored"] == {"rule_based": 2, "direct_gpt": 1, "cmp_gpt": 1} and agg["left_out"] == {
        "cmp_gpt": 0, "direct_gpt": 0}
    # re-scoring with the judge: the same verdicts, marked judge
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"record": P_ROWS[0], "prediction": "A brown dog."}) + "\n")
    out = rescore("mm_ifeval", preds, {"judge": {"base_url": judge_url, "model": "judge-4o"}})
    assert out["per_item"][0]["score"] == 1.0 and out["aggregate"]["scored_by"] == "judge"


def test_an_unreadable_verdict_is_retried_then_an_error_naming_the_item(tmp_path):
    from lomo_ablate.evaluate.judge import JudgeError

    with LoopbackJudge(lambda body: "Hmm.") as mumbler:   # a judge whose verdict the official parser cannot read
        adapter = get_adapter("mm_ifeval", {"judge": {"base_url": mumbler.url, "model": "m"}})
        c1 = adapter.load(hub_copy(tmp_path))[0]
        with pytest.raises(JudgeError, match=r"mm_ifeval: item 'C-Level/c1' \(.*C-Level.jsonl:line 1\).*3 tries"):
            adapter.score("A cheerful cat", c1)             # never a silent 0
        assert len(mumbler.requests) == 3


def test_the_compare_judge_through_the_evaluate_stage_and_the_cli(tiny_dir, judge_server, tmp_path):
    """With a judge, each aux_cmp_gpt row is generated beside its item under the same protocol, never a row or
    a count of its own; its reply reaches the compare judge; the CLI pairs the hub's aux rows the same way."""
    from lomo_ablate.evaluate import evaluate

    folder = hub_copy(tmp_path)
    judge = {"base_url": judge_server.url, "model": "judge-4o"}
    cfg = {"benchmarks": [{"name": "mm_ifeval", "path": str(folder), "options": {"judge": judge}}],
           "protocols": ["standard", "rendered"], "max_new_tokens": 6, "progress": False, "render": RENDER,
           "batch_size": 3, "mir": {"enabled": False}, "paired": {"enabled": False}}
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    rows = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    ids = ["C-Level/c1", "C-Level/c2", "C-Level/c3", "P-Level/p1"]
    assert [(r["protocol"], r["item_id"]) for r in rows] == [(p, i) for p in ("standard", "rendered") for i in ids]
    assert metrics["rejected"] == {"mm_ifeval": 0} and metrics["n_items"] == {"mm_ifeval": 4}
    assert metrics["scored_by"] == {"mm_ifeval": "judge"}
    for r in rows:   # only c1 has a companion; its reply is kept in the row, and judged
        assert ("companions" in r) == (r["item_id"] == "C-Level/c1")
    for proto in ("standard", "rendered"):
        c1 = next(r for r in rows if r["protocol"] == proto and r["item_id"] == "C-Level/c1")
        assert set(c1["companions"]) == {"style"} and "style" in c1["detail"]["scores"]
        cmp = [p for p in judge_server.prompts if isinstance(p, str) and "without the constraint>\n" in p
               and f"under the constraint>\n{c1['prediction']}\n" in p]
        assert any(f"without the constraint>\n{c1['companions']['style']}\n" in p for p in cmp)
        bm = metrics["benchmark_metrics"]["mm_ifeval"][proto]
        assert bm["constraints_scored"]["cmp_gpt"] == 1 and bm["left_out"] == {"cmp_gpt": 0, "direct_gpt": 0}
        assert bm["n_c_level"] == 3 and bm["n_p_level"] == 1
    # the same predictions re-scored from the hub rows (main rows + the aux row with its reply), through the CLI
    hub = {("C-Level/" if r["tag"] == "C-Level" else "P-Level/") + r["id"]: r for r in C_ROWS + P_ROWS
           if r["infer_type"] == "main"}
    aux = C_ROWS[1]
    std = [r for r in rows if r["protocol"] == "standard"]
    lines = [{"record": hub[r["item_id"]], "prediction": r["prediction"]} for r in std]
    lines.insert(1, {"record": aux, "prediction": std[0]["companions"]["style"]})   # the hub's own order
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(l) + "\n" for l in lines))
    out = subprocess.run([sys.executable, "-m", "lomo_ablate.evaluate.score", "mm_ifeval", str(preds),
                          "--judge-url", judge_server.url, "--judge-model", "judge-4o"],
                         capture_output=True, text=True, check=True)
    cli = json.loads(out.stdout)
    assert cli["per_item"][1] == {"line": 2, "item_id": "C-Level/c1#without:style", "score": None,
                                  "companion_of": "C-Level/c1", "companion": "style"}
    main = [p for p in cli["per_item"] if p["score"] is not None]
    assert [p["score"] for p in main] == [r["score"] for r in std]
    assert [p["detail"] for p in main] == [r["detail"] for r in std]
    bm = metrics["benchmark_metrics"]["mm_ifeval"]["standard"]
    assert cli["aggregate"] == {**bm, "scored_by": "judge"}


def test_orphan_aux_rows_and_compare_only_items_without_aux_are_set_aside(tmp_path, judge_server):
    folder = hub_copy(tmp_path)
    rows = [dict(C_ROWS[1], id="c9"),                       # an aux row whose main row is missing
            {"id": "c4", "tag": "C-Level", "infer_type": "main", "image": "images/cat.png", "instruction": "Sing.",
             "constraints": [{"key": "style", "value": "Rhyme.", "judge": {"method": "cmp_gpt"}}]}]
    with open(folder / "C-Level.jsonl", "a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    adapter = get_adapter("mm_ifeval", {"judge": {"base_url": judge_server.url, "model": "m"}})
    items = adapter.load(folder)                          # strict: well-formed rows are set aside, not raised
    assert [it.id for it in items] == ["C-Level/c1", "C-Level/c2", "C-Level/c3", "P-Level/p1"]
    reasons = {r["line"]: (r["reason"], r["detail"]) for r in adapter.rejected}
    assert reasons[5][1] == "id" and "no main row with id 'c9'" in reasons[5][0]
    assert reasons[6][1] == "constraints" and "no aux_cmp_gpt row" in reasons[6][0]
    assert get_adapter("mm_ifeval", {"judge": {"base_url": judge_server.url, "model": "m"}, "limit": 1}).load(
        folder)[0].companions   # limit counts main items: c1 keeps its companion


def test_a_chunk_is_bounded_by_items_and_by_decoded_image_bytes(tmp_path, judge_server):
    from lomo_ablate.evaluate.run import ItemRef, _open_chunks

    adapter = get_adapter("mm_ifeval", {"judge": {"base_url": judge_server.url, "model": "m"}})
    refs = [ItemRef("mm_ifeval", it) for it in adapter.load(hub_copy(tmp_path))]
    units = [("standard", 0, i) for i in range(len(refs))]
    one = 32 * 24 * 4                  # every image here is 32×24 or 24×32 RGB (Pillow: 4 bytes a pixel)
    sizes = lambda chunks: [[o.item.item_id.split("/")[1] for o in c] for c in chunks]  # noqa: E731
    # c1 holds two images (its own and its companion's)
    assert sizes(_open_chunks(units, refs, {"mm_ifeval": adapter}, 10, 2 * one + 10)) == [["c1"], ["c2", "c3"],
                                                                                           ["p1"]]
    assert sizes(_open_chunks(units, refs, {"mm_ifeval": adapter}, 3, 10**9)) == [["c1", "c2", "c3"], ["p1"]]
    assert sizes(_open_chunks(units, refs, {"mm_ifeval": adapter}, 10, 1)) == [["c1"], ["c2"], ["c3"], ["p1"]]
    first = next(_open_chunks(units, refs, {"mm_ifeval": adapter}, 10, 10**9))[0]
    assert [k for k, _ in first.companions] == ["style"] and first.companions[0][1].images[0].size == (32, 24)
