"""eval.engine=evalscope: EvalScope 1.14.1 loads local hub-layout copies (files these tests write in the layout
its adapters read: README `configs:`, <config>/<split>-*.parquet), offline, and scores; our protocols and the
real tiny random VLM (built from config, nothing downloaded, nothing mocked) answer in batches. The scorer
checks feed EvalScope known replies through the same replaying ModelAPI the engine uses."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

pytest.importorskip("evalscope", reason="EvalScope 1.14.1 is not installed (docs/evaluate.md: two-step install)")

from PIL import Image, ImageDraw  # noqa: E402

from lomo_ablate.data import probe_items  # noqa: E402
from lomo_ablate.distributed import DistributedEnvironment  # noqa: E402
from lomo_ablate.evaluate import EvalConfig, evaluate  # noqa: E402
from lomo_ablate.evaluate.engines.evalscope import BENCHMARKS, EvalScopeAdapter, input_key  # noqa: E402
from lomo_ablate.utils.config import ConfigError  # noqa: E402

RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}
PROTOCOLS = ["standard", "rendered_0.5", "rendered"]


def _readme(root: Path, config: str, splits: list[str]) -> None:
    lines = ["---", "configs:", f"- config_name: {config}", "  data_files:"]
    for s in splits:
        lines += [f"  - split: {s}", f"    path: {config}/{s}-*"]
    (root / "README.md").write_text("\n".join(lines + ["---", ""]))


def _parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_gsm8k(root: Path, n: int = 4) -> Path:
    """openai/gsm8k's layout: config `main`, splits test and train, columns question and answer (`#### n`)."""
    rows = [{"question": f"Tom has {i + 2} apples and buys {i + 1} more. How many apples does he have now?",
             "answer": f"{i + 2}+{i + 1}={2 * i + 3}\n#### {2 * i + 3}"} for i in range(n)]
    for split in ("test", "train"):
        _parquet(root / "main" / f"{split}-00000-of-00001.parquet", rows)
    _readme(root, "main", ["test", "train"])
    return root


