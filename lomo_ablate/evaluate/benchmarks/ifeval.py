"""IFEval (Zhou et al., 2023) scored by its reference implementation: all 25 verifiable instructions.

The checks are google-research's ``instruction_following_eval`` code as packaged by ``if-verifiable``
(``if_verifiable.ifeval.instructions_registry.INSTRUCTION_DICT``); this module only reads the rows and
runs the reference *evaluation loop* (``evaluation_lib.test_instruction_following_strict`` / ``_loose``):

- kwargs: ``{k: v for k, v in kwargs.items() if v}`` (hub rows carry every kwarg key, unused ones None),
  ``build_description(**kwargs)``, then ``build_description(prompt=...)`` for checks that take the prompt;
- strict: followed when ``response.strip()`` is non-empty and ``check_following(response)`` holds;
- loose: the same on any of 8 variants (the reply, without its first / last / both lines, each also with
  ``*`` removed).

Scores: per item, ``metric`` (default ``prompt_strict``: 1 when every instruction is followed). The
benchmark's four numbers (``aggregate``): prompt-level strict / loose (mean over prompts) and
instruction-level strict / loose — over **all instructions** of all prompts, as the reference computes
them (not a per-prompt average). Sentence counting needs NLTK's ``punkt_tab`` on disk
(:mod:`._nltk_data`); its absence is an error at adapter creation, never a silently shrunk denominator.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from PIL import Image

from lomo_ablate.contracts import TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks.base import (Adapter, AdapterConfig, BenchmarkFormatError, Item, escape_slots,
                                                  user_prompt)
from lomo_ablate.evaluate.benchmarks.common import row_id, text_field
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils.config import ConfigError

__all__ = ["IFEvalAdapter", "IFEvalConfig", "METRICS", "instruction_registry", "follow_instructions",
           "loose_variants"]

#: the per-item metrics an IFEval item can be scored by (``metric``)
METRICS = ("prompt_strict", "prompt_loose", "inst_strict", "inst_loose")


@lru_cache(maxsize=1)
def instruction_registry() -> dict[str, Any]:
    """instruction id -> reference checker class (all 25 of IFEval)."""
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    return dict(INSTRUCTION_DICT)


def loose_variants(response: str) -> list[str]:
    """The reference's loose-mode variants of a reply (first/last/both lines removed, ``*`` removed)."""
    lines = response.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    return [response, response.replace("*", ""), first, last, both,
            first.replace("*", ""), last.replace("*", ""), both.replace("*", "")]


def _checker(instruction_id: str, kwargs: dict, prompt: str) -> Any:
    checker = instruction_registry()[instruction_id](instruction_id)
    checker.build_description(**{k: v for k, v in (kwargs or {}).items() if v})
    args = checker.get_instruction_args()
    if args and "prompt" in args:
        checker.build_description(prompt=prompt)
    return checker


def follow_instructions(response: str, prompt: str, instruction_ids: Sequence[str],
                        kwargs: Sequence[dict]) -> tuple[list[bool], list[bool]]:
    """(strict, loose) followed flags, one per instruction, exactly as the reference evaluation loop."""
    variants = loose_variants(response)
    strict, loose = [], []
    for iid, kw in zip(instruction_ids, kwargs, strict=True):
        checker = _checker(iid, kw, prompt)
        strict.append(bool(response.strip() and checker.check_following(response)))
        loose.append(any(v.strip() and checker.check_following(v) for v in variants))
    return strict, loose


@dataclass
class IFEvalConfig(AdapterConfig):
    """IFEval options. ``metric``: the per-item score in predictions.jsonl and metrics.json's ``scores``:
    ``prompt_strict`` (default; IFEval's headline prompt-level strict accuracy), ``prompt_loose``, or the
    fraction of the prompt's instructions followed (``inst_strict`` / ``inst_loose``; the benchmark-level
    instruction accuracy is in ``aggregate`` either way, over all instructions)."""

    metric: str = "prompt_strict"

    def validate(self, where: str = "IFEvalConfig") -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"{where}.metric must be one of {', '.join(METRICS)}, got {self.metric!r}")


@register("ifeval", category=TEXT_ONLY_GROUP)  # paper Table 6
class IFEvalAdapter(Adapter):
    """IFEval (JSONL / Parquet as on the hub): key, prompt, instruction_id_list, kwargs (one dict per
    instruction). A row naming an instruction id the reference does not have is rejected naming it."""

    required_keys = ("prompt", "instruction_id_list")
    config_cls = IFEvalConfig

    def __init__(self, config: IFEvalConfig | dict | None = None):
        super().__init__(config)
        from lomo_ablate.evaluate.benchmarks._nltk_data import punkt_tab_missing

        self.config.validate("ifeval options")
        missing = punkt_tab_missing()
        if missing:
            raise RuntimeError(f"ifeval: {missing}")

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        ids = [str(i) for i in (record.get("instruction_id_list") or [])]
        if not ids:
            raise BenchmarkFormatError(where, "instruction_id_list", "empty")
        raw = record.get("kwargs")
        kwargs = [dict(k or {}) for k in raw] if raw is not None else [{} for _ in ids]
        if len(kwargs) != len(ids):
            raise BenchmarkFormatError(where, "kwargs", f"{len(kwargs)} kwargs for {len(ids)} instructions")
        registry = instruction_registry()
        prompt = text_field(record, "prompt", where)
        for iid, kw in zip(ids, kwargs):
            if iid not in registry:
                raise BenchmarkFormatError(where, "instruction_id_list", f"unknown instruction {iid!r}")
            try:
                _checker(iid, kw, prompt)
            except (TypeError, ValueError, KeyError) as exc:
                raise BenchmarkFormatError(where, "kwargs", f"{iid}: {exc}") from None
        clean = [{k: v for k, v in kw.items() if v is not None} for kw in kwargs]
        return Item(id=row_id(record, ("key", "id"), where), question=escape_slots(prompt), answer=None,
                    metadata={"prompt": prompt, "instruction_id_list": ids, "kwargs": clean,
                              "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        return user_prompt(item.question), []

    def followed(self, prediction: str, item: Item) -> tuple[list[bool], list[bool]]:
        """Per-instruction (strict, loose) results."""
        m = item.metadata
        return follow_instructions(str(prediction), m["prompt"], m["instruction_id_list"], m["kwargs"])

    def detail(self, prediction: str, item: Item) -> dict:
        strict, loose = self.followed(prediction, item)
        return {"strict": strict, "loose": loose}

    def score(self, prediction: str, item: Item) -> float:
        return self._metric(self.detail(prediction, item))

    def _metric(self, d: dict) -> float:
        strict, loose = d["strict"], d["loose"]
        return {"prompt_strict": float(all(strict)), "prompt_loose": float(all(loose)),
                "inst_strict": sum(strict) / len(strict), "inst_loose": sum(loose) / len(loose)}[self.config.metric]

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        """IFEval's four accuracies; instruction level over all instructions of all prompts."""
        ds = [d if d is not None else {"strict": [], "loose": []} for d in details]
        n_inst = sum(len(d["strict"]) for d in ds)

        def frac(xs: list[float], n: int) -> float:
            return sum(xs) / n if n else float("nan")

        return {"prompt_strict": frac([float(all(d["strict"])) for d in ds], len(ds)),
                "prompt_loose": frac([float(all(d["loose"])) for d in ds], len(ds)),
                "inst_strict": frac([sum(d["strict"]) for d in ds], n_inst),
                "inst_loose": frac([sum(d["loose"]) for d in ds], n_inst),
                "n_prompts": len(ds), "n_instructions": n_inst, "metric": self.config.metric}
