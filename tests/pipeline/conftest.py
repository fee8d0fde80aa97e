"""Shared by the pipeline tests that compose the real configs."""
from __future__ import annotations

import sys
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


#: a distributed environment left by another test would make the app think it is one rank of a job
DIST_ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def app(monkeypatch, capsys):
    """``python -m lomo_ablate <argv>`` in-process in ``cwd``: returns (exit code, stdout, stderr)."""
    from lomo_ablate.__main__ import main

    def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["lomo_ablate", *argv])
        for v in DIST_ENV_VARS:
            monkeypatch.delenv(v, raising=False)
        GlobalHydra.instance().clear()
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            GlobalHydra.instance().clear()
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
