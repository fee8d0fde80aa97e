"""Batches encoded samples: right-padding, or packing several samples into one row without cross-talk.

Sequence tensors (1-D per sample: input_ids, attention_mask, labels, mm_token_type_ids) are padded or
concatenated; pixel tensors (pixel_values, image_grid_thw, ...) are concatenated along dim 0 in sample
order, which is the order the model consumes image tokens in.

Packing: samples are concatenated into one row with ``attention_mask=None`` and ``position_ids`` that
restart at 0 for each sample; transformers' mask builder turns the restarts into a block-diagonal causal
mask, so no sample attends to another. Families with multimodal rotary positions (Qwen-VL, Qwen3.5) get
``position_ids`` of shape (4, 1, L): the restarting text positions, then the model's own per-sample 3-D
positions from ``get_rope_index`` — so a packed sample sees exactly the positions it sees unpacked.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from lomo_ablate.models.encoding import IGNORE_INDEX

SEQUENCE_KEYS = ("input_ids", "attention_mask", "labels", "mm_token_type_ids")


def _pad_values(pad_token_id: int) -> dict[str, int]:
    return {"input_ids": pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX, "mm_token_type_ids": 0}


def _concat_pixels(samples: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    keys = sorted({k for s in samples for k in s if k not in SEQUENCE_KEYS})
    return {k: torch.cat([s[k] for s in samples if k in s], dim=0) for k in keys}


def pad_collate(samples: Sequence[dict[str, torch.Tensor]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pads sequence tensors to the longest sample; concatenates pixel tensors."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    length = max(len(s["input_ids"]) for s in samples)
    pads = _pad_values(pad_token_id)
    batch: dict[str, torch.Tensor] = {}
    for key in SEQUENCE_KEYS:
        if key not in samples[0]:
            continue
        rows = torch.full((len(samples), length), pads[key], dtype=samples[0][key].dtype)
        for i, s in enumerate(samples):
            rows[i, : len(s[key])] = s[key]
        batch[key] = rows
    batch.update(_concat_pixels(samples))
    return batch


RopeIndexFn = Callable[..., tuple[torch.Tensor, Any]]


def rope_index_fn(model: torch.nn.Module) -> RopeIndexFn | None:
    """The model's multimodal rotary position function (``get_rope_index``) if it has one, else None."""
    for m in (model, getattr(model, "model", None), getattr(getattr(model, "module", None), "model", None)):
        fn = getattr(m, "get_rope_index", None)
        if callable(fn):
            return fn
    return None


def _sample_positions(sample: dict[str, torch.Tensor], rope_index: RopeIndexFn | None) -> torch.Tensor:
    """Position ids of one unpacked sample: (L,) plain, or (4, L) text + 3-D rotary positions."""
    n = len(sample["input_ids"])
    text = torch.arange(n)
    if rope_index is None:
        return text
    mm = sample.get("mm_token_type_ids")
    if mm is None:
        mm = torch.zeros(n, dtype=torch.long)
    pos3, _ = rope_index(sample["input_ids"][None], mm_token_type_ids=mm[None],
                         image_grid_thw=sample.get("image_grid_thw"), attention_mask=None)
    return torch.cat([text[None], pos3[:, 0, :]], dim=0)


def pack_rows(samples: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The packed row (batch size 1) without ``position_ids``: sequences concatenated, no attention mask."""
    if not samples:
        raise ValueError("cannot pack an empty batch")
    batch: dict[str, torch.Tensor] = {}
    for key in SEQUENCE_KEYS:
        if key in samples[0] and key != "attention_mask":
            batch[key] = torch.cat([s[key] for s in samples])[None]
    batch.update(_concat_pixels(samples))
    return batch


def pack_layout(samples: Sequence[dict[str, torch.Tensor]]) -> tuple[list[int], list[int]]:
    """Where each sample sits in its packed row: (token count, image_grid_thw rows) per sample."""
    return ([len(s["input_ids"]) for s in samples],
            [len(s["image_grid_thw"]) if "image_grid_thw" in s else 0 for s in samples])


def packed_positions(batch: dict[str, torch.Tensor], lengths: Sequence[int], grids: Sequence[int],
                     rope_index: RopeIndexFn | None = None) -> torch.Tensor:
    """``position_ids`` of a packed row: each sample's own unpacked positions, restarting at 0.

    The samples are cut back out of the row by ``lengths`` (tokens) and ``grids`` (image_grid_thw rows), so
    the positions can be completed in another process than the one that packed (the training process holds
    the model whose ``get_rope_index`` gives the 3-D positions; a DataLoader worker packs)."""
    positions, start, g0 = [], 0, 0
    for n, g in zip(lengths, grids):
        sample = {k: batch[k][0, start:start + n] for k in ("input_ids", "mm_token_type_ids") if k in batch}
        if g:
            sample["image_grid_thw"] = batch["image_grid_thw"][g0:g0 + g]
        positions.append(_sample_positions(sample, rope_index))
        start, g0 = start + n, g0 + g
    pos = torch.cat(positions, dim=-1)
    return pos[None] if pos.ndim == 1 else pos[:, None, :]


def pack_collate(samples: Sequence[dict[str, torch.Tensor]], rope_index: RopeIndexFn | None = None
                 ) -> dict[str, torch.Tensor]:
    """Packs samples into ONE row (batch size 1) with restarting positions and no attention mask."""
    batch = pack_rows(samples)
    batch["position_ids"] = packed_positions(batch, *pack_layout(samples), rope_index=rope_index)
    return batch
