"""Typed trainer config (the recipe: every value configurable), built through
:func:`lomo_ablate.utils.config.config_from_dict`: an unknown key or a wrong type is a :class:`ConfigError`
naming the dotted key (``trainer.lr: expected a float, got 'abc' (str)``); ``validate()`` checks ranges."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from lomo_ablate.utils.config import ConfigError, config_from_dict


@dataclasses.dataclass
class DeepSpeedSettings:
    """DeepSpeed ZeRO settings; batch sizes are NOT set here (derived from the trainer config)."""

    stage: int = 1
    overlap_comm: bool = True
    reduce_bucket_size: int = 500_000_000
    allgather_bucket_size: int = 500_000_000
    contiguous_gradients: bool = True
    offload_optimizer: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "DeepSpeedSettings":
        return config_from_dict(cls, d, "trainer.deepspeed")


@dataclasses.dataclass
class TrainerConfig:
    """The SFT recipe: AdamW, cosine from ``lr`` to ``min_lr`` after ``warmup_ratio`` of steps, one epoch.

    ``save_every``: checkpoint interval in optimizer steps (0 = only at the end). ``max_seq_len``: longer
    samples are skipped with a reason (never truncated). ``packing``: each micro-batch becomes one row of
    concatenated samples that cannot attend to each other. ``strict``: a bad record stops the run.
    ``device``: ``auto`` (cuda if available, else cpu), ``cpu`` or ``cuda``.
    """

    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    epochs: int = 1
    max_steps: int | None = None
    per_device_batch_size: int = 8
    grad_accum: int = 1
    max_seq_len: int = 1024
    bf16: bool = False
    packing: bool = False
    liger: bool = False
    deepspeed: DeepSpeedSettings | None = None
    save_every: int = 0
    keep_checkpoints: int = 2
    log_every: int = 1
    num_workers: int = 0
    cache_encoded_mb: int = 512  # keep encoded samples in memory up to this size (small data: encode once)
    strict: bool = False
    device: str = "auto"
    gpu_peak_tflops: float = 989.0  # dense bf16 peak per GPU for MFU (H100/H200 SXM)
    progress: bool = True

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "TrainerConfig":
        return config_from_dict(cls, d, "trainer")

    def validate(self) -> None:
        checks = [("lr", self.lr > 0), ("min_lr", 0 <= self.min_lr <= self.lr), ("warmup_ratio", 0 <= self.warmup_ratio < 1),
                  ("epochs", self.epochs >= 1), ("per_device_batch_size", self.per_device_batch_size >= 1),
                  ("grad_accum", self.grad_accum >= 1), ("max_seq_len", self.max_seq_len >= 8),
                  ("save_every", self.save_every >= 0), ("log_every", self.log_every >= 1),
                  ("cache_encoded_mb", self.cache_encoded_mb >= 0), ("num_workers", self.num_workers >= 0),
                  ("max_steps", self.max_steps is None or self.max_steps >= 1),
                  ("device", self.device in ("auto", "cpu", "cuda"))]
        for key, ok in checks:
            if not ok:
                raise ConfigError(f"trainer.{key}: invalid value {getattr(self, key)!r}")
