"""cluster.stage_jobs without a cluster: the curation array task (real curation, real files), its task-level
done markers and the finish, and the typed ``cluster.stages`` keys. The Slurm side is test_stagejobs_slurm.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from curated_tree import curated_tree
from lomo_ablate.curate import CurateConfig, curate
from lomo_ablate.pipeline.stagejobs import curate_cluster, curate_task, curation_spec, tasks_dir, tasks_not_done
from lomo_ablate.pipeline.store import Store
from lomo_ablate.pipeline.submit import ClusterConfig
from lomo_ablate.utils.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
SMALL = ["data.text_size=16", "data.multimodal_size=8", "curate.mix.scale=null", "curate.shard_size=4",
         "curate.workers=1"]



@pytest.fixture
def job_cfg(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=SMALL + [f"store_dir={tmp_path / 'store'}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg


def test_array_tasks_in_any_order_give_the_one_process_curation(job_cfg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = curation_spec(job_cfg)
    store = Store(spec.config["store_dir"])
    # task 1 of 2 runs alone first (task 0 "killed" or not yet scheduled): its share, its marker, no finish
    first = curate_task(spec, 1, 2)
    assert first["status"] == "share" and tasks_not_done(store, spec.key, 2) == [0]
    assert not store.is_done("curate", spec.key)
    work = store.work_path("curate", spec.key) / ".work"
    # 16 text + 8 multimodal records in shards of 4: shards 0-5, task 1 took 1, 3, 5 and only those
    assert sorted(p.name for p in work.glob("shard-*.stats.json")) == [
        f"shard-{i:05d}.stats.json" for i in (1, 3, 5)]
    # the missing task comes later: it curates its share, sees every marker and finishes into the store
    second = curate_task(spec, 0, 2)
    assert second["status"] == "finished" and store.is_done("curate", spec.key)
    assert not tasks_dir(store, spec.key).exists() and not store.work_path("curate", spec.key).exists()
    # a task resubmitted after the finish does nothing
    assert curate_task(spec, 1, 2)["status"] == "cached"

    # byte for byte what one process makes of the same inputs
    data = next((store.root / "data").glob("[0-9a-f]*"))
    ccfg = CurateConfig.from_dict(spec.config["curate"])
    curate(data / "text.jsonl", tmp_path / "one", ccfg, multimodal_input=data / "multimodal.jsonl",
           seed=spec.config["seed"], workers=1, progress=False)
    assert curated_tree(store.path("curate", spec.key)) == curated_tree(tmp_path / "one")


def test_a_task_of_another_config_is_refused(job_cfg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = curation_spec(job_cfg)
    bad = type(spec)("0" * 16, spec.config, spec.cwd)
    with pytest.raises(RuntimeError, match="the submission recorded 0000000000000000"):
        curate_task(bad, 0, 2)


def test_stage_resources_are_typed_and_named():
    c = ClusterConfig.from_dict({"kind": "slurm", "partition": "gpu", "gpus_per_node": 8, "stage_jobs": True,
                                 "additional_parameters": {"constraint": "h200"},
                                 "stages": {"curate": {"partition": "cpu", "cpus_per_task": 32, "array": 16}}})
    cc = curate_cluster(c)
    params = cc.executor_parameters("lomo-curate")
    assert params["slurm_partition"] == "cpu" and params["cpus_per_task"] == 32
    assert "gpus_per_node" not in params and "slurm_additional_parameters" not in params  # no GPU options
    assert ClusterConfig.from_dict({"stages": {"curate": {}}}).stages.curate.partition is None
    with pytest.raises(ConfigError, match=r"cluster\.stages\.curate\.time_min"):
        ClusterConfig.from_dict({"stages": {"curate": {"time_min": 5}}})
    with pytest.raises(ConfigError, match=r"cluster\.stages\.curate\.array=0"):
        ClusterConfig.from_dict({"stages": {"curate": {"array": 0}}}).validate()
