"""evaluate() end to end and hidden-state collection on a real tiny random Qwen3.5-family VLM built from config
(no weights downloaded; nothing mocked). Greedy batched generation: tests/models/test_generation.py."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from lomo_ablate.data import probe_items
from lomo_ablate.evaluate import EvalConfig, evaluate
from lomo_ablate.evaluate.benchmarks.probe import ProbeAdapter, normalize_answer
from lomo_ablate.evaluate.hidden import _differing_region, image_token_id, modality_states
from lomo_ablate.evaluate.protocols import from_adapter, parse_protocol, prompts_for, renderer_fn

PROTOCOLS = ["standard", "rendered_0.33", "rendered_0.67", "rendered"]
CONTRACT_ROW_KEYS = {"benchmark", "protocol", "item_id", "category", "prediction", "answer", "score"}
RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}  # small, no TeX


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(120, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    from lomo_ablate.models import load_pretrained

    return load_pretrained(tiny_dir)


@pytest.fixture(scope="module")
def items():
    adapter = ProbeAdapter({"n": 10, "seed": 3})
    return [from_adapter(adapter, it) for it in adapter.load()]


def test_evaluate_writes_the_contract_files(tiny_dir, tmp_path):
    cfg = EvalConfig.from_dict({"benchmarks": [{"name": "probe", "n": 7, "seed": 3}], "protocols": PROTOCOLS,
                                "batch_size": 8, "max_new_tokens": 4, "render": RENDER, "progress": False,
                                "paired": {"n": 7}, "carrier_bins": 3, "chunk_size": 3})
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    rows = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]

    # every item accounted for, once per protocol, with exactly the contract's keys
    assert len(rows) == 7 * len(PROTOCOLS)
    assert Counter((r["item_id"], r["protocol"]) for r in rows) == Counter(
        {(f"probe:3:{i}", p): 1 for i in range(7) for p in PROTOCOLS})
    assert all(set(r) == CONTRACT_ROW_KEYS for r in rows)
    for r in rows:  # scores are the exact match of prediction and answer, recomputed here
        assert r["score"] == float(normalize_answer(r["prediction"]) == normalize_answer(r["answer"]))

    on_disk = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    for p in PROTOCOLS:
        acc = np.mean([r["score"] for r in rows if r["protocol"] == p])
        assert metrics["scores"]["probe"][p] == pytest.approx(acc)
        assert metrics["overall"][p] == pytest.approx(acc)
    assert set(metrics["categories"]) == {r["category"] for r in rows}
    assert len(metrics["mir"]["per_layer"]) == 2  # hidden_states[1:] of the 2-layer tiny model
    assert metrics["mir"]["mean"] == pytest.approx(np.mean(metrics["mir"]["per_layer"]))
    assert 0.0 <= metrics["paired_distance"] <= 2.0
    assert sum(b["n"] for b in metrics["carrier_bins"]) == metrics["paired_n"] == 7
    paired = [json.loads(l) for l in (tmp_path / "eval" / "paired.jsonl").read_text().splitlines()]
    assert np.mean([p["distance"] for p in paired]) == pytest.approx(metrics["paired_distance"])
    by_key = {(r["item_id"], r["protocol"]): r["score"] for r in rows}
    assert all(p["rendered"] == by_key[(p["item_id"], "rendered")] for p in paired)
    assert (tmp_path / "eval" / "protocols.png").stat().st_size > 0
    assert (tmp_path / "eval" / "protocol_examples.png").stat().st_size > 0


def test_evaluate_counts_rows_a_benchmark_set_aside(tiny_dir, tmp_path):
    """A file benchmark with a bad row, read leniently: the row lands in rejected.jsonl and is counted."""
    data = tmp_path / "gsm8k.jsonl"
    data.write_text(json.dumps({"question": "What is 2 plus 3?", "answer": "2+3=5 #### 5"}) + "\n"
                    + json.dumps({"question": "What is 4 plus 4?", "answer": "eight"}) + "\n")
    cfg = {"benchmarks": [{"name": "gsm8k", "path": str(data), "options": {"strict": False}},
                          {"name": "probe", "n": 3}],
           "protocols": ["standard"], "max_new_tokens": 2, "progress": False, "render": RENDER,
           "mir": {"enabled": False}, "paired": {"enabled": False}}
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    assert metrics["n_items"] == {"gsm8k": 1, "probe": 3}
    assert metrics["rejected"] == {"gsm8k": 1, "probe": 0}
    rej = [json.loads(l) for l in (tmp_path / "eval" / "rejected.jsonl").read_text().splitlines()]
    assert rej[0]["benchmark"] == "gsm8k" and rej[0]["line"] == 2 and "answer" in rej[0]["detail"]
    # GSM8K is text-only (paper Table 6): its own group and average, not in the multimodal overall
    assert metrics["categories"]["Text-only"]["standard"] == metrics["scores"]["gsm8k"]["standard"]
    assert metrics["text_only"]["standard"] == metrics["scores"]["gsm8k"]["standard"]
    assert metrics["overall_benchmarks"] == ["probe"] and metrics["overall"] == metrics["scores"]["probe"]
    assert metrics["mir"] is None and metrics["paired_distance"] is None


def test_modality_states_are_capped_and_per_layer(loaded, items):
    model, processor = loaded
    prompts = prompts_for(items, parse_protocol("standard"), None)
    vis, txt = modality_states(model, processor, prompts, batch_size=4, max_tokens=30, seed=1, progress=False)
    assert len(vis) == len(txt) == model.config.text_config.num_hidden_layers
    assert vis[0].shape == (30, model.config.text_config.hidden_size) and txt[0].shape[0] == 30
    vis2, _ = modality_states(model, processor, prompts, batch_size=7, max_tokens=30, seed=1, progress=False)
    np.testing.assert_allclose(vis[0], vis2[0], atol=1e-4)  # same tokens, whatever the batching


def test_alignment_states_do_not_depend_on_how_much_encoded_input_is_kept(loaded, items):
    """MIR's and the paired distance's two passes (choose tokens, then run the model) give the same states
    whether every encoded prompt is kept between them or each is encoded again (keep_bytes=0)."""
    from lomo_ablate.evaluate.hidden import paired_first_layer
    from lomo_ablate.render import RenderConfig, Renderer

    model, processor = loaded
    prompts = prompts_for(items, parse_protocol("standard"), None)
    kept = modality_states(model, processor, prompts, batch_size=4, max_tokens=30, seed=1, progress=False)
    again = modality_states(model, processor, prompts, batch_size=4, max_tokens=30, seed=1, progress=False,
                            keep_bytes=0)
    for a, b in zip(kept[0] + kept[1], again[0] + again[1], strict=True):
        np.testing.assert_array_equal(a, b)
    render = renderer_fn(Renderer(RenderConfig.from_dict(RENDER)))
    text, rendered = (prompts_for(items, parse_protocol(p), render) for p in ("standard", "rendered"))
    tv, iv, k = paired_first_layer(model, processor, text, rendered, batch_size=3, progress=False)
    tv2, iv2, k2 = paired_first_layer(model, processor, text, rendered, batch_size=3, progress=False, keep_bytes=0)
    assert k == k2 and len(k) > 0
    np.testing.assert_array_equal(tv, tv2)
    np.testing.assert_array_equal(iv, iv2)


def test_mir_and_paired_open_one_window_of_items_at_a_time(tiny_dir, tmp_path, monkeypatch):
    """evaluate() hands MIR and the paired distance lazy prompts: never more than ``batch_size`` items open at
    once (a document item can hold ~1 GB), and the same metrics as with every item open."""
    from lomo_ablate.evaluate import run

    cfg = {"benchmarks": [{"name": "probe", "n": 9, "seed": 3}], "protocols": ["standard", "rendered"],
           "batch_size": 4, "max_new_tokens": 3, "render": RENDER, "progress": False, "paired": {"n": 9},
           "mir": {"n": 9, "max_tokens": 40}}
    opened: list[int] = []
    real = run.materialize
    monkeypatch.setattr(run, "materialize", lambda refs, adapters: opened.append(len(refs)) or real(refs, adapters))
    lazy = evaluate(tiny_dir, tmp_path / "lazy", {**cfg, "chunk_mb": 1})   # keeps next to no encoded input
    *alignment, examples = opened                      # the last: protocol_examples.png (one per category, <= 6)
    assert alignment and max(alignment) <= 4 and examples <= 6   # windows of batch_size, or one item
    monkeypatch.setattr(run, "materialize", real)
    eager = evaluate(tiny_dir, tmp_path / "eager", cfg)
    assert lazy["mir"] == eager["mir"] and lazy["paired_distance"] == eager["paired_distance"]
    assert (tmp_path / "lazy" / "paired.jsonl").read_text() == (tmp_path / "eager" / "paired.jsonl").read_text()


def test_paired_regions_are_the_question_tokens(loaded, items):
    """The text region found by prefix/suffix matching decodes to the question; the rendered region holds
    exactly the rendered image's tokens."""
    from lomo_ablate.render import RenderConfig, Renderer
    from lomo_ablate.models.generation import encode_prompts

    model, processor = loaded
    render = renderer_fn(Renderer(RenderConfig.from_dict(RENDER)))
    text_items = [it for it in items if not it.images][:3]
    t = encode_prompts(processor, prompts_for(text_items, parse_protocol("standard"), render))
    r = encode_prompts(processor, prompts_for(text_items, parse_protocol("rendered"), render))
    img = image_token_id(model)
    for it, a, b in zip(text_items, t, r):
        ids_t, ids_r = a["input_ids"].tolist(), b["input_ids"].tolist()
        (a0, a1), (b0, b1) = _differing_region(ids_t, ids_r)
        assert processor.tokenizer.decode(ids_t[a0:a1]).strip() == it.question
        assert sum(x == img for x in ids_r[b0:b1]) == sum(x == img for x in ids_r) > 0


