"""The end of a multirun (pipeline/callbacks.py): every job's result.json gathered into the sweep's
summary.json; nothing gathered when the launcher submitted and exited (the jobs have not run yet)."""
from __future__ import annotations

import json

from omegaconf import OmegaConf

from lomo_ablate.contracts import SUMMARY, save_result
from lomo_ablate.pipeline.callbacks import ReportCallback, gather


def test_gather_summarises_every_job_and_names_an_unreadable_result(tmp_path):
    save_result(tmp_path / "seed=1", {"job": "seed=1", "status": "done", "axes": {"seed": 1},
                                      "metrics": {"overall": {"standard": 0.5}}})
    save_result(tmp_path / "seed=2", {"job": "seed=2", "status": "failed", "axes": {"seed": 2}})
    (tmp_path / "seed=3").mkdir()
    (tmp_path / "seed=3" / "result.json").write_text('{"status": "do')  # half-written
    rows = gather(tmp_path)
    assert [(r["job"], r["status"]) for r in rows] == [("seed=1", "done"), ("seed=2", "failed"),
                                                      ("seed=3", "unreadable")]
    assert rows[0]["overall"] == {"standard": 0.5} and "seed=3" in rows[2]["error"]
    assert json.loads((tmp_path / SUMMARY).read_text()) == rows


def test_submit_and_exit_gathers_nothing(tmp_path, capsys):
    save_result(tmp_path / "seed=1", {"job": "seed=1", "status": "running"})
    cfg = OmegaConf.create({"dry_run": False, "results_dir": str(tmp_path / "results"),
                            "cluster": {"kind": "slurm", "wait": False},
                            "hydra": {"sweep": {"dir": str(tmp_path)}, "launcher": {"wait": False}}})
    ReportCallback().on_multirun_end(config=cfg)
    assert "collect" in capsys.readouterr().out and not (tmp_path / SUMMARY).exists()
