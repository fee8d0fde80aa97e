"""CPU training throughput of the tiny model: lomo_ablate.train.train() vs a bare PyTorch loop.

Both run in this process on the same model (the tiny init train() builds), the same batches in the same
order, the same optimizer settings. train()'s figure counts everything a step does (loading and encoding
the images of its batch, collate, forward, loss, backward, clip, step, logging, metrics file); the bare
loop gets its batches pre-encoded and does forward/loss/backward/step only. Overhead = 1 - train/bare.

    .venv/bin/python benchmarks/train_throughput.py --records 192 --batch 8 --steps 30 --threads 1
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))
from conftest import write_dataset  # noqa: E402  (the test suite's tiny curated-dataset writer)

from lomo_ablate.models import ModelConfig, load_pretrained  # noqa: E402
from lomo_ablate.models.encoding import IGNORE_INDEX  # noqa: E402
from lomo_ablate.train import TrainerConfig, train  # noqa: E402
from lomo_ablate.train.collate import pad_collate  # noqa: E402
from lomo_ablate.train.data import EncodedDataset, load_records  # noqa: E402
from lomo_ablate.train.trainer import epoch_micro_batches, param_groups  # noqa: E402
from lomo_ablate.distributed import DistributedEnvironment  # noqa: E402


def bare_loop(model_dir: Path, data_dir: Path, cfg: TrainerConfig, steps: int, seed: int) -> tuple[int, float]:
    """Forward/loss/backward/AdamW over the batches train() uses; returns (tokens, seconds)."""
    model, processor = load_pretrained(model_dir)
    model.train()
    records, _, _ = load_records(data_dir, processor, cfg.max_seq_len, progress=False)
    dataset = EncodedDataset(records, processor, cfg.max_seq_len)
    env = DistributedEnvironment(0, 1, 0, 1, "127.0.0.1", 0, "single")
    plan = epoch_micro_batches(len(records), seed, 0, env, cfg.per_device_batch_size)[:steps]
    batches = [pad_collate([dataset[i] for i in idx], processor.tokenizer.pad_token_id) for idx in plan]
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr)
    tokens = 0
    t0 = time.perf_counter()
    for batch in batches:
        batch = dict(batch)
        labels = batch.pop("labels")
        logits = model(**batch, use_cache=False).logits
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE_INDEX)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
    return tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=192)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 on a machine shared with other jobs)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    try:
        data = write_dataset(work / "data", n=args.records)
        cfg = TrainerConfig(per_device_batch_size=args.batch, max_steps=args.steps, progress=False, save_every=0)
        train_tps, bare_tps = [], []
        for r in range(args.repeats):
            out = work / f"run{r}"
            res = train(data, out, ModelConfig(), cfg)
            rows = [json.loads(x) for x in (out / "train_metrics.jsonl").read_text().splitlines()]
            step_s = sum((row["tokens_seen"] - (rows[i - 1]["tokens_seen"] if i else 0)) / row["tokens_per_s"]
                         for i, row in enumerate(rows))
            train_tps.append(res.tokens_seen / step_s)
            tokens, bare_s = bare_loop(out / "tiny_init", data, cfg, args.steps, seed=0)
            assert tokens == res.tokens_seen, (tokens, res.tokens_seen)  # same batches
            bare_tps.append(tokens / bare_s)
            print(f"repeat {r}: train() {train_tps[-1]:.0f} tok/s   bare loop {bare_tps[-1]:.0f} tok/s")
        t, b = max(train_tps), max(bare_tps)
        print(f"tiny model, batch {args.batch}, {args.steps} steps, {res.tokens_seen} tokens/run, "
              f"{torch.get_num_threads()} threads")
        print(f"best of {args.repeats}: train() {t:.0f} tok/s, bare loop {b:.0f} tok/s, ratio {t / b:.3f}, "
              f"framework overhead {100 * (1 - t / b):.1f}% (median ratio "
              f"{statistics.median(x / y for x, y in zip(train_tps, bare_tps)):.3f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
