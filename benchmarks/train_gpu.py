"""Training throughput on one GPU: tokens/s and MFU of the production architecture, bf16, FlashAttention.

The model is Qwen3.5-9B's real ``config.json`` with fewer decoder layers (default 4: the real
[linear, linear, linear, full] block, hidden 4096, full vocabulary: ~3 B parameters with the vision tower, 2 B of
them embedding + LM head — at the real width no layer count gives 1–2 B), random-init
in bf16 — the same class, kernels and layer shapes as production, small enough for one GPU with AdamW.
Each step is forward + backward + AdamW on ``--batch`` x ``--seq`` tokens (text only; the vision tower is
frozen as in the recipe). ``--pack N`` packs N documents per row with restarting ``position_ids`` (the
FlashAttention varlen path; reported as such). MFU = 6 x (non-embedding parameters) x tokens/s / peak.

    python benchmarks/train_gpu.py --layers 4 --batch 4 --seq 4096 --steps 10 [--pack 4] [--peak-tflops 989]

Needs a CUDA GPU: without one it says so and exits with status 2 (nothing to measure on a CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = Path(os.environ.get("LOMO_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
    ap.add_argument("--config", default=str(shared / "fixtures/real_models/qwen3_5_9b/real/config.json"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--pack", type=int, default=1, help="documents per row (1: no packing)")
    ap.add_argument("--attn", default="flash_attention_2")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200: 989)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("train_gpu.py needs a CUDA GPU (none is visible here); nothing measured.", file=sys.stderr)
        return 2
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    from lomo_ablate.models.attention import flash_attn_installed

    attn = args.attn
    if attn == "flash_attention_2" and not flash_attn_installed():
        print("flash-attn is not installed (pip install -e '.[gpu]'); measuring with sdpa", file=sys.stderr)
        attn = "sdpa"
    raw = json.loads(Path(args.config).read_text())
    text = raw["text_config"]
    text["layer_types"] = text["layer_types"][: args.layers]
    text["num_hidden_layers"] = args.layers
    text["mtp_num_hidden_layers"] = 0
    config = Qwen3_5Config(**{k: v for k, v in raw.items() if k not in ("architectures", "model_type")})
    config._attn_implementation = attn
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen3_5ForConditionalGeneration(config).to(torch.bfloat16)
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith("model.visual.") or ".merger." in n)
    model.gradient_checkpointing_enable()
    model.train()
    n_total = sum(p.numel() for p in model.parameters())
    n_embed = model.get_input_embeddings().weight.numel()
    n_dense = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("model.visual.")) - n_embed
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=True)

    vocab = text["vocab_size"]
    ids = torch.randint(0, vocab - 1000, (args.batch, args.seq), device="cuda")
    batch = {"input_ids": ids, "labels": ids}
    if args.pack > 1:
        doc = args.seq // args.pack
        pos = torch.arange(args.seq, device="cuda") % doc
        batch["position_ids"] = pos.expand(args.batch, -1)
    else:
        batch["attention_mask"] = torch.ones_like(ids)

    def step() -> float:
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss)

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / args.steps
    tps = args.batch * args.seq / seconds
    figures = {
        "gpu": torch.cuda.get_device_name(), "attn": attn, "layers": args.layers, "batch": args.batch,
        "seq": args.seq, "pack": args.pack, "params_total_b": n_total / 1e9, "params_dense_lm_b": n_dense / 1e9,
        "step_s": seconds, "tokens_per_s_per_gpu": tps,
        "mfu": 6 * n_dense * tps / (args.peak_tflops * 1e12),
        "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
