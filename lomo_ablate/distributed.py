"""One place that knows how this process fits into a distributed job.

``DistributedEnvironment.detect()`` reads rank / world size / master address from, in order:
torchrun (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), Slurm
(``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_JOB_NODELIST``, ``SLURM_JOB_ID``), or a
single process. A half-set environment (some torchrun variables but not all) is refused with an error
that names what is missing, instead of hanging in a rendezvous.

``init_distributed(backend=None)`` exports the variables torch.distributed and DeepSpeed read, and
initialises the default process group when the world size is > 1.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Mapping

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedSetupError(RuntimeError):
    """The environment describes a distributed job only partially."""


@dataclasses.dataclass(frozen=True)
class DistributedEnvironment:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str
    master_port: int
    source: str  # "torchrun" | "slurm" | "single"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def detect(cls, environ: Mapping[str, str] | None = None) -> "DistributedEnvironment":
        env = os.environ if environ is None else environ
        present = [v for v in _TORCHRUN_VARS if v in env]
        if present:
            missing = [v for v in _TORCHRUN_VARS if v not in env]
            if missing:
                raise DistributedSetupError(
                    f"half-set torchrun environment: {', '.join(present)} set but {', '.join(missing)} "
                    "missing; set all of RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT or none"
                )
            world = int(env["WORLD_SIZE"])
            rank = int(env["RANK"])
            _check_rank(rank, world, "RANK/WORLD_SIZE")
            return cls(
                rank=rank,
                world_size=world,
                local_rank=int(env["LOCAL_RANK"]),
                local_world_size=int(env.get("LOCAL_WORLD_SIZE", world)),
                master_addr=env["MASTER_ADDR"],
                master_port=int(env["MASTER_PORT"]),
                source="torchrun",
            )
        if "SLURM_JOB_ID" in env and "SLURM_PROCID" in env:
            needed = ("SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_NODELIST")
            missing = [v for v in needed if v not in env]
            if missing:
                raise DistributedSetupError(f"Slurm task environment lacks {', '.join(missing)}")
            world = int(env["SLURM_NTASKS"])
            rank = int(env["SLURM_PROCID"])
            _check_rank(rank, world, "SLURM_PROCID/SLURM_NTASKS")
            ntasks_per_node = env.get("SLURM_NTASKS_PER_NODE", "").split("(")[0]
            local_world = int(ntasks_per_node) if ntasks_per_node.isdigit() else world
            # a port derived from the job id: every task computes the same one, jobs differ
            port = int(env.get("MASTER_PORT", 20000 + int(env["SLURM_JOB_ID"]) % 20000))
            return cls(
                rank=rank,
                world_size=world,
                local_rank=int(env["SLURM_LOCALID"]),
                local_world_size=local_world,
                master_addr=first_host(env["SLURM_JOB_NODELIST"]),
                master_port=port,
                source="slurm",
            )
        return cls(rank=0, world_size=1, local_rank=0, local_world_size=1,
                   master_addr="127.0.0.1", master_port=29500, source="single")

    def variables(self) -> dict[str, str]:
        """The torchrun-style variables of this environment (what torch.distributed and DeepSpeed read)."""
        return {"RANK": str(self.rank), "WORLD_SIZE": str(self.world_size), "LOCAL_RANK": str(self.local_rank),
                "LOCAL_WORLD_SIZE": str(self.local_world_size), "MASTER_ADDR": self.master_addr,
                "MASTER_PORT": str(self.master_port)}

    def export(self) -> None:
        """Sets the torchrun-style variables. A variable already set to another value is not overwritten
        (as dinov2 does): the process was started for another job layout, and silently replacing it would
        make this rank rendezvous with the wrong peers. Raises :class:`DistributedSetupError` naming it."""
        wanted = self.variables()
        clash = {k: os.environ[k] for k, v in wanted.items() if k in os.environ and os.environ[k] != v}
        if clash:
            raise DistributedSetupError(
                "refusing to overwrite environment variable(s) already set to other values: "
                + ", ".join(f"{k}={clash[k]!r} (this job: {wanted[k]!r})" for k in sorted(clash))
                + f"; detected from {self.source}. Unset them or start the process with consistent values")
        os.environ.update(wanted)


def _check_rank(rank: int, world: int, what: str) -> None:
    if world < 1 or not 0 <= rank < world:
        raise DistributedSetupError(f"inconsistent {what}: rank {rank} with world size {world}")


def first_host(nodelist: str) -> str:
    """First host of a Slurm node list, parsed locally (no ``scontrol`` call, which can take seconds
    when no slurm.conf is reachable): ``node[003-005,9],gpu1`` -> ``node003``."""
    head = re.split(r",(?![^\[]*\])", nodelist.strip())[0]
    m = re.match(r"^(.*?)\[([^\]]+)\](.*)$", head)
    if not m:
        return head
    first = m.group(2).split(",")[0].split("-")[0]
    return m.group(1) + first + m.group(3)


def init_distributed(backend: str | None = None, env: DistributedEnvironment | None = None
                     ) -> DistributedEnvironment:
    """Detects the environment, exports it, and initialises torch.distributed if world size > 1."""
    env = env or DistributedEnvironment.detect()
    env.export()
    if env.is_distributed:
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
            if backend == "nccl":
                torch.cuda.set_device(env.local_rank)
            dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size)
    return env
