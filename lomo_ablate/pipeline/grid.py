"""Grid expansion of a sweep: the product of the swept axes, paired (zipped) axes and baselines.

Grid syntax (``hydra.sweeper`` of the ``lomo`` sweeper, set in sweeps/<name>.yaml or on the command line):

* ``params: {position: "prefix,middle"}`` and ``key=a,b`` arguments: the product, as Hydra's basic sweeper;
* ``paired: {backbone: {model: [tiny, qwen3_5_9b], trainer.lr: [1e-3, 1e-5]}}``: the lists of one pairing
  are zipped (equal lengths) and the pairing is one axis of the product; on the command line
  ``'zip(model,trainer.lr)=[tiny,qwen3_5_9b],[1e-3,1e-5]'`` means the same (:func:`rewrite_zip_arguments`);
* ``baselines: [[method=standard_sft]]``: extra jobs (each a list of overrides) added once to the grid,
  not multiplied with the other axes.

Works on parsed override objects (``pipeline.compose.parse_overrides``) and plain strings; no Hydra import.
"""
from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from typing import Any, Mapping, Sequence


class SweepSpecError(ValueError):
    """A malformed grid (paired lists of different lengths, a bad zip(...) argument...)."""


ZIP_RE = re.compile(r"^zip\(([^()]+)\)=(.*)$")


def rewrite_zip_arguments(argv: Sequence[str]) -> list[str]:
    """Turns ``zip(model,trainer.lr)=[tiny,q],[1e-3,1e-5]`` into the override
    ``++hydra.sweeper.paired.zip_model_trainer_lr={model:[tiny,q],trainer.lr:[1e-3,1e-5]}`` (the sweeper's
    ``paired`` syntax); other arguments pass unchanged."""
    out = []
    for arg in argv:
        m = ZIP_RE.match(arg)
        if not m:
            out.append(arg)
            continue
        keys = [k.strip() for k in m.group(1).split(",") if k.strip()]
        lists = _split_top_level(m.group(2))
        if len(keys) < 2 or len(lists) != len(keys) or not all(l.startswith("[") and l.endswith("]")
                                                               for l in lists):
            raise SweepSpecError(
                f"bad zip argument {arg!r}: expected zip(k1,k2,...)=[v1,v2,...],[w1,w2,...] with one "
                f"[...] list per key ({len(keys)} keys, {len(lists)} lists)")
        name = "zip_" + "_".join(re.sub(r"\W", "_", k) for k in keys)
        body = ",".join(f"{k}:{l}" for k, l in zip(keys, lists))
        out.append(f"++hydra.sweeper.paired.{name}={{{body}}}")
    return out


def _split_top_level(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch in "[{("
        depth -= ch in "]})"
        cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _fmt(value: Any) -> str:
    """A value as Hydra override text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def expand_grid(overrides: Sequence[Any], paired: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
                baselines: Sequence[Sequence[str]] | None = None) -> list[list[str]]:
    """The jobs of a sweep, each a list of ``key=value`` override strings.

    ``overrides``: parsed Hydra overrides (sweeps are multiplied; constants go into every job);
    ``paired``: name -> {key: values} (zipped within a pairing, multiplied across); ``baselines``: extra
    jobs, each a list of overrides, added once (with the constant overrides). Duplicates are dropped."""
    axes: "OrderedDict[str, list[list[str]]]" = OrderedDict()
    constants: list[str] = []
    for o in overrides:
        key = o.get_key_element()
        if o.is_sweep_override():
            if not o.is_discrete_sweep():
                raise SweepSpecError(f"{key}: only lists and range() sweeps are supported, got {o.input_line}")
            axes[key] = [[f"{key}={v}"] for v in o.sweep_string_iterator()]
        else:
            constants.append(f"{key}={o.get_value_element_as_str()}")
            axes.pop(key, None)
    for name, pairing in (paired or {}).items():
        lengths = {k: len(v) for k, v in pairing.items()}
        if len(set(lengths.values())) > 1:
            raise SweepSpecError(f"hydra.sweeper.paired.{name}: lists must have equal lengths to be zipped, "
                                 f"got {lengths}")
        if any(k in axes for k in pairing):
            dup = [k for k in pairing if k in axes]
            raise SweepSpecError(f"hydra.sweeper.paired.{name}: {dup} also swept on their own; a key can be "
                                 "in one axis only")
        cols = [[f"{k}={_fmt(v)}" for v in vals] for k, vals in pairing.items()]
        axes[f"paired:{name}"] = [list(row) for row in zip(*cols)]
        constants = [c for c in constants if c.split("=", 1)[0] not in pairing]
    # swept values first, then the constants: the job folder name keeps this order (naming.py)
    jobs = [[o for part in combo for o in part] + constants for combo in itertools.product(*axes.values())]
    for base in baselines or []:
        base = [str(b) for b in base]
        keys = {b.split("=", 1)[0].lstrip("+~") for b in base}
        jobs.append(base + [c for c in constants if c.split("=", 1)[0].lstrip("+~") not in keys])
    seen, unique = set(), []
    for j in jobs:
        sig = tuple(sorted(j))
        if sig not in seen:
            seen.add(sig)
            unique.append(j)
    return unique


def check_unique_names(names: Sequence[str], jobs: Sequence[Sequence[str]]) -> None:
    """Raises :class:`SweepSpecError` when two jobs would share a job folder."""
    seen: dict[str, Sequence[str]] = {}
    for n, j in zip(names, jobs):
        if n in seen:
            raise SweepSpecError(f"two jobs map to the same folder {n!r}: {list(seen[n])} and {list(j)}; "
                                 "a key in hydra.job.config.override_dirname.exclude_keys hides a difference")
        seen[n] = j
