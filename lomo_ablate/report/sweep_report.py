"""``report_sweep``: a sweep folder in, ``results/<sweep name>/`` out (from the files alone).

Writes, under ``<results_dir>/<name>/``:

* ``README.md``: the command that made the report, job status (done/failed/running/missing/invalid with
  reasons), the tables, overall accuracy per seed, constant answers, alignment metrics, plots and, for a reproduction sweep, paper vs. this run;
* ``table.md``, ``table.csv``, ``table.tex``: the paper-layout tables, one per protocol;
* ``deltas.csv``: one tidy row per (protocol, arm, column) with value, Δ, interval, items, seeds;
* ``summary.json``: everything above, machine-readable;
* ``plots/*.png``.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import shlex
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from lomo_ablate.contracts import MULTIRUN_CONFIG, REPORT_SUMMARY, TEXT_ONLY_GROUP
from lomo_ablate.report.load import CONSTANT_SHARE, Job, Sweep, load_sweep, natural_key
from lomo_ablate.report.paper import compare, compare_markdown, load_paper_numbers, paper_tables_for, tidy_records
from lomo_ablate.report.plots import make_plots
from lomo_ablate.report.tables import (NOISE_MARK, Arm, Table, assign_baselines, build_arms, build_table, fixed_axes,
                                       protocols_of, to_csv, to_latex, to_markdown, to_tidy_rows)
from lomo_ablate.utils import atomic_write_json, atomic_write_text
from lomo_ablate.utils.config import ConfigError, check_range, config_from_dict


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """How the report is computed: ``resamples`` bootstrap resamples for ``confidence`` intervals (seeded by
    ``seed``), ``plots``. ``from_dict`` names an unknown key, a wrong type or a bad value (ConfigError)."""

    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    plots: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ReportConfig":
        return config_from_dict(cls, d, "report")

    def validate(self, where: str = "report") -> None:
        check_range(f"{where}.resamples", self.resamples, 1, integer=True)
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"{where}.confidence must be in (0, 1), got {self.confidence!r}")


def report_sweep(sweep_dir: str | Path, results_dir: str | Path = "results", baseline: str | None = None,
                 name: str | None = None, config: ReportConfig | dict | None = None) -> Path:
    """Write the report of the sweep in ``sweep_dir`` and return its folder ``<results_dir>/<name>``.

    ``baseline`` is ``axis=value[,axis=value]`` (default: ``method=standard_sft`` when the sweep has it,
    else the first arm). ``name`` defaults to the sweep's name (from result.json, else the folder name)."""
    cfg = config if isinstance(config, ReportConfig) else ReportConfig.from_dict(config)
    sweep = load_sweep(sweep_dir)
    out = Path(results_dir) / (name or sweep.name)
    out.mkdir(parents=True, exist_ok=True)
    arms = build_arms(sweep)
    fixed = assign_baselines(arms, baseline)
    numbers = load_paper_numbers()
    tables = [build_table(arms, p, resamples=cfg.resamples, seed=cfg.seed, confidence=cfg.confidence,
                          category_order=(*numbers["categories"], TEXT_ONLY_GROUP))  # the six, then Table 6's group
              for p in tqdm(protocols_of(arms), desc=f"report {sweep.name}: bootstrap per protocol", unit="protocol",
                            disable=None)]
    caption = f"Sweep {sweep.name}."
    atomic_write_text(out / "table.md", "\n\n".join(f"### Protocol: {t.protocol}\n\n{to_markdown(t)}"
                                                      for t in tables) + "\n")
    atomic_write_text(out / "table.csv", to_csv(tables))
    atomic_write_text(out / "table.tex", "\n\n".join(to_latex(t, caption) for t in tables) + "\n")
    tidy = to_tidy_rows(tables)
    atomic_write_text(out / "deltas.csv", _csv_text(tidy))
    plots = make_plots(arms, out / "plots") if cfg.plots and arms else []
    paper: dict[str, str] = {}
    paper_rows: list[dict[str, Any]] = []
    if tables:
        for key, ptable in paper_tables_for(sweep.name, numbers).items():
            recs = compare(key, ptable, tables, paper=numbers, resamples=cfg.resamples, seed=cfg.seed,
                           confidence=cfg.confidence)
            paper[key] = compare_markdown(key, ptable, tables, paper=numbers, records=recs)
            paper_rows += tidy_records(recs)
    if paper_rows:
        atomic_write_text(out / "paper.csv", _csv_text(paper_rows))
    rejected = [r for a in arms for r in a.rejected]
    command = report_command(sweep.path, results_dir, baseline, name)
    atomic_write_json(out / REPORT_SUMMARY, {
        "sweep": sweep.name, "sweep_dir": str(sweep.path), "command": command, "baseline": fixed,
        "config": dataclasses.asdict(cfg), "status": sweep.counts(),
        "jobs": [_job_row(j) for j in sweep.jobs],
        "arms": [{"label": a.label, "axes": a.axes, "seeds": a.seeds,
                  "baseline": a.baseline.label if a.baseline else None, "metrics": a.metrics,
                  "constant_answers": a.constant,
                  "per_seed": {str(j.seed): {"overall": j.metrics.get("overall"),
                                             "paired_distance": j.metrics.get("paired_distance"),
                                             "mir_mean": _dig(j.metrics, "mir", "mean")} for j in a.jobs}}
                 for a in arms],
        "cells": tidy, "paper": paper_rows, "rejected_predictions": rejected, "plots": [p.name for p in plots]})
    atomic_write_text(out / "README.md", _readme(sweep, arms, tables, fixed, cfg, command, plots, paper, rejected))
    return out


