"""Typed configs of the model side: which model, how to build the tiny one, what to freeze.

Every config is a dataclass built through :func:`lomo_ablate.utils.config.config_from_dict` (``from_dict(d)``):
an unknown key or a wrong type is a :class:`ConfigError` naming the dotted key; nested dataclass fields accept
plain dicts; ``validate()`` checks ranges.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.utils.config import ConfigError, config_from_dict

__all__ = ["ConfigError", "config_from_dict", "ReadingConfig", "TinyModelConfig", "ModelConfig"]


@dataclasses.dataclass
class ReadingConfig:
    """The tiny model's reading stage (lomo_ablate.train.reading): before the compared SFT, it learns to
    transcribe rendered text, as production VLMs arrive pretrained to read. ``steps: 0`` skips the stage.

    ``samples`` texts (lomo_ablate.data.builtin.reading_texts; ``p_random`` of them random strings the
    language model cannot guess) are rendered with the job's renderer; ``p_distort`` of the images get one
    perceptual distortion (the distortion group's ``on`` settings). Trained for ``steps`` at ``batch_size``,
    ``lr`` cosine to ``min_lr``; ``eval_n`` held-out texts measure transcription afterwards.
    """

    steps: int = 1200
    samples: int = 19200
    batch_size: int = 32
    lr: float = 3e-3
    min_lr: float = 1e-4
    p_random: float = 0.5
    p_distort: float = 0.0
    prompt: str = "Write out the text in the image."
    eval_n: int = 64

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ReadingConfig":
        return config_from_dict(cls, d, "model.tiny.reading")

    def validate(self, where: str = "model.tiny.reading") -> None:
        for key in ("steps", "samples", "batch_size", "eval_n"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 0:
                raise ConfigError(f"{where}.{key} must be an integer >= 0, got {getattr(self, key)!r}")
        if self.steps and self.samples < self.batch_size:
            raise ConfigError(f"{where}.samples ({self.samples}) is smaller than one batch ({self.batch_size})")
        for key in ("p_random", "p_distort"):
            if not 0.0 <= float(getattr(self, key)) <= 1.0:
                raise ConfigError(f"{where}.{key} must be in [0, 1], got {getattr(self, key)!r}")
        if IMAGE_SLOT in self.prompt:
            raise ConfigError(f"{where}.prompt must not contain <image> (the image comes first)")


@dataclasses.dataclass
class TinyModelConfig:
    """A random-init tiny Qwen3.5 VLM (the production Qwen3.5-9B class, shrunk) and its tokenizer.

    ``patch_size`` is the vision patch edge in pixels (8 or 16: rendered text is drawn one glyph per patch
    cell for tiny models); ``merge_size`` patches per side are merged into one LM token.
    """

    vocab_size: int = 384  # target BPE vocabulary incl. special tokens (fewer if the corpus is small)
    hidden_size: int = 128
    intermediate_size: int = 256
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    head_dim: int = 32
    # all full_attention (the embedded default, conf/model/tiny.yaml): a CPU training step is 1.3-1.6x faster
    # than with Qwen3.5's hybrid [linear_attention, full_attention] (whose Gated DeltaNet layer runs reference
    # kernels without a GPU), and trainer.packing is allowed
    layer_types: list[str] = dataclasses.field(default_factory=lambda: ["full_attention", "full_attention"])
    linear_heads: int = 2  # key heads of the linear-attention (Gated DeltaNet) layers; value heads = 2x
    linear_head_dim: int = 32
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_heads: int = 2
    patch_size: int = 8
    merge_size: int = 2
    num_position_embeddings: int = 256  # learned vision position grid (16x16), interpolated per image
    min_pixels: int = 16 * 16
    max_pixels: int = 512 * 128
    seed: int = 0  # initialisation (and reading-stage data) seed: the same base model for every job seed
    reading: ReadingConfig = dataclasses.field(default_factory=ReadingConfig)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "TinyModelConfig":
        return config_from_dict(cls, d, "model.tiny")


@dataclasses.dataclass
class ModelConfig:
    """Which model to train and what of it to train.

    ``name_or_path``: a hub id, a local save_pretrained folder, or ``tiny`` (build from ``tiny``).
    ``frozen``: fnmatch patterns of parameter names to freeze; ``trainable`` patterns win over ``frozen``
    (e.g. freeze ``model.visual.*`` but train ``model.visual.merger.*``, the projector).
    ``max_pixels``/``min_pixels``: per-image pixel cap/floor of the processor (null = the processor's own).
    ``chat_template_kwargs``: variables passed to the chat template when rendering training data and prompts
    (``enable_thinking: false``: SFT data without reasoning traces; templates that do not use a variable
    ignore it). ``strip_reasoning``: remove ``<think>…</think>`` blocks (and a dangling ``</think>``) from
    generated answers before scoring. Both are saved with the trained model (``final/lomo_model.json``).
    ``attn_fallback``: ``sdpa`` lets a run whose ``attn_implementation`` is ``flash_attention_2`` fall back
    to SDPA when flash-attn is not installed (recorded in result.json); null refuses such a run at validation.
    """

    name_or_path: str = "tiny"
    trust_remote_code: bool = False
    dtype: str | None = None  # null: bfloat16 when trainer.bf16 and a GPU, else float32
    attn_implementation: str | None = "sdpa"
    max_pixels: int | None = None
    min_pixels: int | None = None
    frozen: list[str] = dataclasses.field(default_factory=list)
    trainable: list[str] = dataclasses.field(default_factory=list)
    gradient_checkpointing: bool = False
    chat_template_kwargs: dict[str, Any] = dataclasses.field(default_factory=lambda: {"enable_thinking": False})
    strip_reasoning: bool = False
    attn_fallback: str | None = None
    tiny: TinyModelConfig = dataclasses.field(default_factory=TinyModelConfig)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ModelConfig":
        return config_from_dict(cls, d, "model")

    def validate(self, where: str = "model") -> None:
        if self.attn_fallback not in (None, "sdpa", "eager"):
            raise ConfigError(f"{where}.attn_fallback must be null, sdpa or eager, got {self.attn_fallback!r}")
        if not isinstance(self.chat_template_kwargs, Mapping):
            raise ConfigError(f"{where}.chat_template_kwargs must be a mapping, got {self.chat_template_kwargs!r}")
