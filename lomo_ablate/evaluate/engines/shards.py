"""Resumable, data-parallel generation: the work units of an evaluation sharded over the ranks of a job.

A *unit* is one (protocol, item) pair; its place in the canonical order (protocols in config order, items
in benchmark order) is its number ``u``. Rank ``r`` of a ``w``-rank job generates the units it owns — those
with ``u % w == r``, or, for an item in a *group* (``Adapter.shard_group``: MMLongBench-Doc's questions on one
PDF, whose rendered pages the adapter caches), every unit of the group's items, under every protocol, on the
rank ``crc32(group) % w`` — that no earlier attempt finished, in batches, and appends one row per unit to
``parts/rank<r>.jsonl`` as each batch finishes (flushed and fsynced). A requeued or restarted evaluation
reads every part file present (whatever world size wrote it), so it continues from the first missing unit;
a line cut short by a kill is dropped. When its shard is complete a rank writes ``parts/done-<r>-of-<w>``;
rank 0 waits for the markers of the other ranks (files, not a process group: evaluation can be its own job)
and gathers the rows in canonical order, so the final ``predictions.jsonl`` and metrics do not depend on
the number of ranks, the batch size or how often the evaluation was interrupted (generation is greedy).
"""
from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from lomo_ablate.utils.fs import dumps_json

__all__ = ["PARTS", "Unit", "ShardWriter", "done_units", "gather", "owner", "pending", "wait_for_ranks"]

PARTS = "parts"
#: How long rank 0 waits for the other ranks' shards before it gives up (they run the same work).
GATHER_TIMEOUT_S = float(os.environ.get("LOMO_EVAL_GATHER_TIMEOUT_S", 48 * 3600))

Unit = tuple[int, str, int]  # (unit number, protocol, item index)


def units(protocols: Sequence[str], n_items: int) -> list[Unit]:
    """Every unit in canonical order."""
    return [(pi * n_items + i, p, i) for pi, p in enumerate(protocols) for i in range(n_items)]


def _read_rows(path: Path) -> list[dict]:
    """The complete rows of one part file (a last line cut short by a kill is not a row)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return rows


def done_units(out_dir: Path, item_ids: Sequence[str]) -> dict[tuple[str, int], dict]:
    """``{(protocol, item index): row}`` of every finished unit in ``out_dir/parts``. A row whose item id
    differs from the item at its index means the folder belongs to other inputs: an error naming the file."""
    done: dict[tuple[str, int], dict] = {}
    for path in sorted((out_dir / PARTS).glob("rank*.jsonl")):
        for line_no, row in enumerate(_read_rows(path), 1):
            i = row["index"]
            if not 0 <= i < len(item_ids) or item_ids[i] != row["item_id"]:
                raise ValueError(f"{path}:{line_no}: item {row.get('item_id')!r} at index {i} is not this "
                                 "evaluation's item there; the folder holds another evaluation's predictions")
            done[(row["protocol"], i)] = row
    return done


def owner(unit: Unit, world: int, groups: Sequence[str | None] | None = None) -> int:
    """The rank that generates ``unit``: its group's (a stable hash, the same in every process and for every
    protocol) when its item has one, else ``u % world``. Fixed by the unit alone, so ranks that read different
    progress never split the work differently."""
    group = groups[unit[2]] if groups is not None else None
    if group is None:
        return unit[0] % world
    return zlib.crc32(group.encode("utf-8")) % world


def pending(all_units: Sequence[Unit], done: dict[tuple[str, int], Any], rank: int, world: int,
            groups: Sequence[str | None] | None = None) -> list[Unit]:
    """This rank's share of the units not done yet (``groups``: per item, its shard group or None)."""
    return [u for u in all_units if owner(u, world, groups) == rank and (u[1], u[2]) not in done]


class ShardWriter:
    """Appends this rank's rows to ``parts/rank<r>.jsonl`` (a torn last line is cut off first)."""

    def __init__(self, out_dir: Path, rank: int) -> None:
        self.path = out_dir / PARTS / f"rank{rank}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                with open(self.path, "r+b") as f:
                    f.truncate(keep)

    def append(self, rows: Iterable[dict]) -> None:
        text = "".join(dumps_json(r, ensure_ascii=False) + "\n" for r in rows)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def marker(out_dir: Path, rank: int, world: int) -> Path:
    return out_dir / PARTS / f"done-{rank}-of-{world}"


def mark_done(out_dir: Path, rank: int, world: int, n: int) -> None:
    marker(out_dir, rank, world).write_text(json.dumps({"rank": rank, "world": world, "generated": n}) + "\n")


def wait_for_ranks(out_dir: Path, world: int, timeout_s: float = GATHER_TIMEOUT_S, poll_s: float = 1.0,
                   sleep: Callable[[float], None] = time.sleep) -> None:
    """Rank 0: until every other rank has marked its shard complete (TimeoutError naming the missing)."""
    t0 = time.monotonic()
    while True:
        missing = [r for r in range(1, world) if not marker(out_dir, r, world).is_file()]
        if not missing:
            return
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"evaluation: rank(s) {missing} of {world} did not finish their shard in "
                               f"{timeout_s:.0f} s ({out_dir / PARTS})")
        sleep(poll_s)


def gather(out_dir: Path, all_units: Sequence[Unit], item_ids: Sequence[str]) -> list[dict]:
    """Every unit's row in canonical order, without the bookkeeping ``index``; an error names the missing."""
    done = done_units(out_dir, item_ids)
    missing = [(p, i) for _, p, i in all_units if (p, i) not in done]
    if missing:
        raise RuntimeError(f"evaluation: {len(missing)} unit(s) missing from {out_dir / PARTS} after every rank "
                           f"finished, first {missing[0]}")
    return [{k: v for k, v in done[(p, i)].items() if k != "index"} for _, p, i in all_units]
