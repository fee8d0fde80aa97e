"""trainer.num_workers > 0: DataLoader workers read, encode and collate; losses equal num_workers=0's exactly.

Real parts only: the tiny random-init Qwen3.5 VLM, real PNGs, real DataLoader worker processes, a real
lowered RLIMIT_NOFILE in a child process, a real SIGKILL of a worker (as the kernel's OOM killer sends).

The bug this guards against: the worker's encoding cache handed out tensors that crossed to the training
process as they were; each was moved into shared memory in place and kept one open file descriptor in the
worker for as long as the cache held it, so after enough distinct records the worker ran out of
descriptors ("Too many open files") and training died with a bare EOFError.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from train_helpers import write_dataset
from lomo_ablate.models import ModelConfig
from lomo_ablate.train import TrainerConfig, train
from lomo_ablate.train.loader import WorkerError, check_shared_memory

REPO = Path(__file__).resolve().parents[2]
NOFILE = 256  # open files per process in the child; a worker's cached tensors of 96 records need more


def _cfg(**kw) -> TrainerConfig:
    base = dict(per_device_batch_size=4, lr=3e-3, min_lr=1e-4, warmup_ratio=0.1, progress=False, device="cpu")
    base.update(kw)
    return TrainerConfig.from_dict(base)


def _losses(out: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (out / "train_metrics.jsonl").read_text().splitlines()]


# The child lowers its own open-file limit, trains with 0, 1 and 2 workers under it (one process, so the
# same thread count: the losses can be compared exactly), then shows the limit catches the leak: the cached
# items of the streaming dataset sent to the training process as they are (what train() did before)
# exhaust it.
CHILD = r"""
import json, resource, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
data, out, nofile = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
from lomo_ablate.models import ModelConfig, load_pretrained
from lomo_ablate.train import TrainerConfig, train
from lomo_ablate.train.data import StreamingDataset
cfg = dict(per_device_batch_size=4, lr=3e-3, min_lr=1e-4, warmup_ratio=0.1, progress=False, device="cpu")
report = {}
for w in (0, 1, 2):
    res = train(data, out / f"w{w}", ModelConfig(), TrainerConfig.from_dict(dict(cfg, num_workers=w)))
    report[f"w{w}"] = [json.loads(x)["loss"] for x in res.metrics_path.read_text().splitlines()]
_, processor = load_pretrained(out / "w0" / "tiny_init")
ds = StreamingDataset(data, processor, 512, cache_bytes=512 * 2**20)
plan = [list(range(i, i + 4)) for i in range(0, len(ds), 4)]
try:
    for _ in torch.utils.data.DataLoader(ds, batch_sampler=plan, collate_fn=list, num_workers=1, timeout=120):
        pass
    report["uncollated"] = "ok"
except Exception as e:
    report["uncollated"] = type(e).__name__
print("REPORT " + json.dumps(report), flush=True)
"""


def test_workers_under_a_low_open_file_limit_train_with_the_losses_of_no_workers(tmp_path):
    data = write_dataset(tmp_path / "data", n=96)  # 24 steps of 4; every other record has an image
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(data), str(tmp_path), str(NOFILE)], env=env,
                          capture_output=True, text=True, timeout=600)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert proc.returncode == 0 and line is not None, proc.stderr[-4000:]
    report = json.loads(line.split(" ", 1)[1])
    # the limit is low enough to catch the leak: cached items crossing as they are fail under it
    assert report["uncollated"] != "ok", "the lowered limit did not bite; raise n or lower NOFILE"
    assert len(report["w0"]) == 24 and report["w0"][-1] < report["w0"][0]
    assert report["w1"] == report["w0"] == report["w2"]  # exactly, not approximately


def test_packed_rows_with_workers_get_the_models_rotary_positions(tmp_path):
    data = write_dataset(tmp_path / "data", n=16)
    full = ModelConfig.from_dict({"tiny": {"layer_types": ["full_attention", "full_attention"]}})
    train(data, tmp_path / "w0", full, _cfg(packing=True, num_workers=0))
    train(data, tmp_path / "w1", full, _cfg(packing=True, num_workers=1))
    assert _losses(tmp_path / "w1") == _losses(tmp_path / "w0") and len(_losses(tmp_path / "w0")) == 4


def _children() -> list[int]:
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def test_a_worker_killed_mid_run_is_reported_naming_the_setting_shm_and_ulimit(tmp_path):
    data = write_dataset(tmp_path / "data", n=64)
    before = set(_children())

    def kill_workers(step, _metrics):
        if step == 2:
            for pid in set(_children()) - before:  # the DataLoader worker (as the OOM killer would)
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(WorkerError) as err:
        train(data, tmp_path / "out", ModelConfig(), _cfg(num_workers=1), log_fn=kill_workers)
    msg = str(err.value)
    assert "trainer.num_workers=1" in msg and "/dev/shm" in msg and "ulimit -n" in msg
    assert "trainer.num_workers=0" in msg  # the way out is named


def test_too_little_shared_memory_is_refused_before_training(tmp_path):
    free = check_shared_memory(2, shm_dir=tmp_path, min_free=0)["shm_free"]
    assert isinstance(free, int) and free > 0
    with pytest.raises(WorkerError, match=r"trainer\.num_workers=2: .*free of .*--shm-size"):
        check_shared_memory(2, shm_dir=tmp_path, min_free=free + 2**40)
    assert check_shared_memory(0, shm_dir=tmp_path, min_free=free + 2**40)["shm_free"] == free  # no workers
