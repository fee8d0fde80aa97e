"""Builds the embedded default model: a random-init tiny Qwen3.5 VLM, saved with save_pretrained.

Same class as the production Qwen3.5-9B (``Qwen3_5ForConditionalGeneration``: hybrid Gated-DeltaNet /
full-attention LM, ViT with learned position grid and a patch merger as projector), shrunk to ~0.6 M
parameters so a step at batch 32 takes ~0.2 s on 2 CPU cores. Nothing is downloaded: the tokenizer is
trained here on ``tokenizer_corpus``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch

from lomo_ablate.models.config import TinyModelConfig
from lomo_ablate.models.processor import ImageTextProcessor
from lomo_ablate.models.tokenizer import (IMAGE_PAD_TOKEN, VIDEO_PAD_TOKEN, VISION_END, VISION_START,
                                          train_tokenizer)


def _mrope_section(head_dim: int, partial_rotary_factor: float) -> list[int]:
    """Splits the rotary half-dimension into (temporal, height, width) sections that sum to it."""
    half = int(head_dim * partial_rotary_factor) // 2
    hw = max(1, half // 3)
    return [half - 2 * hw, hw, hw]


def build_processor(cfg: TinyModelConfig, tokenizer_corpus: Iterable[str]) -> ImageTextProcessor:
    """Trains the tokenizer and pairs it with a Pillow Qwen2-VL image processor (native resolution)."""
    from lomo_ablate.models.compat import check_torchvision

    check_torchvision()
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = train_tokenizer(tokenizer_corpus, cfg.vocab_size)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=cfg.patch_size, merge_size=cfg.merge_size, temporal_patch_size=2,
        min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels,
        image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )
    return ImageTextProcessor(tokenizer, image_processor, IMAGE_PAD_TOKEN)


def build_model(cfg: TinyModelConfig, processor: ImageTextProcessor) -> torch.nn.Module:
    """A random-init ``Qwen3_5ForConditionalGeneration`` sized by ``cfg`` (seeded by ``cfg.seed``)."""
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    if len(cfg.layer_types) != cfg.num_layers:
        raise ValueError(f"model.tiny.layer_types has {len(cfg.layer_types)} entries but num_layers is "
                         f"{cfg.num_layers}")
    tok = processor.tokenizer
    partial = 0.25
    text = dict(
        vocab_size=len(tok), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_kv_heads,
        head_dim=cfg.head_dim, layer_types=list(cfg.layer_types), linear_num_key_heads=cfg.linear_heads,
        linear_num_value_heads=2 * cfg.linear_heads, linear_key_head_dim=cfg.linear_head_dim,
        linear_value_head_dim=cfg.linear_head_dim, max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": partial,
                         "mrope_section": _mrope_section(cfg.head_dim, partial), "mrope_interleaved": True},
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )
    vision = dict(
        depth=cfg.vision_depth, hidden_size=cfg.vision_hidden_size, intermediate_size=cfg.vision_intermediate_size,
        num_heads=cfg.vision_heads, patch_size=cfg.patch_size, spatial_merge_size=cfg.merge_size,
        temporal_patch_size=2, out_hidden_size=cfg.hidden_size, num_position_embeddings=cfg.num_position_embeddings,
    )
    config = Qwen3_5Config(
        text_config=text, vision_config=vision, image_token_id=processor.image_token_id,
        video_token_id=tok.convert_tokens_to_ids(VIDEO_PAD_TOKEN),
        vision_start_token_id=tok.convert_tokens_to_ids(VISION_START),
        vision_end_token_id=tok.convert_tokens_to_ids(VISION_END),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = Qwen3_5ForConditionalGeneration(config)
    return model


def build_tiny(cfg: TinyModelConfig, tokenizer_corpus: Iterable[str], out_dir: str | Path) -> Path:
    """Builds the tiny VLM + processor + tokenizer and saves them with save_pretrained into ``out_dir``.

    Returns ``out_dir``; load it back with ``lomo_ablate.models.load_pretrained(out_dir)``.
    """
    out = Path(out_dir)
    processor = build_processor(cfg, tokenizer_corpus)
    model = build_model(cfg, processor)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
