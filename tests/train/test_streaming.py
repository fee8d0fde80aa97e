"""Streaming training start: records are read, checked and encoded as training consumes them.

Real parts only: the tiny random-init Qwen3.5 VLM, real PNGs and data.jsonl files on disk, real DataLoader
worker processes.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from train_helpers import write_dataset
from lomo_ablate.distributed import DistributedEnvironment
from lomo_ablate.models import ModelConfig, load_pretrained
from lomo_ablate.train import DatasetError, TrainerConfig, train
from lomo_ablate.train.data import Skipped, StreamingDataset, index_lines, iter_raw
from lomo_ablate.train.trainer import epoch_micro_batches


def _cfg(**kw) -> TrainerConfig:
    base = dict(per_device_batch_size=4, lr=3e-3, min_lr=1e-4, warmup_ratio=0.1, progress=False)
    base.update(kw)
    return TrainerConfig.from_dict(base)


def _poisoned(i: int) -> str:
    """A bad line: alternately an image that is not there, and a line that is not JSON."""
    if i % 2:
        return "{poisoned " + str(i)
    return json.dumps({"id": f"bad:{i}", "messages": [{"role": "user", "content": "<image>"},
                                                       {"role": "assistant", "content": "x"}],
                       "images": [f"images/missing-{i}.png"]})


def _interleaved(root: Path, good: int, bad_per_good: int) -> Path:
    """``good`` usable records, each followed by ``bad_per_good`` poisoned lines."""
    write_dataset(root, n=good)
    lines = (root / "data.jsonl").read_text().splitlines()
    out = []
    for g, line in enumerate(lines):
        out.append(line)
        out.extend(_poisoned(g * bad_per_good + k) for k in range(bad_per_good))
    (root / "data.jsonl").write_text("\n".join(out) + "\n")
    return root


def _losses(out: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (out / "train_metrics.jsonl").read_text().splitlines()]


def test_line_index_finds_the_same_records_as_a_text_read(tmp_path):
    text = "\n".join(['{"a": 1}', "", "   ", '{"b": "ü\\n"}\r', "\t", '{"c": 3}', '{"d": 4}'])  # no final \n
    (tmp_path / "data.jsonl").write_text(text, encoding="utf-8")
    expected = list(iter_raw(tmp_path))
    for chunk in (3, 7, 1 << 20):  # newlines that fall on chunk boundaries are found too
        idx = index_lines(tmp_path / "data.jsonl", chunk_bytes=chunk)
        raw = (tmp_path / "data.jsonl").read_bytes()
        got = [(int(n), raw[s:s + ln].decode().rstrip("\r")) for n, s, ln in zip(idx.line_nos, idx.starts, idx.lengths)]
        assert got == [(n, line.rstrip("\n")) for n, line in expected]  # CRLF: the \r is JSON whitespace
    with pytest.raises(DatasetError, match="no data.jsonl"):
        index_lines(tmp_path / "nope" / "data.jsonl")


def test_a_bad_record_is_replaced_by_the_next_usable_one_and_reported(tmp_path):
    data = _interleaved(tmp_path / "data", good=3, bad_per_good=2)  # lines: good bad bad good bad bad good bad bad
    model, processor = load_pretrained(write_tiny(tmp_path, data))
    ds = StreamingDataset(data, processor, 256)
    assert len(ds) == 9
    first, poisoned, last = ds[0], ds[1], ds[7]
    assert (first.used, first.skipped) == (0, [])
    assert poisoned.used == 3 and [(s.line, s.reason) for s in poisoned.skipped] == [
        (2, "image_missing"), (3, "invalid_json")]
    assert last.used == 0 and [s.line for s in last.skipped] == [8, 9]  # wraps around to the first record
    assert torch.equal(poisoned.sample["input_ids"], ds[3].sample["input_ids"])
    all_bad = tmp_path / "bad"
    all_bad.mkdir()
    (all_bad / "data.jsonl").write_text("{x\n{y\n")
    with pytest.raises(DatasetError, match=r"none of its 2 record\(s\) is usable .*line 1: invalid_json"):
        StreamingDataset(all_bad, processor, 256)[0]


def write_tiny(tmp_path: Path, data: Path) -> Path:
    """The tiny model train() would build for ``data`` (built by a one-step run)."""
    out = tmp_path / "tiny-run"
    train(data, out, ModelConfig(), _cfg(max_steps=1))
    return out / "tiny_init"


def test_first_step_reads_only_its_own_records_and_counts_the_bad_ones_it_met(tmp_path):
    # 40 usable records, each followed by 9 poisoned lines: 400 lines, 360 of them bad
    data = _interleaved(tmp_path / "data", good=40, bad_per_good=9)
    res = train(data, tmp_path / "out", ModelConfig(), _cfg(max_steps=1))
    assert res.steps == 1 and res.records == 400
    # the bad records step 1 met: from each of its 4 positions forward to the next usable record
    env = DistributedEnvironment(0, 1, 0, 1, "127.0.0.1", 0, "single")
    first = epoch_micro_batches(400, 0, 0, env, 4)[0]
    met = sorted({j + 1 for i in first if i % 10 for j in range(i, (i // 10 + 1) * 10)})  # line = index + 1
    skipped = [json.loads(x) for x in res.skipped_path.read_text().splitlines()]
    assert [s["line"] for s in skipped] == met and res.skipped == len(met) < 360  # the rest never read
    assert {s["reason"] for s in skipped} <= {"image_missing", "invalid_json"}
    summary = json.loads((tmp_path / "out" / "skipped_summary.json").read_text())
    assert summary["skipped"] == len(met) and summary["records"] == 400 and summary["unplanned"] == 396
    assert res.num_samples == 400 - len(met)


def test_worker_count_and_resume_give_the_same_batches_and_the_same_skipped_records(tmp_path):
    data = _interleaved(tmp_path / "data", good=12, bad_per_good=1)  # 24 lines: 6 steps of 4 per epoch
    cfg = dict(epochs=2, save_every=3)
    ref = train(data, tmp_path / "w0", ModelConfig(), _cfg(num_workers=0, **cfg))
    two = train(data, tmp_path / "w2", ModelConfig(), _cfg(num_workers=2, **cfg))
    assert _losses(tmp_path / "w0") == _losses(tmp_path / "w2") and len(_losses(tmp_path / "w0")) == 12

    class Preempted(Exception):
        pass

    def preempt(step, _metrics):
        if step == 8:
            raise Preempted  # checkpoint at 6 (in epoch 1), steps 7-8 are redone

    with pytest.raises(Preempted):
        train(data, tmp_path / "cut", ModelConfig(), _cfg(num_workers=2, **cfg), log_fn=preempt)
    res = train(data, tmp_path / "cut", ModelConfig(), _cfg(num_workers=1, **cfg))
    assert res.resumed_from_step == 6
    assert _losses(tmp_path / "cut") == _losses(tmp_path / "w0")
    a, b = load_pretrained(ref.final_dir)[0].state_dict(), load_pretrained(res.final_dir)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # every line was planned (2 epochs), so every bad one was met and counted once — whoever read it
    assert ref.skipped == two.skipped == res.skipped == 12 and res.num_samples == 12
    for run in ("w2", "cut"):
        assert (tmp_path / run / "skipped.jsonl").read_text() == (tmp_path / "w0" / "skipped.jsonl").read_text()
    assert [Skipped(**json.loads(x)).line for x in ref.skipped_path.read_text().splitlines()] == list(range(2, 25, 2))


from test_distributed import RUNNER  # noqa: E402  (one 2-rank train() runner: RESULT has skipped, num_samples)


@pytest.mark.slow
def test_two_ranks_each_read_their_own_share_and_rank0_counts_every_bad_record(tmp_path):
    from gloo_ranks import launch_ranks

    data = _interleaved(tmp_path / "data", good=8, bad_per_good=1)  # 16 lines: each rank 8, batch 2 → 4 steps
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    trainer = {"per_device_batch_size": 2, "lr": 3e-3, "save_every": 2, "progress": False, "device": "cpu"}
    results = launch_ranks(script, [str(data), str(tmp_path / "out"), json.dumps(trainer)], 2, timeout_s=240)
    # the bad records met by either rank are gathered: every rank reports all 8, rank 0 writes them once
    assert sorted((r["rank"], r["skipped"], r["num_samples"]) for r in results) == [(0, 8, 8), (1, 8, 8)]
    lines = [json.loads(x)["line"] for x in (tmp_path / "out" / "skipped.jsonl").read_text().splitlines()]
    assert lines == list(range(2, 17, 2))
