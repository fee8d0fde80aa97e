"""Every registered benchmark, on its small hub-layout copy (tests/hub_layouts.py) at the path conf/eval/paper.yaml
expects under $LOMO_BENCH_DIR: one run of the pipeline's evaluate stage over eval=paper (the real tiny random VLM,
standard and rendered protocols; nothing mocked, no judge) whose predictions the score CLI
(``python -m lomo_ablate.evaluate.score``, a real subprocess) re-scores to the same per-item scores and aggregate;
and, per benchmark, right replies (the gold in the form the benchmark's rule expects) scoring the metric's
maximum through the CLI, wrong ones 0. A benchmark registered without a writer fails the guard, by name."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hub_layouts import BUILT_IN, WRITERS
from lomo_ablate.evaluate import evaluate
from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.evaluate.benchmarks.records import iter_records
from lomo_ablate.evaluate.benchmarks.registry import benchmarks
from lomo_ablate.evaluate.score import IMAGE_KEYS, main
from lomo_ablate.utils import finite_json
from test_bench_stage import RENDER, tiny_dir  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS = ("standard", "rendered")
PAPER = [b for b in OmegaConf.load(ROOT / "conf" / "eval" / "paper.yaml").benchmarks if b.name not in BUILT_IN]


def strict_loads(text: str):
    """json.loads that refuses NaN / Infinity (what jq or JavaScript refuse)."""
    def refuse(const):
        raise ValueError(f"not strict JSON: {const}")
    return json.loads(text, parse_constant=refuse)


def paper_specs(bench: Path) -> list[dict]:
    """conf/eval/paper.yaml's benchmark list with $LOMO_BENCH_DIR = ``bench``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOMO_BENCH_DIR", str(bench))
        return OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "eval" / "paper.yaml").benchmarks, resolve=True)


def cli_args(spec: dict) -> list[str]:
    """The spec's adapter options as the CLI's ``--option k=<json>``."""
    return [a for k, v in spec.get("options", {}).items() for a in ("--option", f"{k}={json.dumps(v)}")]


