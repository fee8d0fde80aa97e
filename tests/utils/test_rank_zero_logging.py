"""One rank-0 log filter (lomo_ablate.utils.logging): ranks > 0 stay quiet unless a record says otherwise."""
from __future__ import annotations

import io
import logging
import sys

from lomo_ablate.utils.logging import ALL_RANKS, RankZeroFilter, console, rank_zero_logging


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_ranks_above_0_log_only_what_every_rank_must_say(monkeypatch):
    # a plain buffer as stderr: pytest's capture stream may carry wandb's console hooks from an earlier test
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    root, handler = logging.getLogger(), _Collect()
    # only this test's handler on the root logger: an earlier in-process Hydra run leaves a StreamHandler on
    # a closed pytest capture stream there, whose failure logging would print into ``err``
    monkeypatch.setattr(root, "handlers", [handler])
    log = logging.getLogger("lomo_ablate.some.module")
    log.setLevel(logging.INFO)
    with rank_zero_logging(1):
        log.info("stage train")
        log.error("rank 1 failed", extra=ALL_RANKS)
        console().info("progress line")
    with rank_zero_logging(0):
        log.info("rank 0 talks")
        console().info("done")
    log.info("no filter once the job is over")
    assert handler.messages == ["rank 1 failed", "rank 0 talks", "no filter once the job is over"]
    assert err.getvalue() == "[lomo-ablate] done\n"
    assert not any(isinstance(f, RankZeroFilter) for f in logging.getLogger("lomo_ablate").filters)