def test_text_only_benchmarks_run_under_the_rendered_protocol(tiny_dir, tmp_path):
    """A text-only benchmark (GSM8K, no original image): under ``rendered`` the model gets the question as
    one image and no question text; under ``rendered_0.5`` text-image-text; every protocol is scored."""
    from lomo_ablate.evaluate.run import load_items, materialize
    from lomo_ablate.evaluate.config import BenchmarkSpec
    from lomo_ablate.render import RenderConfig, Renderer

    data = tmp_path / "gsm8k.jsonl"
    data.write_text(json.dumps({"question": "Tom has 3 apples. He buys 2 more. How many apples does he have?",
                                "answer": "3+2=5 #### 5"}) + "\n"
                    + json.dumps({"question": "A box holds 4 pens. How many pens are in 2 boxes?",
                                  "answer": "4*2=8 #### 8"}) + "\n")
    refs, adapters, _ = load_items([BenchmarkSpec(name="gsm8k", path=str(data))])
    items = materialize(refs, adapters)
    assert all(not it.images for it in items)
    render = renderer_fn(Renderer(RenderConfig.from_dict(RENDER)))
    full = prompts_for(items, parse_protocol("rendered"), render)
    assert [p.messages[0]["content"] for p in full] == ["<image>", "<image>"]
    assert [len(p.images) for p in full] == [1, 1]
    for p, it in zip(full, items):
        assert p.rendered_text == it.question  # the whole question (with its instruction) is the image
        assert np.asarray(p.images[0].convert("L")).min() < 128  # real glyphs drawn, not a blank image
    half = prompts_for(items[:1], parse_protocol("rendered_0.5"), render)[0]
    text = half.messages[0]["content"]
    assert text.count("<image>") == 1 and text.startswith("Tom has 3 apples.") and "He buys" not in text

    cfg = {"benchmarks": [{"name": "gsm8k", "path": str(data)}], "protocols": ["standard", "rendered_0.5", "rendered"],
           "max_new_tokens": 2, "progress": False, "render": RENDER, "mir": {"enabled": False}, "paired": {"n": 2}}
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    rows = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert Counter(r["protocol"] for r in rows) == {"standard": 2, "rendered_0.5": 2, "rendered": 2}
    assert set(metrics["scores"]["gsm8k"]) == {"standard", "rendered_0.5", "rendered"}
    assert metrics["paired_n"] == 2  # the paired distance needs no original image either
