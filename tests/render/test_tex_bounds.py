"""TeX is bounded on every axis (issue 17): the two bombs of the issue fall back to the text renderer (never
dropped) while the rest of their batch is typeset, each latex/dvipng process runs under memory/CPU/file-size
limits, and a per-run budget caps the total TeX time. Real latex + dvipng; the limits are set short through
the config so the test stays fast."""
from __future__ import annotations

import sys

import pytest

from lomo_ablate.render import RenderConfig, Renderer
from lomo_ablate.render import tex

#: the issue's CPU bomb: a 100000-column array
CPU_BOMB = r"Sum $\begin{array}{*{100000}{c}} a \end{array}$ here"
#: a large-output formula (1.4 KB): one array cell 300 pt wide and 400 rows tall
SIZE_BOMB = r"Big $\begin{array}{c}" + r"\qquad" * 30 + r"\\ " * 400 + r"x\end{array}$"
GOOD = [rf"Item {i}: $x^{i} + \frac{{1}}{{{i}}}$" for i in range(4)]


@pytest.fixture
def need_tex():
    if not tex.tex_available():
        pytest.skip("latex/dvipng not installed (scripts/install.sh --all)")


def test_both_bombs_fall_back_and_the_rest_of_the_batch_is_typeset(need_tex):
    r = Renderer(RenderConfig(math_renderer="tex", tex_timeout_s=3, tex_item_timeout_s=1,
                              tex_max_pixels=4_000_000))
    res = r.render_many([GOOD[0], GOOD[1], CPU_BOMB, SIZE_BOMB, GOOD[2], GOOD[3]])
    assert len(res) == 6  # nothing dropped
    assert [x.renderer for x in res] == ["tex", "tex", "text", "text", "tex", "tex"]
    assert "time limit of 1 s" in res[2].fallback_reason  # the short per-item limit, not the batch's
    assert "TeXOutputTooLarge" in res[3].fallback_reason and "> max_pixels=4000000" in res[3].fallback_reason
    assert all(x.image.width <= 800 and x.image.height <= 800 for x in res)
    stats, tex_stats = r.stats(), r.tex_stats()
    assert stats["fallback.TeXOutputTooLarge"] == 1 and stats["renderer.tex"] == 4
    assert tex_stats["too_large"] == 1 and tex_stats["batches_split"] == 1 and tex_stats["seconds"] > 0


def test_the_run_budget_caps_total_tex_time_and_later_items_fall_back(need_tex):
    r = Renderer(RenderConfig(math_renderer="tex", tex_timeout_s=1, tex_item_timeout_s=1, tex_run_budget_s=1.5,
                              tex_batch_size=1))
    res = r.render_many([CPU_BOMB, CPU_BOMB, GOOD[0], GOOD[1]])
    assert len(res) == 4 and all(x.image is not None for x in res)
    assert r.tex_stats()["seconds"] <= 1.5 + 1.0  # the last run is cut to what was left of the budget
    assert "TeXBudgetExceeded" in res[-1].fallback_reason and res[-1].renderer == "text"
    assert r.stats()["fallback.TeXBudgetExceeded"] >= 1 and r.tex_stats()["budget_exceeded"] >= 1


def test_a_latex_error_names_its_line_under_file_line_error(need_tex):
    out = tex.TexRenderer(batch_size=1).render([tex.to_latex(r"broken $x^$ formula")])[0]
    assert isinstance(out, tex.TeXRunError)
    assert "without an error line" not in str(out) and "job.tex:" in str(out)


def test_each_tex_process_runs_under_memory_cpu_and_file_size_limits(tmp_path):
    """The limits are set in the child before exec (shown with a Python child: what it reads back, and a
    400 MB allocation refused under a 300 MB address-space limit)."""
    limits = tex.TeXLimits(memory_mb=300, cpu_s=4, file_mb=8)
    r = tex._run([sys.executable, "-c", "import resource as r; print(r.getrlimit(r.RLIMIT_AS)[0] >> 20, "
                  "r.getrlimit(r.RLIMIT_CPU)[0], r.getrlimit(r.RLIMIT_FSIZE)[0] >> 20)"], tmp_path, 30, limits)
    assert r.returncode == 0 and r.stdout.split() == ["300", "4", "8"], r.stdout
    r = tex._run([sys.executable, "-c", "b = bytearray(400 << 20)"], tmp_path, 30, limits)
    assert r.returncode != 0 and "MemoryError" in r.stdout


def test_png_size_reads_the_header_without_decoding(tmp_path):
    from PIL import Image

    Image.new("L", (37, 11)).save(tmp_path / "a.png")
    assert tex.png_size(tmp_path / "a.png") == (37, 11)
    (tmp_path / "b.png").write_bytes(b"not a png at all, long enough to read")
    with pytest.raises(tex.TeXRunError):
        tex.png_size(tmp_path / "b.png")
