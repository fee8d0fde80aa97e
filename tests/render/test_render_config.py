"""Render/distortion configs: typed, strict, one source of truth — the dataclass defaults are the `default` /
`on` presets the CLI composes, and every single-op preset picks its op alone among all registered ops."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from lomo_ablate.render import RenderConfig
from lomo_ablate.render.distort import OPS, DistortConfig, Distorter
from lomo_ablate.utils.config import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
SINGLE_OP_PRESETS = sorted(p.stem for p in (CONF / "distortion").glob("*.yaml") if p.stem not in ("on", "off"))


def composed(render: str = "default", distortion: str = "on") -> tuple[dict, dict]:
    """The ``curate.render`` and ``curate.distort`` nodes as the CLI composes them (plain containers)."""
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("curate_app", overrides=[f"render={render}", f"distortion={distortion}"])
    return (OmegaConf.to_container(cfg.curate.render, resolve=True),
            OmegaConf.to_container(cfg.curate.distort, resolve=True))


def test_unknown_key_is_named_with_the_allowed_keys():
    with pytest.raises(ConfigError, match=r"'curate.render.fontsize'.*allowed: font, fallback_fonts"):
        RenderConfig.from_dict({"fontsize": 20})


@pytest.mark.parametrize("d,key", [({"math_renderer": "katex"}, "math_renderer"), ({"layout": "flow"}, "layout"),
                                   ({"font_size": "big"}, "font_size"), ({"max_width": 2}, "max_width"),
                                   ({"foreground": "notacolour"}, "foreground"),
                                   ({"padding": 500, "max_height": 600}, "padding")])
def test_bad_values_name_their_key(d, key):
    with pytest.raises(ConfigError, match=f"curate.render.{key}"):
        RenderConfig.from_dict(d)


def test_errors_name_the_key_where_the_config_sits():
    with pytest.raises(ConfigError, match=r"eval\.render\.layout"):
        RenderConfig.from_dict({"layout": "flow"}, "eval.render")


def test_render_dataclass_defaults_are_the_default_preset():
    """`RenderConfig()` (the library, evaluation with an empty `render`) renders as `render=default` does."""
    render, _ = composed("default")
    assert RenderConfig.from_dict(render) == RenderConfig()
    eval_render, _ = composed("eval")
    assert RenderConfig.from_dict(eval_render) == RenderConfig()


def test_distort_dataclass_defaults_are_the_on_preset():
    """`DistortConfig()` is what the reading stage uses (models/config.py: "the distortion group's `on`
    settings"); it once had max_side=None while `on` said 1024."""
    _, distort = composed(distortion="on")
    assert DistortConfig.from_dict(distort) == DistortConfig()
    assert DistortConfig().max_side == 1024


@pytest.mark.parametrize("preset", SINGLE_OP_PRESETS)
def test_single_op_preset_gives_its_op_probability_one_and_every_other_registered_op_zero(preset):
    _, distort = composed(distortion=preset)
    probs = DistortConfig.from_dict(distort).probabilities()
    assert set(probs) == {"none", *OPS}  # every registered op is accounted for
    assert probs == {name: float(name == preset) for name in ("none", *OPS)}


def test_every_registered_op_has_a_single_op_preset():
    assert SINGLE_OP_PRESETS == sorted(OPS)


def test_single_op_preset_ignores_weights_of_other_ops():
    """A new op's default weight (or a p_* override) cannot leak into `distortion=blur`."""
    cfg = DistortConfig.from_dict({"only": "blur", "p_rotate": 0.9, "p_none": 0.5})
    assert cfg.probabilities()["blur"] == 1.0 and cfg.probabilities()["rotate"] == 0.0


def test_only_must_name_a_registered_op():
    with pytest.raises(ConfigError, match=r"curate.distort.only='sharpen'.*allowed: null, rotate, blur"):
        DistortConfig.from_dict({"only": "sharpen"})


def test_off_never_distorts():
    _, distort = composed(distortion="off")
    cfg = DistortConfig.from_dict(distort)
    assert cfg.enabled is False and cfg == DistortConfig(enabled=False)


@pytest.mark.parametrize("render", ["default", "eval", "mono"])
@pytest.mark.parametrize("distortion", ["on", "off", "rotate", "blur", "shadow_stain", "wave"])
def test_every_group_option_composes_to_a_valid_config(render, distortion):
    r, d = composed(render, distortion)
    rc, dc = RenderConfig.from_dict(r), DistortConfig.from_dict(d)
    assert rc.layout == ("grid" if render == "mono" else "wrap")
    assert dc.enabled is (distortion != "off")
    Distorter(dc)


def test_mono_preset_pads_the_grid_to_the_tiny_models_patch():
    render, _ = composed("mono")
    cfg = RenderConfig.from_dict(render)
    assert (cfg.layout, cfg.cell_width, cfg.cell_height, cfg.grid_pad_multiple) == ("grid", 8, 16, 16)
