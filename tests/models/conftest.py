"""Where the real-model fixtures live: ``$LOMO_SHARED/fixtures/real_models`` (default ``<repo>/../shared``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared_paths import shared_dir


@pytest.fixture(scope="session")
def real_models() -> Path:
    """The real-architecture fixtures (tiny checkpoints built from the real configs, real templates and
    remote code; SOURCES.md there); the test is skipped, with the reason, when the folder is absent."""
    root = shared_dir() / "fixtures" / "real_models"
    if not (root / "SOURCES.md").is_file():
        pytest.skip(f"real-model fixtures not found at {root} (set LOMO_SHARED to the shared folder)")
    return root
