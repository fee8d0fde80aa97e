"""Training: ``train(data_dir, output_dir, model_cfg, trainer_cfg, seed, log_fn) -> TrainResult``.

Collate (padding, packing without cross-talk), a readable training loop with exact resume, checkpoints,
and the DeepSpeed config generated from the trainer config. See docs/train.md.
"""
from lomo_ablate.train.config import DeepSpeedSettings, TrainerConfig
from lomo_ablate.train.deepspeed import deepspeed_config
from lomo_ablate.utils.lazy import lazy_exports

# torch and transformers load on first use of the loop (a config check needs neither).
_LAZY = {"DatasetError": "data", "TrainResult": "trainer", "lr_factor": "trainer", "train": "trainer"}

__getattr__ = lazy_exports(__name__, _LAZY, globals())

__all__ = ["DeepSpeedSettings", "TrainerConfig", "deepspeed_config", *_LAZY]
