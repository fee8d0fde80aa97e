"""MMLU-Pro, V*, CountBench, HumanEval and LiveCodeBench on small local copies laid out as on the hub. HumanEval
and LiveCodeBench really run the replies' code (a bounded subprocess)."""
from __future__ import annotations

import base64
import pickle
import zlib

import pytest

from hub_layouts import (HE_ROW, png, write_countbench, write_jsonl, write_livecodebench, write_mmlu_pro,
                         write_vstar)
from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.utils.config import ConfigError


def test_mmlu_pro_official_extraction(tmp_path):
    adapter = get_adapter("mmlu_pro", {"split": "test"})
    item = adapter.load(write_mmlu_pro(tmp_path).path)[0]
    assert item.options == ["4", "6", "7", "8", "9", "10"]                 # the N/A padding dropped
    text = adapter.build_prompt(item)[0][0]["content"]
    assert "F. 10" in text and "The answer is (X)" in text
    assert adapter.score("7 is prime, so the answer is (C).", item) == 1.0
    assert adapter.score("Answer: C", item) == 1.0
    assert adapter.score("A is even, C is prime.", item) == 1.0            # the last standalone letter
    assert adapter.score("the answer is (A)", item) == 0.0
    assert adapter.score("seven", item) == 0.0                            # no letter: wrong (no random guess)


def test_vstar_letter_against_label(tmp_path):
    adapter = get_adapter("vstar")
    item = adapter.load(write_vstar(tmp_path).path)[0]
    messages, images = adapter.build_prompt(item)
    assert images[0].size == (16, 12) and messages[0]["content"].count("(B) red") == 1
    assert adapter.score("B", item) == 1.0 and adapter.score("The cup is red.", item) == 1.0
    assert adapter.score("(A)", item) == 0.0
    assert adapter.aggregate([item], [1.0], [None])["accuracy_direct_attributes"] == 1.0


def test_countbench_number_words_and_digits(tmp_path):
    adapter = get_adapter("countbench")
    item = adapter.load(write_countbench(tmp_path).path)[0]
    assert item.answer == 3
    assert adapter.score("3", item) == 1.0 and adapter.score("There are three cats.", item) == 1.0
    assert adapter.score("I count 2 cats and 1 dog, so 3 animals... no: 4", item) == 0.0


def test_humaneval_runs_the_tests_on_restated_and_body_replies(tmp_path):
    path = write_jsonl(tmp_path / "HumanEval" / "HumanEval.jsonl", [HE_ROW])
    with pytest.raises(ConfigError, match="humaneval options.execute_code is false"):
        get_adapter("humaneval").load(path)
    adapter = get_adapter("humaneval", {"execute_code": True, "timeout_s": 5})
    (item,) = adapter.load(path)
    assert adapter.score("    return sum(xs)\n", item) == 1.0                                  # a body
    assert adapter.score("Here:\n```python\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```", item) == 1.0
    assert adapter.score("```python\ndef add(xs):\n    return 0\n```", item) == 0.0             # wrong
    assert adapter.score("```python\ndef add(xs):\n    while True:\n        pass\n```", item) == 0.0  # timed out


def test_livecodebench_stdin_and_functional_with_pickled_private_tests(tmp_path):
    path = write_livecodebench(tmp_path).path
    adapter = get_adapter("livecodebench", {"execute_code": True, "timeout_s": 5})
    stdin_item, func_item = adapter.load(path)
    assert len(stdin_item.metadata["tests"]) == 2
    good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    assert adapter.score(good, stdin_item) == 1.0
    assert adapter.score("```python\nprint(3)\n```", stdin_item) == 0.0   # passes public, fails private
    sol = "```python\nclass Solution:\n    def double(self, x: int) -> int:\n        return 2 * x\n```"
    assert adapter.score(sol, func_item) == 1.0
    assert adapter.score(sol.replace("2 * x", "x + 1"), func_item) == 0.0


def test_livecodebench_refuses_pickles_that_name_classes(tmp_path):
    evil = base64.b64encode(zlib.compress(pickle.dumps(ConfigError("x")))).decode()
    rows = [{"question_id": "q", "question_content": "x", "public_test_cases": "[]", "private_test_cases": evil}]
    adapter = get_adapter("livecodebench", {"execute_code": True, "strict": False})
    assert adapter.load(write_jsonl(tmp_path / "lcb.jsonl", rows)) == []
    assert "refused" in adapter.rejected[0]["reason"] and adapter.rejected[0]["detail"] == "private_test_cases"


def test_ccocr_token_f1_word_and_character_level(tmp_path):
    rows = [{"index": 0, "question": "Read all the text in the image.", "answer": "STOP here\nNow!",
             "image": base64.b64encode(png()).decode() * 1, "l2-category": "en_scene"},
            {"index": 1, "question": "Read all the text.", "answer": "你好世界", "image": base64.b64encode(png()).decode(),
             "l2-category": "zh_scene"}]
    rows = [dict(r, image="data:image/png;base64," + r["image"]) for r in rows]
    path = write_jsonl(tmp_path / "CC-OCR" / "multi_scene_ocr.jsonl", rows)
    adapter = get_adapter("ccocr", {"track": "multi_scene_ocr"})
    en, zh = adapter.load(path)
    assert adapter.score("stop HERE now", en) == pytest.approx(1.0, abs=1e-6)   # case and punctuation ignored
    assert adapter.detail("stop there", en) == {"right": 1, "n_gold": 3, "n_pred": 2}
    assert adapter.score("stop there", en) == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2), abs=1e-6)
    assert adapter.detail("你好", zh) == {"right": 2, "n_gold": 4, "n_pred": 2}   # character level for zh
    preds = ["stop there", "你好"]
    agg = adapter.aggregate([en, zh], [adapter.score(p, i) for p, i in zip(preds, [en, zh])],
                            [adapter.detail(p, i) for p, i in zip(preds, [en, zh])])
    assert agg["micro_f1"] == pytest.approx(2 * (3 / 7) * (3 / 4) / (3 / 7 + 3 / 4), abs=1e-6)
    with pytest.raises(ConfigError, match="track must be one of"):
        get_adapter("ccocr", {"track": "tables"})
