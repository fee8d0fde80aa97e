"""The sweep table in the paper's layout, with paired-bootstrap intervals on every Δ.

One table per protocol (standard, rendered, then any graded ``rendered_<f>``). Rows are the arms of the
sweep (one per axis value; seeds of an arm are averaged), columns are benchmarks grouped by category, each
category's average (the text-only group, paper Table 6, is one of them), and the overall average (metrics.json's
``overall``: over the multimodal benchmarks, as the paper's Table 1 Avg). Under every arm that is not a baseline comes a Δ row against
its baseline, with a 95 % paired-bootstrap interval per cell and a mark (†) where the interval contains 0.
Scores are shown in points (×100), as in the paper.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections import Counter, defaultdict
from typing import Any, Mapping, Sequence

from lomo_ablate.report.bootstrap import DeltaCI, average_over_seeds, paired_bootstrap
from lomo_ablate.report.load import Job, Sweep, load_predictions, natural_key

NOISE_MARK = "†"
PROTOCOL_ORDER = ("standard", "rendered")


@dataclasses.dataclass
class Arm:
    """One row: the jobs (seeds) sharing the same non-seed axis values."""

    label: str
    axes: dict[str, Any]
    jobs: list[Job]
    metrics: dict[str, Any]  # seed-averaged metrics.json
    items: dict[tuple[str, str, str], float]  # seed-averaged per-item scores (protocol, bench, item)
    category: dict[tuple[str, str], str]
    rejected: list[dict[str, Any]]
    baseline: "Arm | None" = None
    constant: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # job, protocol, answer, count, n

    @property
    def seeds(self) -> list[Any]:
        return [j.seed for j in self.jobs]


@dataclasses.dataclass(frozen=True)
class Column:
    kind: str  # "bench" | "category" | "overall"
    name: str
    group: str  # the category header above it

    @property
    def label(self) -> str:
        """The name under the group header: a benchmark, a category (in "Categories"), or "Avg"."""
        if self.kind == "overall" or (self.kind == "category" and self.group != "Categories"):
            return "Avg"
        return self.name

    @property
    def flat_label(self) -> str:
        """One-line header (Markdown/CSV): ``probe``, ``arith``, ``math: mathq``, ``math: Avg``, ``Avg``."""
        if self.kind == "overall" or self.group in ("Benchmarks", "Categories"):
            return self.label
        return f"{self.group}: {self.label}"


@dataclasses.dataclass
class Table:
    protocol: str
    columns: list[Column]
    arms: list[Arm]
    cells: dict[tuple[str, Column], float | None]  # (arm label, column) -> score in [0, 1]
    deltas: dict[tuple[str, Column], DeltaCI | float | None]  # Δ vs the arm's baseline (CI when items exist)


# ------------------------------------------------------------------------------------------------ arms
def arm_label(axes: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in axes.items()) or "run"


def varying_axes(jobs: Sequence[Job]) -> list[str]:
    """The axes whose value differs between jobs (seed excluded): what tells arms apart. An override given
    to every job alike (``trainer.max_steps=2``) is not an axis of the sweep. All axes if none varies."""
    keys = list(dict.fromkeys(k for j in jobs for k in j.arm_axes))
    varying = [k for k in keys if len({repr(j.arm_axes.get(k)) for j in jobs}) > 1]
    return varying or keys


def fixed_axes(jobs: Sequence[Job]) -> dict[str, Any]:
    """Overrides shared by every job (shown once in the README instead of in every row)."""
    varying = set(varying_axes(jobs))
    return {k: v for k, v in (jobs[0].arm_axes.items() if jobs else []) if k not in varying}


def build_arms(sweep: Sweep) -> list[Arm]:
    """Group the sweep's done jobs into arms (seeds averaged), labelled by the axes that vary."""
    keys = varying_axes(sweep.done)
    groups: dict[str, list[Job]] = defaultdict(list)
    for job in sweep.done:
        groups[arm_label({k: job.arm_axes[k] for k in keys if k in job.arm_axes})].append(job)
    arms = []
    for label, jobs in groups.items():
        loaded = [(j, load_predictions(p)) for j, p in ((j, j.predictions_path()) for j in jobs) if p is not None]
        preds = [p for _, p in loaded]
        arms.append(Arm(label=label, axes={k: jobs[0].arm_axes[k] for k in keys if k in jobs[0].arm_axes}, jobs=jobs,
                        metrics=average_metrics([j.metrics for j in jobs]),
                        items=average_over_seeds([p.scores for p in preds]),
                        category={k: v for p in preds for k, v in p.category.items()},
                        rejected=[r for p in preds for r in p.rejected],
                        constant=[{"job": j.name, **c} for j, p in loaded for c in p.constant_answers()]))
    return sorted(arms, key=lambda a: tuple(natural_key(v) for v in a.axes.values()))