def report_command(sweep_dir: Path, results_dir: str | Path, baseline: str | None, name: str | None) -> str:
    parts = ["python", "-m", "lomo_ablate.report", str(sweep_dir),
             "--results-dir", str(results_dir)]
    if baseline:
        parts += ["--baseline", baseline]
    if name:
        parts += ["--name", name]
    return shlex.join(parts)


def sweep_command(sweep_dir: Path) -> str | None:
    """The Hydra command line that ran the sweep, from ``<sweep_dir>/multirun.yaml`` when Hydra wrote one."""
    path = sweep_dir / MULTIRUN_CONFIG
    if not path.exists():
        return None
    try:
        from omegaconf import OmegaConf

        task = OmegaConf.to_container(OmegaConf.load(path).hydra.overrides.task)
        from lomo_ablate.utils.secrets import redact_text

        return redact_text(shlex.join(["python", "-m", "lomo_ablate", "-m", *map(str, task)]))
    except Exception:  # an unreadable multirun.yaml only loses this line of the README
        return None


def _csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _job_row(job: Job) -> dict[str, Any]:
    stages = {k: v.get("status") for k, v in job.stages.items() if isinstance(v, dict)}
    seconds = sum(float(v.get("seconds") or 0) for v in job.stages.values() if isinstance(v, dict))
    return {"job": job.name, "folder": job.path.name, "status": job.status, "axes": job.axes, "stages": stages,
            "seconds": round(seconds, 1), "reason": job.reason}


