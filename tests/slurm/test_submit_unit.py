"""Submission and collection logic that needs no cluster: config validation, the cluster config group,
skipping finished jobs, the code snapshot, reading Slurm's answers. Real files in tmp_path; the Slurm
commands are absent or answer nothing here, which the code must treat as "not queued"."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from lomo_ablate.pipeline.collect import classify, parse_job_states
from lomo_ablate.pipeline.compose import cheap_job_subdir, job_dir_needs_compose, repoint_search_path
from lomo_ablate.pipeline.submit import ClusterConfig, JobSpec, plan_submission, snapshot_code
from lomo_ablate.utils import atomic_write_json
from lomo_ablate.utils.config import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_unknown_cluster_key_names_it_and_the_allowed_ones():
    with pytest.raises(ConfigError) as e:
        ClusterConfig.from_dict({"kind": "slurm", "partition": "p", "gpus": 8})
    assert "cluster.gpus" in str(e.value) and "gpus_per_node" in str(e.value)


@pytest.mark.parametrize("key, value", [("nodes", 0), ("tasks_per_node", "2"), ("timeout_min", -1),
                                        ("mem_gb", 0), ("kind", "pbs"), ("array_parallelism", True)])
def test_bad_values_are_rejected_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=f"cluster.{key}"):
        ClusterConfig.from_dict({"kind": "slurm", "partition": "p", key: value})


def test_slurm_without_partition_is_rejected_naming_the_key():
    with pytest.raises(ConfigError, match=r"cluster\.partition is not set"):
        ClusterConfig.from_dict({"kind": "slurm"})
    assert ClusterConfig.from_dict({"kind": "local"}).partition is None  # local needs none


def test_every_resource_reaches_submitit():
    c = ClusterConfig.from_dict({"kind": "slurm", "partition": "gpu", "account": "proj", "qos": "high",
                                 "nodes": 2, "gpus_per_node": 8, "tasks_per_node": 8, "cpus_per_task": 12,
                                 "mem_gb": 960, "timeout_min": 90, "array_parallelism": 4,
                                 "setup": ["module load cuda"], "additional_parameters": {"constraint": "h200"},
                                 "gres": "gpu:8"})
    p = c.executor_parameters("lomo")
    assert p == {"name": "lomo", "nodes": 2, "gpus_per_node": 8, "tasks_per_node": 8, "cpus_per_task": 12,
                 "mem_gb": 960, "timeout_min": 90, "slurm_partition": "gpu", "slurm_account": "proj",
                 "slurm_qos": "high", "slurm_array_parallelism": 4, "slurm_signal_delay_s": 120,
                 "slurm_setup": ["module load cuda"], "slurm_additional_parameters": {"constraint": "h200"},
                 "slurm_gres": "gpu:8"}
    # and submitit accepts them (its own validation of parameter names and types)
    import submitit

    ex = submitit.AutoExecutor(folder="/tmp/unused", cluster="debug")
    ex.update_parameters(**{k: v for k, v in p.items() if not k.startswith("slurm_")})


def _compose_cluster(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(REPO / "tests/slurm/app/conf"), version_base=None):
        cfg = compose("slurm_testapp", overrides=[f"cluster={name}", f"hydra.searchpath=[file://{REPO}/conf]",
                                                  *overrides], return_hydra_config=True)
    return cfg


def test_h200_group_is_eight_gpus_eight_tasks_per_node_on_the_lomo_launcher(monkeypatch):
    monkeypatch.setenv("LOMO_SLURM_PARTITION", "h200")
    cfg = _compose_cluster("slurm_h200", "cluster.nodes=2")
    c = ClusterConfig.from_dict(cfg.cluster)
    assert (c.partition, c.nodes, c.gpus_per_node, c.tasks_per_node) == ("h200", 2, 8, 8)
    assert cfg.hydra.launcher._target_.endswith("LomoSlurmLauncher")
    assert "export OMP_NUM_THREADS=12" in c.setup


def test_local_group_keeps_hydras_in_process_launcher():
    cfg = _compose_cluster("local")
    assert cfg.cluster.kind == "local" and "BasicLauncher" in cfg.hydra.launcher._target_


def test_generic_slurm_group_without_partition_fails_validation(monkeypatch):
    monkeypatch.delenv("LOMO_SLURM_PARTITION", raising=False)
    cfg = _compose_cluster("slurm")
    with pytest.raises(ConfigError, match="cluster.partition"):
        ClusterConfig.from_dict(cfg.cluster)


def _jobs(tmp_path, n=4):
    return [JobSpec(name=f"x={i}", job_dir=tmp_path / f"x={i}") for i in range(n)]


def test_resubmission_skips_only_jobs_whose_result_says_done(tmp_path):
    jobs = _jobs(tmp_path)
    atomic_write_json(jobs[0].job_dir / "result.json", {"status": "done"})
    atomic_write_json(jobs[1].job_dir / "result.json", {"status": "failed"})
    atomic_write_json(jobs[2].job_dir / "result.json", {"status": "running"})
    (jobs[3].job_dir).mkdir()
    (jobs[3].job_dir / "result.json").write_text('{"status": "do')  # half-written: not done
    plan = plan_submission(jobs, tmp_path)
    assert [j.name for j in plan.to_submit] == ["x=1", "x=2", "x=3"]
    assert plan.skipped == [{"name": "x=0", "job_dir": str(jobs[0].job_dir), "reason": "done"}]
    assert len(plan_submission(jobs, tmp_path, skip_done=False).to_submit) == 4


def _write_pkg(root: Path, body: str) -> None:
    (root / "lomo_ablate").mkdir(parents=True, exist_ok=True)
    (root / "lomo_ablate" / "__init__.py").write_text(body)
    (root / "lomo_ablate" / "__pycache__").mkdir(exist_ok=True)
    (root / "lomo_ablate" / "__pycache__" / "x.pyc").write_bytes(b"junk")


def test_snapshot_is_content_addressed_and_frozen(tmp_path):
    repo, sweep = tmp_path / "repo", tmp_path / "sweep"
    _write_pkg(repo, "VERSION = 1\n")
    first = snapshot_code(sweep, repo)
    assert snapshot_code(sweep, repo) == first  # same code, same folder, copied once
    assert (first / "lomo_ablate/__init__.py").read_text() == "VERSION = 1\n"
    assert not (first / "lomo_ablate/__pycache__").exists()
    _write_pkg(repo, "VERSION = 2\n")  # the checkout moves on after submission
    second = snapshot_code(sweep, repo)
    assert second != first and (first / "lomo_ablate/__init__.py").read_text() == "VERSION = 1\n"


def test_snapshot_refuses_a_tree_without_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="lomo_ablate"):
        snapshot_code(tmp_path / "sweep", tmp_path)


@settings(deadline=None, max_examples=50)
@given(job=st.integers(1, 10**7), start=st.integers(0, 500), length=st.integers(0, 30),
       extra=st.integers(600, 700), limit=st.one_of(st.none(), st.integers(1, 9)))
def test_pending_array_ranges_expand_to_every_task(job, start, length, extra, limit):
    spec = f"{start}-{start + length},{extra}" + (f"%{limit}" if limit else "")
    states = parse_job_states([f"{job}_[{spec}]|PENDING|0:0"])
    assert set(states) == {f"{job}_{i}" for i in [*range(start, start + length + 1), extra]}
    assert all(s == ("PENDING", "0:0") for s in states.values())


def test_sacct_lines_keep_tasks_and_drop_steps():
    states = parse_job_states(["12_0|COMPLETED|0:0", "12_0.batch|COMPLETED|0:0", "12_1|CANCELLED by 0|0:15",
                               "", "garbage"])
    assert states == {"12_0": ("COMPLETED", "0:0"), "12_1": ("CANCELLED", "0:15")}


def _entry(tmp_path, log_text=None):
    log = tmp_path / "job.err"
    if log_text is not None:
        log.write_text(log_text)
    return {"name": "x=1", "job_id": "12_1", "job_dir": str(tmp_path / "x=1"), "stderr": str(log)}


@pytest.mark.parametrize("result, state, status", [
    ({"status": "done"}, ("RUNNING", ""), "done"),          # result written, job still exiting
    (None, ("PENDING", ""), "queued"),
    (None, ("REQUEUED", ""), "queued"),
    ({"status": "running"}, ("RUNNING", ""), "running"),
    ({"status": "failed"}, ("COMPLETED", "0:0"), "failed"),
    ({"status": "running"}, ("TIMEOUT", "0:0"), "failed"),
    (None, ("COMPLETED", "0:0"), "failed"),                # finished without a result: not silently ok
])
def test_status_combines_result_and_slurm_state(tmp_path, result, state, status):
    assert classify(_entry(tmp_path), result, state, slurm_known=True).status == status


def test_a_failure_names_the_log_and_quotes_its_last_lines(tmp_path):
    js = classify(_entry(tmp_path, "Traceback\n  File x\nRuntimeError: boom\n"), None, ("FAILED", "1:0"), True)
    assert js.status == "failed" and str(tmp_path / "job.err") in js.reason and "RuntimeError: boom" in js.reason


def test_job_unknown_to_slurm_is_failed_only_when_slurm_answered(tmp_path):
    assert classify(_entry(tmp_path), None, None, slurm_known=True).status == "failed"
    assert classify(_entry(tmp_path), None, None, slurm_known=False).status == "unknown"


@pytest.mark.parametrize("form", ["file://{}", "{}"])  # the second: an absolute config_path in @hydra.main
def test_queued_jobs_compose_their_config_from_the_snapshot(tmp_path, form):
    """The launcher shipped to the jobs reads conf/ from the snapshot: editing the checkout's config
    after submission does not change what a queued job composes."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.types import HydraContext, RunMode

    repo = tmp_path / "repo"
    _write_pkg(repo, "")
    (repo / "conf").mkdir()
    (repo / "conf" / "app.yaml").write_text("lr: 0.1\n")
    snap = snapshot_code(tmp_path / "sweep", repo)
    (repo / "conf" / "app.yaml").write_text("lr: 0.5\n")  # edited after submission
    ctx = HydraContext(config_loader=ConfigLoaderImpl(create_config_search_path(form.format(repo / "conf"))),
                       callbacks=None)
    node = repoint_search_path(ctx, repo, snap)
    cfg = node.config_loader.load_configuration("app", [], run_mode=RunMode.RUN)
    assert cfg.lr == 0.1
    assert ctx.config_loader.load_configuration("app", [], run_mode=RunMode.RUN).lr == 0.5  # submit side untouched


