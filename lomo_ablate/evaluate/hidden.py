"""Hidden states for the alignment metrics (MIR and paired cross-modal distance).

- :func:`modality_states`: per decoder layer (``hidden_states[1:]``; the embedding output is skipped), the
  states of visual tokens and of text tokens over a set of prompts, each modality subsampled to at most
  ``max_tokens`` tokens (seeded; the choice is made from the encoded token ids BEFORE any forward pass, so
  the kept hidden states are bounded by the cap, not by the data). Visual tokens are the positions whose id
  is the model's image token id; text tokens are every other attended position.
- :func:`paired_first_layer`: per item, the mean state of the question's text tokens (text protocol) and
  the mean state of the rendered question's image tokens (rendered protocol), both at
  ``hidden_states[1]`` — the OUTPUT OF THE FIRST DECODER LAYER (its attention and its MLP, with residuals).
  A hook on the first layer's attention module alone would be closer to the paper's "first self-attention
  layer", but that module differs by family (Qwen3.5's first layer is a linear-attention ``linear_attn``,
  not ``self_attn``), while ``hidden_states`` is the same for every family; so the first layer's output
  is used and documented. The question's tokens are found family-agnostically: the text-protocol and
  rendered-protocol inputs of an item share the chat-template prefix and suffix, and what lies between
  is the question (as text tokens, or as the rendered image's tokens).

Both read their prompts twice, in order — once to choose tokens, once to run the model — and keep the encoded
inputs only while they fit in ``keep_bytes`` (the rest are encoded again for the second pass), so ``prompts``
may be a lazy sequence that opens one window of items at a time (evaluate() passes such a sequence: a
document benchmark's item can hold ~1 GB of images). The result does not depend on ``keep_bytes``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from lomo_ablate.models.generation import Prompt, encode_prompts, left_pad_batch


def image_token_id(model: Any) -> int:
    """The id of the image placeholder token, from the model config (``image_token_id`` or
    ``image_token_index``, on the config or its ``text_config``)."""
    cfgs = [model.config, getattr(model.config, "text_config", None)]
    for cfg in cfgs:
        for key in ("image_token_id", "image_token_index"):
            val = getattr(cfg, key, None) if cfg is not None else None
            if val is not None:
                return int(val)
    raise ValueError(f"{type(model).__name__}: config has no image_token_id / image_token_index")


def _pad_id(processor: Any) -> int:
    tok = getattr(processor, "tokenizer", processor)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    return int(pad if pad is not None else 0)


@torch.no_grad()
def _forward_hidden(model: Any, samples: list[dict[str, torch.Tensor]], pad_id: int,
                    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """hidden_states of one left-padded batch and the pad width of each row."""
    batch = left_pad_batch(samples, pad_id)
    width = batch["input_ids"].shape[-1]
    pads = torch.tensor([width - s["input_ids"].shape[-1] for s in samples])
    device = next(model.parameters()).device
    out = model(**{k: v.to(device) for k, v in batch.items()}, output_hidden_states=True, use_cache=False)
    hs = out.hidden_states
    if hs is None:
        raise ValueError(f"{type(model).__name__} returned no hidden_states")
    return hs, pads


class _Encoded:
    """``prompts`` encoded in order, kept while their tensors fit in ``keep_bytes`` (None: all kept)."""

    def __init__(self, processor: Any, prompts: Sequence[Prompt], keep_bytes: int | None):
        self.processor, self.prompts, self.keep_bytes = processor, prompts, keep_bytes
        self.kept: dict[int, dict[str, torch.Tensor]] = {}
        self.held = 0

    def __len__(self) -> int:
        return len(self.prompts)

    def each(self):
        """``(i, encoded prompt i)`` for every prompt, in order (the first pass)."""
        for i in range(len(self.prompts)):
            s = encode_prompts(self.processor, [self.prompts[i]])[0]
            size = sum(v.numel() * v.element_size() for v in s.values())
            if self.keep_bytes is None or self.held + size <= self.keep_bytes:
                self.kept[i] = s
                self.held += size
            yield i, s

    def get(self, idx: Sequence[int]) -> list[dict[str, torch.Tensor]]:
        """The encoded prompts ``idx`` (kept ones as they are, the others encoded again)."""
        missing = [i for i in idx if i not in self.kept]
        again = dict(zip(missing, encode_prompts(self.processor, [self.prompts[i] for i in missing])))
        return [self.kept[i] if i in self.kept else again[i] for i in idx]


def _pick(positions: list[tuple[int, int]], cap: int, rng: np.random.Generator) -> set[tuple[int, int]]:
    if len(positions) <= cap:
        return set(positions)
    idx = rng.choice(len(positions), size=cap, replace=False)
    return {positions[i] for i in sorted(idx)}


@torch.no_grad()
def modality_states(model: Any, processor: Any, prompts: Sequence[Prompt], batch_size: int = 8,
                    max_tokens: int = 2000, seed: int = 0, progress: bool = True, keep_bytes: int | None = None,
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(visual_by_layer, text_by_layer)``: one ``(n_tokens, hidden)`` float32 array per decoder layer.
    ``keep_bytes``: how much encoded input to keep between the two passes (None: all; module docstring)."""
    model.eval()
    img_id = image_token_id(model)
    samples = _Encoded(processor, prompts, keep_bytes)
    vis_pos, txt_pos = [], []
    lengths: list[int] = []
    for i, s in samples.each():
        lengths.append(int(s["input_ids"].shape[-1]))
        ids, mask = s["input_ids"].tolist(), s["attention_mask"].tolist()
        for t, (tok, m) in enumerate(zip(ids, mask)):
            if m:
                (vis_pos if tok == img_id else txt_pos).append((i, t))
    rng = np.random.default_rng(seed)
    keep_v, keep_t = _pick(vis_pos, max_tokens, rng), _pick(txt_pos, max_tokens, rng)
    vis: list[list[torch.Tensor]] | None = None
    txt: list[list[torch.Tensor]] | None = None
    pad_id = _pad_id(processor)
    for start in tqdm(range(0, len(samples), batch_size), desc="hidden states", disable=not progress, leave=False):
        chunk = list(range(start, min(start + batch_size, len(samples))))
        hs, pads = _forward_hidden(model, samples.get(chunk), pad_id)
        layers = hs[1:]
        if vis is None:
            vis, txt = [[] for _ in layers], [[] for _ in layers]
        for row, i in enumerate(chunk):
            L = lengths[i]
            vt = [t for t in range(L) if (i, t) in keep_v]
            tt = [t for t in range(L) if (i, t) in keep_t]
            off = int(pads[row])
            for li, h in enumerate(layers):
                if vt:
                    vis[li].append(h[row, [off + t for t in vt]].float().cpu())
                if tt:
                    txt[li].append(h[row, [off + t for t in tt]].float().cpu())
    if vis is None or not vis[0] or not txt[0]:
        raise ValueError(f"modality_states: {len(keep_v)} visual and {len(keep_t)} text tokens in "
                         f"{len(prompts)} prompts; MIR needs both")
    return ([torch.cat(v).numpy() for v in vis], [torch.cat(t).numpy() for t in txt])


