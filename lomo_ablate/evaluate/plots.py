"""The evaluation's figures: accuracy by protocol (protocols.png) and what the model saw (protocol_examples.png)."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from lomo_ablate.evaluate.protocols import EvalItem, Protocol, parse_protocol, prompts_for

__all__ = ["plot_protocols", "plot_examples"]


def plot_protocols(overall: dict[str, float], path: Path) -> Path | None:
    """Accuracy against the fraction of the question given as pixels (one point per protocol)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted((parse_protocol(p).fraction, acc) for p, acc in overall.items() if not math.isnan(acc))
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o")
    ax.set_xlabel("fraction of the question rendered as pixels")
    ax.set_ylabel("accuracy (macro over benchmarks)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_examples(items: Sequence[EvalItem], protocols: Sequence[Protocol], render: Any, path: Path,
                  per_category: int = 1, max_rows: int = 6) -> Path | None:
    """What the model saw: one item per category (rows) under each protocol (columns): the last image of
    the prompt (the rendered piece, or the item's own image under ``standard``) and the prompt's text."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen, seen = [], Counter()
    for it in items:
        if seen[it.category] < per_category and len(chosen) < max_rows:
            chosen.append(it)
            seen[it.category] += 1
    if not chosen:
        return None
    fig, axes = plt.subplots(len(chosen), len(protocols), figsize=(3.2 * len(protocols), 2.4 * len(chosen)),
                             squeeze=False)
    for c, proto in enumerate(protocols):
        for r, p in enumerate(prompts_for(chosen, proto, render)):
            ax = axes[r][c]
            ax.axis("off")
            if p.images:
                ax.imshow(p.images[-1])
            caption = textwrap.fill(p.text.replace("\n", " "), 48).replace("$", r"\$")  # no mathtext
            ax.set_title(f"{proto.name} | {chosen[r].category}\n{caption}", fontsize=6, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
