"""The shipped reader (lomo_ablate/data/reader/, package data made by
``python -m lomo_ablate.pipeline.shipped_reader build``): its recorded store key is the key the current conf/
computes — so a change to the tiny model, the renderer, the reading budget or the read stage's code salt fails
here until the package data is rebuilt with the recorded command — it loads and transcribes at its recorded
score, and a job of the embedded default starts from it (logged) instead of spending minutes on the stage.
Real files and a real tiny Qwen3.5 checkpoint; nothing is mocked."""
from __future__ import annotations

import json
import logging

import pytest

from lomo_ablate import contracts as C
from lomo_ablate.data.reading import SHIPPED_READER, SHIPPED_RECORD, seed_reader, shipped_reader_record
from lomo_ablate.pipeline import shipped_reader as sr
from lomo_ablate.pipeline.registry import StageContext
from lomo_ablate.pipeline.stages import REGISTRY, read_metrics, reader_dir
from lomo_ablate.pipeline.store import Store


@pytest.fixture(scope="module")
def record():
    rec = shipped_reader_record()
    assert rec is not None, f"no shipped reader in {SHIPPED_READER}: make it with `{sr.COMMAND}`"
    return rec


def test_the_shipped_key_is_the_key_conf_computes(record):
    ok, message = sr.check()
    assert ok, message
    assert record["command"].startswith(sr.COMMAND)  # the command that rebuilds it is recorded beside it
    p = sr.read_plan(sr.compose())
    assert record["inputs"] == json.loads(json.dumps(p.inputs))


def test_a_job_of_the_embedded_default_starts_from_the_shipped_reader(tmp_path, record, caplog):
    cfg = sr.compose([f"store_dir={tmp_path / 'store'}"])
    p = sr.read_plan(cfg)
    store = Store(cfg.store_dir)
    with caplog.at_level(logging.INFO, logger="lomo_ablate"):
        res = store.get_or_compute("read", p.inputs, lambda out: REGISTRY["read"].run(
            StageContext(cfg=cfg, out=out, inputs={})), resumable=True)
    assert "seeded the store from the shipped reader" in caplog.text and p.key in caplog.text
    assert store.is_done("read", p.key) and (res.path / SHIPPED_RECORD).is_file()
    assert read_metrics(res.path) == {"reading": record["reading"]}  # what result.json and the report show
    assert (reader_dir(res.path) / "model.safetensors").stat().st_size == \
        (SHIPPED_READER / "train" / C.FINAL / "model.safetensors").stat().st_size
    from lomo_ablate.models import load_pretrained

    model, processor = load_pretrained(reader_dir(res.path))  # the SFT loads it as any pretrained model
    assert model.config.model_type and processor.tokenizer is not None


def test_a_reader_of_another_key_is_computed_not_seeded(tmp_path, record, caplog):
    with caplog.at_level(logging.INFO, logger="lomo_ablate"):
        assert not seed_reader(tmp_path, "0" * 16)
    assert "is not this job's" in caplog.text and not any(tmp_path.iterdir())
    # a config change moves the key away from the shipped one
    assert sr.read_plan(sr.compose(["model.tiny.reading.steps=1199"])).key != record["key"]


@pytest.mark.slow
def test_the_shipped_reader_transcribes_at_its_recorded_score(record):
    from lomo_ablate.evaluate.transcription import transcription_metrics
    from lomo_ablate.models.config import ReadingConfig

    cfg = ReadingConfig.from_dict(record["inputs"]["tiny"]["reading"])
    got = transcription_metrics(SHIPPED_READER / "train" / C.FINAL, cfg, record["inputs"]["render"])
    want = record["reading"]["transcription"]
    assert got["n"] == want["n"]
    for name in ("questions", "random"):  # greedy decoding: the same up to float noise (1 item of n)
        assert abs(got[name]["exact"] - want[name]["exact"]) <= 1 / want["n"] + 1e-9, (name, got[name], want[name])
        assert abs(got[name]["similarity"] - want[name]["similarity"]) <= 0.02, name
