"""Deterministic greedy decoding (temperature 0), batched with left padding, and the :class:`Prompt` it takes.

A :class:`Prompt` is one user turn (role/content messages with ``<image>`` slots) and its images: what
evaluation's protocols build and what the reading stage decodes. Prompts are encoded one by one with
:func:`lomo_ablate.models.encoding` (the same conversion training uses), then batched here: token-aligned tensors (``input_ids``, ``attention_mask``, …) are left-padded, per-image
tensors (``pixel_values``, ``image_grid_thw``, …) are concatenated along their first axis. Prompts are
grouped by length to waste little padding; outputs come back in input order. Batched and one-at-a-time
decoding give the same tokens (the test checks it on a tiny random model).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from PIL import Image

if TYPE_CHECKING:  # torch loads on first use: building prompts (a config check) stays cheap
    import torch

__all__ = ["Prompt", "generate", "encode_prompts", "left_pad_batch", "strip_reasoning", "TOKEN_KEYS"]

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
_THINK_END = "</think>"


def strip_reasoning(text: str) -> str:
    """The answer without its reasoning: ``<think>…</think>`` blocks removed, and everything up to a dangling
    ``</think>`` (the generation prompt opened the block), and an unclosed ``<think>…`` at the end (the
    answer ran out of tokens while reasoning); whitespace stripped."""
    text = _THINK_BLOCK.sub("", text)
    if _THINK_END in text:
        text = text.rsplit(_THINK_END, 1)[1]
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text.strip()


@dataclass
class Prompt:
    """What the model gets for one item: one user turn and its images (``rendered_text``/``span``: the
    question's characters given as the last image, when a protocol rendered them)."""

    messages: list[dict]
    images: list[Image.Image]
    rendered_text: str | None = None
    span: tuple[int, int] | None = None

    @property
    def text(self) -> str:
        return self.messages[0]["content"]


#: Keys of an encoded sample that run along the token axis (padded); any other tensor is per image
#: (concatenated along axis 0); ``labels`` is dropped.
TOKEN_KEYS = ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids", "position_ids")


def encode_prompts(processor: Any, prompts: Sequence[Prompt]) -> list[dict[str, torch.Tensor]]:
    """Encode each prompt with the generation prompt appended; token tensors become 1-D."""
    import torch

    from lomo_ablate.models.encoding import encode

    out = []
    for p in prompts:
        enc = encode(processor, p.messages, p.images, add_generation_prompt=True)
        sample = {}
        for k, v in enc.items():
            if k == "labels" or not isinstance(v, torch.Tensor):
                continue
            if k in TOKEN_KEYS and v.dim() == 2 and v.shape[0] == 1:
                v = v[0]
            sample[k] = v
        if "attention_mask" not in sample:
            sample["attention_mask"] = torch.ones_like(sample["input_ids"])
        out.append(sample)
    return out


def left_pad_batch(samples: Sequence[dict[str, torch.Tensor]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Stack samples into one batch: token tensors left-padded (pad id for ``input_ids``, 0 elsewhere),
    other tensors concatenated along axis 0. Keys must agree across samples that carry them."""
    import torch

    width = max(s["input_ids"].shape[-1] for s in samples)
    batch: dict[str, torch.Tensor] = {}
    keys = list(dict.fromkeys(k for s in samples for k in s))
    for k in keys:
        present = [s[k] for s in samples if k in s]
        if k in TOKEN_KEYS:
            if len(present) != len(samples):
                raise ValueError(f"token tensor {k!r} is missing from some samples of the batch")
            fill = pad_token_id if k == "input_ids" else 0
            rows = []
            for v in present:
                pad = width - v.shape[-1]
                rows.append(torch.cat([torch.full((*v.shape[:-1], pad), fill, dtype=v.dtype), v], dim=-1))
            batch[k] = torch.stack(rows)
        else:
            batch[k] = torch.cat(present, dim=0)
    return batch


def _batches(order: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(order), size):
        yield order[i:i + size]


def _token_ids(model: Any, tokenizer: Any) -> tuple[int, Any]:
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None) if gen is not None else None
    if eos is None:
        eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = getattr(gen, "pad_token_id", None) if gen is not None else None
    if pad is None:
        pad = eos[0] if isinstance(eos, (list, tuple)) else eos
    if pad is None:
        raise ValueError("the tokenizer has neither a pad nor an eos token; cannot left-pad batches")
    return int(pad), eos


def generate(model: Any, processor: Any, prompts: Sequence[Prompt], batch_size: int = 8,
             max_new_tokens: int = 16, progress: bool = True, desc: str = "generate") -> list[str]:
    """Greedy answers (special tokens removed, whitespace stripped) for ``prompts``, in order.

    Deterministic: ``do_sample=False`` (temperature 0), the model in eval mode, no randomness anywhere.
    With the processor's ``strip_reasoning`` setting (``model.strip_reasoning``, saved with the model),
    reasoning blocks are removed (:func:`strip_reasoning`) — here, so every protocol and the reading stage
    score the same post-processed answer.
    """
    from lomo_ablate.models import settings

    import torch
    from tqdm import tqdm

    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size}, {max_new_tokens}")
    tokenizer = getattr(processor, "tokenizer", processor)
    pad_id, eos = _token_ids(model, tokenizer)
    strip = settings.of(processor).strip_reasoning
    model.eval()
    device = next(model.parameters()).device
    samples = encode_prompts(processor, prompts)
    order = sorted(range(len(samples)), key=lambda i: (-samples[i]["input_ids"].shape[-1], i))
    answers: list[str] = [""] * len(samples)
    bar = tqdm(total=len(samples), desc=desc, disable=not progress, leave=False)
    for idx in _batches(order, batch_size):
        batch = {k: v.to(device) for k, v in left_pad_batch([samples[i] for i in idx], pad_id).items()}
        with torch.no_grad():
            out = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=pad_id,
                                 eos_token_id=eos)
        new = out[:, batch["input_ids"].shape[-1]:]
        for i, row in zip(idx, new):
            answer = tokenizer.decode(row.tolist(), skip_special_tokens=True).strip()
            answers[i] = strip_reasoning(answer) if strip else answer
        bar.update(len(idx))
    bar.close()
    return answers
