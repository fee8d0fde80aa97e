"""``train_curve.png``: loss, lr and throughput per step, from ``train_metrics.jsonl`` (easier to look at)."""
from __future__ import annotations

import json
from pathlib import Path


def plot_metrics(metrics_path: str | Path, out_png: str | Path) -> Path:
    """Draws loss (left), lr (middle) and tokens/s (right) against the step; returns ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, key, label in zip(axes, ("loss", "lr", "tokens_per_s"), ("loss (assistant tokens)", "lr", "tokens/s")):
        ax.plot(steps, [r[key] for r in rows], lw=1.2)
        ax.set_xlabel("step")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
