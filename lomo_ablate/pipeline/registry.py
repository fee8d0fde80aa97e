"""The stage registry: what a job is made of, in order. A new stage = one :class:`Stage` entry + its functions.

A :class:`Stage` names

* ``key(cfg, upstream)`` -> the inputs its store key is hashed from (its own config, the keys of the stages
  it reads, a code salt), or ``None`` when the stage is not part of this job (the reading stage of a
  pretrained model). ``upstream`` maps the names of the stages planned so far to their keys;
* ``run(ctx)`` -> writes the stage's output into ``ctx.out`` (a :class:`StageContext`; ``ctx.inputs`` are the
  finished folders of the earlier stages by name). It only resumes inside the folder it is given: the
  store owns keys, ``_SUCCESS``, locks and the rank-0 finish;
* ``resumable``: the store keeps the work folder of a failed or killed run (curate, read, train, evaluate);
* ``rank0_only``: rank 0 computes it and the other ranks of a distributed job wait for it (or, when no
  later stage runs on every rank, stop before it). ``False``: every rank runs it (training; evaluation,
  each rank its shard of the items, rank 0 gathering);
* ``sharded``: every rank of a distributed job computes a share in the same work folder, rank 0 finishes
  it, and the other ranks wait for the finished folder (curation: :meth:`Store.get_or_compute_sharded`);
* ``configs``: ``(config key, "module:Class")`` typed configs that validation builds before anything runs;
* ``metrics(folder)``: what the stage adds to the job's ``result.json`` ``metrics``.

``Registry.plan(cfg)`` computes every key without running anything. The pipeline's registry is
:data:`lomo_ablate.pipeline.stages.REGISTRY`; tests build their own with stub stages.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from omegaconf import DictConfig

from lomo_ablate.pipeline.store import stage_key

KeyFn = Callable[[DictConfig, Mapping[str, str]], "dict[str, Any] | None"]
LogFn = Callable[[int, dict], None]


@dataclasses.dataclass
class StageContext:
    """What a stage's ``run`` gets: the job config, its output folder, the earlier stages' folders."""

    cfg: DictConfig
    out: Path
    inputs: Mapping[str, Path]
    log_fn: LogFn | None = None


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    key: KeyFn
    run: Callable[[StageContext], Any]
    resumable: bool = False
    rank0_only: bool = True
    sharded: bool = False
    configs: tuple[tuple[str, str], ...] = ()
    metrics: Callable[[Path], Mapping[str, Any]] | None = None


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """One stage of a job: its name, store key, and the inputs the key was computed from."""

    name: str
    key: str
    inputs: dict[str, Any]


class Registry:
    """Stages in run order (``Registry([Stage(...), ...])`` or ``.register(Stage(...))``)."""

    def __init__(self, stages: Iterable[Stage] = ()) -> None:
        self._stages: dict[str, Stage] = {}
        for s in stages:
            self.register(s)

    def register(self, stage: Stage) -> Stage:
        if stage.name in self._stages:
            raise ValueError(f"stage {stage.name!r} is registered twice")
        self._stages[stage.name] = stage
        return stage

    def __getitem__(self, name: str) -> Stage:
        try:
            return self._stages[name]
        except KeyError:
            raise KeyError(f"unknown stage {name!r}; registered: {', '.join(self._stages)}") from None

    def __iter__(self) -> Iterator[Stage]:
        return iter(self._stages.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._stages)

    def plan(self, cfg: DictConfig) -> list[StagePlan]:
        """The stages of the job ``cfg``, in order, with their keys (nothing is run)."""
        keys: dict[str, str] = {}
        out: list[StagePlan] = []
        for stage in self:
            inputs = stage.key(cfg, dict(keys))
            if inputs is None:
                continue
            keys[stage.name] = stage_key(inputs)
            out.append(StagePlan(stage.name, keys[stage.name], inputs))
        return out
