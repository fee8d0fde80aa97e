"""Math routing: TeX (real latex + dvipng), mathtext (real matplotlib) and the fallback to text."""
import numpy as np
import pytest

from lomo_ablate.render import RenderConfig, Renderer, has_math


def ink(image) -> np.ndarray:
    return np.asarray(image.convert("L")) < 128


@pytest.mark.parametrize("text,expected", [
    ("Solve $x^2 = 4$ for x.", True),
    (r"We have \(a+b\) here.", True),
    (r"Display \[ \sum_i i \] math.", True),
    ("$$E = mc^2$$", True),
    (r"\begin{align} a &= b \end{align}", True),
    (r"bare \frac{1}{2} command", True),
    ("It costs $5 and $10 today.", False),  # currency, not math
    ("No math at all, just words.", False),
    ("中文 without formulas", False),
])
def test_has_math(text, expected):
    assert has_math(text) is expected


def test_text_engine_never_uses_a_math_renderer():
    res = Renderer(RenderConfig(math_renderer="text")).render("Solve $x^2 = 4$.")
    assert res.renderer == "text" and res.fallback_reason is None


def test_mathtext_renders_a_paragraph_with_inline_formulas():
    r = Renderer(RenderConfig(math_renderer="mathtext", max_width=400))
    res = r.render(r"Let $x^2 + \frac{1}{2} = y$ where $y \le 3$; then the sentence goes on for a while longer.")
    assert res.renderer == "mathtext" and res.fallback_reason is None
    assert res.image.width <= 400 and ink(res.image).any()
    assert res.image.height > 2 * 28  # wrapped onto several lines


def test_mathtext_failure_falls_back_to_text_with_a_reason():
    r = Renderer(RenderConfig(math_renderer="mathtext"))
    res = r.render(r"Matrix $\begin{pmatrix} 1 & 2 \end{pmatrix}$ here.")
    assert res.renderer == "text"
    assert res.fallback_reason and res.fallback_reason.startswith("mathtext:")
    assert ink(res.image).any()
    assert r.stats()["renderer.text"] == 1 and sum(v for k, v in r.stats().items() if k.startswith("fallback.")) == 1


def test_tex_renders_math_and_mixed_paragraphs(need_tex):
    r = Renderer(RenderConfig(math_renderer="tex", max_width=500))
    res = r.render(r"Solve $x^2 + \frac{1}{2} = \sqrt{y}$ for $x$, where the paragraph is long enough to wrap.")
    assert res.renderer == "tex" and res.fallback_reason is None
    assert res.image.mode == "L" and res.image.width <= 500
    assert res.image.height > 2 * 28  # typeset as a wrapped paragraph, not one line
    display = r.render(r"\begin{align} a &= b + c \\ d &= e \end{align}")
    assert display.renderer == "tex" and display.image.height > 40  # two aligned rows


def test_tex_batch_gives_the_same_images_as_one_by_one(need_tex):
    """Batching must not shift or mix items: each page belongs to its own span."""
    texts = [rf"Item {k}: $x_{k} = \frac{{{k}}}{{{k + 1}}}$" for k in range(6)]
    batched = Renderer(RenderConfig(math_renderer="tex", tex_batch_size=4)).render_many(texts)
    single = Renderer(RenderConfig(math_renderer="tex", tex_batch_size=1))
    for t, b in zip(texts, batched):
        s = single.render(t)
        assert b.renderer == s.renderer == "tex"
        assert np.array_equal(np.asarray(b.image), np.asarray(s.image))


def test_one_bad_item_in_a_batch_falls_back_alone(need_tex):
    texts = [r"Good $a+b$", r"Bad $\frac{1}{$ here", r"Fine $c^2$", "plain words", r"$\undefinedcommand x$"]
    r = Renderer(RenderConfig(math_renderer="tex"))
    res = r.render_many(texts)
    assert len(res) == len(texts)  # never dropped
    assert [x.renderer for x in res] == ["tex", "text", "tex", "text", "text"]
    assert res[1].fallback_reason.startswith("tex:") and res[4].fallback_reason.startswith("tex:")
    assert res[3].fallback_reason is None  # no math: text renderer by routing, not by failure
    assert all(ink(x.image).any() for x in res)
    stats = r.stats()
    assert stats["renderer.tex"] == 2 and stats["renderer.text"] == 3


