"""The grey path: black-on-white spans stay mode L through render → distort → PNG, and every pixel equals the
RGB path's (``Renderer(keep_gray=False)``, the output before the grey path) after ``convert("RGB")``.

Real Pillow, real OpenCV ops, real PNG files; TeX where it is installed.
"""
import io

import numpy as np
import pytest
from PIL import Image

from lomo_ablate.render import Renderer
from lomo_ablate.render.distort import OPS, DistortConfig, Distorter
from lomo_ablate.render.tex import tex_available

SPAN = "Grey path check: rotate, blur, shadow, stain and wave on a span that wraps over two lines, x = 3."
CASES = [({"math_renderer": "text"}, SPAN),
         ({"math_renderer": "mathtext"}, r"Let $x^2 + \frac{1}{2} = y$ hold for $x \geq 0$."),
         ({"math_renderer": "text", "layout": "grid", "cell_width": 8, "cell_height": 16}, "Grid 123"),
         ({"math_renderer": "text", "background": "#f0f0f0", "foreground": "#202020"}, SPAN)]
if tex_available():
    CASES.append(({"math_renderer": "tex"}, r"Solve $\sqrt{x} = \frac{a}{b}$ for $x$."))


def _rgb(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"))


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@pytest.mark.parametrize("cfg,text", CASES, ids=[c.get("layout", c["math_renderer"]) + ("-grey" if "background" in c else "")
                                                 for c, _ in CASES])
def test_render_is_grey_and_equals_the_rgb_path(cfg, text):
    grey, rgb = Renderer(cfg).render(text), Renderer(cfg, keep_gray=False).render(text)
    assert grey.image.mode == "L" and rgb.image.mode == "RGB"
    assert (grey.renderer, grey.clipped) == (rgb.renderer, rgb.clipped)
    assert np.array_equal(_rgb(grey.image), np.asarray(rgb.image))


def test_coloured_schemes_stay_rgb():
    r = Renderer({"math_renderer": "text", "foreground": "#0000aa"})
    assert not r.gray and r.render("blue ink").image.mode == "RGB"


@pytest.mark.parametrize("family", list(OPS))
@pytest.mark.parametrize("max_side", [None, 160])  # 160: a rotated span is also scaled back (bilinear)
def test_every_op_on_grey_equals_the_op_on_rgb(family, max_side):
    grey_in = Renderer({"math_renderer": "text"}).render(SPAN).image
    rgb_in = Renderer({"math_renderer": "text"}, keep_gray=False).render(SPAN).image
    d = Distorter(DistortConfig.from_dict({"only": family, "max_side": max_side}))
    labels = set()
    for seed in range(16):
        g, gi = d.apply(grey_in, np.random.default_rng(seed))
        c, ci = d.apply(rgb_in, np.random.default_rng(seed))
        labels.add(gi["op"])
        assert gi == ci  # the same draws
        assert g.mode == ("RGB" if gi["op"] == "stain" else "L")  # only the tinted stain needs colour
        assert np.array_equal(_rgb(g), np.asarray(c)), (family, seed, gi)
    if family == "shadow_stain":
        assert labels == {"shadow", "stain"}


def test_png_of_the_grey_path_is_smaller_and_decodes_to_the_same_pixels():
    d = Distorter(DistortConfig.from_dict({"only": "rotate"}))
    g, _ = d.apply(Renderer({"math_renderer": "text"}).render(SPAN).image, np.random.default_rng(1))
    c, _ = d.apply(Renderer({"math_renderer": "text"}, keep_gray=False).render(SPAN).image, np.random.default_rng(1))
    grey_png, rgb_png = _png(g), _png(c)
    with Image.open(io.BytesIO(grey_png)) as a, Image.open(io.BytesIO(rgb_png)) as b:
        assert a.mode == "L" and b.mode == "RGB"
        assert np.array_equal(_rgb(a), np.asarray(b))  # lossless: what training reads is unchanged
    assert len(grey_png) < 0.8 * len(rgb_png)
