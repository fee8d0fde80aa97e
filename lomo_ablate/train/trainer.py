"""The training recipe, readable top to bottom (torchtune-style): ``train(data_dir, output_dir, ...)``.

1. distributed setup (torchrun / Slurm / single) — 2. model: build the tiny one or load by name — freeze by
pattern — 3. data: index the lines of data.jsonl (records are checked and encoded as they are consumed, bad
ones set aside) — 4. optimizer (AdamW), cosine schedule with warmup
— 5. resume from the newest checkpoint — 6. loop: micro-batches × grad_accum, loss on assistant tokens
only, clip, step, log, checkpoint — 7. save ``final/`` (save_pretrained, loadable by load_pretrained).

Exact resume: the sample order of epoch e is ``randperm(n, seed + e)`` over the n non-blank lines, and the
sample at a position depends on that position alone (a bad record is replaced by the next usable one), so a
step number fixes the data position; model, optimizer, scheduler and RNG states come from the checkpoint.
Only rank 0 writes files.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lomo_ablate import contracts as C
from lomo_ablate.distributed import DistributedEnvironment, init_distributed
from lomo_ablate.models import ModelConfig, build_tiny, load_pretrained, save_pretrained, set_pixel_limits
from lomo_ablate.models.attention import resolve_attention
from lomo_ablate.models.config import ConfigError
from lomo_ablate.models.encoding import IGNORE_INDEX
from lomo_ablate.train import checkpoint as ckpt_io
from lomo_ablate.train.collate import rope_index_fn
from lomo_ablate.train.config import TrainerConfig
from lomo_ablate.train.data import Skipped, StreamingDataset, index_lines, load_records, tokenizer_corpus
from lomo_ablate.train.deepspeed import deepspeed_config
from lomo_ablate.train.loader import Batch, CollateItems, complete_positions, worker_batches, worker_deaths_reported
from lomo_ablate.train.plot import plot_metrics
from lomo_ablate.utils import atomic_dir, atomic_write_json
from lomo_ablate.utils.logging import install_rank_zero_filter

LogFn = Callable[[int, dict], None]


@dataclasses.dataclass
class TrainResult:
    output_dir: Path
    final_dir: Path
    steps: int  # optimizer steps done in total (including before a resume)
    num_samples: int  # records not set aside (records - skipped)
    skipped: int  # records set aside when training met them (see skipped_path)
    skipped_path: Path
    metrics_path: Path
    final_loss: float | None
    tokens_seen: int
    resumed_from_step: int | None
    trainable_params: int
    total_params: int
    wall_s: float
    liger_applied: bool = False
    records: int = 0  # non-blank lines of data.jsonl
    unplanned: int = 0  # records at no position of this run's sample order (never read, so never checked)
    attn_implementation: str | None = None  # what the model ran with
    attn_note: str | None = None  # why that differs from model.attn_implementation (None: it does not)


# ---------------------------------------------------------------------------------------------- helpers
def lr_factor(step: int, total: int, warmup_ratio: float, lr: float, min_lr: float) -> float:
    """Multiplier of the peak lr at ``step``: linear warmup, then cosine from ``lr`` down to ``min_lr``."""
    warmup = math.ceil(warmup_ratio * total)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    floor = min_lr / lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def apply_freeze(model: torch.nn.Module, frozen: list[str], trainable: list[str]) -> tuple[int, int]:
    """Freezes parameters matching ``frozen`` patterns unless they match ``trainable``; returns (trainable, total)."""
    names = [n for n, _ in model.named_parameters()]
    for pat in list(frozen) + list(trainable):
        if not any(fnmatch.fnmatchcase(n, pat) for n in names):
            raise ConfigError(f"model.frozen/trainable pattern {pat!r} matches no parameter "
                              f"(e.g. {', '.join(names[:3])}, ...)")
    for name, p in model.named_parameters():
        is_frozen = any(fnmatch.fnmatchcase(name, pat) for pat in frozen)
        p.requires_grad_(not is_frozen or any(fnmatch.fnmatchcase(name, pat) for pat in trainable))
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if n_train == 0:
        raise ConfigError("model.frozen freezes every parameter: nothing to train")
    return n_train, sum(p.numel() for p in model.parameters())


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only (not on biases and norm weights)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def epoch_micro_batches(n: int, seed: int, epoch: int, env: DistributedEnvironment,
                        micro: int) -> list[list[int]]:
    """This rank's micro-batches of epoch ``epoch``: a seeded permutation, sharded, cut into ``micro``."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch)).tolist()
    per_rank = n // env.world_size
    mine = order[env.rank * per_rank:(env.rank + 1) * per_rank]
    return [mine[i:i + micro] for i in range(0, len(mine) - micro + 1, micro)]


