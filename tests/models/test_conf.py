"""Every conf/model and conf/trainer file builds a typed config (no unknown keys, valid values)."""
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lomo_ablate.models import ModelConfig
from lomo_ablate.train import TrainerConfig

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("path", sorted((CONF / "model").glob("*.yaml")), ids=lambda p: p.stem)
def test_model_group_files_are_valid(path):
    cfg = ModelConfig.from_dict(OmegaConf.to_container(OmegaConf.load(path), resolve=True))
    assert cfg.name_or_path
    assert path.read_text().startswith("# @package model")


@pytest.mark.parametrize("path", sorted((CONF / "trainer").glob("*.yaml")), ids=lambda p: p.stem)
def test_trainer_group_files_are_valid(path):
    cfg = TrainerConfig.from_dict(OmegaConf.to_container(OmegaConf.load(path), resolve=True))
    assert cfg.epochs == 1  # the paper trains one epoch
    assert path.read_text().startswith("# @package trainer")


def test_group_names_the_pipeline_uses_exist():
    assert (CONF / "model" / "tiny.yaml").is_file() and (CONF / "trainer" / "cpu.yaml").is_file()
    assert {p.stem for p in (CONF / "model").glob("*.yaml")} >= {"tiny", "qwen3_5_9b", "llava_onevision_1_5_8b"}


def test_the_library_defaults_are_the_embedded_default_model():
    """conf/model/tiny.yaml is what `python -m lomo_ablate` trains; `build_tiny(TinyModelConfig())` (the
    README's library call) and `ModelConfig()` must be that model (layer_types once drifted apart)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lomo_ablate.models import TinyModelConfig
    from lomo_ablate.pipeline.schema import register_schemas

    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            model = OmegaConf.to_container(compose("config", overrides=["model=tiny"]).model, resolve=True)
    finally:
        GlobalHydra.instance().clear()
    assert TinyModelConfig.from_dict(model["tiny"]) == TinyModelConfig()
    assert TinyModelConfig().layer_types == ["full_attention", "full_attention"]
    assert ModelConfig.from_dict(model) == ModelConfig()