def average_metrics(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Element-wise mean of nested metrics dicts (numbers and equal-length number lists); other values
    are taken from the first run."""
    if not runs:
        return {}
    first = runs[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        values = [r.get(key) for r in runs if key in r]
        if isinstance(value, Mapping):
            out[key] = average_metrics([v for v in values if isinstance(v, Mapping)])
        elif _is_number(value):
            nums = [float(v) for v in values if _is_number(v)]
            out[key] = sum(nums) / len(nums)
        elif isinstance(value, list) and value and all(_is_number(v) for v in value):
            same = [v for v in values if isinstance(v, list) and len(v) == len(value)]
            out[key] = [sum(float(v[i]) for v in same) / len(same) for i in range(len(value))]
        else:
            out[key] = value
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def parse_baseline(spec: str | None) -> dict[str, str]:
    """``"method=standard_sft,scale=small"`` -> ``{"method": "standard_sft", "scale": "small"}``."""
    if not spec:
        return {}
    out = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"baseline {spec!r}: expected axis=value[,axis=value], got {part!r}")
        out[key.strip()] = value.strip()
    return out


def assign_baselines(arms: list[Arm], spec: str | None = None) -> dict[str, str]:
    """Set ``arm.baseline`` for every arm and return the baseline spec used.

    The baseline fixes some axes (``method=standard_sft``); every arm is compared with the arm that has
    those values and the same values on the other axes (so a scale × method sweep compares methods at each
    scale). Default: ``method=standard_sft`` when such an arm exists, else the first arm's axis values."""
    if not arms:
        return {}
    fixed = parse_baseline(spec)
    if not fixed:
        if any(str(a.axes.get("method")) == "standard_sft" for a in arms):
            fixed = {"method": "standard_sft"}
        else:
            fixed = {k: str(v) for k, v in arms[0].axes.items()} or {}
    known = sorted({k for a in arms for k in a.axes})
    unknown = sorted(set(fixed) - set(known))
    if unknown and arms[0].axes:
        raise ValueError(f"baseline: unknown axis {unknown}; the sweep's axes are {known}")
    matching = [a for a in arms if all(str(a.axes.get(k)) == v for k, v in fixed.items())]
    if not matching:
        choices = sorted({f"{k}={a.axes[k]}" for a in arms for k in fixed if k in a.axes})
        raise ValueError(f"baseline {fixed}: no finished arm has these values; available: {choices}")
    for arm in arms:
        if arm in matching:
            arm.baseline = None
            continue
        same_rest = [b for b in matching
                     if all(str(b.axes.get(k)) == str(v) for k, v in arm.axes.items() if k not in fixed)]
        arm.baseline = same_rest[0] if same_rest else (matching[0] if len(matching) == 1 else None)
    # display order: by the other axes, the baseline first within each group (as in the paper's tables)
    arms.sort(key=lambda a: (tuple(natural_key(v) for k, v in a.axes.items() if k not in fixed),
                             a.baseline is not None, tuple(natural_key(v) for v in a.axes.values())))
    return fixed


# ----------------------------------------------------------------------------------------------- tables
def protocols_of(arms: Sequence[Arm]) -> list[str]:
    found = {p for a in arms for p in (a.metrics.get("overall") or {})}
    ordered = [p for p in PROTOCOL_ORDER if p in found]
    return ordered + sorted(found - set(ordered), key=natural_key)


def columns_of(arms: Sequence[Arm], protocol: str, category_order: Sequence[str] = ()) -> list[Column]:
    """Benchmarks grouped by their (majority) category, a category average each, then the overall average.
    Categories in ``category_order`` come first in that order (the report passes the paper's six), the
    others after them in natural order."""
    benches = sorted({b for a in arms for b, by_p in (a.metrics.get("scores") or {}).items() if protocol in by_p},
                     key=natural_key)
    cats_of: dict[str, Counter] = defaultdict(Counter)
    for a in arms:
        for (bench, _item), cat in a.category.items():
            cats_of[bench][cat] += 1
    # a benchmark sits under its category when all its items share one; mixed ones go under "Benchmarks"
    bench_cat = {b: (next(iter(cats_of[b])) if len(cats_of[b]) == 1 else "Benchmarks") for b in benches}
    rank = {c: i for i, c in enumerate(category_order)}

    def cat_key(c: str) -> tuple:
        return (rank.get(c, len(rank)), natural_key(c))

    cats = sorted({c for a in arms for c, by_p in (a.metrics.get("categories") or {}).items() if protocol in by_p},
                  key=cat_key)
    columns: list[Column] = [Column("bench", b, "Benchmarks") for b in benches if bench_cat[b] == "Benchmarks"]
    lone: list[Column] = []  # categories with no benchmark of their own (e.g. the probe suite's tasks)
    for cat in sorted(set(cats) | (set(bench_cat.values()) - {"Benchmarks"}), key=lambda c: (c not in cats, *cat_key(c))):
        members = [b for b in benches if bench_cat[b] == cat]
        if not members:
            lone.append(Column("category", cat, "Categories"))
            continue
        if len(members) == 1:  # the category average is that benchmark's score: one column
            columns.append(Column("bench", members[0], cat) if members[0] != cat or cat not in cats
                           else Column("category", cat, cat))
            continue
        columns += [Column("bench", b, cat) for b in members]
        if cat in cats:
            columns.append(Column("category", cat, cat))
    columns += lone
    columns.append(Column("overall", "overall", "Overall"))
    return columns


def cell_value(arm: Arm, column: Column, protocol: str) -> float | None:
    m = arm.metrics
    value = {"bench": lambda: m["scores"][column.name][protocol],
             "category": lambda: m["categories"][column.name][protocol],
             "overall": lambda: m["overall"][protocol]}[column.kind]
    try:
        v = value()
    except (KeyError, TypeError):
        return None
    return float(v) if _is_number(v) else None


def column_items(arm: Arm, column: Column, protocol: str) -> dict[tuple[str, str], float]:
    """The arm's per-item scores that make up ``column`` (keyed by benchmark and item id). The overall
    column is metrics.json's ``overall``: the benchmarks in its ``overall_benchmarks`` (the multimodal ones:
    text-only benchmarks have their own group and average), every benchmark for older metrics files."""
    out = {}
    averaged = arm.metrics.get("overall_benchmarks") if column.kind == "overall" else None
    for (p, bench, item), score in arm.items.items():
        if p != protocol:
            continue
        if averaged is not None and bench not in averaged:
            continue
        if column.kind == "bench" and bench != column.name:
            continue
        if column.kind == "category" and arm.category.get((bench, item), bench) != column.name:
            continue
        out[(bench, item)] = score
    return out


def build_table(arms: list[Arm], protocol: str, *, resamples: int = 1000, seed: int = 0,
                confidence: float = 0.95, category_order: Sequence[str] = ()) -> Table:
    columns = columns_of(arms, protocol, category_order)
    cells = {(a.label, c): cell_value(a, c, protocol) for a in arms for c in columns}
    deltas: dict[tuple[str, Column], DeltaCI | float | None] = {}
    for arm in arms:
        if arm.baseline is None:
            continue
        for col in columns:
            # benchmark-level columns are item means; category and overall columns are means over
            # benchmarks (evaluate's macro average), so their items are resampled within each benchmark
            ci = paired_bootstrap(column_items(arm.baseline, col, protocol), column_items(arm, col, protocol),
                                  strata=None if col.kind == "bench" else _benchmark_of,
                                  resamples=resamples, confidence=confidence,
                                  seed=f"{seed}|{protocol}|{arm.label}|{col.kind}|{col.name}")
            if ci is None:  # no per-item predictions: Δ of the metrics without an interval
                a, b = cells[(arm.label, col)], cells[(arm.baseline.label, col)]
                ci = None if a is None or b is None else a - b
            deltas[(arm.label, col)] = ci
    return Table(protocol=protocol, columns=columns, arms=arms, cells=cells, deltas=deltas)


def _benchmark_of(item: tuple[str, str]) -> str:
    return item[0]


# --------------------------------------------------------------------------------------------- formats
def fmt_score(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f}"


def fmt_delta(d: DeltaCI | float | None, latex: bool = False) -> str:
    if d is None:
        return "–"
    if isinstance(d, DeltaCI):
        mark = ("\\textsuperscript{\\dag}" if latex else NOISE_MARK) if d.within_noise else ""
        text = f"{100 * d.delta:+.2f}{mark} [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]"
    else:
        text = f"{100 * d:+.2f}"
    return text


def _rows(table: Table, latex: bool = False) -> list[tuple[str, list[str], bool]]:
    """(row label, cells, is_delta_row) in display order: each arm, then its Δ row."""
    rows = []
    for arm in table.arms:
        rows.append((arm.label, [fmt_score(table.cells[(arm.label, c)]) for c in table.columns], False))
        if arm.baseline is not None:
            rows.append((f"Δ vs {arm.baseline.label}",
                         [fmt_delta(table.deltas.get((arm.label, c)), latex) for c in table.columns], True))
    return rows


def to_markdown(table: Table) -> str:
    head = ["Arm", *[c.flat_label for c in table.columns]]
    lines = [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
    for label, cells, is_delta in _rows(table):
        lines.append(f"| {'*' + label + '*' if is_delta else label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def to_csv(tables: Sequence[Table]) -> str:
    """The paper layout, one block per protocol: protocol, row, then one column per table column."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for table in tables:
        writer.writerow(["protocol", "row", *[c.flat_label for c in table.columns]])
        for label, cells, _ in _rows(table):
            writer.writerow([table.protocol, label, *cells])
    return buf.getvalue()


def to_tidy_rows(tables: Sequence[Table]) -> list[dict[str, Any]]:
    """One record per (protocol, arm, column): value, and Δ/CI against the baseline when there is one."""
    out = []
    for t in tables:
        for arm in t.arms:
            for c in t.columns:
                d = t.deltas.get((arm.label, c))
                out.append({"protocol": t.protocol, "arm": arm.label, **{f"axis.{k}": v for k, v in arm.axes.items()},
                            "column_kind": c.kind, "column": c.name, "category": c.group,
                            "value": t.cells[(arm.label, c)], "n_seeds": len(arm.jobs),
                            "baseline": arm.baseline.label if arm.baseline else None,
                            "delta": d.delta if isinstance(d, DeltaCI) else d,
                            "ci_lo": d.lo if isinstance(d, DeltaCI) else None,
                            "ci_hi": d.hi if isinstance(d, DeltaCI) else None,
                            "n_items": d.n if isinstance(d, DeltaCI) else None,
                            "within_noise": d.within_noise if isinstance(d, DeltaCI) else None})
    return out


def to_latex(table: Table, caption: str = "") -> str:
    """A booktabs tabular with category headers spanning their columns (needs \\usepackage{booktabs})."""
    cols = table.columns
    spans: list[tuple[str, int]] = []
    for c in cols:
        if spans and spans[-1][0] == c.group:
            spans[-1] = (c.group, spans[-1][1] + 1)
        else:
            spans.append((c.group, 1))
    esc = _latex_escape
    lines = ["\\begin{table}[t]", "\\centering", "\\small",
             f"\\begin{{tabular}}{{l{'c' * len(cols)}}}", "\\toprule",
             " & " + " & ".join(f"\\multicolumn{{{n}}}{{c}}{{{esc(g)}}}" for g, n in spans) + " \\\\"]
    start = 2
    rules = []
    for _, n in spans:
        rules.append(f"\\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    lines.append(" ".join(rules))
    lines.append("Arm & " + " & ".join(esc(c.label) for c in cols) + " \\\\")
    lines.append("\\midrule")
    for label, cells, is_delta in _rows(table, latex=True):
        cells = [c if "\\textsuperscript" in c else esc(c) for c in cells]
        indent = "\\quad " if is_delta else ""
        lines.append(f"{indent}{esc(label)} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}",
              f"\\caption{{{esc(caption)} Protocol: {esc(table.protocol)}. $^\\dag$: the 95\\% paired-bootstrap "
              "interval of $\\Delta$ contains 0.}", "\\end{table}"]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    text = text.replace("\\", "\0")
    for a, b in (("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"),
                 ("$", "\\$"), ("{", "\\{"), ("}", "\\}"), ("Δ", "$\\Delta$"), ("–", "--"), ("\0", "\\textbackslash{}")):
        text = text.replace(a, b)
    return text
