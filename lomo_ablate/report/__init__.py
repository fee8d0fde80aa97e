"""Results people can read: W&B logging per job, and per-sweep tables, confidence intervals and plots.

The report reads files only (result.json, predictions.jsonl); it needs no GPU, no model and no W&B.

- :func:`report_sweep` (``python -m lomo_ablate.report <sweep folder>``): ``results/<sweep>/`` with the
  paper-layout tables (Markdown, CSV, LaTeX), paired-bootstrap intervals on every Δ, plots, and the paper's
  numbers beside this run's.
- :class:`lomo_ablate.report.wandb_log.RunLogger`: one W&B run per job (offline by default), mirrored to
  local files.
"""
from lomo_ablate.report.sweep_report import ReportConfig, report_sweep

__all__ = ["ReportConfig", "report_sweep"]
