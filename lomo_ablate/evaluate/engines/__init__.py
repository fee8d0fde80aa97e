"""Evaluation engines: what generates and scores the benchmark items (``eval.engine``).

* ``native`` (the default): our adapters (:mod:`lomo_ablate.evaluate.benchmarks`), our protocols, batched
  greedy generation with the job's model, sharded over the ranks of the job and resumable
  (:mod:`lomo_ablate.evaluate.engines.shards`).
* ``evalscope``: EvalScope (the paper's evaluator) driven offline on local hub-layout copies through an
  in-process model that applies our protocols. NOT built yet: the name is reserved so that configs can say
  what they want, and it is refused with :class:`~lomo_ablate.utils.config.ConfigError` at validation (a dry
  run fails before any job starts) instead of silently falling back to ``native``.
"""
from __future__ import annotations

from lomo_ablate.utils.config import ConfigError

__all__ = ["ENGINES", "check_engine"]

#: engine name -> None when usable, else why it is refused
ENGINES: dict[str, str | None] = {
    "native": None,
    "evalscope": ("not available in this version: EvalScope is not wired in yet (docs/evaluate.md "
                  "\"Engines\"); use eval.engine=native, whose adapters cover every benchmark of eval=paper"),
}


def check_engine(name: str, where: str = "eval.engine") -> None:
    """ConfigError unless ``name`` is an engine that can run here."""
    if name not in ENGINES:
        raise ConfigError(f"{where}: unknown engine {name!r}; allowed: {', '.join(ENGINES)} "
                          "(vllm is not offered: it was never checked on a GPU)")
    if ENGINES[name] is not None:
        raise ConfigError(f"{where}={name}: {ENGINES[name]}")
