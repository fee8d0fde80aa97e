"""``python -m lomo_ablate.report <sweep folder> [--results-dir results] [--baseline method=standard_sft]
[--name NAME] [--resamples 1000] [--seed 0] [--no-plots]``"""
from __future__ import annotations

import argparse
import sys

from lomo_ablate.report.sweep_report import ReportConfig, report_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lomo_ablate.report",
                                     description="Tables with paired-bootstrap Δ intervals, plots and paper "
                                                 "numbers for a sweep folder (<sweep>/<job>/result.json).")
    parser.add_argument("sweep_dir", help="the sweep folder, e.g. multirun/position")
    parser.add_argument("--results-dir", default="results", help="where <name>/ is written (default: results)")
    parser.add_argument("--baseline", default=None,
                        help="axis=value[,axis=value] of the baseline arm (default: method=standard_sft if "
                             "present, else the first arm)")
    parser.add_argument("--name", default=None, help="report folder name (default: the sweep's name)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level (default: 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    cfg = ReportConfig(resamples=args.resamples, confidence=args.confidence, seed=args.seed, plots=not args.no_plots)
    try:
        out = report_sweep(args.sweep_dir, args.results_dir, baseline=args.baseline, name=args.name, config=cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {out}/README.md")
    print((out / "table.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
