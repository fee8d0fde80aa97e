"""Results people can read: W&B logging per job, and per-sweep tables, confidence intervals and plots.

The report reads files only (result.json, predictions.jsonl); it needs no GPU, no model and no W&B.
"""
