"""The paper's published numbers (report/paper_numbers.json) and the report's paper columns, on sweep folders
written to the job and evaluation contracts (result.json per job, predictions.jsonl in the store)."""
import csv
import json
from pathlib import Path

import pytest
from shared_paths import shared_dir

from lomo_ablate.report import ReportConfig, report_sweep
from lomo_ablate.report.paper import PAPER_NUMBERS, load_paper_numbers, paper_tables_for
from report_fixtures import metrics_from

FAST = ReportConfig(resamples=200, plots=False)
PAPER = load_paper_numbers()
SHARED_TABLES = shared_dir() / "paper" / "lomo_tables.json"
OUR_NAME = {col: spec["names"][0] for col, spec in PAPER["benchmarks"].items()}


def write_job(sweep_dir: Path, axes: dict, model_path: str, per_bench: dict[str, float], *, protocol="standard",
              n=30, seed=0) -> None:
    """One job whose benchmark ``b`` scores exactly ``per_bench[b]`` (n items, the first k right)."""
    name = ",".join(f"{k}={v}" for k, v in axes.items()) + f",seed={seed}"
    job = sweep_dir / name
    ev = sweep_dir.parent / "store" / "evaluate" / name
    job.mkdir(parents=True)
    ev.mkdir(parents=True)
    preds = []
    for col, acc in per_bench.items():
        right = round(acc * n)
        for i in range(n):
            preds.append({"benchmark": OUR_NAME[col], "protocol": protocol, "item_id": f"{col}-{i}",
                          "category": PAPER["benchmarks"][col]["category"], "prediction": "a",
                          "answer": "a" if i < right else "b", "score": float(i < right)})
    (ev / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in preds))
    result = {"sweep": sweep_dir.name, "job": name, "axes": {**axes, "seed": seed}, "status": "done",
              "config": {"seed": seed, "model": {"name_or_path": model_path}},
              "stages": {"evaluate": {"status": "done", "seconds": 1.0, "key": "e", "path": str(ev)}},
              "metrics": metrics_from(preds)}
    (job / "result.json").write_text(json.dumps(result))


def test_shipped_numbers_are_the_papers_tables_with_their_source():
    assert PAPER["source"]["arxiv"] and PAPER["source"]["url"].startswith("https://arxiv.org/")
    assert set(PAPER["tables"]) == {"table1_standard", "table1_rendered", "table2", "table3", "table4", "table5",
                                    "table6"}
    for name, table in PAPER["tables"].items():
        assert table["source"].startswith("Table"), name
        for backbone, rows in table["values"].items():
            assert set(rows) == set(table["rows"]), (name, backbone)
            for row, vals in rows.items():
                assert set(vals) == {*table["columns"], "Avg"}, (name, row)
                # the printed Avg is the mean of the row's benchmarks (to the paper's rounding)
                mean = sum(vals[c] for c in table["columns"]) / len(table["columns"])
                assert abs(mean - vals["Avg"]) < 0.011, (name, backbone, row, mean, vals["Avg"])
    # the abstract's headline gains are Table 1's averages (LLaVA: 2.68 from the table, 2.67 in the abstract)
    t1 = PAPER["tables"]["table1_standard"]["values"]
    assert round(t1["Qwen3.5-9B"]["lomo"]["Avg"] - t1["Qwen3.5-9B"]["standard_sft"]["Avg"], 2) == \
        PAPER["headline_avg_gain"]["qwen3_5_9b"]


@pytest.mark.skipif(not SHARED_TABLES.is_file(), reason="the shared transcription of the paper is not on this machine")
def test_shipped_numbers_equal_the_shared_transcription_value_by_value():
    src = json.loads(SHARED_TABLES.read_text())
    key = {spec["axis_value"]: name for name, spec in PAPER["backbones"].items()}
    for proto in ("standard", "rendered"):
        for b, rows in src["table1_main"][proto].items():
            for row, v in rows.items():
                assert PAPER["tables"][f"table1_{proto}"]["values"][key[b]][row] == {**v["scores"], "Avg": v["avg"]}
    for name, srckey in (("table2", "table2_components_llava_onevision_1_5_8b"),
                         ("table3", "table3_rewrite_ratio_llava_onevision_1_5_8b"),
                         ("table4", "table4_position_llava_onevision_1_5_8b"),
                         ("table5", "table5_image_text_ratio_llava_onevision_1_5_8b")):
        for row, vals in PAPER["tables"][name]["values"]["LLaVA-OneVision-1.5-8B"].items():
            assert vals == {**src[srckey][row]["scores"], "Avg": src[srckey][row]["avg"]}
    t6 = src["table6_text_only"]
    for b in ("llava_onevision_1_5_8b", "qwen3_5_9b"):
        for row, values in t6[b].items():
            assert list(PAPER["tables"]["table6"]["values"][key[b]][row].values()) == values
    assert PAPER["categories"] == list(dict.fromkeys(src["categories"].values()))


