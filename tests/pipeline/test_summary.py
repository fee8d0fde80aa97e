"""The first run as a newcomer sees it: ``python -m lomo_ablate`` on the embedded default (only the budget shrunk)
ends with a summary on the screen and in the job's log — accuracy under all four protocols, the carrier drop,
paired distance and MIR with what lower means, what was set aside, and the paths of result.json, the curated
gallery and the plots, which exist. Real stages end to end (built-in data, Pillow curation, a tiny Qwen3.5 VLM
trained on CPU, the probe evaluation); nothing is mocked."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lomo_ablate import contracts as C
from lomo_ablate.report.summary import PROTOCOL_SHARE, job_summary, sweep_summary

REPO = Path(__file__).resolve().parents[2]
# the embedded default with a smaller budget; every protocol, MIR, the paired distance and the gallery stay on
SMALL = ["data.text_size=48", "data.multimodal_size=24", "trainer.max_steps=4", "trainer.per_device_batch_size=8",
         "trainer.save_every=0", "model.tiny.reading.steps=4", "model.tiny.reading.samples=64",
         "model.tiny.reading.batch_size=8", "model.tiny.reading.eval_n=4", "eval.benchmarks.0.n=14",
         "eval.paired.n=14", "eval.mir.n=14", "logger=none"]


def lomo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, WANDB_MODE="offline", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="2",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    return subprocess.run([sys.executable, "-m", "lomo_ablate", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=900)


@pytest.mark.slow
def test_the_embedded_default_ends_with_a_summary_on_screen_and_in_its_log(tmp_path):
    r = lomo(tmp_path, *SMALL)
    assert r.returncode == 0, r.stderr[-4000:]
    screen = r.stdout + r.stderr
    # the table: one row per protocol with the share of the question shown as pixels and an accuracy
    for protocol, share in PROTOCOL_SHARE.items():
        assert re.search(rf"^\s+{re.escape(protocol)}\s+{re.escape(share)}\s+\d+\.\d$", screen, re.M), \
            (protocol, screen[-3000:])
    assert "carrier drop (standard - rendered):" in screen and "lower is better" in screen
    assert re.search(r"paired distance \d\.\d{3}, MIR \d+\.\d{3}", screen)
    assert re.search(r"curation: 72 records read, \d+ written", screen)  # 48 text + 24 multimodal
    assert re.search(r"training: \d+ usable records, \d+ skipped", screen)
    # the paths it names exist: result.json, the curated gallery (on by default) and the plots
    files = dict(re.findall(r"^\s+(result|curated gallery|protocol plot|training curve|log)\s+(/\S+)$", screen, re.M))
    assert set(files) >= {"result", "curated gallery", "protocol plot", "training curve", "log"}, screen[-3000:]
    for path in files.values():
        assert Path(path).is_file(), path
    assert Path(files["curated gallery"]).name == C.GALLERY and Path(files["protocol plot"]).name == C.PROTOCOLS_PLOT
    # the same text is in the job's log, and it agrees with result.json
    log = Path(files["log"]).read_text()
    assert "carrier drop" in log and all(p in log for p in PROTOCOL_SHARE)
    result = json.loads(Path(files["result"]).read_text())
    std = 100 * result["metrics"]["overall"]["standard"]
    assert re.search(rf"^\s+standard\s+0 \(text\)\s+{std:.1f}$", screen, re.M)
    assert "python -m lomo_ablate -m sweep=carrier_quick" in screen  # what to run next


def _sweep_fixture(tmp: Path) -> Path:
    """A report folder's summary.json as report_sweep writes it (two arms, one baseline)."""
    cells = []
    for arm, base in (("method=standard_sft", None), ("method=lomo", "method=standard_sft")):
        for p, v in (("standard", 0.8), ("rendered_0.33", 0.1), ("rendered_0.67", 0.05), ("rendered", 0.05)):
            lomo_arm = base is not None
            cells.append({"protocol": p, "arm": arm, "column_kind": "overall", "column": "overall",
                          "value": v + (0.1 if lomo_arm and p != "standard" else 0), "baseline": base,
                          "delta": (0.1 if p != "standard" else 0.0) if lomo_arm else None,
                          "ci_lo": (0.05 if p != "standard" else -0.02) if lomo_arm else None,
                          "ci_hi": 0.15 if lomo_arm else None, "within_noise": p == "standard" if lomo_arm else None})
    summary = {"sweep": "carrier_quick", "status": {"done": 6}, "baseline": {"method": "standard_sft"},
               "config": {"confidence": 0.95},
               "arms": [{"label": "method=standard_sft", "seeds": [0, 1, 2],
                         "metrics": {"paired_distance": 1.04, "mir": {"mean": 3.0}}, "constant_answers": []},
                        {"label": "method=lomo", "seeds": [0, 1, 2],
                         "metrics": {"paired_distance": 0.88, "mir": {"mean": 3.3}}, "constant_answers": []}],
               "cells": cells, "plots": ["rendered_fraction.png"]}
    out = tmp / "results" / "carrier_quick"
    out.mkdir(parents=True)
    (out / C.REPORT_SUMMARY).write_text(json.dumps(summary))
    return out