def resolve_device(cfg: TrainerConfig, env: DistributedEnvironment) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", env.local_rank)
    return torch.device("cpu")


def prepare_model_dir(data_dir: Path, output_dir: Path, model_cfg: ModelConfig, env: DistributedEnvironment) -> str:
    """``tiny``: built once (rank 0) into ``output_dir/tiny_init`` from the dataset's own text; else the name."""
    if model_cfg.name_or_path != "tiny":
        return model_cfg.name_or_path
    target = output_dir / "tiny_init"
    if env.is_main and not (target / C.SUCCESS).is_file():
        with atomic_dir(target) as tmp:
            build_tiny(model_cfg.tiny, tokenizer_corpus(data_dir), tmp)
            (tmp / C.SUCCESS).write_text("")
    _barrier(env)
    return str(target)


def _barrier(env: DistributedEnvironment) -> None:
    if env.is_distributed and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _apply_liger(model: torch.nn.Module) -> bool:
    try:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance  # type: ignore
    except ImportError:
        warnings.warn("trainer.liger is true but liger-kernel is not installed; training without it")
        return False
    _apply_liger_kernel_to_instance(model=model)
    return True


def _to(batch: dict[str, torch.Tensor], device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in batch.items()}


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Keeps the metric lines of steps <= last_step (steps after the checkpoint will be redone)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= last_step]
    path.write_text("".join(line + "\n" for line in keep))


