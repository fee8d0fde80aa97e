"""Fixtures for curation tests (helpers live in curate_helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from curate_helpers import text_records, write_jsonl, write_mm_pool


@pytest.fixture
def text_pool(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in" / "text.jsonl", text_records(30))


@pytest.fixture
def mm_pool(tmp_path: Path) -> Path:
    return write_mm_pool(tmp_path / "mmdata", 12)


@pytest.fixture
def need_tex(in_ci):
    """TeX Live (latex + dvipng) is required; under CI its absence is a failure, not a skip."""
    from lomo_ablate.render.tex import tex_available

    if not tex_available():
        if in_ci:
            pytest.fail("TeX Live (latex + dvipng) is not installed; run scripts/install.sh --all")
        pytest.skip("TeX Live (latex + dvipng) is not installed")