def test_paper_categories_are_the_evaluate_groups_in_order():
    from lomo_ablate.evaluate.benchmarks.categories import GROUPS

    assert tuple(PAPER["categories"]) == GROUPS


def _scores(table: str, backbone: str, row: str, shift: float = 0.0) -> dict[str, float]:
    vals = PAPER["tables"][table]["values"][backbone][row]
    return {c: min(1.0, max(0.0, vals[c] / 100 + shift)) for c in PAPER["tables"][table]["columns"]}


def _section(readme: str, name: str, backbone: str) -> list[list[str]]:
    part = readme.split(f"#### {name}:")[1].split("####")[0]
    block = part.split(f"**{backbone}**")[1].split("\n\n")[1]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()]


def test_main_sweep_prints_paper_beside_ours_per_backbone_with_ours_minus_paper(tmp_path):
    """Qwen arms reproduce table 1 (standard) 3 points lower (on 30 items per benchmark, so to the item);
    LLaVA arms are missing: its block shows the paper only. Columns: the paper's 13 benchmarks under the six
    categories in the paper's order, category averages, Avg."""
    sd = tmp_path / "multirun" / "main"
    for row in ("standard_sft", "lomo"):
        write_job(sd, {"method": row, "model": "qwen3_5_9b"}, "Qwen/Qwen3.5-9B",
                  _scores("table1_standard", "Qwen3.5-9B", row, shift=-0.03))
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    readme = (out / "README.md").read_text()
    rows = _section(readme, "table1_standard", "Qwen3.5-9B")
    head, groups = rows[0], rows[1]
    cats = [g for g in groups[2:] if g]
    assert list(dict.fromkeys(cats)) == PAPER["categories"]  # the six groups in the paper's order
    assert head[2:4] == ["MMMU", "MMMU-Pro"] and head[4] == "Reasoning*" and head[-1] == "Avg"
    by = {(r[0] or prev, r[1]): r for prev, r in _with_row(rows[3:])}
    paper_row = PAPER["tables"]["table1_standard"]["values"]["Qwen3.5-9B"]["lomo"]
    ours = by[("lomo", "this run (method=lomo)")]
    diff = by[("lomo", "ours − paper")]
    for j, col in enumerate(head):
        if col in paper_row and col != "Avg":
            expect = round(30 * max(0.0, paper_row[col] / 100 - 0.03)) / 30 * 100
            assert float(ours[j]) == pytest.approx(expect, abs=0.006)
            assert float(diff[j]) == pytest.approx(expect - paper_row[col], abs=0.011)
            assert abs(float(diff[j]) + 3) < 1.7  # the 3-point shift, up to one item in 30
    # Avg: ours is the mean over the 13 benchmarks, compared with the paper's printed Avg
    avg = head.index("Avg")
    assert float(diff[avg]) == pytest.approx(float(ours[avg]) - paper_row["Avg"], abs=0.011)
    # Δ rows: the paper's (computed from its values) and ours with a paired-bootstrap interval
    pd = by[("Δ lomo − standard_sft", "paper")]
    psft = PAPER["tables"]["table1_standard"]["values"]["Qwen3.5-9B"]["standard_sft"]
    assert float(pd[avg]) == pytest.approx(paper_row["Avg"] - psft["Avg"], abs=0.006)
    od = [r for (k, src), r in by.items() if k == "Δ lomo − standard_sft" and src == "this run"][0]
    assert "[" in od[avg]
    # LLaVA: no arm on that backbone, so the paper's values alone (no invented 'this run' row)
    assert "**LLaVA-OneVision-1.5-8B** — this run has no arm on this backbone" in readme
    llava = _section(readme, "table1_standard", "LLaVA-OneVision-1.5-8B")
    assert all(r[1] == "paper" for r in llava[3:])
    # the rendered table: this sweep has no rendered protocol, so ours are empty there
    assert "**Qwen3.5-9B** — this run has no rendered-protocol results: paper values only" in readme
    # table 6 (text-only) applies to the main sweep too; this run has none of its benchmarks
    assert "#### table6:" in readme
    with (out / "paper.csv").open() as f:
        recs = list(csv.DictReader(f))
    rec = next(r for r in recs if r["table"] == "table1_standard" and r["backbone"] == "Qwen3.5-9B"
               and r["row"] == "lomo" and r["column"] == "V*")
    assert rec["benchmark"] == "vstar" and float(rec["paper"]) == paper_row["V*"]
    assert float(rec["ours_minus_paper"]) == pytest.approx(float(rec["ours"]) - float(rec["paper"]))
    assert json.loads((out / "summary.json").read_text())["paper"][0]["table"] == "table1_standard"