# ------------------------------------------------------------------------------------------------ train
def train(data_dir: str | Path, output_dir: str | Path, model_cfg: ModelConfig, trainer_cfg: TrainerConfig,
          seed: int = 0, log_fn: LogFn | None = None) -> TrainResult:
    """Trains on a curated dataset dir; writes final/, checkpoints/step-N/, train_metrics.jsonl, skipped.jsonl.

    Re-calling it on an ``output_dir`` with checkpoints resumes exactly where the newest one left off.
    """
    t_start = time.time()
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    cfg = trainer_cfg
    cfg.validate()

    # 1. distributed setup
    env = init_distributed()
    if env.is_distributed:
        install_rank_zero_filter(env.rank)  # ranks > 0 log nothing but what every rank must say
    device = resolve_device(cfg, env)
    use_bf16 = cfg.bf16 and device.type == "cuda"
    if env.is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    # 2. model
    model_dir = prepare_model_dir(data_dir, output_dir, model_cfg, env)
    # bf16 weights under DeepSpeed (it keeps fp32 master weights); otherwise fp32 weights + bf16 autocast
    dtype = model_cfg.dtype or ("bfloat16" if use_bf16 and cfg.deepspeed is not None else "float32")
    attn, attn_note = resolve_attention(model_cfg.attn_implementation, model_cfg.attn_fallback, device.type)
    if attn_note:
        warnings.warn(f"model.attn_implementation={model_cfg.attn_implementation}: {attn_note}")
    model, processor = load_pretrained(model_dir, dtype=dtype, device=str(device),
                                       trust_remote_code=model_cfg.trust_remote_code,
                                       attn_implementation=attn,
                                       chat_template_kwargs=model_cfg.chat_template_kwargs,
                                       strip_reasoning=model_cfg.strip_reasoning)
    set_pixel_limits(processor, model_cfg.max_pixels, model_cfg.min_pixels)
    n_train, n_total = apply_freeze(model, model_cfg.frozen, model_cfg.trainable)
    layer_types = getattr(getattr(model.config, "text_config", model.config), "layer_types", None) or []
    if cfg.packing and "linear_attention" in layer_types:
        raise ConfigError("trainer.packing: linear-attention layers would carry state across packed samples "
                          "(their CPU reference kernels ignore sequence boundaries); use packing=false or a "
                          "model whose layer_types are all full_attention")
    liger_applied = _apply_liger(model) if cfg.liger else False
    if model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    param_dtype = next(model.parameters()).dtype

    # 3. data: one pass finds the lines; each rank reads and encodes only the records its steps consume
    if cfg.strict:  # strict: every record checked (and encoded) before step 1 — the first bad one stops here
        load_records(data_dir, processor, cfg.max_seq_len, strict=True, progress=cfg.progress and env.is_main)
    t_index = time.perf_counter()
    index = index_lines(data_dir / C.DATA)
    per_process = cfg.cache_encoded_mb * 2**20 // max(1, cfg.num_workers)
    dataset = StreamingDataset(data_dir, processor, cfg.max_seq_len, cache_bytes=per_process, index=index,
                               strict=cfg.strict)
    n_records = len(dataset)
    if env.is_main:
        print(f"[lomo-ablate] train: {n_records} record(s) in {index.path} indexed in "
              f"{time.perf_counter() - t_index:.2f}s; checked and encoded as consumed", flush=True)
    skipped_path = output_dir / "skipped.jsonl"
    if n_records < cfg.per_device_batch_size * env.world_size:
        raise ValueError(f"{data_dir / C.DATA}: {n_records} record(s) — fewer than one batch of "
                         f"{cfg.per_device_batch_size} x {env.world_size} rank(s)")
    micro_per_epoch = n_records // env.world_size // cfg.per_device_batch_size
    steps_per_epoch = micro_per_epoch // cfg.grad_accum
    if steps_per_epoch == 0:
        raise ValueError(f"one epoch of {micro_per_epoch} micro-batch(es) is less than grad_accum={cfg.grad_accum}")
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)

    # 4. optimizer and schedule
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                                  betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, cfg.warmup_ratio, cfg.lr, cfg.min_lr))
    engine = None
    if cfg.deepspeed is not None:
        import deepspeed

        ds_cfg = deepspeed_config(cfg, env.world_size)
        if env.is_main:
            atomic_write_json(output_dir / "deepspeed_config.json", ds_cfg)
        engine, optimizer, _, scheduler = deepspeed.initialize(model=model, optimizer=optimizer,
                                                               lr_scheduler=scheduler, config=ds_cfg)
        wrapped = engine
    elif env.is_distributed:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
    else:
        wrapped = model

    # 5. resume
    start_step, tokens_seen, resumed_from = 0, 0, None
    metrics_path = output_dir / "train_metrics.jsonl"
    last = ckpt_io.latest_checkpoint(output_dir)
    if last is not None:
        if engine is not None:
            engine.load_checkpoint(str(last.parent), tag=last.name)
            state = ckpt_io.load_state(last, None, None, None, env.rank)
        else:
            state = ckpt_io.load_state(last, model, optimizer, scheduler, env.rank)
        start_step, tokens_seen, resumed_from = state["step"], state["tokens_seen"], state["step"]
        if env.is_main:
            _truncate_metrics(metrics_path, start_step)
    elif env.is_main and metrics_path.exists():
        metrics_path.unlink()
    ledger = SkipLedger(output_dir, n_records, resume=last is not None)
    ledger.unplanned = _unplanned(n_records, cfg, env.world_size, seed, total_steps, steps_per_epoch)

    # 6. loop
    rope_index = rope_index_fn(model) if cfg.packing else None
    batches = _micro_batches(dataset, cfg, env, seed, start_step, total_steps, steps_per_epoch,
                             CollateItems(processor.tokenizer.pad_token_id, cfg.packing, rope_index is not None))
    bar = tqdm(total=total_steps, initial=start_step, desc="train", disable=not (cfg.progress and env.is_main))
    flops_per_token = 6 * n_total
    final_loss = None
    # a worker killed mid-step: a clear WorkerError, after the loader's workers are stopped
    with worker_deaths_reported(cfg.num_workers), contextlib.closing(batches):
        for step in range(start_step, total_steps):
            t0 = time.perf_counter()
            micro = [complete_positions(ledger.take(next(batches)), rope_index) for _ in range(cfg.grad_accum)]
            n_targets = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
            n_tokens = sum(int(b["attention_mask"].sum()) if "attention_mask" in b else b["input_ids"].numel()
                           for b in micro)
            loss_total = 0.0
            lr_before = optimizer.param_groups[0]["lr"]
            for i, batch in enumerate(micro):
                batch = _to(batch, device, param_dtype)
                labels = batch.pop("labels")
                sync = i == len(micro) - 1 or engine is not None
                ctx = wrapped.no_sync() if (not sync and hasattr(wrapped, "no_sync")) else contextlib.nullcontext()
                amp = torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 and engine is None \
                    else contextlib.nullcontext()
                with ctx, amp:
                    logits = wrapped(**batch, use_cache=False).logits
                    loss_sum = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), labels[:, 1:].flatten(),
                                               ignore_index=IGNORE_INDEX, reduction="sum")
                    loss = loss_sum / max(1, n_targets)
                    if engine is not None:
                        engine.backward(loss * cfg.grad_accum)  # DeepSpeed divides by its accumulation steps
                        engine.step()  # a real optimizer step only at the accumulation boundary
                    else:
                        loss.backward()
                loss_total += float(loss_sum.detach())
            lr = lr_before
            if engine is not None:
                grad_norm = float(engine.get_global_grad_norm() or 0.0)
            else:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm))
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            loss_value = loss_total / max(1, n_targets)
            if env.is_distributed:
                stats = torch.tensor([loss_total, n_targets, n_tokens], dtype=torch.float64, device=device)
                torch.distributed.all_reduce(stats)
                loss_value = float(stats[0] / max(1.0, float(stats[1])))
                n_tokens = int(stats[2])
            seconds = time.perf_counter() - t0
            tokens_seen += n_tokens
            final_loss = loss_value
            metrics = {"step": step + 1, "epoch": step // steps_per_epoch, "loss": loss_value, "lr": lr,
                       "grad_norm": grad_norm, "tokens_per_s": n_tokens / seconds, "tokens_seen": tokens_seen}
            if device.type == "cuda":
                metrics["mfu"] = flops_per_token * n_tokens / seconds / (cfg.gpu_peak_tflops * 1e12 * env.world_size)
            if env.is_main:
                with metrics_path.open("a") as f:
                    f.write(json.dumps(metrics) + "\n")
                if log_fn is not None and (step + 1) % cfg.log_every == 0:
                    log_fn(step + 1, metrics)
                bar.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.2e}")
            bar.update(1)
            if (cfg.save_every and (step + 1) % cfg.save_every == 0) or step + 1 == total_steps:
                ledger.flush(env)  # the records set aside so far, as of this checkpoint
                _save_checkpoint(output_dir, step + 1, model, optimizer, scheduler, engine, env,
                                 {"step": step + 1, "tokens_seen": tokens_seen, "total_steps": total_steps,
                                  "seed": seed}, cfg.keep_checkpoints)
    bar.close()
    ledger.flush(env)

    # 7. final model
    final_dir = output_dir / C.FINAL
    if env.is_main and not final_dir.exists():
        with atomic_dir(final_dir) as tmp:
            save_pretrained(model, processor, tmp)
            (tmp / C.SUCCESS).write_text("")
    if env.is_main:
        atomic_write_json(output_dir / C.TRAIN_RUNTIME, {
            "attn_requested": model_cfg.attn_implementation, "attn_implementation": attn, "attn_note": attn_note,
            "liger_applied": liger_applied})
    if env.is_main and metrics_path.is_file():
        plot_metrics(metrics_path, output_dir / C.TRAIN_CURVE)
    _barrier(env)
    return TrainResult(output_dir=output_dir, final_dir=final_dir, steps=total_steps,
                       num_samples=n_records - len(ledger.seen), skipped=len(ledger.seen),
                       skipped_path=skipped_path, metrics_path=metrics_path,
                       final_loss=final_loss, tokens_seen=tokens_seen, resumed_from_step=resumed_from,
                       trainable_params=n_train, total_params=n_total, wall_s=time.time() - t_start,
                       liger_applied=liger_applied, records=n_records, unplanned=ledger.unplanned,
                       attn_implementation=attn, attn_note=attn_note)


