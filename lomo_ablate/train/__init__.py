"""Training: ``train(data_dir, output_dir, model_cfg, trainer_cfg, seed, log_fn) -> TrainResult``.

Collate (padding, packing without cross-talk), a readable training loop with exact resume, checkpoints,
and the DeepSpeed config generated from the trainer config. See docs/train.md.
"""
from lomo_ablate.train.config import DeepSpeedSettings, TrainerConfig
from lomo_ablate.train.deepspeed import deepspeed_config

# torch and transformers load on first use of the loop (a config check needs neither).
_LAZY = {"DatasetError": "data", "TrainResult": "trainer", "lr_factor": "trainer", "train": "trainer"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"lomo_ablate.train.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lomo_ablate.train' has no attribute {name!r}")


__all__ = ["DeepSpeedSettings", "TrainerConfig", "deepspeed_config", *_LAZY]
