"""Evaluation engines: what generates and scores the benchmark items (``eval.engine``).

* ``native`` (the default): our adapters (:mod:`lomo_ablate.evaluate.benchmarks`), our protocols, batched
  greedy generation with the job's model, sharded over the ranks of the job and resumable
  (:mod:`lomo_ablate.evaluate.engines.shards`).
* ``evalscope``: EvalScope 1.14.1 (the paper's evaluator) loads the benchmarks it has from local hub-layout
  copies, offline, and scores them with its own rules; our protocols and the same sharded batched
  generation answer (:mod:`lomo_ablate.evaluate.engines.evalscope`). Benchmarks it lacks run through our
  adapters (``metrics.engines`` says so). Refused at validation when EvalScope is not installed.
"""
from __future__ import annotations

import importlib.util

from lomo_ablate.utils.config import ConfigError

__all__ = ["ENGINES", "check_engine"]


def _evalscope_missing() -> str | None:
    if importlib.util.find_spec("evalscope") is None:
        return ("EvalScope is not installed here: pip install evalscope==1.14.1, then "
                "pip install antlr4-python3-runtime==4.9.3 (Hydra's; docs/evaluate.md \"The EvalScope engine\")")
    return None


#: engine name -> a function giving None when usable, else why it is refused
ENGINES = {"native": lambda: None, "evalscope": _evalscope_missing}


def check_engine(name: str, where: str = "eval.engine") -> None:
    """ConfigError unless ``name`` is an engine that can run here."""
    if name not in ENGINES:
        raise ConfigError(f"{where}: unknown engine {name!r}; allowed: {', '.join(ENGINES)} "
                          "(vllm is not offered: it was never checked on a GPU)")
    why = ENGINES[name]()
    if why is not None:
        raise ConfigError(f"{where}={name}: {why}")
