"""The training side of the reading stage (lomo_ablate.train.reading): its budget, and that train/ stays a
training library (the reading stage's data and check live with data/ and evaluate/; the pipeline composes
them: tests/pipeline/test_reading_stage.py)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from lomo_ablate.models import ConfigError, ModelConfig
from lomo_ablate.models.config import ReadingConfig
from lomo_ablate.train import TrainerConfig
from lomo_ablate.train.reading import reading_trainer


def test_reading_trainer_takes_its_budget_from_the_reading_config():
    sft = TrainerConfig(lr=1e-3, per_device_batch_size=8, max_steps=None, epochs=1, device="cpu", packing=True)
    t = reading_trainer(sft, ReadingConfig(steps=100, batch_size=4, lr=5e-3, min_lr=1e-5), usable=120)
    assert (t.max_steps, t.per_device_batch_size, t.lr, t.min_lr, t.packing) == (100, 4, 5e-3, 1e-5, False)
    assert t.epochs * (120 // 4) >= 100 and t.device == "cpu"  # enough epochs to reach the steps


def test_reading_config_rejects_bad_values_with_the_key():
    with pytest.raises(ConfigError, match="model.tiny.reading.p_random"):
        ModelConfig.from_dict({"tiny": {"reading": {"p_random": 2}}})
    with pytest.raises(ConfigError, match="model.tiny.reading.steps"):
        ModelConfig.from_dict({"tiny": {"reading": {"steps": -1}}})
    with pytest.raises(ConfigError, match="unknown key.*model.tiny.reading.stepz"):
        ModelConfig.from_dict({"tiny": {"reading": {"stepz": 3}}})


def test_the_training_package_imports_neither_curation_nor_evaluation():
    code = ("import importlib, pkgutil, sys, lomo_ablate.train as t\n"
            "for m in pkgutil.iter_modules(t.__path__): importlib.import_module('lomo_ablate.train.' + m.name)\n"
            "print(sorted(k for k in sys.modules if k.startswith(('lomo_ablate.evaluate', 'lomo_ablate.curate'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
