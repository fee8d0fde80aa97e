"""A cheap job with the pipeline's job-folder contract, for the Slurm tests (see tests/slurm/).

Each job "trains" for ``steps`` steps, saving its progress to ``<job_dir>/progress.json`` after every step
and continuing from it when started again (requeue), and writes ``<job_dir>/result.json``
(status running -> done, with the pipeline's config_hash) like the pipeline's job. It also records which copy of ``lomo_ablate`` it
imported (the sweep's code snapshot, not the checkout).
"""
import json
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig

import lomo_ablate
from lomo_ablate.distributed import DistributedEnvironment
from lomo_ablate.pipeline.jobconfig import job_config_hash
from lomo_ablate.pipeline.schema import register_schemas
from lomo_ablate.utils import atomic_write_json


def all_reduce_ranks() -> dict:
    """Every task of a multi-task job joins torch.distributed from the Slurm environment and all-reduces
    rank + 1 (world 2: 1 + 2 = 3)."""
    import torch
    import torch.distributed as dist

    from lomo_ablate.distributed import init_distributed

    env = init_distributed(backend="gloo")
    t = torch.tensor([float(env.rank + 1)])
    dist.all_reduce(t)
    dist.barrier()
    dist.destroy_process_group()
    return {"rank": env.rank, "world_size": env.world_size, "all_reduce_sum": t.item()}


register_schemas()  # the cluster group's schema (conf/cluster/ carries only non-default values)


@hydra.main(version_base=None, config_path="conf", config_name="slurm_testapp")
def main(cfg):
    job_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.distributed:
        seen = all_reduce_ranks()
        atomic_write_json(job_dir / f"rank{seen['rank']}.json", seen)
        if seen["rank"] != 0:
            return None  # the job folder's result.json is rank 0's
    progress_file = job_dir / "progress.json"
    progress = json.loads(progress_file.read_text()) if progress_file.exists() else {"step": 0, "starts": []}
    progress["starts"].append({"step": progress["step"], "slurm_job": os.environ.get("SLURM_JOB_ID"),
                               "restart_count": os.environ.get("SLURM_RESTART_COUNT", "0")})
    atomic_write_json(progress_file, progress)
    result = {"job": job_dir.name, "axes": {"x": cfg.x}, "status": "running", "stages": {}, "metrics": {},
              "config_hash": job_config_hash(cfg)}
    atomic_write_json(job_dir / "result.json", result)
    for step in range(progress["step"], cfg.steps):
        time.sleep(cfg.step_s * (10 if cfg.x == cfg.slow_on else 1))
        progress["step"] = step + 1
        progress.setdefault("executed", []).append(step)
        atomic_write_json(progress_file, progress)
    if cfg.x == cfg.fail_on and (not cfg.fail_if_exists or Path(cfg.fail_if_exists).exists()):
        atomic_write_json(job_dir / "result.json", {**result, "status": "failed"})
        raise RuntimeError(f"x={cfg.x}: failing on purpose (fail_on)")
    env = DistributedEnvironment.detect()
    result.update(status="done", metrics={"square": cfg.x * cfg.x, "starts": progress["starts"],
                                          "executed": progress.get("executed", []),
                                          "lomo_ablate_file": lomo_ablate.__file__,
                                          "world_size": env.world_size})
    atomic_write_json(job_dir / "result.json", result)
    return cfg.x * cfg.x


if __name__ == "__main__":
    main()
