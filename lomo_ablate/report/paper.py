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
TABLE_KEYS = ("title", "verified", "sweeps", "axis", "protocol", "backbones", "rows", "columns", "categories",
              "values", "deltas")


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


def _arm_for(table: Table, axis: str | None, row: str):
    for arm in table.arms:
        values = [str(v) for k, v in arm.axes.items() if axis is None or k == axis]
        if row in values or arm.label == row:
            return arm
    return None


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def compare_markdown(name: str, paper_table: dict[str, Any], tables: Sequence[Table]) -> str:
    """A Markdown table: for each paper row × column, the paper's value per backbone and this run's, and
    the same for Δ rows. Unverified (null) paper values print as n/a."""
    protocol = paper_table.get("protocol") or "standard"
    table = next((t for t in tables if t.protocol == protocol), None)
    backbones = paper_table.get("backbones") or []
    head = ["Row", "Column", *[f"paper ({b})" for b in backbones], "this run"]
    lines = [f"#### {name}: {paper_table.get('title') or '(title not verified)'} — protocol {protocol}", "",
             f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
    for row in paper_table.get("rows") or []:
        for col_name in paper_table.get("columns") or []:
            arm = _arm_for(table, paper_table.get("axis"), row) if table else None
            col = _column(table, col_name) if table else None
            ours = table.cells.get((arm.label, col)) if arm and col else None
            paper_vals = [_fmt(((paper_table["values"].get(b) or {}).get(row) or {}).get(col_name)) for b in backbones]
            lines.append(f"| {row} | {col_name} | {' | '.join(paper_vals)} | {_fmt(None if ours is None else 100 * ours)} |")
            deltas = [((paper_table["deltas"].get(b) or {}).get(row) or {}).get(col_name) for b in backbones]
            if any(d is not None for d in deltas) or (arm is not None and arm.baseline is not None):
                d: DeltaCI | float | None = table.deltas.get((arm.label, col)) if arm and col else None
                lines.append(f"| Δ {row} | {col_name} | {' | '.join(_fmt(x) for x in deltas)} | {fmt_delta(d)} |")
    lines += ["", "Paper values: `lomo_ablate/report/paper_numbers.json` (n/a = not verified, left null). "
              "This run: points; Δ with 95 % paired-bootstrap interval, † = interval contains 0."]
    return "\n".join(lines)
