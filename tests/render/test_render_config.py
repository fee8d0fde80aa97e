"""Render/distortion configs: typed, strict, and every YAML of the config groups builds a valid config."""
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from lomo_ablate.curate.distort import DistortConfig
from lomo_ablate.curate.render import RenderConfig, RenderConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_unknown_key_is_named_with_the_allowed_keys():
    with pytest.raises(RenderConfigError, match=r"'curate.render.fontsize'.*allowed: font, fallback_fonts"):
        RenderConfig.from_dict({"fontsize": 20})


@pytest.mark.parametrize("d,key", [({"math_renderer": "katex"}, "math_renderer"), ({"layout": "flow"}, "layout"),
                                   ({"font_size": "big"}, "font_size"), ({"max_width": 2}, "max_width"),
                                   ({"foreground": "notacolour"}, "foreground"),
                                   ({"padding": 500, "max_height": 600}, "padding")])
def test_bad_values_name_their_key(d, key):
    with pytest.raises(RenderConfigError, match=f"curate.render.{key}"):
        RenderConfig.from_dict(d)


def test_defaults_of_dataclass_and_default_yaml_agree():
    """conf/render/default.yaml spells out the dataclass defaults: the library and the CLI render alike."""
    from_yaml = RenderConfig.from_dict({k: v for k, v in yaml.safe_load((CONF / "render/default.yaml").read_text())
                                        .items()})
    assert from_yaml == RenderConfig()


@pytest.mark.parametrize("render", ["default", "eval", "mono"])
@pytest.mark.parametrize("distortion", ["on", "off", "rotate", "blur", "shadow_stain", "wave"])
def test_every_group_option_composes_to_a_valid_config(render, distortion):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("curate_app", overrides=[f"render={render}", f"distortion={distortion}"])
    r = RenderConfig.from_dict(OmegaConf.to_container(cfg.curate.render, resolve=True))
    d = DistortConfig.from_dict(OmegaConf.to_container(cfg.curate.distort, resolve=True))
    assert r.layout == ("grid" if render == "mono" else "wrap")
    assert d.enabled is (distortion != "off")
    if distortion not in ("on", "off"):
        assert d.probabilities()[distortion] == 1.0
