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

