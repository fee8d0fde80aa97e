"""report_sweep / `python -m lomo_ablate.report` on synthetic sweep folders built to the contracts in
docs/DESIGN.md (result.json per job, predictions.jsonl in the evaluate store folder)."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lomo_ablate.report import ReportConfig, report_sweep
from lomo_ablate.report.__main__ import main as cli_main
from lomo_ablate.report.load import load_sweep
from lomo_ablate.report.plots import seed_band
from lomo_ablate.report.tables import build_arms
from report_fixtures import make_job, read_item_scores

FAST = ReportConfig(resamples=300)


def tidy(out: Path) -> list[dict]:
    with (out / "deltas.csv").open() as f:
        return list(csv.DictReader(f))


def cell(rows, protocol, arm, column):
    (row,) = [r for r in rows if r["protocol"] == protocol and r["arm"] == arm and r["column"] == column]
    return row


@pytest.fixture
def method_sweep(tmp_path):
    """standard_sft vs lomo (clearly better) vs full_text (same as the baseline up to one item), 2 seeds."""
    sd = tmp_path / "multirun" / "method"
    for s in (0, 1):
        make_job(sd, "method", {"method": "standard_sft", "seed": s}, 0.45, seed=s, jitter=0.03)
        make_job(sd, "method", {"method": "lomo", "seed": s}, 0.7, seed=s, jitter=0.03, mir_mean=0.8)
        make_job(sd, "method", {"method": "full_text", "seed": s}, 0.455, seed=s, jitter=0.03)
    return sd


def test_full_sweep_table_has_paper_layout_and_deltas_match_the_predictions(method_sweep, tmp_path):
    out = report_sweep(method_sweep, tmp_path / "results", config=FAST)
    assert out == tmp_path / "results" / "method"
    for name in ("README.md", "table.md", "table.csv", "table.tex", "deltas.csv", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "table.md").read_text()
    # both protocols; the baseline row first; a Δ row under each other arm
    assert "### Protocol: standard" in md and "### Protocol: rendered" in md
    standard = md.split("### Protocol: rendered")[0]
    rows = [line.split("|")[1].strip() for line in standard.splitlines() if line.startswith("| ")][1:]
    assert rows[0] == "method=standard_sft"
    assert rows.count("*Δ vs method=standard_sft*") == 2
    # columns grouped: the mixed probe benchmark, math's benchmark, the probe's categories, then Avg
    header = standard.splitlines()[2]
    assert header.split("|")[2:-1] == [" probe ", " math: mathq ", " arith ", " count ", " read_word ", " Avg "]

    # Δ and its interval, recomputed here from the raw predictions: seeds averaged per item, then paired
    def arm_items(method, protocol):
        runs = [read_item_scores(method_sweep / f"method={method},seed={s}", protocol) for s in (0, 1)]
        return {k: np.mean([r[k] for r in runs]) for k in runs[0]}

    rows = tidy(out)
    for protocol in ("standard", "rendered"):
        base, lomo = arm_items("standard_sft", protocol), arm_items("lomo", protocol)
        # overall is evaluate's macro average over benchmarks, so its Δ is too
        expected = np.mean([np.mean([lomo[k] - base[k] for k in base if k[0] == b]) for b in ("probe", "mathq")])
        assert expected != pytest.approx(np.mean([lomo[k] - base[k] for k in base]))  # the fixture tells them apart
        c = cell(rows, protocol, "method=lomo", "overall")
        assert float(c["delta"]) == pytest.approx(expected)
        assert float(c["ci_lo"]) <= expected <= float(c["ci_hi"])
        assert c["within_noise"] == "False" and c["n_items"] == str(len(base)) and c["n_seeds"] == "2"
        # the table's overall value is the metrics' value averaged over seeds
        metrics = [json.loads((method_sweep / f"method=lomo,seed={s}" / "result.json").read_text())["metrics"]
                   for s in (0, 1)]
        assert float(c["value"]) == pytest.approx(np.mean([m["overall"][protocol] for m in metrics]))
        # so every Δ cell is exactly the difference of the two values printed above it
        for r in rows:
            if r["protocol"] == protocol and r["arm"] == "method=lomo":
                base_value = cell(rows, protocol, "method=standard_sft", r["column"])["value"]
                assert float(r["delta"]) == pytest.approx(float(r["value"]) - float(base_value)), r["column"]
    # a Δ within noise is marked
    assert cell(rows, "standard", "method=full_text", "overall")["within_noise"] == "True"
    assert "†" in md.split("method=full_text")[1].splitlines()[1]


def test_half_finished_sweep_lists_every_job_with_its_status_and_does_not_crash(tmp_path):
    sd = tmp_path / "sweep"
    make_job(sd, "position", {"position": "middle"}, 0.6)
    make_job(sd, "position", {"position": "front"}, 0.5)
    make_job(sd, "position", {"position": "back"}, 0.5, status="failed")
    make_job(sd, "position", {"position": "random"}, 0.5, status="running")
    (sd / "position=full").mkdir()  # launched, nothing written yet
    (sd / "position=end").mkdir()
    (sd / "position=end" / "result.json").write_text('{"status": "done",\n "metrics": ')  # truncated write
    (sd / "grid.json").write_text(json.dumps([{"job": n, "overrides": [n]} for n in  # the sweeper's plan
                                              ("position=middle", "position=front", "position=suffix")]))
    out = report_sweep(sd, tmp_path / "results", baseline="position=middle", config=FAST)
    readme = (out / "README.md").read_text()
    assert "incomplete" in readme
    status = {j["folder"]: (j["status"], j["reason"]) for j in json.loads((out / "summary.json").read_text())["jobs"]}
    assert status["position=middle"][0] == "done" and status["position=front"][0] == "done"
    assert status["position=back"] == ("failed", "train: OutOfMemoryError: CUDA out of memory")
    assert status["position=random"][0] == "running"
    assert status["position=full"] == ("missing", "no result.json yet")
    assert status["position=suffix"] == ("missing", "not started (planned in grid.json)")
    assert status["position=end"][0] == "invalid" and "result.json: line 2" in status["position=end"][1]
    jobs_section = readme.split("## Jobs")[1].split("## Results")[0]
    for folder, (st, _) in status.items():
        assert f"| {folder} | {st} |" in jobs_section
    md = (out / "table.md").read_text()
    assert "position=front" in md and "position=back" not in md and "position=random" not in md


def test_sweep_with_no_finished_job_still_writes_a_status_readme(tmp_path):
    sd = tmp_path / "sweep"
    make_job(sd, "mix", {"mix": "1:1"}, 0.5, status="running")
    out = report_sweep(sd, tmp_path / "results")
    assert "No finished job yet" in (out / "README.md").read_text()


def test_scale_by_method_sweep_compares_methods_at_each_scale_and_draws_the_scale_figure(tmp_path):
    sd = tmp_path / "multirun" / "scale"
    for i, scale in enumerate(["small", "tiny", "medium"]):
        for method, acc in (("standard_sft", 0.3), ("lomo", 0.5)):
            make_job(sd, "scale", {"scale": scale, "method": method},
                     {"standard": acc + 0.1 * i, "rendered_0.5": acc, "rendered": acc - 0.1},
                     mir_mean=1.0 - 0.1 * i, distance=0.3 - 0.05 * i)
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    rows = tidy(out)
    for scale in ("tiny", "small", "medium"):
        c = cell(rows, "standard", f"scale={scale}, method=lomo", "overall")
        assert c["baseline"] == f"scale={scale}, method=standard_sft"
    md = (out / "table.md").read_text()
    order = [s for s in ("scale=tiny", "scale=small", "scale=medium") if s in md]
    assert sorted(order, key=md.index) == ["scale=tiny", "scale=small", "scale=medium"]  # size order
    assert "### Protocol: rendered_0.5" in md
    for png in ("scale.png", "mir_per_layer.png", "carrier_bins.png", "rendered_fraction.png"):
        with Image.open(out / "plots" / png) as im:
            assert im.format == "PNG" and im.width > 400 and im.height > 200
        assert f"plots/{png}" in (out / "README.md").read_text()


def test_malformed_prediction_lines_are_set_aside_with_file_and_line(tmp_path):
    sd = tmp_path / "sweep"
    make_job(sd, "method", {"method": "standard_sft"}, 0.5)
    job = make_job(sd, "method", {"method": "lomo"}, 0.6)
    pred = Path(json.loads((job / "result.json").read_text())["stages"]["evaluate"]["path"]) / "predictions.jsonl"
    with pred.open("a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"benchmark": "probe", "protocol": "standard", "item_id": "z", "score": 7}) + "\n")
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    rejected = json.loads((out / "summary.json").read_text())["rejected_predictions"]
    lines = sorted(r["line"] for r in rejected)
    n = len(pred.read_text().splitlines())
    assert lines == [n - 1, n] and all(r["file"] == str(pred) for r in rejected)
    assert "outside [0, 1]" in (out / "README.md").read_text()


def test_jobs_without_predictions_get_a_delta_without_interval(tmp_path):
    sd = tmp_path / "sweep"
    for method, acc in (("standard_sft", 0.4), ("lomo", 0.6)):
        job = make_job(sd, "method", {"method": method}, acc)
        shutil.rmtree(json.loads((job / "result.json").read_text())["stages"]["evaluate"]["path"])
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    c = cell(tidy(out), "standard", "method=lomo", "overall")
    assert float(c["delta"]) == pytest.approx(float(c["value"]) - float(cell(tidy(out), "standard", "method=standard_sft", "overall")["value"]))
    assert c["ci_lo"] == "" and c["within_noise"] == ""


def test_cli_prints_the_table_and_rejects_an_unknown_baseline_by_name(method_sweep, tmp_path, capsys):
    (method_sweep / "multirun.yaml").write_text(  # what Hydra leaves in a multirun folder
        "hydra:\n  overrides:\n    task:\n    - method=standard_sft,lomo,full_text\n    - seed=0,1\n")
    env_cmd = [sys.executable, "-m", "lomo_ablate.report", str(method_sweep), "--results-dir",
               str(tmp_path / "r"), "--resamples", "200", "--no-plots", "--name", "main"]
    done = subprocess.run(env_cmd, capture_output=True, text=True, check=True)
    assert "method=lomo" in done.stdout and (tmp_path / "r" / "main" / "README.md").exists()
    readme = (tmp_path / "r" / "main" / "README.md").read_text()
    assert "--name main" in readme and str(method_sweep) in readme  # the command that made it
    assert "python -m lomo_ablate -m method=standard_sft,lomo,full_text seed=0,1" in readme  # and the sweep
    # errors: exit status 2 and a message naming what is wrong (in-process: same entry point, no new Python)
    assert cli_main([str(tmp_path / "nope")]) == 2
    assert str(tmp_path / "nope") in capsys.readouterr().err
    assert cli_main(env_cmd[3:] + ["--baseline", "recipe=sft"]) == 2
    err = capsys.readouterr().err
    assert "recipe" in err and "method" in err
    assert cli_main(env_cmd[3:] + ["--baseline", "method=nope"]) == 2
    assert "method=standard_sft" in capsys.readouterr().err  # lists the values that exist


@pytest.mark.tex
def test_latex_table_compiles(method_sweep, tmp_path, in_ci):
    latex = shutil.which("latex")
    if latex is None:
        if in_ci:
            pytest.fail("latex not installed (scripts/install.sh --all)")
        pytest.skip("latex not installed")
    out = report_sweep(method_sweep, tmp_path / "results", config=ReportConfig(resamples=100, plots=False))
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\\usepackage[utf8]{inputenc}\\usepackage{booktabs}"
                   "\\usepackage[margin=1cm,landscape]{geometry}\\begin{document}"
                   + (out / "table.tex").read_text() + "\\end{document}\n")
    run = subprocess.run([latex, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.dvi").stat().st_size > 0


def test_report_config_rejects_unknown_keys_by_name():
    with pytest.raises(ValueError, match=r"resample.*allowed:.*resamples"):
        ReportConfig.from_dict({"resample": 10})


def test_overrides_shared_by_every_job_are_not_axes(tmp_path):
    """`python -m lomo_ablate -m method=standard_sft,lomo trainer.max_steps=2` records both overrides as
    axes of each job; rows are labelled by what varies, the rest is said once."""
    sd = tmp_path / "sweep"
    for method, acc in (("standard_sft", 0.4), ("lomo", 0.6)):
        make_job(sd, "adhoc", {"method": method, "trainer.max_steps": 2, "data.text_size": 40}, acc)
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    md = (out / "table.md").read_text()
    assert "| method=lomo |" in md and "max_steps" not in md
    readme = (out / "README.md").read_text()
    assert "Same in every job (not an axis): `trainer.max_steps=2`, `data.text_size=40`." in readme


def test_alignment_shows_every_seed_and_in_how_many_the_arm_is_below_its_baseline(tmp_path):
    """Seed-averaged MIR / distance can hide one seed going the other way: the README lists each seed and
    counts the seeds where LoMo's distance is below standard SFT's of the same seed. The reader every arm
    started from (tiny model) is stated once with its transcription accuracy."""
    sd = tmp_path / "sweep"
    base = {0: 1.0, 1: 1.2, 2: 1.1}
    lomo = {0: 1.05, 1: 0.9, 2: 0.8}  # seed 0 goes the other way
    reading = {"steps": 5, "transcription": {"n": 64, "questions": {"exact": 0.5, "similarity": 0.98},
                                             "random": {"exact": 0.02, "similarity": 0.6}}}
    for seed in (0, 1, 2):
        for method, dist in (("standard_sft", base[seed]), ("lomo", lomo[seed])):
            job = make_job(sd, "carrier", {"method": method, "seed": seed}, 0.5, seed=seed, distance=dist)
            res = json.loads((job / "result.json").read_text())
            res["metrics"]["reading"] = reading
            (job / "result.json").write_text(json.dumps(res))
    readme = (report_sweep(sd, tmp_path / "results", config=FAST) / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| method=lomo |") and "lower in" in line)
    assert "1.05, 0.9, 0.8 (lower in 2/3)" in row
    assert "| 0.9167 |" in row  # the seed mean
    assert readme.count("Reading stage") == 1 and "transcribes 50 % of 64 held-out rendered questions" in readme


def test_per_seed_accuracy_counts_the_seeds_where_an_arm_beats_its_baseline(tmp_path):
    """A mean over seeds can come from one lucky seed: the README lists every seed's overall accuracy per
    protocol and in how many seeds the arm is above the baseline's job of the same seed; summary.json keeps
    the per-seed values."""
    sd = tmp_path / "sweep"
    base = {0: 0.40, 1: 0.50, 2: 0.60}
    lomo = {0: 0.70, 1: 0.45, 2: 0.65}  # seed 1 goes the other way
    for seed in (0, 1, 2):
        make_job(sd, "carrier", {"method": "standard_sft", "seed": seed}, {"standard": base[seed]}, seed=seed)
        make_job(sd, "carrier", {"method": "lomo", "seed": seed}, {"standard": lomo[seed]}, seed=seed)
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    readme = (out / "README.md").read_text()
    section = readme.split("## Per seed")[1].split("##")[0]
    summary = json.loads((out / "summary.json").read_text())
    per_seed = {a["label"]: a["per_seed"] for a in summary["arms"]}
    got = {m: [per_seed[f"method={m}"][str(s)]["overall"]["standard"] for s in (0, 1, 2)]
           for m in ("standard_sft", "lomo")}
    lomo_row = next(line for line in section.splitlines() if line.startswith("| method=lomo |"))
    base_row = next(line for line in section.splitlines() if line.startswith("| method=standard_sft |"))
    assert ", ".join(f"{100 * v:.1f}" for v in got["lomo"]) in lomo_row
    assert ", ".join(f"{100 * v:.1f}" for v in got["standard_sft"]) in base_row and "above in" not in base_row
    wins = sum(a > b for a, b in zip(got["lomo"], got["standard_sft"]))
    assert wins == 2, got  # the fixture's accuracies are close to their targets
    assert f"(above in {wins}/3)" in lomo_row


def test_a_job_answering_one_constant_under_a_protocol_is_named_with_its_share(tmp_path):
    """Under the fully rendered protocol a tiny model can answer "5" to everything: its few percent are then
    the items whose answer is 5, not reading. The README names the job, protocol, answer and its share; a
    protocol whose predictions vary is not listed."""
    sd = tmp_path / "sweep"
    make_job(sd, "carrier", {"method": "standard_sft", "seed": 0}, {"standard": 0.6, "rendered": 0.1})
    job = make_job(sd, "carrier", {"method": "lomo", "seed": 0}, {"standard": 0.6, "rendered": 0.1})
    path = Path(json.loads((job / "result.json").read_text())["stages"]["evaluate"]["path"]) / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for i, r in enumerate(rows):
        r["answer"] = str(i % 10)  # reference answers vary
        if r["protocol"] == "rendered":
            r["prediction"] = "5"
            r["score"] = float(r["answer"] == "5")
        else:
            r["prediction"] = r["answer"] if r["score"] else "wrong"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    n = sum(r["protocol"] == "rendered" for r in rows)
    right = sum(r["protocol"] == "rendered" and r["answer"] == "5" for r in rows)
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    readme = (out / "README.md").read_text()
    section = readme.split("## Constant answers")[1].split("\n## ")[0]
    assert f"| method=lomo,seed=0 | rendered | `5` | {n}/{n} items | {right} |" in section
    assert "| standard |" not in section and "standard_sft" not in section  # varied predictions: not listed
    summary = json.loads((out / "summary.json").read_text())
    (lomo,) = [a for a in summary["arms"] if a["label"] == "method=lomo"]
    assert lomo["constant_answers"] == [{"job": "method=lomo,seed=0", "protocol": "rendered", "answer": "5",
                                         "count": n, "n": n, "right": right}]


def test_rendered_fraction_band_spans_the_seeds_lowest_and_highest_accuracy(tmp_path):
    """The rendered-fraction plot shades, per arm, the range its seeds cover at each fraction, so a reader sees
    whether the lines' gap is larger than the seed spread."""
    sd = tmp_path / "sweep"
    targets = {0: {"standard": 0.9, "rendered_0.5": 0.3, "rendered": 0.1},
               1: {"standard": 0.7, "rendered_0.5": 0.5, "rendered": 0.2}}
    for seed, acc in targets.items():
        make_job(sd, "carrier", {"method": "lomo", "seed": seed}, acc, seed=seed)
    (arm,) = build_arms(load_sweep(sd))
    got = {j.seed: j.metrics["overall"] for j in arm.jobs}
    band = seed_band(arm)
    assert [f for f, _, _ in band] == [0.0, 0.5, 1.0]
    for f, protocol in ((0.0, "standard"), (0.5, "rendered_0.5"), (1.0, "rendered")):
        lo, hi = next((lo, hi) for x, lo, hi in band if x == f)
        assert (lo, hi) == (min(got[0][protocol], got[1][protocol]), max(got[0][protocol], got[1][protocol]))
        assert lo < hi, protocol  # the two seeds differ at every fraction
    assert (report_sweep(sd, tmp_path / "results", config=FAST) / "plots" / "rendered_fraction.png").is_file()