def _png(text: str) -> bytes:
    im = Image.new("RGB", (64, 32), "white")
    ImageDraw.Draw(im).text((4, 10), text, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def write_docvqa(root: Path, n: int = 3) -> Path:
    """lmms-lab/DocVQA's layout: config `DocVQA`, split validation, an image struct with PNG bytes, answers list."""
    rows = [{"questionId": str(100 + i), "question": f"What is the number on page {i}?",
             "question_types": ["form"], "image": {"bytes": _png(str(7 * i)), "path": None}, "docId": i,
             "ucsf_document_id": f"d{i}", "ucsf_document_page_no": "1", "answers": [str(7 * i), f"no. {7 * i}"],
             "data_split": "validation"} for i in range(n)]
    _parquet(root / "DocVQA" / "validation-00000-of-00001.parquet", rows)
    _readme(root, "DocVQA", ["validation"])
    return root


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(120, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    write_gsm8k(root / "gsm8k")
    write_docvqa(root / "DocVQA")
    return root


def _cfg(bench_dir: Path, batch_size: int = 4) -> dict:
    return {"engine": "evalscope", "protocols": PROTOCOLS, "batch_size": batch_size, "chunk_size": 3,
            "max_new_tokens": 4, "render": RENDER, "progress": False, "mir": {"n": 4}, "paired": {"n": 3},
            "benchmarks": [{"name": "gsm8k", "path": str(bench_dir / "gsm8k")},
                           {"name": "docvqa", "path": str(bench_dir / "DocVQA")},
                           {"name": "probe", "n": 3, "seed": 2}],
            "evalscope": {"dataset_args": {"gsm8k": {"few_shot_num": 0}}}}


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def one_rank(tiny_dir, bench_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("es1") / "eval"
    return out, evaluate(tiny_dir, out, EvalConfig.from_dict(_cfg(bench_dir)))


def test_evalscope_engine_writes_its_reviews_and_reports_beside_our_predictions(one_rank):
    out, metrics = one_rank
    rows = _rows(out)
    # every EvalScope sample once per protocol, ids <subset>:<sample id>; the probe suite through our adapter
    assert sorted({(r["benchmark"], r["item_id"]) for r in rows if r["protocol"] == "standard"}) == sorted(
        [("gsm8k", f"main:{i}") for i in range(4)] + [("docvqa", f"DocVQA:{i}") for i in range(3)]
        + [("probe", f"probe:2:{i}") for i in range(3)])
    assert len(rows) == 10 * len(PROTOCOLS)
    assert metrics["engine"] == "evalscope"
    assert metrics["engines"]["gsm8k"]["engine"] == "evalscope" and metrics["engines"]["gsm8k"]["evalscope"] == "gsm8k"
    assert metrics["engines"]["probe"] == {"engine": "native", "scored_by": "rule",
                                           "reason": "EvalScope 1.14.1 lacks the probe suite (ours); scored by our adapter"}
    for proto in PROTOCOLS:
        for es, subset, n in (("gsm8k", "main", 4), ("docvqa", "DocVQA", 3)):
            review = out / "evalscope" / proto / "reviews" / "lomo" / f"{es}_{subset}.jsonl"
            recs = [json.loads(line) for line in review.read_text().splitlines()]
            assert len(recs) == n
            ours = {r["item_id"]: r for r in rows if r["benchmark"] == es and r["protocol"] == proto}
            for rec in recs:  # the review holds our reply for that sample, and its score is the row's
                row = ours[f"{subset}:{rec['sample_score']['sample_id']}"]
                assert rec["sample_score"]["score"]["prediction"] == row["prediction"]
                name = rec["sample_score"]["score"]["main_score_name"]
                assert rec["sample_score"]["score"]["value"][name] == row["score"]
            report = json.loads((out / "evalscope" / proto / "reports" / "lomo" / f"{es}.json").read_text())
            assert report["metrics"][0]["num"] == n
            bench = "gsm8k" if es == "gsm8k" else "docvqa"
            assert metrics["scores"][bench][proto] == pytest.approx(report["metrics"][0]["score"], abs=1e-4)


def test_rendered_items_record_the_image_the_model_saw(one_rank):
    out, _ = one_rank
    rows = _rows(out)
    std = {(r["benchmark"], r["item_id"]): r for r in rows if r["protocol"] == "standard"}
    assert not any("rendered_image" in r for r in std.values())
    for r in rows:
        if r["protocol"] == "standard" or r["benchmark"] == "probe":
            continue
        im = Image.open(out / r["rendered_image"])
        assert im.size[0] > 10 and im.size[1] > 5
        if r["protocol"] == "rendered" and r["benchmark"] == "gsm8k":
            # text-only GSM8K under the rendered protocol: the whole question — EvalScope's template included —
            # is the image (and there is no original image)
            assert r["rendered_text"].startswith("Tom has") and "put your final answer within" in r["rendered_text"]
        if r["protocol"] == "rendered" and r["benchmark"] == "docvqa":
            assert "What is the number on page" in r["rendered_text"]
        if r["protocol"] == "rendered_0.5":  # a centred part of the question, not all of it
            whole = next(x for x in rows if x["protocol"] == "rendered" and x["item_id"] == r["item_id"]
                         and x["benchmark"] == r["benchmark"])["rendered_text"]
            assert r["rendered_text"] in whole and r["rendered_text"] != whole


def test_two_ranks_give_the_same_predictions_as_one_at_another_batch_size(one_rank, tiny_dir, bench_dir, tmp_path):
    """Rank 1 generates its shard, then rank 0 its own, gathers and reviews (the file-based gather needs no
    process group, so the ranks can run one after the other here)."""
    out1, metrics1 = one_rank
    out2 = tmp_path / "eval"
    cfg = EvalConfig.from_dict(_cfg(bench_dir, batch_size=2))
    envs = [DistributedEnvironment(rank=r, world_size=2, local_rank=r, local_world_size=2, master_addr="x",
                                   master_port=0, source="test") for r in (1, 0)]
    part = evaluate(tiny_dir, out2, cfg, env=envs[0])
    assert part["rank"] == 1 and 0 < part["generated"] < 10 * len(PROTOCOLS)
    metrics2 = evaluate(tiny_dir, out2, cfg, env=envs[1])
    assert (out2 / "predictions.jsonl").read_bytes() == (out1 / "predictions.jsonl").read_bytes()
    assert metrics2["scores"] == metrics1["scores"]


def _replay_scores(adapter: EvalScopeAdapter, replies: dict[str, str], tmp: Path) -> dict[str, float]:
    """EvalScope's own run (its evaluator, reviews) on ``replies`` through the engine's replaying model."""
    from lomo_ablate.evaluate.engines import evalscope as es

    rows = [{"benchmark": adapter.name, "protocol": "standard", "item_id": i, "prediction": p, "score": -1.0}
            for i, p in replies.items()]
    es.review(rows, {adapter.name: adapter}, ["standard"], tmp)
    return {r["item_id"]: r["score"] for r in rows}


def test_scores_are_evalscopes_rule_for_known_replies(bench_dir, tmp_path):
    gsm = EvalScopeAdapter("gsm8k", str(bench_dir / "gsm8k"), None, {"few_shot_num": 0}, tmp_path / "es")
    items = gsm.load()
    replies = {"main:0": "2+1 = 3, so the answer is \\boxed{3}.", "main:1": "\\boxed{6}", "main:2": "7",
               "main:3": "I think \\boxed{9.0}"}
    per_row = {i: gsm.sample_score(p, gsm.items[i])[0] for i, p in replies.items()}
    assert per_row == {"main:0": 1.0, "main:1": 0.0, "main:2": 1.0, "main:3": 1.0}  # 9.0 = 9 numerically
    assert _replay_scores(gsm, replies, tmp_path / "out") == per_row  # its evaluator's review agrees, row by row
    assert all(gsm.score(p, gsm.items[i]) != gsm.score(p, gsm.items[i]) for i, p in replies.items())  # NaN until reviewed
    assert [it.answer for it in items] == ["3", "5", "7", "9"]

    doc = EvalScopeAdapter("docvqa", str(bench_dir / "DocVQA"), 2, {}, tmp_path / "es")
    items = doc.load()
    assert len(items) == 2  # n caps each subset
    messages, images = doc.build_prompt(items[1])
    assert len(images) == 1 and messages[0]["content"].count("<image>") == 1
    assert doc.sample_score("7", items[1])[0] == 1.0 and doc.sample_score("no. 7", items[1])[0] == 1.0
    assert doc.sample_score("no 7", items[1])[0] == pytest.approx(0.8)  # ANLS: 1 - edit distance 1 / length 5
    assert doc.sample_score("zzz", items[1])[0] == 0.0


def test_the_replay_key_ignores_message_ids_but_not_images(bench_dir, tmp_path):
    doc = EvalScopeAdapter("docvqa", str(bench_dir / "DocVQA"), None, {}, tmp_path / "es")
    a, b, c = doc.load()
    assert input_key(a.sample.input) != input_key(b.sample.input)
    again = EvalScopeAdapter("docvqa", str(bench_dir / "DocVQA"), None, {}, tmp_path / "es2").load()
    assert [input_key(x.sample.input) for x in again] == [input_key(x.sample.input) for x in (a, b, c)]


def test_a_new_folder_of_the_same_name_is_read_afresh(tmp_path):
    """The stale-cache pitfall: two different folders called gsm8k must not share a datasets cache."""
    write_gsm8k(tmp_path / "a" / "gsm8k", n=2)
    write_gsm8k(tmp_path / "b" / "gsm8k", n=3)
    work = tmp_path / "es"
    first = EvalScopeAdapter("gsm8k", str(tmp_path / "a" / "gsm8k"), None, {"few_shot_num": 0}, work).load()
    second = EvalScopeAdapter("gsm8k", str(tmp_path / "b" / "gsm8k"), None, {"few_shot_num": 0}, work).load()
    assert (len(first), len(second)) == (2, 3)


def test_config_names_engines_and_benchmarks_only_evalscope_has(bench_dir):
    # every benchmark of EvalScope's table also has an adapter of ours, so either engine takes it
    for engine in ("evalscope", "native"):
        cfg = EvalConfig.from_dict({"engine": engine, "benchmarks": [{"name": "vstar", "path": "/x"}]})
        assert cfg.benchmarks[0].name == "vstar"
        with pytest.raises(ConfigError, match=r"eval\.benchmarks\[0\]\.name: unknown benchmark 'nosuch'; known: "):
            EvalConfig.from_dict({"engine": engine, "benchmarks": [{"name": "nosuch", "path": "/x"}]})
    with pytest.raises(ConfigError, match=r"eval\.evalscope\.dataset_args\.gsm8k\.dataset_id"):
        EvalConfig.from_dict({"engine": "evalscope", "evalscope": {"dataset_args": {"gsm8k": {"dataset_id": "x"}}}})
    with pytest.raises(ConfigError, match=r"eval\.engine: unknown engine 'vllm'"):
        EvalConfig.from_dict({"engine": "vllm"})
    # the table's EvalScope names are registered in the installed EvalScope
    from evalscope.api.registry import BENCHMARK_REGISTRY, get_benchmark

    for entry in BENCHMARKS.values():
        assert get_benchmark(entry.evalscope).name == entry.evalscope, BENCHMARK_REGISTRY