def test_sweep_summary_prints_each_arm_with_its_delta_and_interval(tmp_path):
    text = sweep_summary(_sweep_fixture(tmp_path))
    lines = text.splitlines()
    head = next(line for line in lines if line.strip().startswith("arm ") and "rendered_0.33" in line)
    assert head.split() == ["arm", "standard", "rendered_0.33", "rendered_0.67", "rendered"]
    lomo_row = next(line for line in lines if line.strip().startswith("method=lomo (3 seeds)"))
    assert lomo_row.split()[-4:] == ["80.0", "20.0", "15.0", "15.0"]
    delta = lines[lines.index(lomo_row) + 1]
    assert "+10.0 [+5.0, +15.0]*" in delta and "+0.0 [-2.0, +15.0]" in delta  # * only where 0 is excluded
    assert "Δ vs method=standard_sft" in text and "95 % paired-bootstrap interval" in text
    assert "lower is better" in text and "0.880" in text
    assert f"report: {tmp_path / 'results' / 'carrier_quick' / 'README.md'}" in text


def test_job_summary_of_a_failed_lookup_names_what_is_missing(tmp_path):
    """A result.json without metrics (e.g. a job that failed in training) still gives a readable summary."""
    (tmp_path / C.RESULT).write_text("{}")
    text = job_summary({"job": "j", "status": "failed", "stages": {"curate": {"status": "done"}}}, tmp_path)
    assert text.splitlines()[0].startswith("job j failed") and "accuracy" not in text
    assert f"result  {tmp_path / C.RESULT}" in text


def test_a_sweep_ends_with_the_reports_table_on_screen(tmp_path, capsys):
    """report_sweep on a sweep folder written to the job-folder contract, then what the end-of-sweep callback
    prints: each arm's overall accuracy per protocol and, under LoMo, its Δ with the bootstrap interval."""
    sys.path.insert(0, str(REPO / "tests" / "report"))
    from report_fixtures import make_job

    from lomo_ablate.pipeline.callbacks import print_sweep_summary
    from lomo_ablate.report import report_sweep

    sweep = tmp_path / "multirun" / "carrier_quick"
    for seed in (0, 1, 2):
        make_job(sweep, "carrier_quick", {"method": "standard_sft", "seed": seed},
                 {"standard": 0.8, "rendered_0.33": 0.1, "rendered": 0.05}, seed=seed, jitter=0.05, distance=1.0)
        make_job(sweep, "carrier_quick", {"method": "lomo_no_distortion", "seed": seed},
                 {"standard": 0.7, "rendered_0.33": 0.4, "rendered": 0.05}, seed=seed, jitter=0.05, distance=0.8)
    print_sweep_summary(report_sweep(sweep, tmp_path / "results", config={"plots": False}))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("sweep carrier_quick: 6 done")
    head = next(line for line in lines if line.strip().startswith("arm "))
    assert head.split() == ["arm", "standard", "rendered_0.33", "rendered"]
    row = next(line for line in lines if line.strip().startswith("method=lomo_no_distortion (3 seeds)"))
    delta = lines[lines.index(row) + 1].split("Δ", 1)[1]
    # LoMo helps at 1/3 pixels (interval excludes 0: *) and costs text accuracy (also excluding 0)
    cells = re.findall(r"([+-]\d+\.\d) \[([+-]\d+\.\d), ([+-]\d+\.\d)\](\*?)", delta)
    assert len(cells) == 3
    (std, lo_s, hi_s, mark_s), (third, lo_t, hi_t, mark_t), _ = cells
    assert float(third) > 20 and float(lo_t) > 0 and mark_t == "*"
    assert float(std) < 0 and float(hi_s) < 0 and mark_s == "*"
    assert "0.800" in out and "lower is better" in out
    assert str(tmp_path / "results" / "carrier_quick" / "README.md") in out
