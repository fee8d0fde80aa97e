"""The stages of a job and their keys (``lomo_ablate.pipeline.stages.plan``), from the real composed config."""
from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from lomo_ablate.pipeline.stages import plan

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def keys(*overrides: str) -> dict[str, str]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    GlobalHydra.instance().clear()
    return {p.name: p.key for p in plan(cfg)}


def test_the_tiny_model_reads_first_and_every_method_and_seed_shares_one_reader():
    base = keys()
    assert list(base) == ["data", "curate", "read", "train", "evaluate"]
    others = [keys("method=standard_sft"), keys("seed=1"), keys("method=lomo_no_distortion", "seed=2"),
              keys("trainer.lr=0.001")]
    assert all(k["read"] == base["read"] for k in others)
    assert all(k["train"] != base["train"] for k in others)


def test_progress_bars_and_curation_workers_do_not_change_what_is_cached():
    """The sweep presets turn the bars off; a preset's job with the default's data is the default job and must
    be reused (sweeps/carrier.yaml pins the 48k records of its committed results, so only its reader is shared
    with the 36k default). Curation is byte-identical for any worker count (tests/curate/test_run.py), so its
    key ignores it too."""
    assert keys("trainer.progress=false", "eval.progress=false") == keys()
    assert keys("curate.workers=2") == keys()
    assert keys("sweep=carrier", "method=lomo", "seed=0", "data.text_size=24000",
                "data.multimodal_size=12000") == keys()
    carrier = keys("sweep=carrier", "method=lomo", "seed=0")
    assert carrier["read"] == keys()["read"] and carrier["data"] != keys()["data"]


def test_the_reader_changes_with_what_it_learns_and_the_sft_follows():
    base = keys()
    for override in ("model.tiny.reading.steps=10", "model.tiny.reading.p_random=0.2", "model.tiny.hidden_size=64",
                     "render=default", "trainer.device=cuda"):
        k = keys(override)
        assert k["read"] != base["read"] and k["train"] != base["train"], override


def test_no_reading_stage_when_it_is_off_or_the_model_is_pretrained():
    assert "read" not in keys("model.tiny.reading.steps=0")
    assert "read" not in keys("model=qwen3_5_9b")
    assert list(keys("model=llava_onevision_1_5_8b")) == ["data", "curate", "train", "evaluate"]


def _cfg(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg


def test_the_reader_key_holds_the_distortion_its_data_uses(monkeypatch):
    """With p_distort > 0 the reading data is distorted: a change of those settings must make a new reader
    (the key used to leave them out). At p_distort 0 they do not enter, and the key is the one it was."""
    from lomo_ablate.data import reading

    cfg = _cfg("model.tiny.reading.p_distort=0.5")
    before = {p.name: p for p in plan(cfg)}["read"]
    assert before.inputs["distort"] == reading.reading_distortion_settings(cfg.model.tiny.reading)
    real = reading.reading_distortion_settings
    monkeypatch.setattr(reading, "reading_distortion_settings", lambda c: {**real(c), "p_blur": 0.9})
    assert {p.name: p.key for p in plan(cfg)}["read"] != before.key
    assert "distort" not in {p.name: p for p in plan(_cfg())}["read"].inputs


def test_full_text_rendering_has_no_distortion_as_in_the_paper():
    """Table 2's Full-Text Rendering variant renders the whole prompt cleanly."""
    cfg = _cfg("method=full_text")
    assert cfg.curate.localize.position == "full" and cfg.curate.distort.enabled is False
    assert _cfg("method=lomo").curate.distort.enabled is True
