"""DeepSpeed config generated from the trainer config, so batch sizes always agree.

``train_batch_size = train_micro_batch_size_per_gpu × gradient_accumulation_steps × world_size`` — the
identity DeepSpeed checks at start-up — holds by construction.
"""
from __future__ import annotations

from typing import Any

from lomo_ablate.train.config import TrainerConfig


def deepspeed_config(cfg: TrainerConfig, world_size: int) -> dict[str, Any]:
    """The DeepSpeed JSON config for ``cfg`` on ``world_size`` ranks (requires ``cfg.deepspeed``)."""
    if cfg.deepspeed is None:
        raise ValueError("trainer.deepspeed is null: no DeepSpeed config to generate")
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    ds = cfg.deepspeed
    zero: dict[str, Any] = {
        "stage": ds.stage,
        "overlap_comm": ds.overlap_comm,
        "reduce_bucket_size": ds.reduce_bucket_size,
        "allgather_bucket_size": ds.allgather_bucket_size,
        "contiguous_gradients": ds.contiguous_gradients,
    }
    if ds.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    return {
        "train_micro_batch_size_per_gpu": cfg.per_device_batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "train_batch_size": cfg.per_device_batch_size * cfg.grad_accum * world_size,
        "gradient_clipping": cfg.max_grad_norm,
        "bf16": {"enabled": bool(cfg.bf16)},
        "zero_optimization": zero,
        "steps_per_print": 10**9,  # the trainer logs; DeepSpeed stays quiet
        "wall_clock_breakdown": False,
    }
