"""The read stage composed from its parts (lomo_ablate.pipeline.stages.pretrain_reading): the reading data,
the ordinary train() of a real tiny Qwen3.5 VLM for a few CPU steps, the transcription check
(lomo_ablate.evaluate.transcription), and an SFT run that starts from the reader."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lomo_ablate import contracts as C
from lomo_ablate.models import ModelConfig, load_pretrained
from lomo_ablate.pipeline.stages import pretrain_reading, reader_dir
from lomo_ablate.train import TrainerConfig, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # train_helpers

GRID = {"layout": "grid", "cell_width": 8, "cell_height": 16, "max_width": 256, "max_height": 128, "padding": 0,
        "grid_pad_multiple": 16}
FULL = ["full_attention", "full_attention"]


def test_pretrain_reading_gives_a_reader_the_sft_starts_from(tmp_path):
    model = ModelConfig.from_dict({"tiny": {"layer_types": FULL, "reading": {
        "steps": 3, "samples": 24, "batch_size": 8, "eval_n": 3}}})
    trainer = TrainerConfig(per_device_batch_size=4, device="cpu", progress=False, max_seq_len=512)
    res = pretrain_reading(tmp_path / "read", model, GRID, trainer)
    assert res.final_dir == reader_dir(tmp_path / "read")
    assert (tmp_path / "read" / "data" / C.DATA).is_file()  # the reading data is an ordinary curated folder
    saved = json.loads((tmp_path / "read" / C.READING).read_text())
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
