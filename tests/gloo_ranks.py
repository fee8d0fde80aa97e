"""Start a script as ``world`` local processes of one torch.distributed (gloo) job, as torchrun would, and
collect what each printed after ``RESULT `` (one JSON object per line). Shared by the training and the
evaluation tests that compare a 2-rank job with a 1-rank one (a unique module name: importable from any
test folder)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_ranks(script: Path, args: list[str], world: int, extra_env: dict | None = None,
                 timeout_s: float = 300) -> list[dict]:
    """Runs ``python script *args`` once per rank with RANK/LOCAL_RANK/WORLD_SIZE/MASTER_* set; every rank
    must exit 0 (its output's tail is the assertion message); returns the parsed ``RESULT`` lines."""
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                   LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS="1", **(extra_env or {}))
        procs.append(subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=timeout_s)[0] for p in procs]
    for p, o in zip(procs, outputs):
        assert p.returncode == 0, o[-3000:]
    return [json.loads(line.split("RESULT ", 1)[1]) for o in outputs for line in o.splitlines()
            if line.startswith("RESULT ")]
