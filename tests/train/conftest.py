"""Fixtures of the train tests; the dataset builders live in train_helpers.py (a unique module name, so
importing them never picks up another folder's conftest)."""
from __future__ import annotations

from pathlib import Path

import pytest

from train_helpers import write_dataset

@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "data")
