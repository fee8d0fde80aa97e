"""The re-scoring CLI (python -m lomo_ablate.evaluate.score) as a user runs it: a real subprocess on a
predictions file of {"record": <hub row>, "prediction": ...} lines, checked against the adapter's own scores."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.evaluate.score import main, rescore

ROOT = Path(__file__).resolve().parents[2]


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(l) + "\n" for l in lines), encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "lomo_ablate.evaluate.score", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def test_cli_rescores_docvqa_without_images_and_keeps_line_order(tmp_path):
    lines = [{"record": {"questionId": 7, "question": "What is the date?", "answers": ["May 5, 1999", "5/5/1999"]},
              "prediction": "may 5, 1999"},
             {"record": {"questionId": 8, "question": "Total?", "answers": ["$12.50"], "image": "pages/missing.png"},
              "prediction": "12.50"},
             {"record": {"questionId": 9, "question": "Who signed?", "answers": []}, "prediction": "Bob"}]
    path = write_lines(tmp_path / "preds.jsonl", lines)
    out = tmp_path / "scores.json"
    proc = run_cli("docvqa", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed == json.loads(out.read_text())
    per = printed["per_item"]
    assert [p["line"] for p in per] == [1, 2, 3]
    assert per[0]["item_id"] == "7" and per[0]["score"] == 1.0
    # the adapter's own ANLS on the same strings
    adapter = get_adapter("docvqa")
    assert per[1]["score"] == pytest.approx(1 - 1 / 6)  # "12.50" vs "$12.50": one edit in six
    assert per[2]["score"] is None and "no answers" in per[2]["rejected"] and per[2]["key"] == "answers"
    assert printed["aggregate"]["n"] == 2 and printed["aggregate"]["scored_by"] == "rule"
    assert printed["aggregate"]["accuracy"] == pytest.approx((1 + 1 - 1 / 6) / 2)
    assert printed["rejected"] == [{"line": 3, "reason": "no answers (test split rows have none)", "key": "answers"}]
    assert adapter.name == printed["benchmark"]


def test_cli_errors_name_file_line_and_key(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [{"record": {"question": "q", "answers": ["a"]}, "prediction": 3}])
    proc = run_cli("docvqa", str(path))
    assert proc.returncode == 2 and f"{path}:line 1: key 'prediction'" in proc.stderr
    proc = run_cli("no_such_bench", str(path))
    assert proc.returncode == 2 and "unknown benchmark 'no_such_bench'" in proc.stderr


def test_ifeval_rescore_gives_the_reference_four_accuracies(tmp_path, capsys):
    rows = [{"key": 1, "prompt": "lowercase please", "instruction_id_list": ["change_case:english_lowercase",
                                                                            "punctuation:no_comma"],
             "kwargs": [{}, {}]},
            {"key": 2, "prompt": "no commas", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}]
    path = write_lines(tmp_path / "p.jsonl", [{"record": rows[0], "prediction": "fine, thanks"},
                                              {"record": rows[1], "prediction": "Sure thing"}])
    assert main(["ifeval", str(path), "--option", "metric=inst_strict"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [p["score"] for p in result["per_item"]] == [0.5, 1.0]
    agg = result["aggregate"]
    assert agg["inst_strict"] == pytest.approx(2 / 3) and agg["prompt_strict"] == pytest.approx(0.5)
    assert result["per_item"][0]["detail"] == {"strict": [True, False], "loose": [True, False]}
    assert rescore("ifeval", path)["aggregate"] == {**agg, "metric": "prompt_strict"}