class SkipLedger:
    """The records set aside so far, by line: each rank adds what its consumed items met; ``flush`` gathers
    every rank's to rank 0, which rewrites ``skipped.jsonl`` (sorted by line) and ``skipped_summary.json``.

    Flushed at each checkpoint and at the end, so the files agree with the newest checkpoint; a resumed run
    starts from the file (records met again after the checkpoint are the same lines: counted once).
    """

    def __init__(self, output_dir: Path, records: int, resume: bool):
        self.path, self.summary = output_dir / "skipped.jsonl", output_dir / "skipped_summary.json"
        self.records, self.unplanned = records, 0
        self.seen: dict[int, Skipped] = {}
        if resume and self.path.is_file():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    s = Skipped(**json.loads(line))
                    self.seen[s.line] = s
        self._new: list[Skipped] = []

    def take(self, batch: Batch) -> Batch:
        """A consumed micro-batch, as it came; the bad records its items met are noted."""
        for s in batch.skipped:
            if s.line not in self.seen:
                self.seen[s.line] = s
                self._new.append(s)
        return batch

    def flush(self, env: DistributedEnvironment) -> None:
        new = self._new
        if env.is_distributed and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * env.world_size
            torch.distributed.all_gather_object(gathered, [s.to_json() for s in new])
            new = [Skipped(**d) for part in gathered for d in part]
        for s in new:
            self.seen.setdefault(s.line, s)
        self._new = []
        if env.is_main:
            rows = [self.seen[k] for k in sorted(self.seen)]
            self.path.write_text("".join(json.dumps(s.to_json()) + "\n" for s in rows))
            reasons: dict[str, int] = {}
            for s in rows:
                reasons[s.reason] = reasons.get(s.reason, 0) + 1
            atomic_write_json(self.summary, {"records": self.records, "skipped": len(rows),
                                             "usable": self.records - len(rows), "reasons": reasons,
                                             "unplanned": self.unplanned})


