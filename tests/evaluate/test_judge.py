"""The LLM-judge path against a small OpenAI-compatible HTTP server started on loopback in the test (an
http.server thread). This is the one mock here: it stands in for a hosted judge / a vLLM server, which cannot
run on this machine; the client, the request it sends and the scoring around it are the real code."""
from __future__ import annotations

import json

import pytest

from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.evaluate.config import EvalConfig
from lomo_ablate.evaluate.judge import JudgeError, make_judge
from lomo_ablate.evaluate.score import rescore
from lomo_ablate.utils.config import ConfigError
from loopback_judge import LoopbackJudge


def _grade(body: dict) -> str:
    """Grades "A" when the gold target string appears in the predicted answer, else "B"."""
    prompt = body["messages"][-1]["content"]
    gold = prompt.split("Gold target: ")[1].split("\n")[0]
    pred = prompt.split("Predicted answer: ")[1].split("\n")[0]
    return "A" if gold.split(" / ")[0].lower() in pred.lower() else "B"


@pytest.fixture
def judge_server():
    with LoopbackJudge(_grade) as judge:
        yield judge


@pytest.fixture
def judge_url(judge_server):
    return judge_server.url


def test_simplevqa_is_judged_through_the_endpoint_and_marked(judge_server, tmp_path, monkeypatch):
    judge_url = judge_server.url
    monkeypatch.setenv("LOMO_TEST_JUDGE_KEY", "sk-test-123")
    judge = {"base_url": judge_url, "model": "judge-7b", "api_key_env": "LOMO_TEST_JUDGE_KEY"}
    rows = [{"data_id": 1, "question": "Which city?", "answer": "Paris"}]
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps({"record": rows[0], "prediction": p}) + "\n"
                            for p in ("It is Paris.", "Probably Paris or Lyon", "Rome")))
    out = rescore("simplevqa", path, {"judge": judge})
    assert [p["score"] for p in out["per_item"]] == [1.0, 1.0, 0.0]  # the (toy) judge's verdicts, not the rule's
    assert out["aggregate"]["scored_by"] == "judge"
    assert len(judge_server.requests) == 3
    req = judge_server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test-123"
    assert req["body"]["model"] == "judge-7b" and req["body"]["temperature"] == 0
    # the same lines without a judge: the rule, marked as such (the hedged reply gets no credit)
    ruled = rescore("simplevqa", path)
    assert [p["score"] for p in ruled["per_item"]] == [1.0, 0.0, 0.0] and ruled["aggregate"]["scored_by"] == "rule"
    assert "sk-test-123" not in json.dumps(out)


def test_eval_judge_reaches_the_benchmarks_that_take_one(judge_url):
    cfg = EvalConfig.from_dict({"benchmarks": [{"name": "simplevqa", "path": "x"}, {"name": "docvqa", "path": "y"}],
                                "judge": {"base_url": judge_url, "model": "m"}})
    cfg.validate()
    assert cfg.benchmarks[0].options["judge"]["base_url"] == judge_url
    assert "judge" not in cfg.benchmarks[1].options
    assert get_adapter("simplevqa", cfg.benchmarks[0].adapter_options()).scored_by == "judge"


def test_bad_judge_config_and_unreachable_judge_are_named():
    with pytest.raises(ConfigError, match="eval.judge.base_url must be an http"):
        EvalConfig.from_dict({"judge": {"base_url": "judge:8000", "model": "m"}}).validate()
    with pytest.raises(ConfigError, match="api_key_env must be an environment variable name"):
        make_judge({"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "sk-abc-123"})
    judge = make_judge({"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": 0, "timeout_s": 2})
    with pytest.raises(JudgeError, match=r"judge http://127.0.0.1:9/v1/chat/completions \(model 'm'\) failed"):
        judge.ask("hi")
