"""Perceptual distortion on real rendered images: each op changes the image and keeps it valid, off is the
identity, and the same generator state gives the same result."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from lomo_ablate.render.distort import OPS, DistortConfig, Distorter, register_op
from lomo_ablate.render import RenderConfig, Renderer
from lomo_ablate.utils.config import ConfigError

IMAGE = Renderer(RenderConfig(math_renderer="text")).render(
    "Perceptual distortion test span: rotate, blur, shadow, stain and wave. " * 3).image

ONLY = {op: {"only": op} for op in OPS}  # every registered op family
LABELS = {"shadow_stain": {"shadow", "stain"}}  # families whose info["op"] is not their name


def arr(im):
    return np.asarray(im.convert("RGB"), dtype=np.int16)  # grey (L) and RGB outputs compare alike


@pytest.mark.parametrize("family", list(ONLY))
def test_each_operation_changes_the_image_and_keeps_it_valid(family):
    d = Distorter(DistortConfig.from_dict(ONLY[family]))
    seen = set()
    for seed in range(12):
        out, info = d.apply(IMAGE, np.random.default_rng(seed))
        seen.add(info["op"])
        assert info["op"] in LABELS.get(family, {family})
        assert out.mode == ("RGB" if info["op"] == "stain" else "L") and out.width > 0 and out.height > 0
        assert out.size != IMAGE.size or np.abs(arr(out) - arr(IMAGE)).mean() > 0.5
        assert (np.asarray(out.convert("L")) < 128).any()  # the text is still there
        json.dumps(info)  # params go into data.jsonl
    if family == "shadow_stain":
        assert seen == {"shadow", "stain"}


def test_blur_samples_all_three_kinds():
    d = Distorter(DistortConfig.from_dict(ONLY["blur"]))
    kinds = {d.apply(IMAGE, np.random.default_rng(s))[1]["params"]["kind"] for s in range(30)}
    assert kinds == {"gaussian", "box", "motion"}


def test_rotation_expands_the_canvas_so_nothing_is_cut():
    d = Distorter(DistortConfig.from_dict({**ONLY["rotate"], "p_large_angle": 1.0}))
    out, info = d.apply(IMAGE, np.random.default_rng(0))
    assert abs(info["params"]["angle"]) >= 10 and info["params"]["large"]
    assert out.height > IMAGE.height
    edge = np.concatenate([np.asarray(out.convert("L"))[[0, -1], :].ravel(),
                           np.asarray(out.convert("L"))[:, [0, -1]].ravel()])
    assert (edge > 200).all()  # borders are background, no clipped glyphs


def test_max_side_bounds_rotated_images():
    big = Image.new("RGB", (800, 800), "white")
    d = Distorter(DistortConfig.from_dict({**ONLY["rotate"], "p_large_angle": 1.0, "max_side": 800}))
    out, info = d.apply(big, np.random.default_rng(1))
    assert max(out.size) <= 800 and "scaled" in info["params"]


def test_distortion_off_is_the_identity():
    d = Distorter(DistortConfig(enabled=False))
    rng = np.random.default_rng(0)
    for _ in range(20):
        out, info = d.apply(IMAGE, rng)
        assert info == {"op": "none", "params": {}}
        assert np.array_equal(np.asarray(out), np.asarray(IMAGE))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_same_generator_state_same_output(seed):
    d = Distorter(DistortConfig())
    a, ia = d.apply(IMAGE, np.random.default_rng(seed))
    b, ib = d.apply(IMAGE, np.random.default_rng(seed))
    assert ia == ib and np.array_equal(np.asarray(a), np.asarray(b))


def test_probabilities_are_followed():
    d = Distorter(DistortConfig.from_dict({"p_none": 0.5, "p_rotate": 0.5, "p_blur": 0.0,
                                           "p_shadow_stain": 0.0, "p_wave": 0.0}))
    rng = np.random.default_rng(0)
    ops = [d.apply(IMAGE, rng)[1]["op"] for _ in range(200)]
    assert set(ops) == {"none", "rotate"}
    assert 70 <= ops.count("none") <= 130


@pytest.mark.parametrize("family", list(ONLY))
def test_only_draws_exactly_as_explicit_weights_do(family):
    """`only: <op>` (the single-op presets) is the old explicit form `p_<op>: 1`, every other weight 0: the
    same generator state gives the same image, so curated data stays byte-identical."""
    explicit = {"p_none": 0.0, **{f"p_{op}": float(op == family) for op in OPS}}
    a, b = Distorter(DistortConfig.from_dict(ONLY[family])), Distorter(DistortConfig.from_dict(explicit))
    for seed in range(10):
        ra, rb = np.random.default_rng(seed), np.random.default_rng(seed)
        (ia, infoa), (ib, infob) = a.apply(IMAGE, ra), b.apply(IMAGE, rb)
        assert infoa == infob and np.array_equal(np.asarray(ia), np.asarray(ib))
        assert ra.random() == rb.random()  # the same number of draws


def test_an_op_registered_after_the_config_was_built_is_refused():
    with pytest.raises(RuntimeError, match="lomo_ablate/render/distort/ops/"):
        register_op("late")(lambda arr, rng, params: (arr, "late", {}))


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ConfigError, match=r"'curate.distort.p_rotation'.*allowed: enabled, only, p_none"):
        DistortConfig.from_dict({"p_rotation": 0.3})
    with pytest.raises(ConfigError, match=r"p_blur=1.5"):
        DistortConfig.from_dict({"p_blur": 1.5})
    with pytest.raises(ConfigError, match="blur_kinds"):
        DistortConfig.from_dict({"blur_kinds": ["median"]})
    with pytest.raises(ConfigError, match=r"curate.distort.gaussian_sigma: expected a list"):
        DistortConfig.from_dict({"gaussian_sigma": 1.0})
    with pytest.raises(ConfigError, match=r"curate.distort.wave_length=\(9.0, 3.0\)"):
        DistortConfig.from_dict({"wave_length": [9, 3]})
    with pytest.raises(ConfigError, match="max_side"):
        DistortConfig.from_dict({"max_side": 8})
    with pytest.raises(ConfigError, match="is 0"):
        DistortConfig.from_dict({"p_none": 0, **{f"p_{op}": 0 for op in OPS}})


def test_contact_sheet_cli_writes_a_png_with_a_row_per_operation(tmp_path):
    from lomo_ablate.render.distort import OPS
    from lomo_ablate.render.distort.sheet import main

    out = tmp_path / "sheet.png"
    main([str(out), "--text", "Look at every distortion", "--per-op", "2"])
    sheet = Image.open(out)
    rows = 1 + len(OPS)
    assert sheet.size == (2 * 420, rows * (160 + 28))
    grey = np.asarray(sheet.convert("L"))
    row_h = 160 + 28
    # every row holds a drawn span (dark text pixels) below its label
    assert all((grey[r * row_h + 28:(r + 1) * row_h] < 100).any() for r in range(rows))
