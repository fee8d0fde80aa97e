"""Fixtures of the render tests: a TeX requirement that fails under CI and skips elsewhere."""
import pytest

from lomo_ablate.render.tex import tex_available


@pytest.fixture
def need_tex(in_ci):
    """TeX Live (latex + dvipng) is required; under CI its absence is a failure, not a skip."""
    if not tex_available():
        if in_ci:
            pytest.fail("TeX Live (latex + dvipng) is not installed; run scripts/install.sh --all")
        pytest.skip("TeX Live (latex + dvipng) is not installed")