def _with_row(rows):
    prev = None
    for r in rows:
        prev = r[0] or prev
        yield prev, r


def test_ablation_sweep_without_a_model_axis_finds_its_backbone_from_the_config(tmp_path):
    """components (table 2) runs on LLaVA only; the arms' model.name_or_path says which backbone they are.
    A run on another model (tiny) gets the paper's values only."""
    sd = tmp_path / "multirun" / "components"
    for row in ("standard_sft", "lomo"):
        write_job(sd, {"method": row}, "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct",
                  _scores("table2", "LLaVA-OneVision-1.5-8B", row))
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    rows = _section((out / "README.md").read_text(), "table2", "LLaVA-OneVision-1.5-8B")
    by = dict(((prev, r[1]), r) for prev, r in _with_row(rows[3:]))
    # rows the sweep did not run (full_text) are named as such; rows it ran match the paper to one item in 30
    assert by[("full_text", "this run (no arm)")][2] == "–"
    diffs = [float(x) for x in by[("lomo", "ours − paper")][2:] if x != "–"]
    assert len(diffs) == len(rows[0]) - 2 and max(abs(d) for d in diffs) <= 100 / 30 / 2 + 0.01

    tiny = tmp_path / "multirun2" / "components"
    for row in ("standard_sft", "lomo"):
        write_job(tiny, {"method": row}, "conf/model/tiny", _scores("table2", "LLaVA-OneVision-1.5-8B", row))
    out = report_sweep(tiny, tmp_path / "results2", config=FAST)
    assert "this run has no arm on this backbone" in (out / "README.md").read_text()


def test_report_table_columns_follow_the_papers_category_order(tmp_path):
    sd = tmp_path / "multirun" / "components"
    for row in ("standard_sft", "lomo"):
        write_job(sd, {"method": row}, "x", _scores("table2", "LLaVA-OneVision-1.5-8B", row))
    out = report_sweep(sd, tmp_path / "results", config=FAST)
    with (out / "deltas.csv").open() as f:
        cats = [r["category"] for r in csv.DictReader(f) if r["protocol"] == "standard" and r["arm"] == "method=lomo"]
    assert list(dict.fromkeys(c for c in cats if c != "Overall")) == PAPER["categories"]


def test_paper_tables_apply_to_the_sweeps_that_reproduce_them():
    assert set(paper_tables_for("main")) == {"table1_standard", "table1_rendered", "table6"}
    assert set(paper_tables_for("mix")) == {"table5"}
    assert paper_tables_for("carrier") == {}
    # rows name the arms by axis values: table 5's rows are (mix, method) pairs
    assert PAPER["tables"]["table5"]["rows"]["lomo_matched_1to1"] == {"method": "lomo", "mix": "matched_1to1"}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["tables"]["table2"].update(colums=[]), r"table 'table2'.*unknown keys \['colums'\]"),
    (lambda d: d["tables"]["table3"]["columns"].append("MMBench"), r"tables\.table3\.columns: 'MMBench'"),
    (lambda d: d["tables"]["table4"]["values"]["LLaVA-OneVision-1.5-8B"]["prefix"].update(MMMU="52.9"),
     r"tables\.table4\.values\.LLaVA-OneVision-1\.5-8B\.prefix\.MMMU: must be a number"),
    (lambda d: d["tables"]["table5"].update(baseline="sft"), r"tables\.table5\.baseline: 'sft'"),
])
def test_paper_numbers_file_errors_name_the_table_and_key(tmp_path, edit, message):
    data = json.loads(PAPER_NUMBERS.read_text())
    edit(data)
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        load_paper_numbers(bad)
    bad.write_text("{\n  'tables': 1}")
    with pytest.raises(ValueError, match=r"p\.json: line 2: not JSON"):
        load_paper_numbers(bad)
