"""DistributedEnvironment.detect(): torchrun, Slurm, single process, and half-set environments.

Pure unit tests over explicit environment mappings (no processes); the real two-task run on the loopback
cluster is tests/slurm/test_distributed_slurm.py.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomo_ablate.distributed import DistributedEnvironment, DistributedSetupError, first_host

TORCHRUN = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "node007", "MASTER_PORT": "29511"}


@pytest.fixture(autouse=True)
def _no_scontrol(monkeypatch):
    """Unit tests read only the mapping given: hide scontrol (first_host's helper) so no Slurm is asked."""
    monkeypatch.setenv("PATH", "/nonexistent")


SLURM = {"SLURM_JOB_ID": "4242", "SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "5",
         "SLURM_NTASKS_PER_NODE": "8(x2)", "SLURM_JOB_NODELIST": "gpu[003-004]"}


def test_single_process_when_nothing_is_set():
    env = DistributedEnvironment.detect({})
    assert (env.rank, env.world_size, env.local_rank, env.source) == (0, 1, 0, "single")
    assert env.is_main and not env.is_distributed


def test_torchrun_variables_are_read_as_given():
    env = DistributedEnvironment.detect(TORCHRUN)
    assert (env.rank, env.world_size, env.local_rank, env.local_world_size) == (3, 8, 1, 2)
    assert (env.master_addr, env.master_port, env.source) == ("node007", 29511, "torchrun")
    assert env.is_distributed and not env.is_main


def test_torchrun_wins_over_slurm_when_both_are_set():
    """torchrun launched inside a Slurm allocation: torchrun's ranks are the ones that count."""
    env = DistributedEnvironment.detect({**SLURM, **TORCHRUN})
    assert env.source == "torchrun" and env.rank == 3


def test_slurm_task_gets_rank_world_and_first_node_as_master():
    env = DistributedEnvironment.detect(SLURM)
    assert (env.rank, env.world_size, env.local_rank, env.local_world_size) == (5, 16, 5, 8)
    assert env.master_addr == "gpu003" and env.source == "slurm"


def test_slurm_port_is_the_same_for_every_task_of_a_job_and_differs_between_jobs():
    ports = {DistributedEnvironment.detect({**SLURM, "SLURM_PROCID": str(r)}).master_port for r in range(16)}
    assert len(ports) == 1
    other = DistributedEnvironment.detect({**SLURM, "SLURM_JOB_ID": "4243"}).master_port
    assert other != ports.pop()


@pytest.mark.parametrize("missing", ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"])
def test_half_set_torchrun_environment_is_refused_naming_what_is_missing(missing):
    env = {k: v for k, v in TORCHRUN.items() if k != missing}
    with pytest.raises(DistributedSetupError, match=missing):
        DistributedEnvironment.detect(env)


@pytest.mark.parametrize("missing", ["SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_NODELIST"])
def test_half_set_slurm_task_environment_is_refused(missing):
    env = {k: v for k, v in SLURM.items() if k != missing}
    with pytest.raises(DistributedSetupError, match=missing):
        DistributedEnvironment.detect(env)


def test_slurm_batch_shell_without_a_task_is_a_single_process():
    """The batch script itself (SLURM_JOB_ID but no SLURM_PROCID) is not a task of a distributed job."""
    env = DistributedEnvironment.detect({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "4"})
    assert env.source == "single" and env.world_size == 1


@settings(deadline=None)
@given(world=st.integers(1, 64), data=st.data())
def test_rank_outside_world_is_refused(world, data):
    rank = data.draw(st.one_of(st.integers(-5, -1), st.integers(world, world + 10)))
    with pytest.raises(DistributedSetupError, match="inconsistent"):
        DistributedEnvironment.detect({**TORCHRUN, "RANK": str(rank), "WORLD_SIZE": str(world)})


@settings(deadline=None)
@given(world=st.integers(1, 64), data=st.data())
def test_every_valid_slurm_rank_is_accepted(world, data):
    rank = data.draw(st.integers(0, world - 1))
    env = DistributedEnvironment.detect({**SLURM, "SLURM_PROCID": str(rank), "SLURM_NTASKS": str(world)})
    assert env.rank == rank and env.world_size == world and env.is_main == (rank == 0)


@pytest.mark.parametrize("nodelist, first", [
    ("node7", "node7"), ("node[003-005,9]", "node003"), ("gpu[12,14],cpu1", "gpu12"),
    ("a-b-[01-02]", "a-b-01"), ("h200-[7]", "h200-7")])
def test_first_host_of_a_nodelist(nodelist, first):
    assert first_host(nodelist) == first


def test_export_sets_the_variables_torch_reads(monkeypatch):
    for k in TORCHRUN:
        monkeypatch.delenv(k, raising=False)
    DistributedEnvironment.detect(SLURM).export()
    import os

    assert os.environ["RANK"] == "5" and os.environ["WORLD_SIZE"] == "16"
    assert os.environ["MASTER_ADDR"] == "gpu003" and os.environ["LOCAL_RANK"] == "5"
    # and reading them back as torchrun variables gives the same environment
    assert DistributedEnvironment.detect(dict(os.environ)).rank == 5


def test_export_refuses_to_overwrite_a_variable_set_to_another_value(monkeypatch):
    """A process started for one layout (MASTER_PORT from the launcher) must not silently rendezvous
    elsewhere: export names the clashing variable and both values, and changes nothing."""
    import os

    for k in (*TORCHRUN, "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MASTER_PORT", "12345")
    env = DistributedEnvironment.detect(SLURM)  # Slurm's own port, derived from the job id
    with pytest.raises(DistributedSetupError, match=r"MASTER_PORT='12345' \(this job: '2\d+'\)"):
        env.export()
    assert "RANK" not in os.environ and os.environ["MASTER_PORT"] == "12345"
    # the same values again are fine (a second train() in one process re-exports its environment)
    monkeypatch.delenv("MASTER_PORT")
    env.export()
    env.export()
    assert os.environ["RANK"] == "5"