@pytest.mark.parametrize("subdir", [
    "${hydra.job.override_dirname}", "${hydra.job.num}",
    "${lomo.job_name:${hydra.overrides.task},${hydra.job.config.override_dirname.exclude_keys}}"])
def test_cheap_job_folder_equals_the_composed_one(subdir):
    """The launcher computes job folders from overrides alone; it must agree with Hydra's full compose."""
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    import lomo_ablate.pipeline  # noqa: F401  (the lomo.job_name resolver)

    hydra_over = [f"hydra.sweep.subdir='{subdir}'", f"hydra.searchpath=[file://{REPO}/conf]"]
    with initialize_config_dir(config_dir=str(REPO / "tests/slurm/app/conf"), version_base=None):
        master = compose("slurm_testapp", overrides=hydra_over, return_hydra_config=True)
        assert not job_dir_needs_compose(master)
        for idx, job in enumerate([["x=3"], ["x=1", "fail_on=2", "cluster=slurm_loopback"], ["+extra=a/b"]]):
            full = compose("slurm_testapp", overrides=hydra_over + job, return_hydra_config=True)
            with open_dict(full):
                full.hydra.job.num = idx
            assert cheap_job_subdir(master, job, idx) == str(full.hydra.sweep.subdir)
    GlobalHydra.instance().clear()


