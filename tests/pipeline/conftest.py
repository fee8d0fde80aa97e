"""Shared by the pipeline tests that compose the real configs."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def hydra_conf():
    """Hydra's compose API on conf/ (the typed schema is registered by tests/conftest.py)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()
