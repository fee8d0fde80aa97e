"""The paper's published numbers (``paper_numbers.json``, package data) beside this run's.

``paper_numbers.json`` holds the LoMo paper's Tables 1–6 as printed (points), with their source. A paper
table applies to a sweep when the sweep's name is in the table's ``sweeps``. For each of the table's
backbones the report prints, per paper row, the paper's values, this run's values for the arm that
reproduces the row on the **same backbone** (same setting: the arm whose axis values are the row's), and
the difference ours − paper where both exist; then each row's Δ against the table's baseline row, the paper's
(computed from its values) beside ours (with its paired-bootstrap interval). Columns are the paper's
benchmarks grouped under the six categories in the paper's order, each category's average, and ``Avg``.

* A paper column is matched to this run's benchmark through ``benchmarks[col].names`` (``V*`` ↔ ``vstar``).
* A category average and ``Avg`` are means over the table's benchmarks — the paper's ``Avg`` is its own
  printed column (the mean of its benchmarks); its category averages are derived from its benchmark
  scores (the paper prints none). Ours are the same means over this run's scores, and only when this run
  scored every benchmark they average (else ``–``): an average over other benchmarks is not comparable.
* An arm's backbone: the value of its ``backbone_axis`` (``model=qwen3_5_9b``) when the sweep varies it,
  else the ``model.name_or_path`` of its jobs' resolved config. A run on another model (``model=tiny``)
  gets the paper's values only, and says so.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from lomo_ablate.report.bootstrap import DeltaCI, paired_bootstrap
from lomo_ablate.report.tables import Arm, Table, fmt_delta

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.json")
TOP_KEYS = ("source", "categories", "benchmarks", "backbones", "backbone_axis", "tables")
TABLE_KEYS = ("title", "source", "sweeps", "protocol", "backbones", "baseline", "rows", "columns", "values")
OPTIONAL_TABLE_KEYS = ("note",)
AVG = "Avg"


def load_paper_numbers(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped (or a given) paper-numbers file, checked for shape: a clear error names the file, the
    table and the key."""
    path = Path(path) if path else PAPER_NUMBERS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    missing = [k for k in TOP_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing top-level keys {missing}")
    benches, backbones = data["benchmarks"], data["backbones"]
    for col, spec in benches.items():
        if not isinstance(spec, Mapping) or not spec.get("names") or "category" not in spec:
            raise ValueError(f"{path}: benchmarks.{col}: needs 'category' and a non-empty 'names' list")
    tables = data["tables"]
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: key 'tables' must be an object of tables")
    for name, table in tables.items():
        missing = [k for k in TABLE_KEYS if k not in table]
        unknown = sorted(set(table) - set(TABLE_KEYS) - set(OPTIONAL_TABLE_KEYS))
        if missing or unknown:
            raise ValueError(f"{path}: table {name!r}: missing keys {missing}, unknown keys {unknown}; "
                             f"allowed keys are {list(TABLE_KEYS + OPTIONAL_TABLE_KEYS)}")
        where = f"{path}: tables.{name}"
        for col in table["columns"]:
            if col not in benches:
                raise ValueError(f"{where}.columns: {col!r} is not in 'benchmarks' ({sorted(benches)})")
        if table["baseline"] not in table["rows"]:
            raise ValueError(f"{where}.baseline: {table['baseline']!r} is not one of its rows {list(table['rows'])}")
        for b in table["backbones"]:
            if b not in backbones:
                raise ValueError(f"{where}.backbones: {b!r} is not in 'backbones' ({sorted(backbones)})")
        for b, rows in table["values"].items():
            if b not in table["backbones"]:
                raise ValueError(f"{where}.values.{b}: not one of the table's backbones {table['backbones']}")
            for row, vals in rows.items():
                if row not in table["rows"]:
                    raise ValueError(f"{where}.values.{b}.{row}: not one of the table's rows {list(table['rows'])}")
                extra = sorted(set(vals) - set(table["columns"]) - {AVG})
                if extra:
                    raise ValueError(f"{where}.values.{b}.{row}: unknown columns {extra}")
                bad = [k for k, v in vals.items() if v is not None and not isinstance(v, (int, float))]
                if bad:
                    raise ValueError(f"{where}.values.{b}.{row}.{bad[0]}: must be a number of points or null")
    return data


def paper_tables_for(sweep_name: str, paper: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The paper tables that a sweep called ``sweep_name`` reproduces."""
    paper = paper if paper is not None else load_paper_numbers()
    return {k: t for k, t in paper["tables"].items() if sweep_name in (t.get("sweeps") or [])}


# ------------------------------------------------------------------------------------------ matching
def arm_backbone(arm: Arm, paper: Mapping[str, Any]) -> str | None:
    """The paper backbone ``arm`` ran on (None for a model the paper does not use)."""
    axis = paper.get("backbone_axis")
    for name, spec in paper["backbones"].items():
        if axis and axis in arm.axes:
            if str(arm.axes[axis]) == str(spec.get("axis_value")):
                return name
            continue
        paths = {str(((j.config or {}).get("model") or {}).get("name_or_path")) for j in arm.jobs}
        if paths & {str(p) for p in spec.get("name_or_path") or []}:
            return name
    return None


def arm_for_row(arms: Sequence[Arm], row_axes: Mapping[str, Any]) -> Arm | None:
    """The first arm whose axis values are the row's; a row key that no arm has as an axis is ignored (the
    sweep fixes it), a key some arm has must be present and equal."""
    known = {k for a in arms for k in a.axes}
    keys = {k: str(v) for k, v in row_axes.items() if k in known}
    if not keys:
        return None
    for arm in arms:
        if all(k in arm.axes and str(arm.axes[k]) == v for k, v in keys.items()):
            return arm
    return None


def _our_bench(table: Table | None, names: Sequence[str]) -> str | None:
    if table is None:
        return None
    ours = {c.name.lower(): c.name for c in table.columns if c.kind == "bench"}
    return next((ours[n.lower()] for n in names if n.lower() in ours), None)


def paper_columns(paper: Mapping[str, Any], paper_table: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """``(kind, label, member paper columns)`` in display order: benchmarks grouped by category in the
    paper's order, a category average after each group of two or more, then ``Avg``."""
    benches = paper["benchmarks"]
    order = list(paper["categories"])
    cats = list(dict.fromkeys(benches[c]["category"] for c in paper_table["columns"]))
    cats.sort(key=lambda c: order.index(c) if c in order else len(order))
    out: list[tuple[str, str, list[str]]] = []
    for cat in cats:
        members = [c for c in paper_table["columns"] if benches[c]["category"] == cat]
        out += [("bench", c, [c]) for c in members]
        if len(members) > 1:
            out.append(("category", cat, members))
    out.append(("avg", AVG, list(paper_table["columns"])))
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(values) / len(values)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- comparison
def compare(name: str, paper_table: Mapping[str, Any], tables: Sequence[Table], *,
            paper: Mapping[str, Any] | None = None, resamples: int = 1000, seed: int = 0,
            confidence: float = 0.95) -> list[dict[str, Any]]:
    """One record per (backbone, row, column): the paper's value and ours (points), ours − paper, and the
    row's Δ against the table's baseline row, the paper's and ours (with the interval)."""
    paper = paper if paper is not None else load_paper_numbers()
    protocol = paper_table.get("protocol") or "standard"
    table = next((t for t in tables if t.protocol == protocol), None)
    benches = paper["benchmarks"]
    cols = paper_columns(paper, paper_table)
    ours_of = {c: _our_bench(table, benches[c]["names"]) for c in paper_table["columns"]}
    base_row = paper_table["baseline"]
    records = []
    for backbone in paper_table["backbones"]:
        arms = [a for a in (table.arms if table else []) if arm_backbone(a, paper) == backbone]
        pvals = paper_table["values"].get(backbone) or {}
        base_arm = arm_for_row(arms, paper_table["rows"][base_row])
        for row, row_axes in paper_table["rows"].items():
            arm = arm_for_row(arms, row_axes)
            for kind, label, members in cols:
                p = _paper_value(pvals.get(row) or {}, kind, label, members)
                o = _our_value(table, arm, [ours_of[m] for m in members])
                pd = pb = None
                od: DeltaCI | float | None = None
                if row != base_row:
                    pb = _paper_value(pvals.get(base_row) or {}, kind, label, members)
                    pd = None if p is None or pb is None else p - pb
                    od = _our_delta(table, base_arm, arm, [ours_of[m] for m in members], resamples=resamples,
                                    confidence=confidence, seed=f"{seed}|paper|{name}|{backbone}|{row}|{label}")
                records.append({
                    "table": name, "protocol": protocol, "backbone": backbone, "row": row,
                    "arm": arm.label if arm else None, "column_kind": kind, "column": label,
                    "category": benches[label]["category"] if kind == "bench" else label,
                    "benchmark": ours_of.get(label) if kind == "bench" else None,
                    "paper": p, "ours": o, "ours_minus_paper": None if p is None or o is None else o - p,
                    "paper_delta": pd, "baseline_row": None if row == base_row else base_row,
                    "ours_delta": 100 * od.delta if isinstance(od, DeltaCI) else (None if od is None else 100 * od),
                    "ours_delta_lo": 100 * od.lo if isinstance(od, DeltaCI) else None,
                    "ours_delta_hi": 100 * od.hi if isinstance(od, DeltaCI) else None,
                    "derived": kind == "category", "_delta": od})
    return records


def _paper_value(vals: Mapping[str, Any], kind: str, label: str, members: list[str]) -> float | None:
    if kind == "bench":
        v = vals.get(label)
        return None if v is None else float(v)
    if kind == "avg" and vals.get(AVG) is not None:
        return float(vals[AVG])  # the paper's own printed average
    return _mean([None if vals.get(m) is None else float(vals[m]) for m in members])


def _our_value(table: Table | None, arm: Arm | None, benches: list[str | None]) -> float | None:
    if table is None or arm is None or any(b is None for b in benches):
        return None
    by_name = {c.name: c for c in table.columns if c.kind == "bench"}
    return _mean([None if (v := table.cells.get((arm.label, by_name[b]))) is None else 100 * v
                  for b in benches if b is not None])


def _our_delta(table: Table | None, base: Arm | None, arm: Arm | None, benches: list[str | None], *,
               resamples: int, confidence: float, seed: str) -> DeltaCI | float | None:
    """arm − base over ``benches`` (fractions): paired bootstrap over their items (stratified by benchmark
    for an average), or the difference of the metrics when there are no per-item predictions."""
    if table is None or base is None or arm is None or arm is base or any(b is None for b in benches):
        return None
    wanted = set(benches)
    p = table.protocol

    def items(a: Arm) -> dict[tuple[str, str], float]:
        return {(b, i): s for (pr, b, i), s in a.items.items() if pr == p and b in wanted}

    ci = paired_bootstrap(items(base), items(arm), strata=None if len(wanted) == 1 else (lambda it: it[0]),
                          resamples=resamples, confidence=confidence, seed=seed)
    if ci is not None and {it[0] for it in items(arm)} >= wanted:
        return ci
    a, b = _our_value(table, arm, benches), _our_value(table, base, benches)
    return None if a is None or b is None else (a - b) / 100


def _fmt(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def compare_markdown(name: str, paper_table: Mapping[str, Any], tables: Sequence[Table], *,
                     paper: Mapping[str, Any] | None = None, records: list[dict[str, Any]] | None = None,
                     **kw: Any) -> str:
    """Markdown: one table per backbone of the paper table, paper / this run / ours − paper per row, then
    each row's Δ vs the baseline row (paper, this run with its interval)."""
    paper = paper if paper is not None else load_paper_numbers()
    records = records if records is not None else compare(name, paper_table, tables, paper=paper, **kw)
    cols = paper_columns(paper, paper_table)
    head = ["Row", "", *[(f"{label}*" if kind == "category" else label) for kind, label, _ in cols]]
    group = ["", "", *[(paper["benchmarks"][label]["category"] if kind == "bench" else "") for kind, label, _ in cols]]
    protocol = paper_table.get("protocol") or "standard"
    out = [f"#### {name}: {paper_table['title']}", "",
           f"Protocol {protocol}. Source: the paper's {paper_table['source']}. " + (paper_table.get("note") or ""), ""]
    has_protocol = any(t.protocol == protocol for t in tables)
    for backbone in paper_table["backbones"]:
        recs = [r for r in records if r["backbone"] == backbone]
        matched = any(r["arm"] for r in recs)
        why = (f" — this run has no {protocol}-protocol results: paper values only" if not has_protocol else
               " — this run has no arm on this backbone: paper values only")
        out += [f"**{backbone}**" + ("" if matched else why), "", f"| {' | '.join(head)} |", f"| {' | '.join(group)} |",
                "|" + "---|" * len(head)]
        for row in paper_table["rows"]:
            rr = [r for r in recs if r["row"] == row]
            arm = next((r["arm"] for r in rr if r["arm"]), None)
            out.append(f"| {row} | paper | {' | '.join(_fmt(r['paper']) for r in rr)} |")
            if matched:
                out.append(f"| | this run ({arm or 'no arm'}) | {' | '.join(_fmt(r['ours']) for r in rr)} |")
                out.append(f"| | ours − paper | {' | '.join(_fmt(r['ours_minus_paper'], True) for r in rr)} |")
        for row in paper_table["rows"]:
            rr = [r for r in recs if r["row"] == row and r["baseline_row"]]
            if not rr:
                continue
            label = f"Δ {row} − {rr[0]['baseline_row']}"
            out.append(f"| {label} | paper | {' | '.join(_fmt(r['paper_delta'], True) for r in rr)} |")
            if matched:
                out.append(f"| | this run | {' | '.join(fmt_delta(r['_delta']) for r in rr)} |")
        out.append("")
    out += ["Points (accuracy × 100). * = category average (the paper prints none: derived from its benchmark "
            "scores; ours only when this run scored all its benchmarks). Avg: the paper's printed average, ours "
            "the mean over the same benchmarks (– when this run lacks one). Δ of this run: 95 % paired-bootstrap "
            "interval, † = it contains 0. Paper values: `lomo_ablate/report/paper_numbers.json`."]
    return "\n".join(out)


def tidy_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``compare`` records without the internal interval object (for CSV/JSON)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]