def test_a_folder_that_depends_on_the_config_is_composed():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"hydra": {"sweep": {"dir": "out", "subdir": "${model.name}_${hydra.job.num}"}}})
    assert job_dir_needs_compose(cfg)


def test_a_done_job_whose_config_changed_is_resubmitted_with_the_reason(tmp_path):
    jobs = _jobs(tmp_path, 2)
    for j in jobs:
        atomic_write_json(j.job_dir / "result.json", {"status": "done", "config_hash": "old"})
    plan = plan_submission(jobs, tmp_path, is_current=lambda job, result: job.name == "x=0")
    assert [j.name for j in plan.to_submit] == ["x=1"]
    assert [s["name"] for s in plan.skipped] == ["x=0"]
    assert [s["name"] for s in plan.stale] == ["x=1"] and "config_hash differs" in plan.stale[0]["reason"]


def test_the_launcher_config_is_the_stock_slurm_config_plus_what_lomo_slurm_adds():
    import dataclasses

    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf

    from hydra_plugins.lomo_ablate.launcher import LomoSlurmLauncherConf

    stock = {f.name for f in dataclasses.fields(SlurmQueueConf)}
    ours = {f.name for f in dataclasses.fields(LomoSlurmLauncherConf)}
    # (by name: Hydra's plugin scan executes plugin modules again, making new class objects)
    assert ("hydra_plugins.hydra_submitit_launcher.config", "SlurmQueueConf") in \
        [(c.__module__, c.__name__) for c in LomoSlurmLauncherConf.__mro__]
    assert ours - stock == {"wait", "skip_done", "snapshot", "poll_s", "stage_jobs", "stages"}
    # one vocabulary: every launcher key is a ClusterConfig key of the same name (the cluster node's)
    assert ours - {"_target_", "submitit_folder", "name"} <= {f.name for f in dataclasses.fields(ClusterConfig)}