def _plan(n: int, cfg: TrainerConfig, env: DistributedEnvironment, seed: int, start_step: int,
          total_steps: int, steps_per_epoch: int) -> list[list[int]]:
    """This rank's micro-batches (indices into the records) from the data position of ``start_step`` on."""
    plan: list[list[int]] = []
    first_epoch = start_step // steps_per_epoch
    last_epoch = (total_steps - 1) // steps_per_epoch if total_steps else first_epoch
    for epoch in range(first_epoch, last_epoch + 1):
        mbs = epoch_micro_batches(n, seed, epoch, env, cfg.per_device_batch_size)
        mbs = mbs[: steps_per_epoch * cfg.grad_accum]
        begin = (start_step - epoch * steps_per_epoch) * cfg.grad_accum if epoch == first_epoch else 0
        end = min(len(mbs), (total_steps - epoch * steps_per_epoch) * cfg.grad_accum)
        plan.extend(mbs[begin:end])
    return plan


def _unplanned(n: int, cfg: TrainerConfig, world: int, seed: int, total_steps: int, steps_per_epoch: int) -> int:
    """How many records no rank's plan of the whole run reads (the tail of each epoch, or past max_steps)."""
    planned = torch.zeros(n, dtype=torch.bool)
    per_rank, per_step = n // world, cfg.per_device_batch_size * cfg.grad_accum
    for epoch in range((total_steps + steps_per_epoch - 1) // steps_per_epoch):
        steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        for rank in range(world):  # the same cut as epoch_micro_batches
            planned[order[rank * per_rank: rank * per_rank + steps * per_step]] = True
    return int(n - planned.sum())


def _micro_batches(dataset: StreamingDataset, cfg: TrainerConfig, env: DistributedEnvironment, seed: int,
                   start_step: int, total_steps: int, steps_per_epoch: int, collate: CollateItems
                   ) -> Iterator[Batch]:
    """Yields collated micro-batches (read, encoded and collated in the loader's workers: train/loader.py),
    from the data position of ``start_step`` on."""
    plan = _plan(len(dataset), cfg, env, seed, start_step, total_steps, steps_per_epoch)
    yield from worker_batches(dataset, plan, collate, cfg.num_workers)


def _save_checkpoint(output_dir: Path, step: int, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                     engine: Any, env: DistributedEnvironment, state: dict[str, Any], keep: int) -> None:
    target = ckpt_io.checkpoint_dir(output_dir, step)
    if (target / C.SUCCESS).is_file():
        return
    if engine is not None:
        engine.save_checkpoint(str(target.parent), tag=target.name)  # every rank takes part
    ckpt_io.save_rng(target, env.rank)
    _barrier(env)
    if env.is_main:
        if engine is not None:
            ckpt_io.save_state(target, None, None, None, state)
        else:
            ckpt_io.save_state(target, model, optimizer, scheduler, state)
        ckpt_io.prune(output_dir, keep)
    _barrier(env)
