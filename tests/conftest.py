"""Shared test settings: offline everything, W&B offline, one thread per op (2-core CI)."""
import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:  # pragma: no cover
        pass
    # conf/config.yaml and conf/curate_app.yaml start with the typed schema (lomo_ablate.pipeline.schema),
    # registered here for every test that composes them (the apps register it before hydra.main)
    from lomo_ablate.pipeline.schema import register_schemas

    register_schemas()


@pytest.fixture
def in_ci() -> bool:
    """Under CI a missing tool (TeX, Slurm) is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _restore_environment():
    """Each test sees the environment the session started with: a test that calls init_distributed()
    exports RANK/WORLD_SIZE/... into os.environ, which would otherwise leak into later tests' subprocesses
    (an srun/sbatch child would then think it is a one-process torchrun job)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def need_tex(in_ci):
    """TeX Live (latex + dvipng) is required; under CI its absence is a failure, not a skip."""
    from lomo_ablate.render.tex import tex_available

    if not tex_available():
        if in_ci:
            pytest.fail("TeX Live (latex + dvipng) is not installed; run scripts/install.sh --all")
        pytest.skip("TeX Live (latex + dvipng) is not installed")
