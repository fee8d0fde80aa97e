"""train(): end to end on a tiny curated dir, exact resume, bad records, packing, freezing, schedule.

Real parts only: a tiny random-init Qwen3.5 VLM built from config, real PNGs, real files on disk.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from train_helpers import render_text, write_dataset
from lomo_ablate.models import ConfigError, ModelConfig, TinyModelConfig, build_tiny, encode, load_pretrained
from lomo_ablate.train import DatasetError, DeepSpeedSettings, TrainerConfig, deepspeed_config, lr_factor, train
from lomo_ablate.train.collate import pack_collate, pad_collate, rope_index_fn


def _cfg(**kw) -> TrainerConfig:
    base = dict(per_device_batch_size=4, lr=3e-3, min_lr=1e-4, warmup_ratio=0.1, progress=False)
    base.update(kw)
    return TrainerConfig.from_dict(base)


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_metrics.jsonl").read_text().splitlines()]


def test_train_end_to_end_writes_loadable_model_and_metrics(tmp_path):
    seen = []
    data = write_dataset(tmp_path / "data", n=16)
    res = train(data, tmp_path / "out", ModelConfig(), _cfg(epochs=2), log_fn=lambda s, m: seen.append((s, m)))
    rows = _metrics(tmp_path / "out")
    assert res.steps == 8 and len(rows) == 8  # 16 records / batch 4 = 4 steps per epoch, 2 epochs
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert [m for _, m in seen] == rows  # log_fn gets exactly what the file holds
    for r in rows:
        assert {"loss", "lr", "grad_norm", "tokens_per_s"} <= set(r) and "mfu" not in r  # no GPU here
    assert rows[-1]["loss"] < rows[0]["loss"] * 0.7  # it learns
    assert rows[-1]["lr"] < rows[len(rows) // 2]["lr"] < max(r["lr"] for r in rows)  # cosine decay
    model, processor = load_pretrained(res.final_dir)
    assert type(model).__name__ == "Qwen3_5ForConditionalGeneration"
    enc = encode(processor, [{"role": "user", "content": "Compute 1 + 2 please."}], [], add_generation_prompt=True)
    assert model.generate(**{k: v[None] for k, v in enc.items()}, max_new_tokens=3).shape[1] > len(enc["input_ids"])
    assert res.skipped == 0 and res.skipped_path.read_text() == ""
    from PIL import Image as PILImage

    with PILImage.open(tmp_path / "out" / "train_curve.png") as png:  # loss/lr/throughput curves to look at
        assert png.width > 600 and png.height > 200


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    data = write_dataset(tmp_path / "data", n=12)
    cfg = _cfg(epochs=2, save_every=2)  # 3 steps per epoch (resume crosses an epoch), 6 steps
    ref = train(data, tmp_path / "ref", ModelConfig(), cfg)

    class Preempted(Exception):
        pass

    def preempt(step, _metrics):
        if step == 5:
            raise Preempted  # after step 5 ran, before its checkpoint: resume from 4 must redo step 5

    with pytest.raises(Preempted):
        train(data, tmp_path / "cut", ModelConfig(), cfg, log_fn=preempt)
    assert (tmp_path / "cut" / "checkpoints" / "step-4" / "_SUCCESS").is_file()
    res = train(data, tmp_path / "cut", ModelConfig(), cfg)
    assert res.resumed_from_step == 4
    a = load_pretrained(ref.final_dir)[0].state_dict()
    b = load_pretrained(res.final_dir)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in _metrics(tmp_path / "ref")] == [r["loss"] for r in _metrics(tmp_path / "cut")]


def test_bad_records_are_set_aside_with_id_and_reason(tmp_path):
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "images" / "broken.png").write_bytes(b"not a png at all")
    render_text("7").save(root / "images" / "ok.png")
    bad = [
        json.dumps({"id": "missing", "messages": [{"role": "user", "content": "<image>"},
                                                   {"role": "assistant", "content": "a"}], "images": ["images/nope.png"]}),
        json.dumps({"id": "unreadable", "messages": [{"role": "user", "content": "<image>"},
                                                      {"role": "assistant", "content": "a"}],
                    "images": ["images/broken.png"]}),
        json.dumps({"id": "slots", "messages": [{"role": "user", "content": "<image> <image>"},
                                                 {"role": "assistant", "content": "a"}], "images": ["images/ok.png"]}),
        "{this is not json",
    ]
    write_dataset(root, n=8, extra_lines=bad)
    res = train(root, tmp_path / "out", ModelConfig(), _cfg())  # one epoch of 12 lines / batch 4 reads all
    skipped = [json.loads(line) for line in res.skipped_path.read_text().splitlines()]
    assert res.skipped == 4 and res.num_samples == 8 and res.records == 12 and res.unplanned == 0
    assert json.loads((tmp_path / "out" / "skipped_summary.json").read_text())["reasons"] == {
        "image_missing": 1, "image_unreadable": 1, "slot_mismatch": 1, "invalid_json": 1}
    assert [(s["id"], s["reason"]) for s in skipped] == [
        ("missing", "image_missing"), ("unreadable", "image_unreadable"), ("slots", "slot_mismatch"),
        ("line:12", "invalid_json")]
    with pytest.raises(DatasetError, match=r"data\.jsonl:9: record 'missing': image_missing"):
        train(root, tmp_path / "strict", ModelConfig(), _cfg(max_steps=1, strict=True))


def test_overlong_records_are_skipped_not_truncated(tmp_path):
    data = write_dataset(tmp_path / "data", n=7, extra_lines=[json.dumps(
        {"id": "long", "messages": [{"role": "user", "content": "word " * 200},
                                    {"role": "assistant", "content": "a"}], "images": []})])
    res = train(data, tmp_path / "out", ModelConfig(), _cfg(max_seq_len=96))  # one epoch reads all 8
    assert [json.loads(x)["reason"] for x in res.skipped_path.read_text().splitlines()] == ["too_long"]


def test_packed_logits_equal_unpacked(tmp_path):
    data = write_dataset(tmp_path / "data", n=6, image_every=2)
    out = build_tiny(TinyModelConfig(layer_types=["full_attention", "full_attention"]), ["Compute 1 + 2"],
                     tmp_path / "m")
    model, processor = load_pretrained(out)
    model.eval()
    recs = [json.loads(line) for line in (data / "data.jsonl").read_text().splitlines()]
    from PIL import Image

    samples = [encode(processor, r["messages"], [Image.open(data / p) for p in r["images"]]) for r in recs]
    with torch.no_grad():
        packed = model(**pack_collate(samples, rope_index_fn(model)), use_cache=False).logits[0]
        offset = 0
        for s in samples:
            alone = model(**pad_collate([s], processor.tokenizer.pad_token_id), use_cache=False).logits[0]
            n = len(s["input_ids"])
            torch.testing.assert_close(packed[offset:offset + n], alone, atol=1e-5, rtol=1e-5)
            offset += n


def test_packing_trains_with_the_same_first_loss_and_refuses_linear_attention(tmp_path):
    data = write_dataset(tmp_path / "data", n=8)
    full = ModelConfig.from_dict({"tiny": {"layer_types": ["full_attention", "full_attention"]}})
    plain = train(data, tmp_path / "plain", full, _cfg(max_steps=1))
    packed = train(data, tmp_path / "packed", full, _cfg(max_steps=1, packing=True))
    assert math.isclose(_metrics(tmp_path / "plain")[0]["loss"], _metrics(tmp_path / "packed")[0]["loss"],
                        rel_tol=1e-5)
    assert packed.tokens_seen == plain.tokens_seen  # no padding counted
    with pytest.raises(ConfigError, match="linear-attention"):
        hybrid = ModelConfig.from_dict({"tiny": {"layer_types": ["linear_attention", "full_attention"]}})
        train(data, tmp_path / "hybrid", hybrid, _cfg(max_steps=1, packing=True))


def test_frozen_vision_tower_stays_put_projector_and_lm_train(tmp_path):
    data = write_dataset(tmp_path / "data", n=8, image_every=1)
    mcfg = ModelConfig.from_dict({"frozen": ["model.visual.*"], "trainable": ["model.visual.merger.*"]})
    res = train(data, tmp_path / "out", mcfg, _cfg(max_steps=2))
    before = load_pretrained(tmp_path / "out" / "tiny_init")[0].state_dict()
    after = load_pretrained(res.final_dir)[0].state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith("model.visual.") and ".merger." not in k for k in changed)
    assert any(".merger." in k for k in changed) and any("language_model" in k for k in changed)
    assert res.trainable_params < res.total_params
    with pytest.raises(ConfigError, match="matches no parameter"):
        train(data, tmp_path / "typo", ModelConfig.from_dict({"frozen": ["vision_tower.*"]}), _cfg(max_steps=1))


def test_trainer_config_rejects_unknown_keys_by_name():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'trainer.learning_rate' in trainer; allowed:.*\blr\b"):
        TrainerConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'trainer\.deepspeed\.zero_stage'"):
        TrainerConfig.from_dict({"deepspeed": {"zero_stage": 1}})
    assert TrainerConfig.from_dict({"deepspeed": {"stage": 1}}).deepspeed == DeepSpeedSettings(stage=1)


def test_trainer_config_names_a_wrong_type_with_its_key_and_the_expected_type():
    with pytest.raises(ConfigError, match=r"trainer\.lr: expected a float, got 'abc' \(str\)"):
        TrainerConfig.from_dict({"lr": "abc"})
    with pytest.raises(ConfigError, match=r"trainer\.deepspeed\.stage: expected an integer, got 'one'"):
        TrainerConfig.from_dict({"deepspeed": {"stage": "one"}})
    with pytest.raises(ConfigError, match=r"trainer\.min_lr: invalid value"):
        TrainerConfig.from_dict({"lr": 1e-3, "min_lr": 1e-2})  # the range checks of validate() still run


@settings(max_examples=60, deadline=None)
@given(total=st.integers(1, 3000), warm=st.floats(0, 0.5), lr=st.floats(1e-6, 1e-2), floor=st.floats(0, 1))
def test_lr_schedule_warms_up_then_decays_to_the_floor(total, warm, lr, floor):
    min_lr = lr * floor
    f = [lr_factor(s, total, warm, lr, min_lr) for s in range(total)]
    w = math.ceil(warm * total)
    assert all(0 < x <= 1 + 1e-9 for x in f[:w])  # warmup climbs from near 0 to the peak
    assert all(min_lr / lr - 1e-9 <= x <= 1 + 1e-9 for x in f[w:])  # decay stays between floor and peak
    assert all(a <= b + 1e-12 for a, b in zip(f[:w], f[1:w]))  # warmup rises
    assert all(a + 1e-12 >= b for a, b in zip(f[w:], f[w + 1:]))  # then never rises
    if total > w:  # the last step sits one step short of the floor on the cosine
        gap = 0.5 * (1 - math.cos(math.pi / (total - w)))
        assert f[-1] <= min_lr / lr + (1 - min_lr / lr) * gap + 1e-9


@settings(max_examples=50, deadline=None)
@given(micro=st.integers(1, 64), accum=st.integers(1, 64), world=st.integers(1, 512))
def test_deepspeed_batch_sizes_agree(micro, accum, world):
    cfg = TrainerConfig(per_device_batch_size=micro, grad_accum=accum, deepspeed=DeepSpeedSettings(), bf16=True)
    ds = deepspeed_config(cfg, world)
    assert ds["train_batch_size"] == ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * world
    assert (ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"]) == (micro, accum)
    assert ds["zero_optimization"]["stage"] == 1 and ds["bf16"]["enabled"]
