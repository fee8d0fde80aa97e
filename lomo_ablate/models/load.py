"""The one loading path for production models (hub id or folder) and saved tiny models alike."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lomo_ablate.models.processor import MARKER_FILE, ImageTextProcessor


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | str | None:
    """``"bfloat16"``/``"bf16"``/``"float32"``/``"auto"``/None/torch.dtype -> what from_pretrained takes."""
    if dtype is None or isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    aliases = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16"}
    name = aliases.get(dtype, dtype)
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use bfloat16, float16, float32 or auto")
    return value


def load_processor(path_or_hub_id: str | Path, trust_remote_code: bool = False) -> Any:
    """Image-only ``ImageTextProcessor`` for folders that carry its marker, ``AutoProcessor`` otherwise."""
    path = Path(path_or_hub_id)
    if (path / MARKER_FILE).is_file():
        return ImageTextProcessor.from_pretrained(path)
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(path_or_hub_id), trust_remote_code=trust_remote_code)
    if not hasattr(processor, "image_processor"):
        raise ValueError(f"{path_or_hub_id}: AutoProcessor returned {type(processor).__name__} without an image "
                         "processor (a Qwen-family processor needs torchvision for its video processor); "
                         "save the model with lomo_ablate's ImageTextProcessor instead")
    return processor


def load_pretrained(path_or_hub_id: str | Path, dtype: str | torch.dtype | None = None, device: str = "cpu",
                    trust_remote_code: bool = False, attn_implementation: str | None = None) -> tuple[Any, Any]:
    """Loads ``(model, processor)`` through transformers' Auto classes (AutoModelForImageTextToText).

    Works for a hub id (e.g. ``Qwen/Qwen3.5-9B``, or remote-code models with ``trust_remote_code``), a
    production folder, and folders written by ``build_tiny``/``train`` alike.
    """
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if dtype is not None:
        kwargs["dtype"] = resolve_dtype(dtype)
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(str(path_or_hub_id), **kwargs)
    model.to(device)
    processor = load_processor(path_or_hub_id, trust_remote_code)
    return model, processor
