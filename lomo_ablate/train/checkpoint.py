"""Checkpoints for exact resume: model, optimizer, scheduler, RNG states and the step (= data position).

``output_dir/checkpoints/step-N/`` holds ``model.pt`` (state dict), ``optimizer.pt``, ``scheduler.pt``,
``rng-rank<R>.pt`` per rank, ``trainer_state.json`` and ``_SUCCESS`` (written last; a folder without it
is ignored). The data position needs no file: the sample order is a pure function of (seed, epoch), so
the step number says which batches come next.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lomo_ablate import contracts as C
from lomo_ablate.utils import atomic_write_json


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / C.CHECKPOINTS_DIR / f"step-{step}"


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The complete checkpoint (``_SUCCESS`` present) with the highest step, or None."""
    root = Path(output_dir) / C.CHECKPOINTS_DIR
    done = [p for p in root.glob("step-*") if (p / C.SUCCESS).is_file() and p.name[5:].isdigit()]
    return max(done, key=lambda p: int(p.name[5:]), default=None)


def save_rng(ckpt: Path, rank: int) -> None:
    """Every rank writes its own RNG state (before the rank-0 write that completes the checkpoint)."""
    ckpt.mkdir(parents=True, exist_ok=True)
    torch.save(rng_state(), ckpt / f"rng-rank{rank}.pt")


def save_state(ckpt: Path, model: torch.nn.Module | None, optimizer: torch.optim.Optimizer | None,
               scheduler: Any | None, trainer_state: dict[str, Any]) -> None:
    """Rank 0: writes model/optimizer/scheduler/trainer state, then ``_SUCCESS``."""
    ckpt.mkdir(parents=True, exist_ok=True)
    if model is not None:
        torch.save(model.state_dict(), ckpt / "model.pt")
    if optimizer is not None:
        torch.save(optimizer.state_dict(), ckpt / "optimizer.pt")
    if scheduler is not None:
        torch.save(scheduler.state_dict(), ckpt / "scheduler.pt")
    atomic_write_json(ckpt / "trainer_state.json", trainer_state)
    (ckpt / C.SUCCESS).write_text("")


def load_state(ckpt: Path, model: torch.nn.Module | None, optimizer: torch.optim.Optimizer | None,
               scheduler: Any | None, rank: int) -> dict[str, Any]:
    """Restores what ``save_state``/``save_rng`` wrote; returns the trainer state dict."""
    if model is not None:
        model.load_state_dict(torch.load(ckpt / "model.pt", map_location="cpu", weights_only=True))
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=True))
    if scheduler is not None:
        scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=False))
    rng_file = ckpt / f"rng-rank{rank}.pt"
    if rng_file.is_file():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return json.loads((ckpt / "trainer_state.json").read_text())


def prune(output_dir: Path, keep: int) -> None:
    """Removes all but the ``keep`` newest complete checkpoints (keep <= 0 keeps all)."""
    if keep <= 0:
        return
    root = output_dir / C.CHECKPOINTS_DIR
    done = sorted((p for p in root.glob("step-*") if (p / C.SUCCESS).is_file() and p.name[5:].isdigit()),
                  key=lambda p: int(p.name[5:]))
    for p in done[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
