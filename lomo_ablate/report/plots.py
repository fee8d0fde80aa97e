"""PNG plots of a sweep (matplotlib, Agg backend): where people would rather look than read.

* ``scale.png``: accuracy (both protocols), MIR and paired cross-modal distance against data scale, one
  line per other-axis value (the paper's Figure 4); only for sweeps with a ``scale`` axis.
* ``mir_per_layer.png``: MIR per layer, one line per arm.
* ``carrier_bins.png``: accuracy drop (standard − rendered) per cross-modal distance bin, bars per arm.
* ``rendered_fraction.png``: accuracy against the rendered fraction per arm, when the metrics contain
  graded protocols (``rendered_0.33`` ...; ``standard`` counts as fraction 0).

Each function returns the PNG path, or None when the sweep has nothing to draw for it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from lomo_ablate.report.load import natural_key  # noqa: E402
from lomo_ablate.report.tables import Arm, arm_label  # noqa: E402

GRADED = re.compile(r"^rendered[_-]?(\d+(?:\.\d+)?)$")
PROTOCOL_STYLE = {"standard": "-", "rendered": "--"}
PLOTS = ("scale.png", "mir_per_layer.png", "carrier_bins.png", "rendered_fraction.png")


def make_plots(arms: Sequence[Arm], out_dir: str | Path) -> list[Path]:
    """Every plot that applies to these arms, written under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:  # a re-run must not leave a plot that no longer applies
        (out_dir / name).unlink(missing_ok=True)
    made = [plot_scale(arms, out_dir / "scale.png"), plot_mir_layers(arms, out_dir / "mir_per_layer.png"),
            plot_carrier_bins(arms, out_dir / "carrier_bins.png"),
            plot_rendered_fraction(arms, out_dir / "rendered_fraction.png")]
    return [p for p in made if p is not None]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def scale_axis(arms: Sequence[Arm]) -> str | None:
    """The axis that holds the data scale (``scale``, or any axis whose name contains it)."""
    names = [k for a in arms for k in a.axes]
    for name in ["scale", *names]:
        if "scale" in name and name in names:
            return name
    return None


def plot_scale(arms: Sequence[Arm], path: Path) -> Path | None:
    axis = scale_axis(arms)
    if axis is None:
        return None
    xs = sorted({str(a.axes[axis]) for a in arms if axis in a.axes}, key=natural_key)
    if len(xs) < 2:
        return None
    series: dict[str, dict[str, Arm]] = {}
    for a in arms:
        if axis in a.axes:
            series.setdefault(arm_label({k: v for k, v in a.axes.items() if k != axis}), {})[str(a.axes[axis])] = a
    panels = [("Accuracy (%)", None), ("MIR (layer mean; lower = better fused)", ("mir", "mean")),
              ("Paired cross-modal distance", ("paired_distance",))]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (title, key) in zip(axes, panels):
        for i, (name, by_x) in enumerate(sorted(series.items())):
            color = f"C{i}"
            if key is None:
                protocols = sorted({p for a in by_x.values() for p in (a.metrics.get("overall") or {})
                                    if not GRADED.match(p)}, key=lambda p: (p != "standard", p))
                for p in protocols:
                    ys = [_get(by_x.get(x), ("overall", p)) for x in xs]
                    ax.plot(range(len(xs)), [None if y is None else 100 * y for y in ys], PROTOCOL_STYLE.get(p, ":"),
                            marker="o", color=color, label=f"{name or 'run'} ({p})")
            else:
                ax.plot(range(len(xs)), [_get(by_x.get(x), key) for x in xs], "-", marker="o", color=color,
                        label=name or "run")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(axis)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle("Effect of data scale")
    return _save(fig, path)


