"""The paper's published numbers (``paper_numbers.json``) beside this run's.

The data file holds only values that were verified against the paper; every unknown value is null and
printed as "n/a". A paper table applies to a sweep when the sweep's name is in the table's ``sweeps``.
Rows are matched to arms by axis value (row ``lomo`` ↔ arm ``method=lomo``), the ``Avg`` column to the
overall average; other columns to a benchmark or category of the same name (case-insensitive).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from lomo_ablate.report.bootstrap import DeltaCI
from lomo_ablate.report.tables import Column, Table, fmt_delta

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.json")
TABLE_KEYS = ("title", "verified", "sweeps", "axis", "protocol", "backbones", "backbone_axis", "backbone_values",
              "rows", "columns", "categories", "values", "deltas")


def load_paper_numbers(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped (or a given) paper-numbers file, checked for shape: a clear error names the table and key."""
    path = Path(path) if path else PAPER_NUMBERS
    data = json.loads(path.read_text(encoding="utf-8"))
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: key 'tables' must be an object of tables")
    for name, table in tables.items():
        missing = [k for k in TABLE_KEYS if k not in table]
        unknown = sorted(set(table) - set(TABLE_KEYS) - {"deltas_source", "values_source"})
        if missing or unknown:
            raise ValueError(f"{path}: table {name!r}: missing keys {missing}, unknown keys {unknown}; "
                             f"allowed keys are {list(TABLE_KEYS)}")
    return data


def paper_tables_for(sweep_name: str, paper: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The paper tables that a sweep called ``sweep_name`` reproduces."""
    paper = paper if paper is not None else load_paper_numbers()
    return {k: t for k, t in paper["tables"].items() if sweep_name in (t.get("sweeps") or [])}


def _column(table: Table, name: str) -> Column | None:
    if name.lower() in ("avg", "average", "overall"):
        return next((c for c in table.columns if c.kind == "overall"), None)
    return next((c for c in table.columns if c.kind != "overall" and c.name.lower() == name.lower()), None)


def _arm_for(table: Table, axis: str | None, row: str, backbone: tuple[str, str] | None = None):
    """The arm whose ``axis`` value is ``row`` (and, with ``backbone=(axis, value)``, on that backbone)."""
    for arm in table.arms:
        if backbone and str(arm.axes.get(backbone[0])) != backbone[1]:
            continue
        values = [str(v) for k, v in arm.axes.items() if axis is None or k == axis]
        if row in values or arm.label == row:
            return arm
    return None


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def compare_markdown(name: str, paper_table: dict[str, Any], tables: Sequence[Table]) -> str:
    """A Markdown table: for each paper row × column, the paper's value and this run's, per backbone, and
    the same for Δ rows. When the sweep has the table's ``backbone_axis`` (e.g. ``model``), each backbone's
    arms are matched through ``backbone_values``; otherwise this run is one column. Unverified (null) paper
    values print as n/a."""
    protocol = paper_table.get("protocol") or "standard"
    table = next((t for t in tables if t.protocol == protocol), None)
    backbones = paper_table.get("backbones") or []
    axis = paper_table.get("backbone_axis")
    by_name = {v: k for k, v in (paper_table.get("backbone_values") or {}).items()}
    per_backbone = bool(table and axis and any(axis in a.axes for a in table.arms))
    runs = [(b, (axis, by_name.get(b, b))) for b in backbones] if per_backbone else [("", None)]
    head = ["Row", "Column", *[f"paper ({b})" for b in backbones],
            *[f"this run ({b})" if b else "this run" for b, _ in runs]]
    lines = [f"#### {name}: {paper_table.get('title') or '(title not verified)'} — protocol {protocol}", "",
             f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
    for row in paper_table.get("rows") or []:
        for col_name in paper_table.get("columns") or []:
            col = _column(table, col_name) if table else None
            arms = [_arm_for(table, paper_table.get("axis"), row, bb) if table else None for _, bb in runs]
            ours = [table.cells.get((a.label, col)) if a and col else None for a in arms]
            paper_vals = [_fmt(((paper_table["values"].get(b) or {}).get(row) or {}).get(col_name)) for b in backbones]
            lines.append(f"| {row} | {col_name} | {' | '.join(paper_vals + [_fmt(None if v is None else 100 * v) for v in ours])} |")
            deltas = [((paper_table["deltas"].get(b) or {}).get(row) or {}).get(col_name) for b in backbones]
            if any(d is not None for d in deltas) or any(a is not None and a.baseline is not None for a in arms):
                run_d: list[DeltaCI | float | None] = [table.deltas.get((a.label, col)) if a and col else None
                                                       for a in arms]
                cells = [_fmt(x) for x in deltas] + [fmt_delta(d) for d in run_d]
                lines.append(f"| Δ {row} | {col_name} | {' | '.join(cells)} |")
    lines += ["", "Paper values: `lomo_ablate/report/paper_numbers.json` (n/a = not verified, left null). "
              "This run: points; Δ with 95 % paired-bootstrap interval, † = interval contains 0."]
    return "\n".join(lines)
