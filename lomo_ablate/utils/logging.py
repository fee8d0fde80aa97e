"""Rank-0 logging: one :class:`logging.Filter`, instead of ``if env.is_main: print(...)`` in every module.

Every rank of a distributed job runs the same code; only rank 0 should talk. ``install_rank_zero_filter(env)``
puts one :class:`RankZeroFilter` on the root logger's handlers and on the ``lomo_ablate`` logger, so a
record logged on rank > 0 is dropped unless it says otherwise (``log.error(..., extra=ALL_RANKS)``).
``console()`` is the ``[lomo-ablate] ...`` stderr channel the pipeline reports to the user on (rank 0 only).
``readable_progress()`` keeps progress bars from filling a log: when stderr is not a terminal (a log file,
Slurm), every tqdm bar of the process — ours and the libraries' — redraws at most every 30 s.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from functools import partialmethod
from typing import Iterator

#: Seconds between two redraws of a progress bar when the output is not a terminal (``TQDM_MININTERVAL``).
LOG_PROGRESS_INTERVAL_S = 30.0
ALL_RANKS = {"all_ranks": True}  # pass as ``extra=`` for a record every rank must emit
CONSOLE = "lomo_ablate.console"


class RankZeroFilter(logging.Filter):
    """Passes every record on rank 0; on other ranks only records logged with ``extra=ALL_RANKS``."""

    def __init__(self, rank: int = 0) -> None:
        super().__init__()
        self.rank = int(rank)

    def filter(self, record: logging.LogRecord) -> bool:
        return self.rank == 0 or bool(getattr(record, "all_ranks", False))


def _targets() -> list[logging.Filterer]:
    return [logging.getLogger("lomo_ablate"), *logging.getLogger().handlers, *console().handlers]


def install_rank_zero_filter(rank: int) -> RankZeroFilter:
    """Filters the root handlers, the ``lomo_ablate`` logger and the console by ``rank`` (idempotent: a
    filter installed before is replaced, so a process that learns its rank late can call it again)."""
    f = RankZeroFilter(rank)
    for t in _targets():
        for old in [x for x in t.filters if isinstance(x, RankZeroFilter)]:
            t.removeFilter(old)
        t.addFilter(f)
    return f


@contextlib.contextmanager
def rank_zero_logging(rank: int) -> Iterator[RankZeroFilter]:
    """:func:`install_rank_zero_filter` for the duration of a block (a job), removed afterwards."""
    f = install_rank_zero_filter(rank)
    try:
        yield f
    finally:
        for t in _targets():
            if f in t.filters:
                t.removeFilter(f)


def console() -> logging.Logger:
    """The user-facing channel: ``[lomo-ablate] <message>`` on stderr (not propagated to Hydra's log)."""
    log = logging.getLogger(CONSOLE)
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("[lomo-ablate] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


class _StderrHandler(logging.StreamHandler):
    """Writes to the *current* ``sys.stderr`` (pytest and Hydra swap it), flushing every record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # closed or not a file
        return False


def readable_progress(stream: object | None = None, interval_s: float = LOG_PROGRESS_INTERVAL_S) -> bool:
    """When ``stream`` (default: ``sys.stderr``, where tqdm draws) is not a terminal, every tqdm bar of this
    process — ours, transformers', datasets' (they all derive from ``tqdm.std.tqdm``) — redraws at most every
    ``interval_s`` seconds, so a job log holds a status line per half minute instead of thousands of redraws;
    on a terminal the bars stay live. tqdm takes ``TQDM_*`` defaults from the environment when it is first
    imported: the variable is set for later imports and child processes, and applied to an already imported
    tqdm. A ``TQDM_MININTERVAL`` the user set wins. Returns True when the bars were slowed."""
    if _is_terminal(sys.stderr if stream is None else stream):
        return False
    os.environ.setdefault("TQDM_MININTERVAL", str(interval_s))
    try:
        interval = float(os.environ["TQDM_MININTERVAL"])
    except ValueError:
        interval = interval_s
    # tqdm's monitor thread forces a redraw of a slow bar every `maxinterval` s (10 by default)
    os.environ.setdefault("TQDM_MAXINTERVAL", str(max(interval, 10.0)))
    if "tqdm.std" in sys.modules:
        import tqdm.std

        try:
            slow = {"mininterval": interval, "maxinterval": float(os.environ["TQDM_MAXINTERVAL"])}
        except ValueError:
            slow = {"mininterval": interval, "maxinterval": max(interval, 10.0)}

        init = tqdm.std.tqdm.__dict__.get("__init__")
        if isinstance(init, partialmethod):
            tqdm.std.tqdm.__init__ = partialmethod(init.func, *init.args, **{**init.keywords, **slow})
        elif init is not None:
            tqdm.std.tqdm.__init__ = partialmethod(init, **slow)
    return True


def drop_file_handlers(folder: str | "os.PathLike[str]") -> int:
    """Closes and removes the root logger's file handlers that write inside ``folder`` (Hydra's job log of a
    run whose folder is being removed), so nothing later re-opens a file there; how many were removed."""
    from pathlib import Path

    root = logging.getLogger()
    target = Path(folder).resolve()
    n = 0
    for h in list(root.handlers):
        name = getattr(h, "baseFilename", None)
        if name and (Path(name).resolve() == target or target in Path(name).resolve().parents):
            root.removeHandler(h)
            h.close()
            n += 1
    return n