def _readme(sweep: Sweep, arms: list[Arm], tables: list[Table], fixed: dict, cfg: ReportConfig, command: str,
            plots: list[Path], paper: dict[str, str], rejected: list[dict]) -> str:
    counts = sweep.counts()
    lines = [f"# Sweep `{sweep.name}`", "", "Made by:", "", "```", command, "```", ""]
    ran = sweep_command(sweep.path)
    if ran:
        lines += ["The sweep itself was run with:", "", "```", ran, "```", ""]
    lines += [f"Sweep folder: `{sweep.path}`. Jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".", ""]
    if counts.get("done", 0) < len(sweep.jobs):
        lines += ["**This sweep is incomplete**: only `done` jobs enter the tables.", ""]
    lines += ["## Jobs", "", "| job | status | stages | seconds | note |", "|---|---|---|---|---|"]
    for job in sweep.jobs:
        row = _job_row(job)
        stages = ", ".join(f"{k}: {v}" for k, v in row["stages"].items())
        lines.append(f"| {job.name} | {job.status} | {stages} | {row['seconds']} | {job.reason or ''} |")
    lines.append("")
    if not tables:
        lines += ["No finished job yet: no table.", ""]
        return "\n".join(lines)
    base = ", ".join(f"{k}={v}" for k, v in fixed.items()) or "(none)"
    lines += ["## Results", ""]
    shared = fixed_axes(sweep.done)
    if shared:
        lines += ["Same in every job (not an axis): " + ", ".join(f"`{k}={v}`" for k, v in shared.items()) + ".", ""]
    lines += [
              f"Accuracy in points (×100). Baseline: `{base}` (each arm is compared with the baseline arm that "
              "shares its other axis values). Δ rows: arm − baseline with the "
              f"{100 * cfg.confidence:.0f} % paired-bootstrap interval over items ({cfg.resamples} resamples, "
              f"seed {cfg.seed}; items resampled jointly for both arms, seeds averaged per item first); "
              f"{NOISE_MARK} = the interval contains 0 (within noise). Δ without an interval: no per-item "
              "predictions were found. Seeds per arm: " + ", ".join(f"{a.label}: {len(a.jobs)}" for a in arms) + ".",
              ""]
    for t in tables:
        lines += [f"### Protocol: {t.protocol}", "", to_markdown(t), ""]
    lines += ["Also as `table.csv`, `table.tex` (booktabs) and `deltas.csv` (one tidy row per cell).", ""]
    lines += _seed_accuracy_lines(arms)
    lines += _constant_answer_lines(arms)
    lines += _alignment_lines(arms)
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots] + [""]
    if paper:
        lines += ["## Paper vs. this run", "", "Also as `paper.csv` (one row per backbone, paper row and column).",
                  ""] + [v + "\n" for v in paper.values()]
    if rejected:
        lines += [f"## Set-aside predictions ({len(rejected)})", ""]
        lines += [f"- {r['file']}:{r['line']}: {r['reason']}" for r in rejected[:50]]
        if len(rejected) > 50:
            lines.append(f"- … {len(rejected) - 50} more in summary.json")
        lines.append("")
    return "\n".join(lines)


def _dig(metrics: Any, *keys: str) -> Any:
    for k in keys:
        metrics = metrics.get(k) if isinstance(metrics, dict) else None
    return metrics


def _per_seed(arm: Arm, *keys: str) -> dict[Any, float]:
    """``{seed: value}`` of one metric over the arm's finished jobs (jobs without it are left out)."""
    out = {}
    for j in arm.jobs:
        v = _dig(j.metrics, *keys)
        if v is not None:
            out[j.seed] = float(v)
    return out


def _seed_cell(arm: Arm, keys: tuple[str, ...], fmt: Callable[[float], str], higher_is_better: bool) -> str:
    """Every seed's value of one metric in seed order, and beside a non-baseline arm in how many seeds it beats
    its baseline's job of the same seed (``above in k/n`` or ``lower in k/n``; ties do not count)."""
    mine = _per_seed(arm, *keys)
    text = ", ".join(fmt(v) for _, v in sorted(mine.items(), key=lambda kv: natural_key(kv[0])))
    if arm.baseline is not None:
        base = _per_seed(arm.baseline, *keys)
        common = [k for k in mine if k in base]
        if common:
            wins = sum((mine[k] > base[k]) if higher_is_better else (mine[k] < base[k]) for k in common)
            text += f" ({'above' if higher_is_better else 'lower'} in {wins}/{len(common)})"
    return text


def _seed_accuracy_lines(arms: list[Arm]) -> list[str]:
    """Overall accuracy of every seed per protocol, and in how many seeds an arm is above its baseline's job of
    the same seed: a seed mean can hide one seed going the other way. Empty with one seed per arm."""
    if not any(len(a.jobs) > 1 for a in arms):
        return []
    protocols = protocols_of(arms)
    lines = ["## Per seed", "", "Overall accuracy in points of each seed, in seed order; `above in k/n`: seeds where "
             "the arm is above its baseline's job of the same seed (ties count as not above).", "",
             "| Arm | " + " | ".join(protocols) + " |", "|---" * (len(protocols) + 1) + "|"]
    for a in arms:
        cells = [_seed_cell(a, ("overall", p), lambda v: f"{100 * v:.1f}", higher_is_better=True) or "–"
                 for p in protocols]
        lines.append(f"| {a.label} | " + " | ".join(cells) + " |")
    return lines + [""]


