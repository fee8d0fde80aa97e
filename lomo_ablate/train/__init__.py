"""Training: ``train(data_dir, output_dir, model_cfg, trainer_cfg, seed, log_fn) -> TrainResult``.

Collate (padding, packing without cross-talk), a readable training loop with exact resume, checkpoints,
and the DeepSpeed config generated from the trainer config. See docs/train.md.
"""
from lomo_ablate.train.config import DeepSpeedSettings, TrainerConfig
from lomo_ablate.train.data import DatasetError
from lomo_ablate.train.deepspeed import deepspeed_config
from lomo_ablate.train.trainer import TrainResult, lr_factor, train

__all__ = ["DeepSpeedSettings", "TrainerConfig", "DatasetError", "deepspeed_config", "TrainResult", "lr_factor",
           "train"]
