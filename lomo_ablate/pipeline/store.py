"""The content-addressed store: every stage output lives in ``<root>/<stage>/<key>/``.

``key`` is a hash of everything the stage depends on (its config, the keys of its inputs and a code
salt), so two jobs that need the same artifact share one folder, and a finished artifact is never
recomputed. A folder is complete when it holds ``_SUCCESS``; it is built in a temporary sibling and
renamed into place while holding an inter-process lock (``<root>/<stage>/.locks/<key>.lock``), so two processes
asking for the same artifact at the same moment compute it once and never see half of it.

Integrity: a finished folder carries ``_files.json`` (every file's size and sha256,
:mod:`lomo_ablate.utils.integrity`). A cached entry is used only when its files have their recorded sizes
(always) and hashes (``Store(root, verify=True)``, the job's ``verify=true``); one that fails is moved aside
to ``<stage>/<key>.corrupt-<UTC time>`` and computed again, and :attr:`StoreResult.warnings` says so (the job
records it in result.json). Entries written before manifests existed are used as they are.

The store owns all of that (keys, ``_SUCCESS``, locks, and for a stage every rank of a distributed job runs,
the rank-0 finish: :meth:`Store.get_or_compute_on_every_rank`, and for a stage whose work the ranks share,
:meth:`Store.get_or_compute_sharded`); a stage's code only writes into, and
resumes inside, the folder it is given.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from lomo_ablate.contracts import SUCCESS
from lomo_ablate.utils import atomic_dir, atomic_write_json, atomic_write_text, locked, stable_hash
from lomo_ablate.utils.integrity import check_files_manifest, move_aside, write_files_manifest

KEY_FILE = "_key.json"
log = logging.getLogger("lomo_ablate.store")
__all__ = ["KEY_FILE", "SUCCESS", "Store", "StoreResult", "stage_key", "verify_result_entries"]


@dataclasses.dataclass(frozen=True)
class StoreResult:
    """Where an artifact is, and whether this call computed it (``cached=False``) or found it."""

    path: Path
    key: str
    cached: bool
    seconds: float
    warnings: tuple[str, ...] = ()


class Store:
    """A folder of content-addressed stage outputs (``Store(root).get_or_compute(...)``)."""

    def __init__(self, root: str | Path, verify: bool = False) -> None:
        self.root = Path(root)
        self.verify = bool(verify)

    def problem(self, stage: str, key: str, hashes: bool | None = None) -> str | None:
        """Why the finished entry ``stage/key`` cannot be used (a file missing, cut, or — with ``hashes``,
        default :attr:`verify` — changed), or None when it can (or has no manifest to check against)."""
        return check_files_manifest(self.path(stage, key), self.verify if hashes is None else hashes)

    def _usable(self, stage: str, key: str, warnings: list[str], move: bool) -> bool:
        """True when a finished entry is there and intact. A failing one is recorded in ``warnings`` and, with
        ``move`` (under the lock), moved aside so it is computed again; without ``move`` it only counts as not
        there (the caller takes the lock and looks again)."""
        final = self.path(stage, key)
        if not (final / SUCCESS).is_file():
            return False
        why = self.problem(stage, key)
        if why is None:
            return True
        if move:
            aside = move_aside(final)
            msg = f"store entry {stage}/{key} was corrupt ({why}): moved to {aside.name} and computed again"
            log.warning(msg)
            warnings.append(msg)
        return False

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def lock_path(self, stage: str, key: str) -> Path:
        """What the inter-process lock of an artifact is taken on (``<stage>/.locks/<key>.lock``)."""
        return self.root / stage / ".locks" / key

    def work_path(self, stage: str, key: str) -> Path:
        """The kept working folder of a resumable stage (renamed to ``path`` when complete)."""
        return self.root / stage / f".work-{key}"

    def is_done(self, stage: str, key: str) -> bool:
        return (self.path(stage, key) / SUCCESS).is_file()

    def get_or_compute(self, stage: str, key_inputs: dict[str, Any],
                       compute: Callable[[Path], Any], resumable: bool = False) -> StoreResult:
        """Returns the artifact of ``stage`` for ``key_inputs``, calling ``compute(tmp_dir)`` only if no
        complete one exists. ``compute`` writes into ``tmp_dir`` (the store adds ``_SUCCESS`` and the
        key's inputs as ``_key.json``). If it raises, nothing is left behind and the error propagates.

        ``resumable=True`` (curate, train): ``tmp_dir`` is the deterministic ``<stage>/.work-<key>`` and is kept
        when ``compute`` fails or the process is killed, so the next attempt resumes from what it holds."""
        key = stage_key(key_inputs)
        final = self.path(stage, key)
        t0 = time.perf_counter()
        warnings: list[str] = []
        if self._usable(stage, key, warnings, move=False):
            return StoreResult(final, key, True, time.perf_counter() - t0)
        with locked(self.lock_path(stage, key)):
            if self._usable(stage, key, warnings, move=True):  # another process finished it while we waited
                return StoreResult(final, key, True, time.perf_counter() - t0)
            if final.exists():  # left over by a killed run without _SUCCESS: incomplete, recompute
                _remove_incomplete(final)
            if resumable:
                work = self.work_path(stage, key)
                work.mkdir(parents=True, exist_ok=True)
                compute(work)
                _finish(work, stage, key, key_inputs)
                os.replace(work, final)
            else:
                with atomic_dir(final) as tmp:
                    compute(tmp)
                    _finish(tmp, stage, key, key_inputs)
        return StoreResult(final, key, False, time.perf_counter() - t0, tuple(warnings))

    def get_or_compute_on_every_rank(self, stage: str, key_inputs: dict[str, Any],
                                     compute: Callable[[Path], Any], is_main: bool) -> StoreResult:
        """For a stage every rank of a distributed job runs (training): each rank calls ``compute`` in the
        same deterministic work folder (resumable); rank 0 then finishes it and moves it into place under the
        lock. The other ranks return the final path (complete once rank 0 is through)."""
        key = stage_key(key_inputs)
        final = self.path(stage, key)
        t0 = time.perf_counter()
        warnings: list[str] = []
        # every rank checks the same files: all take the entry, or all compute it again
        if self._usable(stage, key, warnings, move=False):
            return StoreResult(final, key, True, time.perf_counter() - t0)
        work = self.work_path(stage, key)
        work.mkdir(parents=True, exist_ok=True)
        compute(work)
        if is_main:
            with locked(self.lock_path(stage, key)):
                if not self._usable(stage, key, warnings, move=True):
                    if final.exists():
                        _remove_incomplete(final)
                    _finish(work, stage, key, key_inputs)
                    os.replace(work, final)
        return StoreResult(final, key, False, time.perf_counter() - t0, tuple(warnings))

    def get_or_compute_sharded(self, stage: str, key_inputs: dict[str, Any], compute: Callable[[Path], Any],
                               is_main: bool, token: str, timeout_s: float = 24 * 3600,
                               poll_s: float = 0.5) -> StoreResult:
        """For a stage whose work the ranks of a distributed job share (curation: each rank curates some
        shards of one work folder). Rank 0 takes the artifact's lock (another job computing the same
        artifact finishes first), writes ``token`` — the same on every rank of this job — beside the work
        folder (``<stage>/.owner-<key>``), computes its share, waits there for the others' (``compute``
        does), finishes and moves the folder into place. A rank > 0 joins once that file holds its job's token (or returns at once
        when the artifact is finished), computes its share, then waits for the finished artifact."""
        key = stage_key(key_inputs)
        final = self.path(stage, key)
        work = self.work_path(stage, key)
        owner = self.root / stage / f".owner-{key}"  # beside the work folder: that one is the stage's own
        t0 = time.perf_counter()
        warnings: list[str] = []
        if self._usable(stage, key, warnings, move=False):
            return StoreResult(final, key, True, time.perf_counter() - t0)
        if is_main:
            with locked(self.lock_path(stage, key)):
                if self._usable(stage, key, warnings, move=True):  # another job finished it while we waited
                    return StoreResult(final, key, True, time.perf_counter() - t0)
                if final.exists():
                    _remove_incomplete(final)
                work.mkdir(parents=True, exist_ok=True)
                atomic_write_text(owner, token + "\n")
                compute(work)
                owner.unlink(missing_ok=True)
                _finish(work, stage, key, key_inputs)
                os.replace(work, final)
            return StoreResult(final, key, False, time.perf_counter() - t0, tuple(warnings))
        deadline = time.monotonic() + timeout_s
        while True:
            if (final / SUCCESS).is_file():
                return StoreResult(final, key, True, time.perf_counter() - t0)
            try:
                if owner.read_text().strip() == token:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"stage {stage}: rank 0 did not start {work} within {timeout_s} s")
            time.sleep(poll_s)
        compute(work)
        res = self.wait_for(stage, key_inputs, timeout_s=timeout_s, poll_s=poll_s)
        return StoreResult(res.path, key, False, time.perf_counter() - t0)

    def wait_for(self, stage: str, key_inputs: dict[str, Any], timeout_s: float = 24 * 3600,
                 poll_s: float = 2.0) -> StoreResult:
        """Waits until another process (rank 0) has finished the artifact; TimeoutError after ``timeout_s``."""
        key = stage_key(key_inputs)
        t0 = time.monotonic()
        while not self.is_done(stage, key):
            if time.monotonic() - t0 > timeout_s:
                raise TimeoutError(f"stage {stage} ({self.path(stage, key)}) not done after {timeout_s} s")
            time.sleep(poll_s)
        return StoreResult(self.path(stage, key), key, True, time.monotonic() - t0)


def verify_result_entries(result: dict[str, Any] | None, move: bool = True) -> list[str]:
    """Checks, with content hashes, the store entries a job's result.json names (``stages.<name>.path``);
    one that fails is moved aside (``move``; under its lock) so the next run computes it again. Returns one
    message per failing entry (``collect --verify``)."""
    out: list[str] = []
    for name, entry in ((result or {}).get("stages") or {}).items():
        path = Path(str((entry or {}).get("path") or ""))
        if not path.name or not (path / SUCCESS).is_file():
            continue
        store, key = Store(path.parent.parent, verify=True), path.name
        with locked(store.lock_path(path.parent.name, key)):
            why = check_files_manifest(path, hashes=True) if (path / SUCCESS).is_file() else None
            if why is None:
                continue
            msg = f"store entry {path.parent.name}/{key} is corrupt ({why})"
            if move:
                msg += f": moved to {move_aside(path).name}; re-run the sweep to compute it again"
            out.append(msg)
    return out


def _finish(folder: Path, stage: str, key: str, key_inputs: dict[str, Any]) -> None:
    atomic_write_json(folder / KEY_FILE, {"stage": stage, "key": key, "inputs": key_inputs})
    write_files_manifest(folder)  # after every file but _SUCCESS: what a later lookup checks
    if not (folder / SUCCESS).exists():  # a stage may write its own marker (curate does); keep it
        (folder / SUCCESS).write_text(json.dumps({"finished": time.time()}) + "\n")


def stage_key(key_inputs: dict[str, Any]) -> str:
    """The store key of a stage: a stable hash of its inputs (config, upstream keys, code salt)."""
    return stable_hash(key_inputs)


def _remove_incomplete(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
