"""One conversation + its images -> model input tensors, with labels on assistant tokens only.

How it works (family-agnostic; it only uses the processor's chat template, image placeholder token,
tokenizer and image processor):
1. Each message content is split at the literal ``<image>`` slots into text and ``{"type": "image"}`` parts,
   so the chat template puts the family's image placeholder exactly where the slot was.
2. The conversation is rendered to text; the character span of every assistant turn is found by rendering
   the prefix before it (with the generation prompt) and the prefix through it.
3. The text is cut at the image placeholder token; each text piece is tokenized (with character offsets),
   and each image contributes as many image tokens as the processor says it needs at its native size
   (within the pixel cap). Tokens whose characters lie in an assistant span get labels; all else is -100.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from PIL import Image

from lomo_ablate.contracts import IMAGE_SLOT

IGNORE_INDEX = -100


class EncodeError(ValueError):
    """A sample cannot be encoded faithfully (slot/image mismatch, too long, unsupported template)."""


def split_slots(messages: Sequence[dict]) -> tuple[list[dict], int]:
    """Messages with string contents -> structured contents (``<image>`` -> image part); returns slot count."""
    out, slots = [], 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise EncodeError(f"message {i} lacks 'role' or 'content'")
        content = m["content"]
        if not isinstance(content, str):
            raise EncodeError(f"message {i} content must be a string, got {type(content).__name__}")
        parts: list[dict] = []
        for j, piece in enumerate(content.split(IMAGE_SLOT)):
            if j > 0:
                parts.append({"type": "image"})
                slots += 1
            if piece:
                parts.append({"type": "text", "text": piece})
        out.append({"role": m["role"], "content": parts})
    return out, slots


def _render(processor: Any, messages: list[dict], add_generation_prompt: bool) -> str:
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def assistant_spans(processor: Any, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """Rendered text of the conversation and the character spans of its assistant turns."""
    text = _render(processor, messages, False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(processor, messages[:i], True) if i else ""
        through = _render(processor, messages[: i + 1], False)
        if not (text.startswith(through) and through.startswith(before)):
            raise EncodeError("the chat template does not render conversations prefix-wise; "
                              "cannot locate assistant tokens for the loss")
        spans.append((len(before), len(through)))
    return text, spans


def image_token_counts(processor: Any, images: Sequence[Image.Image]) -> list[int]:
    """LM tokens each image occupies at its native size within the processor's pixel cap."""
    if not images:
        return []
    data = processor._get_num_multimodal_tokens(image_sizes=[(im.height, im.width) for im in images])
    return list(data["num_image_tokens"])


def encode(processor: Any, messages: Sequence[dict], images: Sequence[Image.Image],
           add_generation_prompt: bool = False, max_length: int | None = None) -> dict[str, torch.Tensor]:
    """Encodes one sample: input_ids, attention_mask, pixel inputs, and labels (unless generating).

    Sequence tensors are 1-D; pixel tensors are what the image processor returns for these images
    (``pixel_values`` and, for native-resolution families, ``image_grid_thw``). ``mm_token_type_ids``
    (1 at image tokens) is included when the processor lists it in ``model_input_names``.
    Raises EncodeError when slots and images disagree or the sample exceeds ``max_length`` (never truncates:
    a cut image or answer would train on something else than the record).
    """
    structured, slots = split_slots(messages)
    if slots != len(images):
        raise EncodeError(f"{slots} <image> slot(s) but {len(images)} image(s)")
    if add_generation_prompt:
        text, spans = _render(processor, structured, True), []
    else:
        text, spans = assistant_spans(processor, structured)

    pieces = text.split(processor.image_token)
    if len(pieces) != len(images) + 1:
        raise EncodeError(f"rendered text has {len(pieces) - 1} image placeholders for {len(images)} image(s) "
                          f"(does a text contain {processor.image_token!r}?)")
    counts = image_token_counts(processor, images)
    tok = processor.tokenizer
    ids: list[int] = []
    is_target: list[bool] = []
    offset = 0
    for k, piece in enumerate(pieces):
        if k:
            ids.extend([processor.image_token_id] * counts[k - 1])
            is_target.extend([False] * counts[k - 1])
            offset += len(processor.image_token)
        if piece:
            enc = tok(piece, add_special_tokens=False, return_offsets_mapping=True)
            ids.extend(enc["input_ids"])
            is_target.extend(any(s <= offset + a < e for s, e in spans) for a, _ in enc["offset_mapping"])
        offset += len(piece)
    if max_length is not None and len(ids) > max_length:
        raise EncodeError(f"sample has {len(ids)} tokens > max_length {max_length}")

    input_ids = torch.tensor(ids, dtype=torch.long)
    out: dict[str, torch.Tensor] = {"input_ids": input_ids,
                                    "attention_mask": torch.ones_like(input_ids)}
    if not add_generation_prompt:
        labels = input_ids.clone()
        labels[~torch.tensor(is_target, dtype=torch.bool)] = IGNORE_INDEX
        out["labels"] = labels
    if "mm_token_type_ids" in getattr(processor, "model_input_names", ()):
        out["mm_token_type_ids"] = (input_ids == processor.image_token_id).long()
    if images:
        pixels = processor.image_processor([im.convert("RGB") for im in images], return_tensors="pt")
        out.update({k: v for k, v in pixels.items() if isinstance(v, torch.Tensor)})
    return out


def image_token_mask(processor: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the positions of ``input_ids`` that hold image tokens (visual vs text split)."""
    return input_ids == processor.image_token_id