def test_tex_latex_error_in_one_item_leaves_others_typeset(need_tex):
    """An item that passes the checks but makes TeX fail (a bad alignment) triggers the item-by-item retry."""
    texts = [r"ok $a$", r"$a & b$", r"ok $b$"]
    res = Renderer(RenderConfig(math_renderer="tex")).render_many(texts)
    assert [x.renderer for x in res] == ["tex", "text", "tex"]
    assert "TeXRunError" in res[1].fallback_reason


def test_cjk_in_a_math_span_goes_to_the_text_renderer(need_tex):
    res = Renderer(RenderConfig(math_renderer="tex")).render("面积 $S = r^2$")
    assert res.renderer == "text" and "UnsupportedTeXError" in res.fallback_reason


def test_tex_explicitly_requested_without_tex_is_a_clear_error(monkeypatch):
    """TeX absence is simulated (PATH without latex) — the real check runs ``shutil.which``."""
    import lomo_ablate.render.tex as tex

    tex.tex_available.cache_clear()
    tex.tex_problem.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        with pytest.raises(RuntimeError, match="math_renderer=tex.*not on PATH"):
            Renderer(RenderConfig(math_renderer="tex"))
        assert Renderer(RenderConfig(math_renderer="auto")).math_engine == "mathtext"
    finally:
        monkeypatch.undo()
        tex.tex_available.cache_clear()
        tex.tex_problem.cache_clear()


def test_installed_but_broken_tex_is_detected_once(monkeypatch, need_tex):
    """A TeX whose packages are missing (simulated: TEXINPUTS pointing at an empty dir only, so amsmath is not
    found) is detected by the probe: auto switches to mathtext with a warning, tex is a clear error."""
    import lomo_ablate.render.tex as tex

    real_env = tex.sandbox_env
    monkeypatch.setattr(tex, "sandbox_env", lambda wd: {**real_env(wd), "TEXINPUTS": str(wd) + "//"})
    tex.tex_problem.cache_clear()
    try:
        with pytest.warns(UserWarning, match="does not work"):
            assert Renderer(RenderConfig(math_renderer="auto")).math_engine == "mathtext"
        with pytest.raises(RuntimeError, match="cannot be used"):
            Renderer(RenderConfig(math_renderer="tex"))
    finally:
        tex.tex_problem.cache_clear()


def test_math_images_respect_max_size(need_tex):
    cfg = RenderConfig(math_renderer="tex", max_width=200, max_height=60)
    res = Renderer(cfg).render(r"$$\sum_{i=1}^{n} \frac{a_i + b_i + c_i + d_i + e_i}{\sqrt{x_i^2 + y_i^2}}$$")
    assert res.renderer == "tex" and res.image.width <= 200 and res.image.height <= 60


@pytest.mark.parametrize("engine", ["auto", "mathtext"])
def test_a_span_that_trips_math_segmentation_still_renders(engine):
    """A backslash before a non-ASCII letter once crashed the math segmentation; the span must still render."""
    res = Renderer(RenderConfig(math_renderer=engine)).render("Let $x$ be \\é and \\ü.")
    assert res.image.mode == "L" and ink(res.image).any()


def test_very_long_tex_span_is_shrunk_only_to_min_font_size_then_clipped(need_tex):
    cfg = RenderConfig(math_renderer="tex", max_width=400, max_height=200, math_font_size=28, min_font_size=14)
    res = Renderer(cfg).render(" ".join([r"Term $a_{%d}^2 + b_{%d}$ and more words." % (k, k) for k in range(60)]))
    assert res.renderer == "tex" and res.clipped
    assert res.image.width <= 400 and res.image.height <= 200
    # scaled by at most 14/28: the paragraph typeset at 384 px keeps at least half of it, not a sliver
    assert res.image.width >= 384 // 2
