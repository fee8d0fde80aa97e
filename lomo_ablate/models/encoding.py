"""One conversation + its images -> model input tensors, with labels on assistant tokens only.

How it works (family-agnostic; it only uses the processor's chat template, image placeholder token,
tokenizer and image processor):
1. Each message content is split at the literal ``<image>`` slots into text and ``{"type": "image"}`` parts,
   so the chat template puts the family's image placeholder exactly where the slot was.
2. The conversation is rendered to text, with the chat-template variables of the model's settings
   (``model.chat_template_kwargs``, e.g. ``enable_thinking: false``). To find the assistant turns, it is
   rendered once more with each assistant content replaced by a sentinel: the sentinels' positions give
   the turns' places in the real rendering, so templates that do not render conversations prefix-wise
   (Qwen3.5 drops earlier turns' think blocks) work too. A turn's target is exactly its content (as the
   template writes it, e.g. trimmed) plus the end-of-turn token the template puts right after it.
3. The text is cut at the image placeholder token; each text piece is tokenized (with character offsets),
   and each image contributes as many image tokens as the processor says it needs at its native size
   (within the pixel cap). Tokens whose characters lie in an assistant span get labels; all else is -100.
4. Only the inputs the model's forward takes are returned (``forward_inputs`` of the settings).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from PIL import Image

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.models import settings

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
    kwargs = settings.of(processor).chat_template_kwargs
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         **kwargs)


_SENTINEL = "\u2063LOMO-ASSISTANT-{}\u2063"  # invisible separators: no template trims or splits on them


def _end_token(processor: Any, after: str) -> str:
    """The end-of-turn token the template writes right after an assistant content (``after`` starts there)."""
    tok = processor.tokenizer
    specials = sorted(set(tok.all_special_tokens) | set(getattr(tok, "added_tokens_encoder", {})), key=len,
                      reverse=True)
    for t in specials:
        if t and after.startswith(t):
            return t
    raise EncodeError(f"the chat template writes {after[:30]!r} after an assistant turn, not an end-of-turn "
                      "special token; cannot tell where the turn ends")


def assistant_spans(processor: Any, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """Rendered text of the conversation and the character spans of its assistant turns (content + end token)."""
    text = _render(processor, messages, False)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not turns:
        return text, []
    marked = [dict(m) for m in messages]
    contents = {}
    for k, i in enumerate(turns):
        parts = messages[i]["content"]
        if any(p.get("type") != "text" for p in parts):
            raise EncodeError(f"message {i}: an assistant turn cannot hold an image")
        contents[k] = "".join(p["text"] for p in parts)
        marked[i]["content"] = [{"type": "text", "text": _SENTINEL.format(k)}]
    skeleton = _render(processor, marked, False)
    # rebuild the real rendering from the skeleton: each sentinel stands for its content as the template
    # writes it (verbatim or trimmed); anything else means the template transforms the content itself
    spans, out, pos = [], [], 0
    for k in range(len(turns)):
        sentinel = _SENTINEL.format(k)
        at = skeleton.find(sentinel, pos)
        if at < 0 or skeleton.count(sentinel) != 1:
            raise EncodeError("the chat template does not write assistant turns verbatim; "
                              "cannot locate assistant tokens for the loss")
        out.append(skeleton[pos:at])
        start = sum(map(len, out))
        for written in (contents[k], contents[k].strip()):
            if text.startswith(written, start):
                break
        else:
            raise EncodeError(f"assistant turn {k + 1}: the chat template rewrites its content (e.g. a "
                              "</think> in it); cannot locate assistant tokens for the loss")
        out.append(written)
        pos = at + len(sentinel)
        end = _end_token(processor, skeleton[pos:])
        spans.append((start, start + len(written) + len(end)))
    out.append(skeleton[pos:])
    if "".join(out) != text:
        raise EncodeError("the chat template renders the conversation differently when only the assistant "
                          "contents change; cannot locate assistant tokens for the loss")
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
    (1 at image tokens) is included when the processor lists it in ``model_input_names`` and the model's
    forward takes it.
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
    accepted = settings.of(processor).forward_inputs
    if accepted is not None:
        out = {k: v for k, v in out.items() if k in accepted or k == "labels"}
    return out


def image_token_mask(processor: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the positions of ``input_ids`` that hold image tokens (visual vs text split)."""
    return input_ids == processor.image_token_id
