"""The text renderer: real Pillow rendering with real fonts — wrapping, size limits, trimming, scripts, grid."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from lomo_ablate.render.fonts import FontChain
from lomo_ablate.render import RenderConfig, Renderer
from lomo_ablate.utils.config import ConfigError


def ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < 128


def ink_bbox(image: Image.Image):
    m = ink(image)
    if not m.any():
        return None
    ys, xs = np.nonzero(m)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


TEXT_ONLY = RenderConfig(math_renderer="text")
_R = Renderer(TEXT_ONLY)


def test_plain_span_renders_as_grey_with_ink_and_text_renderer():
    res = _R.render("The quick brown fox jumps over the lazy dog.")
    assert res.image.mode == "L"  # black on white: one byte per pixel (tests/render/test_gray.py)
    assert res.renderer == "text" and res.fallback_reason is None and not res.clipped
    assert ink(res.image).sum() > 200  # letters were drawn


def test_long_span_wraps_within_max_width_and_grows_downwards():
    short = _R.render("word " * 5).image
    long = _R.render("word " * 200).image
    assert long.width <= TEXT_ONLY.max_width
    assert long.height > 3 * short.height  # many lines, not one endless line


def test_overflow_shrinks_font_then_clips_and_says_so():
    cfg = RenderConfig(math_renderer="text", max_width=300, max_height=120, font_size=28, min_font_size=10)
    r = Renderer(cfg)
    medium = r.render("lorem ipsum " * 12)  # fits only with a smaller font
    assert medium.image.width <= 300 and medium.image.height <= 120 and not medium.clipped
    huge = r.render("lorem ipsum " * 400)  # does not fit even at the minimum size
    assert huge.image.width <= 300 and huge.image.height <= 120 and huge.clipped
    clip = Renderer(RenderConfig(math_renderer="text", max_width=300, max_height=120, overflow="clip"))
    assert clip.render("lorem ipsum " * 12).clipped  # clip policy: keeps the font size, cuts lines


@settings(max_examples=30, deadline=None)
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=600),
       max_width=st.integers(40, 900), max_height=st.integers(40, 400), layout=st.sampled_from(["wrap", "grid"]))
def test_any_text_renders_within_max_size(text, max_width, max_height, layout):
    """Whatever the text (any script, control characters, emoji), rendering never fails or exceeds max size."""
    cfg = RenderConfig(math_renderer="text", max_width=max_width, max_height=max_height, padding=4, font_size=20,
                       min_font_size=8, layout=layout, cell_width=8, cell_height=16)
    res = Renderer(cfg).render(text)
    assert res.image.mode == "L"
    assert 1 <= res.image.width <= max_width and 1 <= res.image.height <= max_height


def test_trim_leaves_exactly_the_padding_around_the_ink():
    cfg = RenderConfig(math_renderer="text", padding=6)
    img = Renderer(cfg).render("Margins are trimmed").image
    left, top, right, bottom = ink_bbox(img)
    # anti-aliased edge pixels count as ink to the trim but may be lighter than our 128 threshold: allow 2 px
    assert 6 <= left <= 8 and 6 <= top <= 8
    assert 6 <= img.width - right <= 8 and 6 <= img.height - bottom <= 8
    untrimmed = Renderer(RenderConfig(math_renderer="text", padding=6, trim=False)).render("Margins are trimmed")
    assert untrimmed.image.height >= img.height


def test_colours_are_configurable():
    img = Renderer(RenderConfig(math_renderer="text", background="#102030", foreground="yellow")).render("Hi").image
    arr = np.asarray(img)
    assert tuple(arr[0, 0]) == (0x10, 0x20, 0x30)
    assert ((arr[..., 0] > 200) & (arr[..., 1] > 200) & (arr[..., 2] < 100)).any()  # yellow ink


# --- scripts: real glyphs, not the .notdef box ---------------------------------------------------------------

def _uncovered_char(chain: FontChain) -> str:
    for cp in (0xF0000, 0x10FFFD, 0xE000, 0xE001):
        if not chain.covers(chr(cp)):
            return chr(cp)
    pytest.skip("every probe code point is covered by some installed font")


@pytest.mark.parametrize("ch", ["中", "語", "한", "ب", "ع", "é", "Ж", "λ"])
def test_script_characters_render_with_real_glyphs_not_notdef(ch):
    chain = _R.chain
    assert chain.covers(ch), f"no installed font covers {ch!r}: install fonts-noto-cjk / fonts-dejavu-core"
    notdef = np.asarray(_R.render(_uncovered_char(chain)).image.convert("L"))
    glyph = np.asarray(_R.render(ch).image.convert("L"))
    assert glyph.shape != notdef.shape or not np.array_equal(glyph, notdef)
    assert (glyph < 128).any()


def test_distinct_cjk_characters_render_distinctly():
    """Two .notdef boxes would look the same; two real CJK glyphs do not."""
    a = np.asarray(_R.render("中").image.convert("L"))
    b = np.asarray(_R.render("語").image.convert("L"))
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_cjk_is_drawn_with_the_cjk_fallback_font():
    chain = _R.chain
    idx = chain.font_index("中")
    assert idx > 0 and "cjk" in chain.paths[idx].lower()
    assert chain.font_index("a") == 0


def test_mixed_scripts_and_emoji_do_not_crash():
    res = _R.render("English, 中文, العربية, Ελληνικά, 😀🎉 and café — all in one span.")
    assert res.renderer == "text" and ink(res.image).any()


def test_missing_font_degrades_with_a_warning():
    with pytest.warns(UserWarning, match="primary font unavailable"):
        r = Renderer(RenderConfig(math_renderer="text", font="/nonexistent/font.ttf"))
    assert ink(r.render("still renders").image).any()


# --- grid layout -------------------------------------------------------------------------------------------

GRID = RenderConfig(layout="grid", cell_width=8, cell_height=16, max_width=160, max_height=64, padding=0)


def test_grid_image_is_whole_cells():
    img = Renderer(GRID).render("Hello grid world, long enough to wrap onto a second row.").image
    assert img.width % 8 == 0 and img.height % 16 == 0
    assert img.width <= 160 and img.height <= 64


@pytest.mark.parametrize("col", [0, 3, 11])
def test_grid_draws_each_character_inside_its_own_cell(col):
    r = Renderer(GRID)
    for ch in "WMg@":
        img = r.render("." * col + ch).image  # dots fill the earlier cells
        cell = img.crop((col * 8, 0, col * 8 + 8, 16))
        assert ink(cell).any(), f"{ch!r} not in cell {col}"
        only_char = r.render(" " * col + ch).image
        left, top, right, bottom = ink_bbox(only_char)
        assert col * 8 <= left and right <= col * 8 + 8 and 0 <= top and bottom <= 16


def test_grid_same_character_same_pixels_in_every_cell():
    """A patch-per-cell model sees identical patches for identical characters."""
    img = np.asarray(Renderer(GRID).render("aaaa").image)
    cells = [img[:, 8 * k:8 * k + 8] for k in range(4)]
    assert all(np.array_equal(cells[0], c) for c in cells[1:])


def test_grid_math_is_drawn_as_its_source_and_clipped_rows_flagged():
    r = Renderer(GRID)
    res = r.render("$x^2$")
    assert res.renderer == "text" and res.fallback_reason is None
    assert res.image.width == 5 * 8
    assert r.render("x" * 1000).clipped


@pytest.mark.parametrize("text", ["abc", "You are given a list. The list is 2, 8, 9.", "x" * 21])
def test_grid_pads_to_the_vision_models_patch_multiple_without_moving_glyphs(text):
    """With ``grid_pad_multiple`` = patch size × merge size, the image processor has nothing to resize, so
    every glyph stays in its own patch cell; the padding is background only, right and bottom."""
    import dataclasses

    plain = np.asarray(Renderer(GRID).render(text).image)
    padded_cfg = dataclasses.replace(GRID, grid_pad_multiple=16)
    padded = np.asarray(Renderer(padded_cfg).render(text).image)
    h, w = plain.shape[:2]
    assert padded.shape[0] % 16 == 0 and padded.shape[1] % 16 == 0
    assert np.array_equal(padded[:h, :w], plain)
    assert (padded[h:] == 255).all() and (padded[:, w:] == 255).all()


def test_grid_pad_multiple_must_be_positive():
    with pytest.raises(ConfigError, match="grid_pad_multiple"):
        RenderConfig.from_dict({"layout": "grid", "grid_pad_multiple": 0})
