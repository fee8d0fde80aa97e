"""The one check every typed config's ``from_dict`` makes: no unknown keys, and a message that names them,
where they were found and what is allowed."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping


def reject_unknown_keys(allowed: type | Iterable[str], d: Mapping[str, Any], where: str,
                        error: type[Exception] = ValueError, root: bool = False) -> None:
    """Raises ``error("unknown key(s) '<where>.x' in <where>; allowed: a, b")`` if ``d`` has a key that is
    not a field of the dataclass ``allowed`` (or not in the iterable of names ``allowed``). The full dotted
    key is what a user types on the command line to fix it; ``root``: ``d`` is a top-level config, whose
    keys are named bare."""
    names = [f.name for f in dataclasses.fields(allowed)] if isinstance(allowed, type) else list(allowed)
    unknown = sorted(set(d) - set(names), key=str)
    if unknown:
        raise error(f"unknown key(s) {', '.join(repr(k if root else f'{where}.{k}') for k in unknown)} in {where}; "
                    f"allowed: {', '.join(names)}")
