"""The reading stage (lomo_ablate.train.reading): the tiny model's transcription pretraining before SFT.

Real parts: the curation Renderer (grid layout, as the embedded default), a real tiny Qwen3.5 VLM trained a
few steps on CPU, greedy decoding for the transcription check, and an SFT run that starts from the reader.
"""
from __future__ import annotations

import json

import pytest

from lomo_ablate.models import ConfigError, ModelConfig, load_pretrained
from lomo_ablate.train import TrainerConfig, train
from lomo_ablate.train.reading import build_reading_dataset, pretrain_reading, reading_trainer
from lomo_ablate.models.config import ReadingConfig

GRID = {"layout": "grid", "cell_width": 8, "cell_height": 16, "max_width": 256, "max_height": 128, "padding": 0,
        "grid_pad_multiple": 16}
FULL = ["full_attention", "full_attention"]


def test_reading_dataset_is_a_curated_folder_with_every_text_accounted_for(tmp_path):
    cfg = ReadingConfig(steps=1, samples=40, p_random=0.5, p_distort=0.5)
    # a canvas of 2 rows x 12 columns: longer texts would be clipped and are set aside, not trained on
    small = {**GRID, "max_width": 96, "max_height": 32}
    manifest = build_reading_dataset(tmp_path / "read", cfg, small, seed=0)
    rows = [json.loads(line) for line in (tmp_path / "read" / "data.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (tmp_path / "read" / "rejected.jsonl").read_text().splitlines()]
    assert manifest["read"] == 40 == len(rows) + len(rejected)
    assert rejected and all(r["reason"] == "clipped" for r in rejected)
    assert 0 < manifest["distorted"] < len(rows)
    for row in rows:
        user, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        assert user == "<image>\nWrite out the text in the image." and answer and len(row["images"]) == 1
        assert (tmp_path / "read" / row["images"][0]).is_file()
    assert (tmp_path / "read" / "_SUCCESS").is_file()


def test_reading_trainer_takes_its_budget_from_the_reading_config():
    sft = TrainerConfig(lr=1e-3, per_device_batch_size=8, max_steps=None, epochs=1, device="cpu", packing=True)
    t = reading_trainer(sft, ReadingConfig(steps=100, batch_size=4, lr=5e-3, min_lr=1e-5), usable=120)
    assert (t.max_steps, t.per_device_batch_size, t.lr, t.min_lr, t.packing) == (100, 4, 5e-3, 1e-5, False)
    assert t.epochs * (120 // 4) >= 100 and t.device == "cpu"  # enough epochs to reach the steps


def test_reading_config_rejects_bad_values_with_the_key():
    with pytest.raises(ConfigError, match="model.tiny.reading.p_random"):
        ModelConfig.from_dict({"tiny": {"reading": {"p_random": 2}}})
    with pytest.raises(ConfigError, match="model.tiny.reading.steps"):
        ModelConfig.from_dict({"tiny": {"reading": {"steps": -1}}})
    with pytest.raises(ConfigError, match="unknown key.*model.tiny.reading.stepz"):
        ModelConfig.from_dict({"tiny": {"reading": {"stepz": 3}}})


def test_pretrain_reading_gives_a_reader_the_sft_starts_from(tmp_path):
    model = ModelConfig.from_dict({"tiny": {"layer_types": FULL, "reading": {
        "steps": 3, "samples": 24, "batch_size": 8, "eval_n": 3}}})
    trainer = TrainerConfig(per_device_batch_size=4, device="cpu", progress=False, max_seq_len=512)
    res = pretrain_reading(tmp_path / "read", model, GRID, trainer)
    saved = json.loads((tmp_path / "read" / "reading.json").read_text())
    assert saved["steps"] == 3 and saved == json.loads(json.dumps(res.metrics))
    for name in ("questions", "random"):
        m = saved["transcription"][name]
        assert 0.0 <= m["exact"] <= 1.0 and 0.0 <= m["similarity"] <= 1.0 and len(m["examples"]) == 3
    # the reader's tokenizer was trained on the reading texts: the SFT loads it as any pretrained model
    _, processor = load_pretrained(res.final_dir)
    assert "given" in processor.tokenizer.decode(processor.tokenizer("You are given a list.")["input_ids"])
    from train_helpers import write_dataset

    data = write_dataset(tmp_path / "sft", n=8)
    sft = train(data, tmp_path / "sft_out", ModelConfig(name_or_path=str(res.final_dir)),
                TrainerConfig(per_device_batch_size=4, max_steps=1, device="cpu", progress=False))
    assert sft.steps == 1 and not (tmp_path / "sft_out" / "tiny_init").exists()
    # re-running a finished stage keeps its dataset and resumes (nothing left to train)
    again = pretrain_reading(tmp_path / "read", model, GRID, trainer)
    assert again.metrics["steps"] == 3


def test_pretrain_reading_refuses_a_model_it_cannot_build(tmp_path):
    model = ModelConfig.from_dict({"name_or_path": "Qwen/Qwen3.5-9B", "tiny": {"reading": {"steps": 3}}})
    with pytest.raises(ValueError, match="builds the tiny model"):
        pretrain_reading(tmp_path, model, GRID, TrainerConfig(device="cpu"))
    with pytest.raises(ValueError, match="steps is 0"):
        pretrain_reading(tmp_path, ModelConfig.from_dict({"tiny": {"reading": {"steps": 0}}}), GRID,
                         TrainerConfig(device="cpu"))
