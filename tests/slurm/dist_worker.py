"""One task of a multi-task Slurm job: joins torch.distributed through lomo_ablate.distributed, all-reduces
its rank + 1, and writes what it saw to <out_dir>/rank<k>.json. Run by test_distributed_slurm.py via srun."""
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from lomo_ablate.distributed import init_distributed

out = Path(sys.argv[1])
env = init_distributed(backend="gloo")
t = torch.tensor([float(env.rank + 1)])
dist.all_reduce(t)
(out / f"rank{env.rank}.json").write_text(json.dumps({
    "rank": env.rank, "world_size": env.world_size, "local_rank": env.local_rank, "source": env.source,
    "master": f"{env.master_addr}:{env.master_port}", "all_reduce_sum": t.item(),
    "torch_rank": dist.get_rank(), "torch_world": dist.get_world_size(), "slurm_procid": os.environ["SLURM_PROCID"]}))
# a clean exit for two-process gloo jobs (FACTS.md: otherwise 1 in 5-8 runs aborts at exit)
dist.barrier()
dist.destroy_process_group()
sys.stdout.flush()
os._exit(0)