def hub_records(spec: dict) -> tuple[dict[str, dict], list]:
    """{item id: the hub row it came from, image cells dropped (the CLI scores without pixels)} for the rows the
    benchmark's adapter keeps, and its items in load order."""
    adapter = get_adapter(spec["name"], spec.get("options"))
    items = adapter.load(spec["path"])
    set_aside = {(r["source"], r["line"]) for r in adapter.rejected}
    kept = [rec for where, rec in iter_records(spec["path"], (spec.get("options") or {}).get("split"))
            if (where.source, where.row) not in set_aside]
    assert len(kept) == len(items), spec["name"]
    keys = set(getattr(adapter, "image_keys", IMAGE_KEYS))
    return {str(it.id): {k: v for k, v in rec.items() if k not in keys} for it, rec in zip(items, kept)}, items


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Every writer's copy under one $LOMO_BENCH_DIR; the paper specs by name, with their copies."""
    bench = tmp_path_factory.mktemp("bench")
    copies = {name: write(bench) for name, write in WRITERS.items()}
    return bench, {s["name"]: s for s in paper_specs(bench)}, copies


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(l) + "\n" for l in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def staged(hub, tiny_dir, tmp_path_factory):  # noqa: F811
    """One evaluate-stage run over eval=paper (the probe suite cut to 3 items), and for each benchmark and
    protocol the CLI's re-scoring of that run's predictions (the subprocesses run side by side)."""
    bench, specs, _ = hub
    out = tmp_path_factory.mktemp("eval")
    paper = list(specs.values())
    cfg = {"benchmarks": [dict(s, n=3) if s["name"] == "probe" else s for s in paper],
           "protocols": list(PROTOCOLS), "max_new_tokens": 4, "batch_size": 16, "progress": False, "render": RENDER,
           "mir": {"enabled": False}, "paired": {"enabled": False}}
    metrics = evaluate(tiny_dir, out / "run", cfg)
    rows = [json.loads(l) for l in (out / "run" / "predictions.jsonl").read_text().splitlines()]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = {}
    for b in PAPER:
        records, _ = hub_records(specs[b.name])
        for proto in PROTOCOLS:
            preds = write_lines(out / f"{b.name}.{proto}.jsonl",
                                [{"record": records[r["item_id"]], "prediction": r["prediction"]}
                                 for r in rows if r["benchmark"] == b.name and r["protocol"] == proto])
            procs[b.name, proto] = subprocess.Popen(
                [sys.executable, "-m", "lomo_ablate.evaluate.score", b.name, str(preds), *cli_args(specs[b.name])],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    cli = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, (key, stderr)
        cli[key] = json.loads(stdout)
    return {"metrics": metrics, "file": (out / "run" / "metrics.json").read_text(), "rows": rows, "cli": cli}


def test_every_registered_benchmark_has_a_hub_writer_at_the_paper_path(hub):
    registered = benchmarks()
    missing = sorted(set(registered) - set(WRITERS) - set(BUILT_IN))
    assert not missing, f"no hub-layout writer in tests/hub_layouts.py for: {', '.join(missing)}"
    assert not set(WRITERS) - set(registered), "a writer for a benchmark that is not registered"
    assert all(not registered[b].needs_path for b in BUILT_IN)
    _, specs, copies = hub
    for name, spec in specs.items():  # each copy sits where eval=paper looks for it
        assert name in BUILT_IN or Path(spec["path"]) == copies[name].path, name


@pytest.mark.parametrize("name", [b.name for b in PAPER])
def test_stage_and_cli_give_the_same_per_item_scores_and_aggregate(staged, name):
    metrics, rows = staged["metrics"], staged["rows"]
    stored = strict_loads(staged["file"])["benchmark_metrics"][name]
    for proto in PROTOCOLS:
        mine = [r for r in rows if r["benchmark"] == name and r["protocol"] == proto]
        out = staged["cli"][name, proto]
        assert mine and out["rejected"] == [], (name, proto)
        assert [p["item_id"] for p in out["per_item"]] == [r["item_id"] for r in mine]
        assert [p["score"] for p in out["per_item"]] == [r["score"] for r in mine], (name, proto)
        assert [p.get("detail") for p in out["per_item"]] == [r.get("detail") for r in mine], (name, proto)
        assert out["aggregate"]["scored_by"] == metrics["scored_by"][name] == "rule"
        assert finite_json(out["aggregate"]) == {**stored[proto], "scored_by": "rule"}, (name, proto)
        assert metrics["scores"][name][proto] == pytest.approx(sum(r["score"] for r in mine) / len(mine))


def test_metrics_json_is_strict_json_with_undefined_metrics_as_null(staged):
    """NaN is not JSON: metrics.json writes an undefined metric as null (MM-IFEval's P-Level accuracy without a
    judge, which scores no P-Level item; the evaluate stage's own return value keeps the float NaN)."""
    stored = strict_loads(staged["file"])
    nan = staged["metrics"]["benchmark_metrics"]["mm_ifeval"]["standard"]["p_level"]
    assert isinstance(nan, float) and math.isnan(nan)
    assert stored["benchmark_metrics"]["mm_ifeval"]["standard"]["p_level"] is None
    assert stored["scores"] == staged["metrics"]["scores"] and stored["n_items"]["probe"] == 3
    assert set(stored["scores"]) == {b.name for b in PAPER} | set(BUILT_IN)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_right_replies_score_the_maximum_and_wrong_ones_zero_through_the_cli(hub, name, tmp_path, capsys):
    _, specs, copies = hub
    spec = specs.get(name) or {"name": name, "path": str(copies[name].path)}
    records, _ = hub_records(spec)
    replies = copies[name].replies
    assert set(records) == set(replies), name     # a reply pair for every item the adapter reads
    for k, expected in ((0, 1.0), (1, 0.0)):   # one file of right replies, one of wrong ones (row ids = lines)
        lines = [{"record": records[i], "prediction": replies[i][k]} for i in records]
        assert main([name, str(write_lines(tmp_path / f"replies{k}.jsonl", lines)), *cli_args(spec)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["rejected"] == [] and [p["item_id"] for p in out["per_item"]] == list(records)
        for p in out["per_item"]:   # the metric's maximum (the OCR F1s carry a 1e-6 smoothing), or 0
            assert p["score"] == pytest.approx(expected, abs=1e-5), (name, lines[p["line"] - 1]["prediction"], p)
