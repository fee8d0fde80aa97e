"""What decides that a job is already done (pipeline/jobconfig.py): its folder and its config hash leave
out the same keys (contracts.NOT_IN_JOB), so running a done job again with another logger or on another
cluster finds it done in its folder instead of overwriting its result.json."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from lomo_ablate.contracts import NOT_IN_JOB, config_hash, save_result
from lomo_ablate.pipeline.jobconfig import already_done, job_config_hash, resolved_job_config
from lomo_ablate.pipeline.naming import job_dir_name

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def job():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield lambda *o: compose(config_name="config", overrides=list(o), return_hydra_config=True)
    GlobalHydra.instance().clear()


def test_folder_names_and_the_config_hash_leave_out_the_same_keys(job):
    assert list(job().hydra.job.config.override_dirname.exclude_keys) == list(NOT_IN_JOB)
    assert config_hash({"seed": 1, "logger": {"mode": "none"}, "cluster": {"kind": "slurm"}}) == \
        config_hash({"seed": 1, "logger": {"mode": "offline"}})
    assert config_hash({"seed": 1}) != config_hash({"seed": 2})


def test_another_logger_or_cluster_finds_the_done_job_instead_of_overwriting_it(job, tmp_path):
    first = ["seed=1"]
    again = ["seed=1", "logger=none", "cluster=slurm_loopback"]
    master = job()
    name = job_dir_name(master, first)
    assert job_dir_name(master, again) == name  # the same folder ...
    save_result(tmp_path / name, {"status": "done", "config_hash": job_config_hash(job(*first))})
    assert already_done(tmp_path / name, job(*again))  # ... and the same job: skipped, not overwritten
    assert job_config_hash(job(*again)) == job_config_hash(job(*first))


def test_a_changed_setting_in_the_same_folder_runs_again(job, tmp_path):
    cfg = job("seed=1")
    save_result(tmp_path, {"status": "done", "config_hash": job_config_hash(cfg)})
    assert already_done(tmp_path, cfg)
    OmegaConf.update(cfg, "trainer.lr", 0.123, force_add=True)  # e.g. a default changed since
    assert not already_done(tmp_path, cfg)
    save_result(tmp_path, {"status": "failed", "config_hash": job_config_hash(cfg)})
    assert not already_done(tmp_path, cfg)


def test_result_json_records_the_config_without_hydras_node(job):
    resolved = resolved_job_config(job("seed=3"))
    assert "hydra" not in resolved and resolved["seed"] == 3
