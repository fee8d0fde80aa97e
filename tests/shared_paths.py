"""Paths of the test data outside the repository (a unique module name: importable from the tests)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(os.environ.get("LOMO_REPO") or Path(__file__).resolve().parents[1])


def shared_dir() -> Path:
    """``$LOMO_SHARED``, else ``<repo>/../shared``."""
    return Path(os.environ.get("LOMO_SHARED") or REPO.parent / "shared")
