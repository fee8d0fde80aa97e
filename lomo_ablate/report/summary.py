"""What a person reads at the end of a job or a sweep: a short text summary, from the result files alone.

``job_summary(result, job_dir)`` turns a job's ``result.json`` (and the stage folders it names) into a few
lines: accuracy per protocol (the share of the question shown as pixels), the carrier drop, paired distance
and MIR with what lower means, what curation, training and evaluation set aside, constant answers, and the
paths of ``result.json``, the curated gallery and the plots. ``sweep_summary(report_dir)`` does the same for
a sweep's report (``results/<sweep>/summary.json``): overall accuracy per arm and protocol with the Δ against
the baseline and its paired-bootstrap interval, the alignment per arm, and where the report is.

The pipeline prints these (``lomo_ablate.pipeline.app``, ``lomo_ablate.pipeline.callbacks``) to the screen and
the job's log; ``python -m lomo_ablate.report.summary <job folder or report folder>`` prints one again.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from lomo_ablate import contracts as C
from lomo_ablate.report.load import load_predictions

#: Protocols in display order, with the share of the question shown as pixels.
PROTOCOL_SHARE = {"standard": "0 (text)", "rendered_0.33": "1/3", "rendered_0.67": "2/3", "rendered": "all"}
LOWER_MEANS = ("lower is better for both: paired distance = mean cosine distance between a question as text and "
               "as pixels; MIR = modality integration rate (image vs text hidden states, mean over layers)")
NEXT = ("next: `python -m lomo_ablate -m sweep=carrier_quick` compares standard SFT with LoMo (3 seeds, "
        "intervals); `python -m lomo_ablate --help` lists the axes and presets")


def _json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * float(v):5.1f}"


def _num(v: Any) -> str:
    return "–" if v is None else f"{float(v):.3f}"


def _order(protocols: Sequence[str]) -> list[str]:
    known = [p for p in PROTOCOL_SHARE if p in protocols]
    return known + sorted(p for p in protocols if p not in PROTOCOL_SHARE)


def _share(protocol: str) -> str:
    if protocol in PROTOCOL_SHARE:
        return PROTOCOL_SHARE[protocol]
    tail = protocol.rpartition("_")[2]
    return tail if tail.replace(".", "", 1).isdigit() else "?"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A fixed-width text table (readable in a terminal and in a log file)."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]


def _stage_dir(result: Mapping[str, Any], stage: str) -> Path | None:
    entry = (result.get("stages") or {}).get(stage) or {}
    return Path(entry["path"]) if entry.get("path") else None


def _paths(result: Mapping[str, Any], job_dir: Path) -> list[tuple[str, Path]]:
    """(what, path) of the files a person opens next, the ones that exist."""
    cur, read, tr, ev = (_stage_dir(result, s) for s in ("curate", "read", "train", "evaluate"))
    out = [("result", job_dir / C.RESULT)]
    for label, folder, name in (("curated gallery", cur, C.GALLERY), ("protocol plot", ev, C.PROTOCOLS_PLOT),
                                ("protocol examples", ev, C.EXAMPLES_PLOT), ("training curve", tr, C.TRAIN_CURVE),
                                ("predictions", ev, C.PREDICTIONS), ("curated data", cur, C.DATA),
                                ("reader check", read, C.READING)):
        if folder is not None and (folder / name).is_file():
            out.append((label, folder / name))
    if result.get("log"):
        out.append(("log", Path(result["log"])))
    return [(k, p) for k, p in out if p.exists()]


def _set_aside(result: Mapping[str, Any]) -> list[str]:
    """What curation, training and evaluation set aside, with the reasons (counts; files to look in)."""
    lines = []
    cur = _stage_dir(result, "curate")
    manifest = _json(cur / C.MANIFEST) if cur else None
    if isinstance(manifest, dict):
        counts = manifest.get("counts") or {}
        reasons = counts.get("rejected") or {}
        why = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()) if v) or "none"
        lines.append(f"curation: {counts.get('read', '?')} records read, {counts.get('written', '?')} written "
                     f"({counts.get('rewritten', 0)} rewritten by LoMo), {counts.get('rejected_total', 0)} rejected"
                     f" ({why}; {cur / C.REJECTED})")
    tr = _stage_dir(result, "train")
    skipped = _json(tr / "skipped_summary.json") if tr else None
    if isinstance(skipped, dict):
        lines.append(f"training: {skipped.get('usable', '?')} usable records, {skipped.get('skipped', 0)} skipped"
                     f" ({tr / 'skipped.jsonl'})")
    ev = (result.get("metrics") or {}).get("rejected")
    if isinstance(ev, dict):
        lines.append("evaluation: " + (", ".join(f"{b} {n} item(s) rejected" for b, n in ev.items())
                                       if any(ev.values()) else "no item rejected"))
    return lines


def _constant(result: Mapping[str, Any]) -> list[str]:
    """Protocols where the job gives one answer to nearly every item (its accuracy there is not reading)."""
    ev = _stage_dir(result, "evaluate")
    if ev is None or not (ev / C.PREDICTIONS).is_file():
        return []
    rows = load_predictions(ev / C.PREDICTIONS).constant_answers()
    return [f"constant answer under {c['protocol']}: `{c['answer']}` to {c['count']}/{c['n']} items (right for "
            f"{c['right']}): the model does not read the question there" for c in rows]


def job_summary(result: Mapping[str, Any], job_dir: str | Path) -> str:
    """The end-of-job text of a finished job (``result``: its result.json content)."""
    job_dir = Path(job_dir)
    metrics = result.get("metrics") or {}
    overall = metrics.get("overall") or {}
    stages = result.get("stages") or {}
    seconds = sum(float(s.get("seconds") or 0) for s in stages.values() if isinstance(s, dict))
    states = ", ".join(f"{k} {v.get('status')}" for k, v in stages.items() if isinstance(v, dict))
    lines = [f"job {result.get('job')} {result.get('status')} ({seconds:.0f} s; stages: {states})"]
    if result.get("axes"):
        lines.append("axes: " + ", ".join(f"{k}={v}" for k, v in result["axes"].items()))
    if overall:
        lines += ["", "accuracy (%) by how much of the question the model saw as pixels:"]
        lines += ["  " + s for s in _table(["protocol", "pixels", "accuracy"],
                                           [[p, _share(p), _pct(overall[p])] for p in _order(list(overall))])]
        std, ren = overall.get("standard"), overall.get("rendered")
        if std is not None and ren is not None:
            lines.append(f"carrier drop (standard - rendered): {100 * (float(std) - float(ren)):.1f} points")
    mir = metrics.get("mir") or {}
    if metrics.get("paired_distance") is not None or mir:
        lines.append(f"paired distance {_num(metrics.get('paired_distance'))}, MIR {_num(mir.get('mean'))} "
                     f"(log10 sum {_num(mir.get('log10_sum'))})")
        lines.append("  " + LOWER_MEANS)
    reading = metrics.get("reading")
    if isinstance(reading, dict) and reading.get("transcription"):
        from lomo_ablate.data.reading import transcription_score  # noqa: PLC0415 (no torch: plain functions)

        read_dir = _stage_dir(result, "read")
        shipped = " (shipped reader)" if read_dir and (read_dir / "shipped.json").is_file() else ""
        lines.append(f"reader{shipped}: transcribes {transcription_score(reading)}")
    lines += _constant(result)
    aside = _set_aside(result)
    if aside:
        lines += ["", "set aside:"] + ["  " + a for a in aside]
    paths = _paths(result, job_dir)
    if paths:
        width = max(len(k) for k, _ in paths)
        lines += ["", "files:"] + [f"  {k:<{width}}  {p}" for k, p in paths]
    if result.get("sweep") in (None, "adhoc"):
        lines += ["", NEXT]
    return "\n".join(lines)


def sweep_summary(report_dir: str | Path) -> str:
    """The end-of-sweep text from a report folder's summary.json (``report_sweep``'s output)."""
    report_dir = Path(report_dir)
    s = _json(report_dir / C.REPORT_SUMMARY)
    if not isinstance(s, dict):
        return f"no report summary in {report_dir}"
    counts = ", ".join(f"{n} {k}" for k, n in (s.get("status") or {}).items())
    lines = [f"sweep {s.get('sweep')}: {counts}"]
    cells = [c for c in s.get("cells") or [] if c.get("column_kind") == "overall"]
    protocols = _order(sorted({c["protocol"] for c in cells}))
    arms = [a["label"] for a in s.get("arms") or []]
    by = {(c["arm"], c["protocol"]): c for c in cells}
    if cells:
        conf = 100 * float((s.get("config") or {}).get("confidence", 0.95))
        lines += ["", f"overall accuracy (%) per protocol (pixels: {', '.join(_share(p) for p in protocols)}); "
                      f"Δ vs {', '.join(f'{k}={v}' for k, v in (s.get('baseline') or {}).items()) or 'the baseline'}"
                      f" with its {conf:.0f} % paired-bootstrap interval (* = interval excludes 0):"]
        rows = []
        for a in arms:
            row = [a + f" ({len((next(x for x in s['arms'] if x['label'] == a)).get('seeds') or [])} seeds)"]
            delta_row, has_delta = ["  Δ"], False
            for p in protocols:
                c = by.get((a, p)) or {}
                row.append(_pct(c.get("value")).strip())
                if c.get("delta") is not None:
                    has_delta = True
                    d = f"{100 * c['delta']:+.1f}"
                    if c.get("ci_lo") is not None:
                        d += f" [{100 * c['ci_lo']:+.1f}, {100 * c['ci_hi']:+.1f}]" + ("" if c.get("within_noise")
                                                                                    else "*")
                    delta_row.append(d)
                else:
                    delta_row.append("")
            rows.append(row)
            if has_delta:
                rows.append(delta_row)
        lines += ["  " + x for x in _table(["arm", *protocols], rows)]
    align = [(a["label"], (a.get("metrics") or {}).get("paired_distance"), ((a.get("metrics") or {}).get("mir")
                                                                             or {}).get("mean"))
             for a in s.get("arms") or []]
    if any(d is not None or m is not None for _, d, m in align):
        lines += ["", "alignment (seed means):"]
        lines += ["  " + x for x in _table(["arm", "paired distance", "MIR"], [[a, _num(d), _num(m)]
                                                                              for a, d, m in align])]
        lines.append("  " + LOWER_MEANS)
    constant = sum(len(a.get("constant_answers") or []) for a in s.get("arms") or [])
    if constant:
        lines.append(f"constant answers: {constant} (job, protocol) pair(s) give one answer to nearly every item "
                     "(see the README's 'Constant answers')")
    lines += ["", f"report: {report_dir / 'README.md'}"]
    plots = [report_dir / "plots" / p for p in s.get("plots") or []]
    if plots:
        lines.append("plots:  " + ", ".join(str(p) for p in plots))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lomo_ablate.report.summary FOLDER``: a job folder (result.json) or a report folder."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m lomo_ablate.report.summary <job folder | report folder>", file=sys.stderr)
        return 2
    folder = Path(args[0])
    if (folder / C.REPORT_SUMMARY).is_file() and not (folder / C.RESULT).is_file():
        print(sweep_summary(folder))
        return 0
    result = C.load_result(folder)
    if result is None:
        print(f"{folder}: no readable {C.RESULT} or {C.REPORT_SUMMARY}", file=sys.stderr)
        return 1
    print(job_summary(result, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
