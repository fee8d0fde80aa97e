"""Multi-process training on CPU: plain DDP over gloo with two real processes, and DeepSpeed ZeRO-1.

Real torch.distributed processes (subprocesses with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT), real
DeepSpeed. Only the GPU is missing: DeepSpeed runs on its CPU accelerator.
"""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
import torch

from gloo_ranks import launch_ranks
from train_helpers import write_dataset
from lomo_ablate.models import load_pretrained

RUNNER = textwrap.dedent("""
    import json, os, sys
    import torch
    torch.set_num_threads(1)
    from lomo_ablate.models import ModelConfig
    from lomo_ablate.train import TrainerConfig, train
    data, out, trainer = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    res = train(data, out, ModelConfig(), TrainerConfig.from_dict(trainer), seed=0)
    print("RESULT", json.dumps({"rank": int(os.environ.get("RANK", 0)), "steps": res.steps,
                                "loss": res.final_loss, "skipped": res.skipped,
                                "num_samples": res.num_samples}), flush=True)
    import torch.distributed as dist
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)  # avoids gloo's occasional abort at interpreter exit (FACTS.md)
""")



def _launch(tmp_path: Path, data: Path, out: Path, trainer: dict, world: int, extra_env: dict | None = None):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    return launch_ranks(script, [str(data), str(out), json.dumps(trainer)], world, extra_env, timeout_s=240)


@pytest.mark.slow
def test_two_process_ddp_gloo_trains_and_only_rank0_writes(tmp_path):
    data = write_dataset(tmp_path / "data", n=16)
    out = tmp_path / "out"
    trainer = {"per_device_batch_size": 2, "lr": 3e-3, "save_every": 2, "progress": False, "device": "cpu"}
    results = _launch(tmp_path, data, out, trainer, world=2)
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert {r["steps"] for r in results} == {4}  # 16 records / 2 ranks / batch 2
    assert results[0]["loss"] == pytest.approx(results[1]["loss"])  # the logged loss is all-reduced
    rows = [json.loads(x) for x in (out / "train_metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # one writer, no duplicated lines
    assert sorted(p.name for p in (out / "checkpoints" / "step-4").glob("rng-rank*.pt")) == \
        ["rng-rank0.pt", "rng-rank1.pt"]
    model, _ = load_pretrained(out / "final")
    init, _ = load_pretrained(out / "tiny_init")
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), init.state_dict().values()))


@pytest.mark.slow
def test_deepspeed_zero1_on_cpu_single_process_trains_and_resumes(tmp_path):
    data = write_dataset(tmp_path / "data", n=8)
    out = tmp_path / "out"
    trainer = {"per_device_batch_size": 2, "grad_accum": 2, "lr": 3e-3, "save_every": 1, "progress": False,
               "device": "cpu", "deepspeed": {"stage": 1}, "max_steps": 2}
    ext = Path(os.environ.get("TORCH_EXTENSIONS_DIR", Path.home() / ".cache" / "torch_extensions"))
    results = _launch(tmp_path, data, out, trainer, world=1, extra_env={"TORCH_EXTENSIONS_DIR": str(ext)})
    assert results[0]["steps"] == 2
    ds = json.loads((out / "deepspeed_config.json").read_text())
    assert ds["train_batch_size"] == 2 * 2 * 1 and ds["zero_optimization"]["stage"] == 1
    assert (out / "checkpoints" / "step-2" / "_SUCCESS").is_file()
    rows = [json.loads(x) for x in (out / "train_metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["grad_norm"] > 0 for r in rows)
    model, _ = load_pretrained(out / "final")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # resume through DeepSpeed's own checkpoint: one more step on top of step-2
    results = _launch(tmp_path, data, out, dict(trainer, max_steps=3, epochs=2), world=1,
                      extra_env={"TORCH_EXTENSIONS_DIR": str(ext)})
    rows = [json.loads(x) for x in (out / "train_metrics.jsonl").read_text().splitlines()]
    assert results[0]["steps"] == 3 and [r["step"] for r in rows] == [1, 2, 3]