def _differing_region(a: list[int], b: list[int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Ranges of ``a`` and ``b`` between their longest common prefix and longest common suffix."""
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    s = 0
    while s < min(len(a), len(b)) - p and a[-1 - s] == b[-1 - s]:
        s += 1
    return (p, len(a) - s), (p, len(b) - s)


@torch.no_grad()
def paired_first_layer(model: Any, processor: Any, text_prompts: Sequence[Prompt],
                       rendered_prompts: Sequence[Prompt], batch_size: int = 8, progress: bool = True,
                       keep_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(text_vecs, image_vecs, kept)``: per item the mean first-layer state of its question text tokens
    (text protocol) and of its rendered question's image tokens (rendered protocol). ``kept`` lists the
    indices of items where both regions were found (an item whose inputs do not differ, or whose
    rendered region holds no image token, is left out; the caller counts them). ``keep_bytes``: encoded
    input kept between the passes, half for each protocol (None: all)."""
    if len(text_prompts) != len(rendered_prompts):
        raise ValueError(f"paired_first_layer: {len(text_prompts)} text but {len(rendered_prompts)} rendered prompts")
    model.eval()
    img_id = image_token_id(model)
    half = None if keep_bytes is None else keep_bytes // 2
    ts, rs = _Encoded(processor, text_prompts, half), _Encoded(processor, rendered_prompts, half)
    regions = []
    for (_, t), (_, r) in zip(ts.each(), rs.each()):
        ids_t, ids_r = t["input_ids"].tolist(), r["input_ids"].tolist()
        (a0, a1), (b0, b1) = _differing_region(ids_t, ids_r)
        text_pos = [k for k in range(a0, a1) if ids_t[k] != img_id]
        img_pos = [k for k in range(b0, b1) if ids_r[k] == img_id]
        regions.append((text_pos, img_pos))
    kept = [i for i, (tp, ip) in enumerate(regions) if tp and ip]
    pad_id = _pad_id(processor)
    text_vecs, image_vecs = [], []
    for start in tqdm(range(0, len(kept), batch_size), desc="paired distance", disable=not progress, leave=False):
        chunk = kept[start:start + batch_size]
        for samples, which, out in ((ts, 0, text_vecs), (rs, 1, image_vecs)):
            hs, pads = _forward_hidden(model, samples.get(chunk), pad_id)
            first = hs[1]
            for row, i in enumerate(chunk):
                pos = [int(pads[row]) + k for k in regions[i][which]]
                out.append(first[row, pos].float().mean(dim=0).cpu())
    if not kept:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), kept
    return torch.stack(text_vecs).numpy(), torch.stack(image_vecs).numpy(), kept
