"""Benchmarks through the pipeline's evaluate stage (a real tiny random VLM generates; nothing mocked) and the
same predictions re-scored by the CLI: the scores agree row for row, and metrics.json carries each
benchmark's own metrics (IFEval's four accuracies, WeMath's dimensions, HallusionBench's levels)."""
from __future__ import annotations

import json

import pytest

from lomo_ablate.data import probe_items
from lomo_ablate.evaluate import evaluate
from lomo_ablate.evaluate.score import rescore

RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(60, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


def hub_copies(root):
    ifeval = [{"key": 1, "prompt": "Write in lowercase.", "instruction_id_list": ["change_case:english_lowercase",
                                                                                 "punctuation:no_comma"],
               "kwargs": [{}, {}]},
              {"key": 2, "prompt": "No commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}]
    base = {"category": "VD", "subcategory": "s", "set_id": "0"}
    hallu = [dict(base, figure_id=str(f), question_id=str(q), question=f"Q{q} on F{f}?", gt_answer=str((f + q) % 2))
             for f in range(2) for q in range(2)]
    wemath = [{"ID": "1", "key": k, "question": f"Q {k}", "option": "A. 1; B. 2", "answer": "A", "image_path": None}
              for k in ("2steps_1", "2steps_2", "2steps_multi")]
    return {"ifeval": write_jsonl(root / "IFEval" / "ifeval_input_data.jsonl", ifeval),
            "hallusionbench": write_jsonl(root / "HallusionBench" / "test.jsonl", hallu),
            "wemath": write_jsonl(root / "WeMath" / "testmini.jsonl", wemath)}


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
