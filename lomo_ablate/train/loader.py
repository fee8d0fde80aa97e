"""The training DataLoader: micro-batches read, encoded and collated in ``trainer.num_workers`` workers.

Why the batch is collated inside the worker (:class:`CollateItems`): a worker sends what it returns to the
training process through shared memory, and under PyTorch's default ``file_descriptor`` sharing strategy
each CPU tensor sent is first moved into a shared-memory segment *in place* and keeps one open file
descriptor for as long as the tensor lives. The streaming dataset keeps encodings in a per-worker cache
(``trainer.cache_encoded_mb``); had its items crossed as they are, every cached tensor would have stayed a
shared segment with an open descriptor in the worker, until the worker hit ``ulimit -n`` ("Too many open
files") and the training process saw a bare ``EOFError`` (113 steps at batch 32 with a limit of
20,000). Collated in the worker, only the new batch tensors cross (one segment per batch tensor, freed once
the training process is done with them); cached encodings never leave the worker.

A worker that dies or cannot send (killed for memory, /dev/shm full, out of file descriptors, hung past
``timeout``) surfaces as a :class:`WorkerError` naming ``trainer.num_workers``, the free /dev/shm and
``ulimit -n``, instead of an ``EOFError``. Errors of the data themselves (``trainer.strict``'s
``DatasetError``) keep their own type.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import resource
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from lomo_ablate.train.collate import RopeIndexFn, pack_layout, pack_rows, packed_positions, pad_collate
from lomo_ablate.train.data import Item, Skipped

WORKER_TIMEOUT_S = 600  # a worker that delivers no batch for this long is reported, not waited on forever
SHM_DIR = Path("/dev/shm")
MIN_FREE_SHM = 256 * 2**20  # below this, workers are refused before step 1 (containers default to 64 MiB)


class WorkerError(RuntimeError):
    """A DataLoader worker failed or could not deliver a batch (not an error of the data)."""


@dataclasses.dataclass
class Batch:
    """One collated micro-batch as it arrives from a worker."""

    tensors: dict[str, torch.Tensor]
    skipped: list[Skipped]  # the bad records its items met (to be counted by the training process)
    lengths: list[int] | None = None  # packed: each sample's tokens ...
    grids: list[int] | None = None  # ... and image_grid_thw rows, to complete the 3-D positions


@dataclasses.dataclass(frozen=True)
class CollateItems:
    """The DataLoader's ``collate_fn``: a list of :class:`Item` -> one :class:`Batch` (picklable: plain fields).

    Packed rows get restarting text positions here, unless ``model_positions``: a model with multimodal
    rotary positions gets them in the training process (:func:`complete_positions`), which holds the model."""

    pad_token_id: int
    packing: bool = False
    model_positions: bool = False

    def __call__(self, items: Sequence[Item]) -> Batch:
        samples = [it.sample for it in items]
        skipped = [s for it in items for s in it.skipped]
        if not self.packing:
            return Batch(pad_collate(samples, self.pad_token_id), skipped)
        lengths, grids = pack_layout(samples)
        tensors = pack_rows(samples)
        if not self.model_positions:
            tensors["position_ids"] = packed_positions(tensors, lengths, grids)
        return Batch(tensors, skipped, lengths, grids)


def complete_positions(batch: Batch, rope_index: RopeIndexFn | None) -> dict[str, torch.Tensor]:
    """The batch's tensors, with a packed row's 3-D rotary positions when the model has them."""
    if rope_index is not None and batch.lengths is not None:
        batch.tensors["position_ids"] = packed_positions(batch.tensors, batch.lengths, batch.grids or [],
                                                         rope_index)
    return batch.tensors


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def limits(shm_dir: Path = SHM_DIR) -> dict[str, Any]:
    """Free/total bytes of the shared-memory folder (None where there is none) and ``ulimit -n``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    out: dict[str, Any] = {"shm_dir": str(shm_dir), "shm_free": None, "shm_total": None,
                           "nofile_soft": soft, "nofile_hard": hard}
    try:
        st = os.statvfs(shm_dir)
        out["shm_free"], out["shm_total"] = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    except OSError:
        pass
    return out