def plot_mir_layers(arms: Sequence[Arm], path: Path) -> Path | None:
    lines = [(a.label, (a.metrics.get("mir") or {}).get("per_layer")) for a in arms]
    lines = [(label, ys) for label, ys in lines if isinstance(ys, list) and ys]
    if not lines:
        return None
    fig, ax = _lines([(label, list(range(1, len(ys) + 1)), ys) for label, ys in lines], xlabel="layer",
                     ylabel="MIR (lower = better fused)", title="Modality integration rate per layer")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def bin_points(bins: Any) -> list[tuple[str, float]]:
    """``carrier_bins`` as ``[(bin label, accuracy drop in points)]``.

    Each bin is a dict; the drop is ``drop`` (or ``accuracy_drop``), else ``standard − rendered``; the
    label is ``label``, else ``lo–hi``, else the bin's index. Drops in [−1, 1] are taken as fractions."""
    points = []
    for i, b in enumerate(bins if isinstance(bins, list) else []):
        if not isinstance(b, dict):
            continue
        drop = b.get("drop", b.get("accuracy_drop"))
        if drop is None and "standard" in b and "rendered" in b:
            drop = float(b["standard"]) - float(b["rendered"])
        if drop is None:
            continue
        if "label" in b:
            label = str(b["label"])
        elif "lo" in b and "hi" in b:
            label = f"{float(b['lo']):.3g}–{float(b['hi']):.3g}"
        else:
            label = str(b.get("bin", i))
        points.append((label, 100 * float(drop) if abs(float(drop)) <= 1 else float(drop)))
    return points


def plot_carrier_bins(arms: Sequence[Arm], path: Path) -> Path | None:
    data = [(a.label, bin_points(a.metrics.get("carrier_bins"))) for a in arms]
    data = [(label, pts) for label, pts in data if pts]
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(data)
    for i, (label, pts) in enumerate(data):
        xs = [j + (i - (len(data) - 1) / 2) * width for j in range(len(pts))]
        ax.bar(xs, [p[1] for p in pts], width=width, label=label)
    ax.set_xticks(range(len(data[0][1])), [p[0] for p in data[0][1]], rotation=20)
    ax.set_xlabel("cross-modal distance bin (near → far)")
    ax.set_ylabel("accuracy drop, standard − rendered (points)")
    ax.set_title("Carrier sensitivity per distance bin")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return _save(fig, path)


def graded_points(overall: dict[str, Any]) -> list[tuple[float, float]]:
    """``[(rendered fraction, accuracy)]`` from ``rendered_<f>`` protocols, plus ``standard`` (0) and
    ``rendered`` (1, the whole question rendered) when graded ones exist."""
    pts = {float(m.group(1)): float(v) for p, v in overall.items() if (m := GRADED.match(p)) and v is not None}
    if not pts:
        return []
    for name, fraction in (("standard", 0.0), ("rendered", 1.0)):
        if overall.get(name) is not None:
            pts.setdefault(fraction, float(overall[name]))
    return sorted(pts.items())


def seed_band(arm: Arm) -> list[tuple[float, float, float]]:
    """``[(rendered fraction, lowest, highest accuracy over the arm's seeds)]`` at the fractions every seed
    has; empty with fewer than two seeds."""
    per_job = [dict(graded_points(j.metrics.get("overall") or {})) for j in arm.jobs]
    if len(per_job) < 2:
        return []
    shared = sorted(set.intersection(*(set(p) for p in per_job)))
    return [(f, min(p[f] for p in per_job), max(p[f] for p in per_job)) for f in shared]


def plot_rendered_fraction(arms: Sequence[Arm], path: Path) -> Path | None:
    data = [(a, graded_points(a.metrics.get("overall") or {})) for a in arms]
    data = [(a, pts) for a, pts in data if len(pts) >= 2]
    if not data:
        return None
    bands = [seed_band(a) for a, _ in data]
    title = "Accuracy against rendered fraction" + (" (line: seed mean; band: seed min–max)" if any(bands) else "")
    fig, ax = _lines([(a.label, [f for f, _ in pts], [100 * y for _, y in pts]) for a, pts in data],
                     xlabel="fraction of the question rendered as an image", ylabel="accuracy (%)", title=title)
    for line, band in zip(ax.get_lines(), bands):
        if band:
            ax.fill_between([f for f, _, _ in band], [100 * lo for _, lo, _ in band], [100 * hi for _, _, hi in band],
                            color=line.get_color(), alpha=0.15, linewidth=0)
    return _save(fig, path)


def _lines(series: list[tuple[str, list, list]], xlabel: str, ylabel: str, title: str):
    """One figure with a marked line per ``(label, xs, ys)``, grid and legend; returns ``(fig, ax)``."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, xs, ys in series:
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig, ax


def _get(arm: Arm | None, key: tuple[str, ...]) -> float | None:
    value: Any = arm.metrics if arm is not None else None
    for k in key:
        if not isinstance(value, dict) or k not in value:
            return None
        value = value[k]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