def _constant_answer_lines(arms: list[Arm]) -> list[str]:
    """Jobs that give one answer to (nearly) every item of a protocol: there the model does not read the
    question, and its accuracy is only how often that answer is right."""
    rows = [c for a in arms for c in a.constant]
    if not rows:
        return []
    lines = ["## Constant answers", "", f"A job that gives one answer to ≥ {100 * CONSTANT_SHARE:.0f} % of a protocol's "
             "items is not reading the "
             "question there (the reference answers vary): its accuracy under that protocol is the share of items "
             "whose answer happens to be that one, not a measure of understanding.", "",
             "| job | protocol | answer | given to | right for |", "|---|---|---|---|---|"]
    lines += [f"| {c['job']} | {c['protocol']} | `{c['answer']}` | {c['count']}/{c['n']} items | {c['right']} |"
              for c in rows]
    return lines + [""]


def _alignment_lines(arms: list[Arm]) -> list[str]:
    rows = [(a, _dig(a.metrics, "mir", "mean"), _dig(a.metrics, "mir", "log10_sum"), _dig(a.metrics, "paired_distance"))
            for a in arms]
    if all(r[1] is None and r[3] is None for r in rows):
        return []
    several = any(len(a.jobs) > 1 for a in arms)
    lines = ["## Alignment", "", "MIR: modality integration rate (lower = better fused; mean over layers as in the "
             "paper, and log10 of the sum as in the MIR reference code). Paired distance: mean cosine distance "
             "between a text prompt and its rendered twin."
             + (" Per seed: the value of each seed in seed order; `lower in k/n`: seeds where the arm is below "
                "its baseline's job of the same seed." if several else ""), ""]
    head = "| Arm | MIR (mean) | MIR (log10 sum) | paired distance | Δ MIR | Δ distance |"
    if several:
        head += " MIR per seed | distance per seed |"
    lines += [head, "|---" * (head.count("|") - 1) + "|"]
    values = {a.label: (m, s, d) for a, m, s, d in rows}

    def f(v):
        return "–" if v is None else f"{float(v):.4g}"

    for a, m, s, d in rows:
        dm = dd = None
        if a.baseline is not None:
            bm, _, bd = values[a.baseline.label]
            dm = None if m is None or bm is None else float(m) - float(bm)
            dd = None if d is None or bd is None else float(d) - float(bd)
        line = (f"| {a.label} | {f(m)} | {f(s)} | {f(d)} | {'' if dm is None else f'{dm:+.4g}'} | "
                f"{'' if dd is None else f'{dd:+.4g}'} |")
        if several:
            line += (f" {_seed_cell(a, ('mir', 'mean'), lambda v: f'{v:.3g}', higher_is_better=False)} | "
                     f"{_seed_cell(a, ('paired_distance',), lambda v: f'{v:.3g}', higher_is_better=False)} |")
        lines.append(line)
    lines.append("")
    readers = {json.dumps(_dig(j.metrics, "reading", "transcription"), sort_keys=True): j
               for a in arms for j in a.jobs if _dig(j.metrics, "reading", "transcription")}
    for text, j in readers.items():
        t = json.loads(text)
        lines += [f"Reading stage (the tiny model's reader every arm started from{'' if len(readers) == 1 else ', job ' + j.name}): "
                  f"transcribes {100 * t['questions']['exact']:.0f} % of {t['n']} held-out rendered questions exactly "
                  f"(similarity {t['questions']['similarity']:.2f}) and {100 * t['random']['exact']:.0f} % of random "
                  f"strings (similarity {t['random']['similarity']:.2f}).", ""]
    return lines
