"""Benchmarks through the pipeline's evaluate stage (a real tiny random VLM generates; nothing mocked) and the
same predictions re-scored by the CLI: the scores agree row for row, and metrics.json carries each
benchmark's own metrics (IFEval's four accuracies, WeMath's dimensions, HallusionBench's levels)."""
from __future__ import annotations

import json

import pytest

from lomo_ablate.data import probe_items
from lomo_ablate.evaluate import evaluate
from lomo_ablate.evaluate.score import rescore
from hub_layouts import WRITERS, write_jsonl

RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(60, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


def hub_copies(root):
    """IFEval, HallusionBench and WeMath as tests/hub_layouts.py writes them: name -> the JSONL file."""
    return {name: next(WRITERS[name](root).path.glob("*.jsonl")) for name in ("ifeval", "hallusionbench", "wemath")}


def test_stage_scores_equal_cli_rescores_and_metrics_carry_benchmark_levels(tiny_dir, tmp_path):
    paths = hub_copies(tmp_path / "bench")
    cfg = {"benchmarks": [{"name": n, "path": str(p)} for n, p in paths.items()],
           "protocols": ["standard", "rendered"], "max_new_tokens": 4, "progress": False, "render": RENDER,
           "mir": {"enabled": False}, "paired": {"enabled": False}}
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    rows = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == (2 + 4 + 3) * 2
    assert metrics["scored_by"] == {"ifeval": "rule", "hallusionbench": "rule", "wemath": "rule"}
    assert metrics["categories_scored_by"] == {"Factuality": "rule", "Math": "rule", "Text-only": "rule"}
    bm = metrics["benchmark_metrics"]
    assert set(bm["ifeval"]["rendered"]) >= {"prompt_strict", "prompt_loose", "inst_strict", "inst_loose"}
    assert bm["ifeval"]["standard"]["n_instructions"] == 3
    assert {"aAcc", "fAcc", "qAcc"} <= set(bm["hallusionbench"]["standard"])
    assert bm["wemath"]["standard"]["n_composite"] == 1 and "score_strict" in bm["wemath"]["standard"]
    for bench, path in paths.items():
        records = [json.loads(l) for l in path.read_text().splitlines()]
        for proto in ("standard", "rendered"):
            mine = [r for r in rows if r["benchmark"] == bench and r["protocol"] == proto]
            preds = write_jsonl(tmp_path / f"{bench}_{proto}.jsonl",
                                [{"record": rec, "prediction": r["prediction"]} for rec, r in zip(records, mine)])
            out = rescore(bench, preds)
            assert [p["score"] for p in out["per_item"]] == [r["score"] for r in mine], (bench, proto)
            assert [p.get("detail") for p in out["per_item"]] == [r.get("detail") for r in mine]
            agg = {k: v for k, v in out["aggregate"].items() if k != "scored_by"}
            assert json.loads(json.dumps(agg)) == json.loads(json.dumps(bm[bench][proto]))
            assert metrics["scores"][bench][proto] == pytest.approx(sum(r["score"] for r in mine) / len(mine))
