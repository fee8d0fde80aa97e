"""Curation uses the CPUs it holds: ``workers: null`` resolves to the process's CPUs, and the ranks of a
multi-task job curate shares of the shards into one folder, byte-identical to one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curate_helpers import fast_config, text_records, write_jsonl
from lomo_ablate.curate import CurateConfig, curate
from lomo_ablate.curate.config import available_cpus
from lomo_ablate.curate.run import _config_hash
from curated_tree import curated_tree as _tree  # the same byte-for-byte comparison as the 1-vs-2-workers test

RANK_SCRIPT = textwrap.dedent("""
    import json, sys
    from lomo_ablate.curate import CurateConfig, curate
    src, out, rank, world, cfg = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    s = curate(src, out, CurateConfig.from_dict(json.loads(cfg)), seed=5, workers=1, progress=False,
               rank=rank, world_size=world, wait_timeout_s=300)
    print(json.dumps({"rank": rank, "read": s.counts.get("read"), "cached": s.cached}))
""")


def test_workers_default_to_the_cpus_of_the_process_and_stay_out_of_the_hash(monkeypatch):
    assert CurateConfig().workers is None  # auto
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert available_cpus() == len(os.sched_getaffinity(0))
    assert available_cpus({"SLURM_CPUS_PER_TASK": "1"}) == 1  # a Slurm task: what it was given
    assert available_cpus({"SLURM_CPUS_PER_TASK": "100000"}) == len(os.sched_getaffinity(0))
    assert available_cpus({"SLURM_CPUS_PER_TASK": "garbage"}) == len(os.sched_getaffinity(0))
    fps = {"text": "x", "multimodal": None}
    assert _config_hash(CurateConfig(), 0, fps) == _config_hash(CurateConfig.from_dict({"workers": 3}), 0, fps)


def test_two_ranks_curate_their_shares_into_one_folder_byte_identical_to_one_process(tmp_path: Path):
    src = write_jsonl(tmp_path / "text.jsonl", text_records(40) + ["{not json"])
    cfg = {"render": {"math_renderer": "text"}, "shard_size": 6, "mix": {"rewrite_ratio": 0.6}}
    ref = curate(src, tmp_path / "one", CurateConfig.from_dict(cfg), seed=5, workers=1, progress=False)
    out = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(src), str(out), str(r), "2", json.dumps(cfg)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for r in (1, 0)]  # rank 1 starts first: it must wait for rank 0's plan
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    by_rank = {r["rank"]: r for r in results}
    # 7 shards of 6 records: rank 1 curated shards 1, 3, 5 (18 records) itself, rank 0 the rest and the merge
    assert by_rank[1]["read"] == 18 and by_rank[0]["read"] == ref.counts["read"] == 41
    assert _tree(out) == _tree(tmp_path / "one")
    assert not (out / ".work").exists()


def test_a_rank_that_comes_after_the_finish_returns_without_work(tmp_path: Path):
    src = write_jsonl(tmp_path / "text.jsonl", text_records(12))
    done = curate(src, tmp_path / "o", fast_config(), seed=1, workers=1, progress=False)
    late = curate(src, tmp_path / "o", fast_config(), seed=1, workers=1, progress=False, rank=1, world_size=2,
                  wait_timeout_s=5)
    assert late.cached and late.config_hash == done.config_hash


def test_rank_out_of_range_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="rank=2 with world_size=2"):
        curate(write_jsonl(tmp_path / "t.jsonl", text_records(2)), tmp_path / "o", fast_config(), rank=2,
               world_size=2)