def describe_limits(info: dict[str, Any]) -> str:
    shm = (f"{info['shm_dir']}: {_gib(info['shm_free'])} free of {_gib(info['shm_total'])}"
           if info["shm_free"] is not None else f"{info['shm_dir']}: not found")
    hard = "unlimited" if info["nofile_hard"] == resource.RLIM_INFINITY else info["nofile_hard"]
    return f"{shm}; ulimit -n: {info['nofile_soft']} (hard {hard})"


def check_shared_memory(num_workers: int, shm_dir: Path = SHM_DIR, min_free: int = MIN_FREE_SHM) -> dict[str, Any]:
    """Preflight for ``num_workers > 0``: refuses a shared-memory folder with less than ``min_free`` bytes free
    (workers would die with a bus error mid-run); returns :func:`limits`."""
    info = limits(shm_dir)
    if num_workers > 0 and info["shm_free"] is not None and info["shm_free"] < min_free:
        raise WorkerError(
            f"trainer.num_workers={num_workers}: DataLoader workers send batches through shared memory, but "
            f"{describe_limits(info)} (at least {_gib(min_free)} needed). Give the job more shared memory "
            f"(containers: --shm-size) or set trainer.num_workers=0")
    return info


def _is_worker_failure(e: BaseException) -> bool:
    """What a failing worker looks like from the training process while it waits for a batch (EOFError:
    the worker could not hand over a shared-memory descriptor)."""
    if isinstance(e, WorkerError):
        return False
    if isinstance(e, (EOFError, ConnectionError)):
        return True
    text = str(e)
    if isinstance(e, OSError) and (e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOSPC, errno.ENOMEM)
                                   or "Too many open files" in text):
        return True
    return isinstance(e, RuntimeError) and any(s in text for s in (
        "DataLoader worker", "DataLoader timed out", "Too many open files", "shared memory",
        "No space left on device"))


def _is_worker_death(e: BaseException) -> bool:
    """A worker gone (killed by a signal or exited): PyTorch's SIGCHLD handler raises this at any point of
    the training process, not only while it waits for a batch."""
    return isinstance(e, RuntimeError) and not isinstance(e, WorkerError) and "DataLoader worker (pid" in str(e)


def _worker_error(num_workers: int, e: BaseException) -> WorkerError:
    first = (str(e).strip().splitlines() or [""])[0]
    return WorkerError(
        f"trainer.num_workers={num_workers}: a DataLoader worker failed ({type(e).__name__}: {first}); "
        f"{describe_limits(limits())}. The worker's own traceback, if it left one, is printed above. "
        f"Remedies: raise `ulimit -n`, give the job more shared memory or memory, or set trainer.num_workers=0")


@contextlib.contextmanager
def worker_deaths_reported(num_workers: int) -> Iterator[None]:
    """Around the training loop: a worker death raised mid-step becomes a :class:`WorkerError`."""
    try:
        yield
    except Exception as e:
        if num_workers and _is_worker_death(e):
            raise _worker_error(num_workers, e) from e
        raise


def worker_batches(dataset: torch.utils.data.Dataset, plan: list[list[int]], collate: CollateItems,
                   num_workers: int, timeout: float = WORKER_TIMEOUT_S) -> Iterator[Batch]:
    """The :class:`Batch` of each micro-batch of ``plan`` in order, read in ``num_workers`` workers (0: here)."""
    if num_workers:
        check_shared_memory(num_workers)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=plan, collate_fn=collate, num_workers=num_workers,
                                         timeout=timeout if num_workers else 0, persistent_workers=False)
    it = iter(loader)
    try:
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except Exception as e:
                if num_workers and _is_worker_failure(e):
                    raise _worker_error(num_workers, e) from e
                raise
            yield batch
    finally:  # on an error (or close()) too: stop the workers and unregister them from PyTorch's SIGCHLD
        shutdown = getattr(it, "_shutdown_workers", None)  # handler, which would raise again on any child exit
        if shutdown is not None:
            shutdown()
