"""Data-parallel, resumable evaluation on a real tiny VLM: two real processes (gloo initialised as in a
training job) give byte-identical predictions and equal metrics to one process at another batch size, and
an interrupted evaluation (a torn last line, a lost shard, a changed world size) regenerates only what is
missing. Nothing mocked: the generate spy below only counts the prompts the real model is given."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import lomo_ablate.models as models
from gloo_ranks import launch_ranks
from lomo_ablate.data import probe_items
from lomo_ablate.evaluate import evaluate
from lomo_ablate.evaluate.engines import shards

RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}
PROTOCOLS = ["standard", "rendered_0.5", "rendered"]
N = 7


def _cfg(batch_size: int) -> dict:
    return {"benchmarks": [{"name": "probe", "n": N, "seed": 5}], "protocols": PROTOCOLS,
            "batch_size": batch_size, "chunk_size": 4, "max_new_tokens": 3, "render": RENDER, "progress": False,
            "mir": {"n": 4}, "paired": {"n": 4}}


RUNNER = textwrap.dedent("""
    import json, os, sys
    import torch
    torch.set_num_threads(1)
    from lomo_ablate.distributed import init_distributed
    from lomo_ablate.evaluate import evaluate
    env = init_distributed(backend="gloo")  # as a training job leaves it; evaluation itself needs no group
    out = evaluate(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), env=env)
    print("RESULT", json.dumps({"rank": env.rank, "keys": sorted(out)}), flush=True)
    import torch.distributed as dist
    dist.barrier()
    dist.destroy_process_group()
    os._exit(0)  # avoids gloo's occasional abort at interpreter exit (FACTS.md)
""")



def _two_ranks(tmp_path: Path, model: Path, out: Path, cfg: dict) -> list[dict]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    return launch_ranks(script, [str(model), str(out), json.dumps(cfg)], world=2)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(120, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def single(tiny_dir, tmp_path_factory):
    """The uninterrupted one-process run every other run must equal."""
    out = tmp_path_factory.mktemp("single") / "eval"
    return out, evaluate(tiny_dir, out, _cfg(batch_size=8))


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-6, abs=1e-9)
    return a == b


def _same_metrics(a: dict, b: dict) -> None:
    """Scores exactly equal; hidden-state metrics (MIR, paired distance) equal up to float summation order
    (a process with one torch thread sums differently from one with two)."""
    exact = ("scores", "categories", "overall", "n_items", "rejected", "engine", "paired_n")
    assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
    assert _close({k: v for k, v in a.items() if k != "seconds"}, {k: v for k, v in b.items() if k != "seconds"})


@pytest.fixture
def generated(monkeypatch):
    """How many prompts the real model was asked to answer (a spy around the real generate)."""
    count = []
    real = models.generate

    def spy(model, processor, prompts, *a, **k):
        count.append(len(prompts))
        return real(model, processor, prompts, *a, **k)

    monkeypatch.setattr(models, "generate", spy)
    return count


@pytest.mark.slow
def test_two_ranks_equal_one_rank_at_another_batch_size(tiny_dir, single, tmp_path):
    ref_dir, ref = single
    out = tmp_path / "eval"
    results = _two_ranks(tmp_path, tiny_dir, out, _cfg(batch_size=3))
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert [r["keys"] for r in results if r["rank"] == 1] == [["generated", "rank"]]  # rank 1 gathers nothing
    # both ranks generated: each part file holds its share of the 7 x 3 units (u % 2 == rank)
    parts = {r: [json.loads(l) for l in (out / "parts" / f"rank{r}.jsonl").read_text().splitlines()]
             for r in (0, 1)}
    assert len(parts[0]) == 11 and len(parts[1]) == 10
    assert (out / "predictions.jsonl").read_bytes() == (ref_dir / "predictions.jsonl").read_bytes()
    _same_metrics(json.loads((out / "metrics.json").read_text()), ref)


def test_an_interrupted_evaluation_regenerates_only_the_missing_units(tiny_dir, single, tmp_path, generated):
    ref_dir, ref = single
    out = tmp_path / "eval"
    out.mkdir()
    # a killed 2-rank run left rank 0's first 5 rows, and rank 1's first 3 rows plus a torn line
    rows = [json.loads(l) for l in (ref_dir / "predictions.jsonl").read_text().splitlines()]
    units = shards.units(PROTOCOLS, N)
    indexed = [dict(r, index=i) for r, (_, _, i) in zip(rows, units)]
    (out / "parts").mkdir()
    rank0 = [r for r, u in zip(indexed, units) if u[0] % 2 == 0][:5]
    rank1 = [r for r, u in zip(indexed, units) if u[0] % 2 == 1][:3]
    (out / "parts" / "rank0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rank0))
    (out / "parts" / "rank1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rank1) + '{"benchm')
    # requeued on one rank: it continues from what both ranks finished, whatever world wrote it
    metrics = evaluate(tiny_dir, out, _cfg(batch_size=2))
    # the 13 missing units were generated and nothing else (generate is not called for MIR or paired)
    assert sum(generated) == len(units) - 8
    assert (out / "predictions.jsonl").read_bytes() == (ref_dir / "predictions.jsonl").read_bytes()
    _same_metrics(metrics, ref)
    # a second restart of a finished shard folder generates no unit again
    generated.clear()
    evaluate(tiny_dir, out, _cfg(batch_size=2))
    assert generated == []


def test_a_folder_of_another_evaluation_is_refused_with_the_file_and_line(tiny_dir, tmp_path):
    out = tmp_path / "eval"
    (out / "parts").mkdir(parents=True)
    row = {"benchmark": "probe", "protocol": "standard", "item_id": "someone-else:0", "category": "Math",
           "prediction": "1", "answer": "1", "score": 1.0, "index": 0}
    (out / "parts" / "rank0.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"rank0\.jsonl:1: item 'someone-else:0' at index 0"):
        evaluate(tiny_dir, out, _cfg(batch_size=2))


def test_rank_0_waits_for_the_other_ranks_and_names_the_missing_one(tmp_path):
    (tmp_path / "parts").mkdir()
    shards.mark_done(tmp_path, 1, 3, 4)
    ticks = []
    with pytest.raises(TimeoutError, match=r"rank\(s\) \[2\] of 3"):
        shards.wait_for_ranks(tmp_path, 3, timeout_s=0.0, sleep=ticks.append)
    shards.mark_done(tmp_path, 2, 3, 4)
    shards.wait_for_ranks(tmp_path, 3, timeout_s=0.0)  # returns at once


def test_the_pipeline_runs_evaluation_on_every_rank_and_resumes_it():
    from lomo_ablate.pipeline.stages import REGISTRY

    stage = REGISTRY["evaluate"]
    assert stage.rank0_only is False and stage.resumable is True


def test_shard_groups_keep_a_group_on_one_rank_and_every_unit_on_exactly_one():
    all_units = shards.units(["standard", "rendered"], 6)
    groups = ["doc:a", None, "doc:b", "doc:a", None, "doc:b"]
    for world in (1, 2, 3):
        shares = [shards.pending(all_units, {}, r, world, groups) for r in range(world)]
        assert sorted(u for s in shares for u in s) == sorted(all_units)          # each unit once
        for r, share in enumerate(shares):
            mine = {u[2] for u in share}
            for i, g in enumerate(groups):   # a group's items, under both protocols, all on one rank
                if g is not None and i in mine:
                    assert {(p, j) for p in ("standard", "rendered") for j, h in enumerate(groups) if h == g} <= {
                        (u[1], u[2]) for u in share}
            assert all(u[0] % world == r for u in share if groups[u[2]] is None)   # the rest dealt out as before
