"""Runs tests/curate/test_llamafactory_reads.py where LLaMA-Factory's readers import: ``.venv-lf`` (made by
``scripts/install.sh --llamafactory-check``, part of ``--all`` and so of ``scripts/test.sh`` as root). Its
pins (transformers<=5.6, datasets<=4.0) cannot share ``.venv`` (FACTS.md), so the check runs in that venv as
a subprocess; the curated folders it reads are made there by this checkout's own code."""
from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LF_PYTHON = REPO / ".venv-lf" / "bin" / "python"


@pytest.mark.slow
def test_llamafactory_reads_every_curated_folder_in_its_own_venv(in_ci):
    if importlib.util.find_spec("llamafactory") is not None:
        pytest.skip("llamafactory imports here: test_llamafactory_reads.py runs in this process")
    if not LF_PYTHON.is_file():
        if in_ci:
            pytest.fail(f"{LF_PYTHON} is missing: scripts/install.sh --llamafactory-check did not run")
        pytest.skip(f"{LF_PYTHON} is missing (bash scripts/install.sh --llamafactory-check)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "DISABLE_VERSION_CHECK": "1"}
    r = subprocess.run([str(LF_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                        str(REPO / "tests" / "curate" / "test_llamafactory_reads.py")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "passed" in out and "skipped" not in out, out[-4000:]
