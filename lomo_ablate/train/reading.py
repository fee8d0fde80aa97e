"""The training side of the tiny model's reading stage: its budget (:func:`reading_trainer`).

The reading stage (docs/train.md "The reading stage") is composed in the pipeline from the ordinary parts:
its data (:func:`lomo_ablate.data.reading.build_reading_dataset`, a curated-dataset folder), the ordinary
:func:`lomo_ablate.train.train` with the trainer config below, and its check
(:func:`lomo_ablate.evaluate.transcription.transcription_metrics`); :func:`lomo_ablate.pipeline.stages.pretrain_reading`
runs the three. This module imports neither curation nor evaluation.
"""
from __future__ import annotations

import dataclasses
import math

from lomo_ablate.models.config import ReadingConfig
from lomo_ablate.train.config import TrainerConfig


def reading_trainer(trainer: TrainerConfig, cfg: ReadingConfig, usable: int) -> TrainerConfig:
    """The SFT trainer config with the reading stage's budget: ``cfg.steps`` at ``cfg.batch_size``
    (as many epochs over ``usable`` samples as that takes), ``cfg.lr`` -> ``cfg.min_lr``, no packing."""
    steps_per_epoch = max(1, usable // cfg.batch_size)
    return dataclasses.replace(trainer, lr=cfg.lr, min_lr=cfg.min_lr, max_steps=cfg.steps,
                               epochs=max(1, math.ceil(cfg.steps / steps_per_epoch)),
                               per_device_batch_size=cfg.batch_size, grad_accum=1, packing=False)
