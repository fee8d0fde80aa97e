"""Which attention implementation a run gets: ``model.attn_implementation`` unless it cannot run here.

``flash_attention_2`` needs a CUDA device and the ``flash-attn`` package (the ``[gpu]`` extra). On a CPU
(tests, CI) the run uses SDPA; on CUDA without flash-attn it is refused (at validation when the device is
known to be CUDA, else when training starts) unless ``model.attn_fallback`` names a fallback. What a run
got, and why, is recorded in ``train/runtime.json`` and result.json (``metrics.train``).
Standard library only: validation imports it without torch.
"""
from __future__ import annotations

import importlib.util

from lomo_ablate.utils.config import ConfigError

FLASH = "flash_attention_2"
INSTALL = ("pip install -e '.[gpu]' (on the GPU node, after torch; flash-attn builds against the installed "
           "CUDA torch: add --no-build-isolation if it fails to build)")


def flash_attn_installed() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def missing_flash_message(fallback_key: str = "model.attn_fallback") -> str:
    return (f"attn_implementation {FLASH} on CUDA needs the flash-attn package, which is not installed: "
            f"{INSTALL}; or set {fallback_key}=sdpa to run with SDPA (recorded in result.json)")


def resolve_attention(requested: str | None, fallback: str | None, device_type: str) -> tuple[str | None, str | None]:
    """``(implementation to load with, why it differs from the request or None)``; raises ConfigError when
    flash-attn is requested on CUDA, missing, and no fallback is configured."""
    if requested != FLASH:
        return requested, None
    if device_type != "cuda":
        return "sdpa", f"{FLASH} needs a CUDA device; sdpa on {device_type}"
    if flash_attn_installed():
        return requested, None
    if fallback:
        return fallback, f"flash-attn is not installed; model.attn_fallback={fallback}"
    raise ConfigError("model.attn_implementation: " + missing_flash_message())