def test_cluster_keys_reach_the_launcher_under_the_stock_names(monkeypatch):
    from hydra.utils import instantiate

    monkeypatch.delenv("LOMO_SLURM_PARTITION", raising=False)
    cfg = _compose_cluster("slurm_h200", "cluster.partition=h200", "cluster.nodes=2", "cluster.timeout_min=90",
                           "+cluster.additional_parameters.constraint=h200")
    launcher = cfg.hydra.launcher
    assert (launcher.partition, launcher.nodes, launcher.gpus_per_node, launcher.timeout_min) == ("h200", 2, 8, 90)
    params = instantiate(launcher).cluster.executor_parameters("lomo")
    assert params["slurm_partition"] == "h200" and params["timeout_min"] == 90 and params["tasks_per_node"] == 8
    assert params["slurm_additional_parameters"] == {"constraint": "h200"}
    assert params["slurm_signal_delay_s"] == 300


def test_stage_job_keys_reach_the_launcher(monkeypatch):
    from hydra.utils import instantiate

    cfg = _compose_cluster("slurm_h200", "cluster.partition=h200", "cluster.stage_jobs=true",
                           "cluster.stages.curate.partition=cpu", "cluster.stages.curate.array=3")
    cluster = instantiate(cfg.hydra.launcher).cluster
    assert cluster.stage_jobs is True
    assert (cluster.stages.curate.partition, cluster.stages.curate.array, cluster.stages.curate.cpus_per_task) == \
        ("cpu", 3, 32)


def test_an_unknown_cluster_key_is_named_by_the_launcher_before_submission(monkeypatch):
    """A key the launcher does not read (e.g. the old name time_min) would be ignored silently."""
    from hydra.utils import instantiate

    cfg = _compose_cluster("slurm_loopback", "+cluster.time_min=5")
    launcher = instantiate(cfg.hydra.launcher)
    with pytest.raises(ConfigError, match=r"cluster\.time_min.*timeout_min"):
        launcher.setup(hydra_context=None, task_function=None, config=cfg)


def test_a_done_job_run_again_with_another_logger_is_not_resubmitted(tmp_path):
    """The launcher's skip-done check hashes like the job (pipeline.jobconfig): logger and cluster keys
    do not make a done job stale."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import HydraContext
    from hydra.utils import instantiate

    from lomo_ablate.pipeline.jobconfig import job_config_hash

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        master = compose("config", overrides=["cluster=slurm_loopback"], return_hydra_config=True)
        first = compose("config", overrides=["cluster=slurm_loopback", "seed=1"], return_hydra_config=True)
        launcher = instantiate(master.hydra.launcher)
        launcher.setup(hydra_context=HydraContext(config_loader=GlobalHydra.instance().config_loader(),
                                                  callbacks=None), task_function=None, config=master)
        done = {"status": "done", "config_hash": job_config_hash(first)}
        same = JobSpec(name="seed=1", job_dir=tmp_path, args=(["cluster=slurm_loopback", "seed=1", "logger=none", "cluster.poll_s=5"],))
        changed = JobSpec(name="seed=1", job_dir=tmp_path, args=(["cluster=slurm_loopback", "seed=1", "trainer.lr=0.5"],))
        assert launcher._is_current(same, done)
        assert not launcher._is_current(changed, done)
    GlobalHydra.instance().clear()
