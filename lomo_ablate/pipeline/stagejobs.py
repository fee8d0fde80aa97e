"""Stages as Slurm jobs of their own (``cluster.stage_jobs=true``): curation as a CPU job array, each GPU job
waiting for the curation it needs with an ``afterok`` dependency (docs/slurm.md "Stage jobs").

At submission (:class:`CurationSubmitter`, called by :func:`lomo_ablate.pipeline.submit.submit_jobs` once it
knows what to submit):

* the jobs are grouped by their curation's store key (:func:`curation_spec`): jobs that share a curated
  dataset wait on ONE curation; a curation already in the store is no job at all;
* a curation to compute goes out as one array of ``cluster.stages.curate.array`` tasks on its own resources
  (``partition``, ``cpus_per_task``, ``mem_gb``, ``timeout_min``); task ``r`` of ``n`` curates the shards
  ``i % n == r`` into the store's work folder of that key (:func:`curate_task`, ``curate(share_only=True)``:
  no task waits for another, so they may run in any order and any number at once);
* a task that finished its share leaves ``<store>/curate/.tasks-<key>/<r>-of-<n>`` (task-level done
  marker); the task that finds all ``n`` markers concatenates the shards and moves the dataset into the store
  (the store's ordinary locked finish), so the array is ``COMPLETED`` only when the dataset is there;
* the GPU jobs go out as one array per curation with ``--dependency=afterok:<curation>``; their curate stage
  then finds the dataset in the store.

A failed or killed curation task cancels nothing: the other tasks finish their shares, the GPU jobs stay
queued (``DependencyNeverSatisfied``). The next submission of the same sweep resubmits only the tasks
without a done marker that are not queued or running (their shards resume from the shard-level done
markers), and points the queued GPU jobs' dependency at the new tasks (``scontrol update``).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate.pipeline.registry import StageContext
from lomo_ablate.pipeline.stages import REGISTRY, plan, stage_inputs
from lomo_ablate.pipeline.store import Store
from lomo_ablate.pipeline.submit import (ClusterConfig, StageJobConfig, SubmissionPlan, latest_jobs,
                                         load_submission, python_path_first, squeue_active)

log = logging.getLogger("lomo_ablate.stagejobs")

CURATE = "curate"
#: In a submission record: one entry per curation submitted (key, tasks, their Slurm ids, the jobs waiting).
CURATIONS = "curations"


@dataclasses.dataclass(frozen=True)
class CurationSpec:
    """What a curation array task needs: the curation's store key, the job's config (resolved, without the
    ``hydra`` node, ``store_dir`` absolute) and the folder relative paths in it are relative to."""

    key: str
    config: dict
    cwd: str


def curation_spec(cfg: DictConfig, cwd: str | Path | None = None) -> CurationSpec:
    """The curation the job ``cfg`` needs (its store key and what a task needs to compute it)."""
    key = next(p.key for p in plan(cfg) if p.name == CURATE)
    config = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    cwd = str(Path(cwd or os.getcwd()).resolve())
    config["store_dir"] = str((Path(cwd) / str(config["store_dir"])).resolve())
    return CurationSpec(key, config, cwd)


def tasks_dir(store: Store, key: str) -> Path:
    """Where the array tasks of curation ``key`` leave their done markers (beside the store's work folder)."""
    return store.root / CURATE / f".tasks-{key}"


def task_marker(store: Store, key: str, task: int, n_tasks: int) -> Path:
    return tasks_dir(store, key) / f"{task}-of-{n_tasks}"


def tasks_not_done(store: Store, key: str, n_tasks: int) -> list[int]:
    """The tasks of an ``n_tasks``-task curation whose share is not done ([] once the dataset is stored)."""
    if store.is_done(CURATE, key):
        return []
    return [r for r in range(n_tasks) if not task_marker(store, key, r, n_tasks).is_file()]


def curate_task(spec: CurationSpec, task: int, n_tasks: int) -> dict[str, Any]:
    """One array task: the data stage (the first task computes it, the others find it), this task's share of
    the curation's shards, its done marker; the task that sees every marker finishes the dataset into the
    store. Returns what it did (``status``: ``cached`` | ``share`` | ``finished``)."""
    from lomo_ablate.curate import CurateConfig, curate
    from lomo_ablate.utils import atomic_write_text

    os.chdir(spec.cwd)
    cfg = OmegaConf.create(spec.config)
    store = Store(cfg.store_dir)
    plans = {p.name: p for p in plan(cfg)}
    cur = plans[CURATE]
    if cur.key != spec.key:
        raise RuntimeError(f"curation task {task}/{n_tasks}: the config gives curate key {cur.key}, the submission "
                           f"recorded {spec.key} (code or input changed since submission?)")
    marker = task_marker(store, cur.key, task, n_tasks)
    if store.is_done(CURATE, cur.key):
        log.info("curate %s: already in the store", cur.key)
        return {"status": "cached", "key": cur.key, "task": task}
    inputs: dict[str, Path] = {}
    if "data" in plans:
        data = REGISTRY["data"]
        inputs["data"] = store.get_or_compute(
            "data", plans["data"].inputs, lambda out: data.run(StageContext(cfg=cfg, out=out, inputs={}))).path
    text, mm = stage_inputs(cfg, inputs.get("data"))
    ccfg = CurateConfig.from_dict(OmegaConf.to_container(cfg.curate, resolve=True))
    log.info("curate %s: task %d of %d curates its share of the shards", cur.key, task, n_tasks)
    summary = curate(text, store.work_path(CURATE, cur.key), ccfg, multimodal_input=mm, seed=int(cfg.seed),
                     progress=True, rank=task, world_size=n_tasks, share_only=True)
    atomic_write_text(marker, f"{os.environ.get('SLURM_JOB_ID', '')}\n")
    out = {"status": "share", "key": cur.key, "task": task, "counts": summary.counts}
    if tasks_not_done(store, cur.key, n_tasks):
        return out
    # every share is done: concatenate and move into the store (under the store's lock; a concurrent finisher
    # waits there and finds it done)
    stage = REGISTRY[CURATE]
    res = store.get_or_compute(CURATE, cur.inputs, lambda o: stage.run(StageContext(cfg=cfg, out=o, inputs=inputs)),
                               resumable=True)
    shutil.rmtree(tasks_dir(store, cur.key), ignore_errors=True)
    log.info("curate %s: finished into %s", cur.key, res.path)
    return {**out, "status": "finished" if not res.cached else "cached", "path": str(res.path)}


def _latest_curations(record: Mapping[str, Any]) -> dict[str, dict]:
    """Curation key -> ``{task index: Slurm id}`` over every submission (the latest id of each task)."""
    out: dict[str, dict] = {}
    for sub in record.get("submissions", []):
        for c in sub.get(CURATIONS, []):
            out.setdefault(c["key"], {}).update({int(r): jid for r, jid in c["tasks"].items()})
    return out


def curate_cluster(cluster: ClusterConfig) -> ClusterConfig:
    """The cluster settings of a curation task: ``cluster.stages.curate``'s resources, one CPU task, no GPU,
    the cluster's account, qos, setup lines and array parallelism (not its GPU-specific options)."""
    sc: StageJobConfig = cluster.stages.curate
    return dataclasses.replace(
        cluster, partition=sc.partition or cluster.partition, nodes=1, tasks_per_node=1, gpus_per_node=0,
        cpus_per_task=sc.cpus_per_task, mem_gb=sc.mem_gb, timeout_min=sc.timeout_min, additional_parameters={},
        gres=None, constraint=None, cpus_per_gpu=None, gpus_per_task=None, mem_per_gpu=None, mem_per_cpu=None)


def scontrol_update_dependency(job_id: str, dependency: str) -> str | None:
    """Points a queued job at another dependency; None on success, else Slurm's message."""
    try:
        r = subprocess.run(["scontrol", "update", f"JobId={job_id}", f"Dependency={dependency}"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    return None if r.returncode == 0 else (r.stderr or r.stdout).strip()


class CurationSubmitter:
    """The ``dependencies`` hook of :func:`lomo_ablate.pipeline.submit.submit_jobs` for ``cluster.stage_jobs``:
    submits the curations the jobs need (only their tasks not done and not queued) and returns each job's
    ``afterok`` dependency. ``specs``: job name -> its :class:`CurationSpec`."""

    def __init__(self, specs: Mapping[str, CurationSpec], cluster: ClusterConfig, sweep_dir: str | Path,
                 job_name: str = "lomo", submitit_folder: str | Path | None = None) -> None:
        self.specs, self.cluster, self.sweep_dir = dict(specs), cluster, Path(sweep_dir).resolve()
        self.job_name = job_name
        self.folder = Path(submitit_folder) if submitit_folder else self.sweep_dir / ".submitit" / "%j"

    def __call__(self, sub_plan: SubmissionPlan, code: Path | None) -> tuple[dict[str, str], dict]:
        record = load_submission(self.sweep_dir)
        previous_jobs = latest_jobs(record)
        queued = [s["name"] for s in sub_plan.skipped if s["reason"].startswith("still queued")]
        wanted = [j.name for j in sub_plan.to_submit] + queued
        by_key: dict[str, list[str]] = {}
        for name in wanted:
            by_key.setdefault(self.specs[name].key, []).append(name)
        old = _latest_curations(record)
        active = squeue_active([jid for tasks in old.values() for jid in tasks.values()])
        n = self.cluster.stages.curate.array
        deps: dict[str, str] = {}
        curations, repointed = [], []
        for key, names in by_key.items():
            spec = self.specs[names[0]]
            store = Store(spec.config["store_dir"])
            if store.is_done(CURATE, key):
                continue
            running = sorted(jid for jid in old.get(key, {}).values() if jid in active)
            running_tasks = {r for r, jid in old.get(key, {}).items() if jid in active}
            todo = [r for r in tasks_not_done(store, key, n) if r not in running_tasks]
            if not todo and not running:
                todo = [n - 1]  # every share done but not finished (its finisher failed): one task finishes
            ids: list[str] = []
            entry = {"key": key, "n_tasks": n, "jobs": names, "tasks": {}, "running": running}
            if todo:
                jobs = self._submit(spec, todo, n, code)
                entry.update(array_id=jobs[0].job_id.split("_")[0],
                             tasks={str(r): j.job_id for r, j in zip(todo, jobs)},
                             stdout=[str(j.paths.stdout) for j in jobs])
                ids.append(entry["array_id"])
                log.info("curation %s: %d of %d task(s) submitted as array %s", key, len(todo), n, entry["array_id"])
            dependency = "afterok:" + ":".join(ids + running)
            entry["dependency"] = dependency
            curations.append(entry)
            for name in names:
                if name in queued:
                    if todo:  # the queued job may wait on a task that failed: point it at the new tasks
                        jid = previous_jobs[name]["job_id"]
                        err = scontrol_update_dependency(jid, dependency)
                        repointed.append({"name": name, "job_id": jid, "dependency": dependency,
                                          **({"error": err} if err else {})})
                        if err:
                            log.warning("%s (Slurm job %s): dependency not updated: %s", name, jid, err)
                else:
                    deps[name] = dependency
        extra: dict[str, Any] = {CURATIONS: curations}
        if repointed:
            extra["repointed"] = repointed
        return deps, extra

    def _submit(self, spec: CurationSpec, tasks: Sequence[int], n_tasks: int, code: Path | None) -> list[Any]:
        import submitit

        cc = curate_cluster(self.cluster)
        executor = submitit.AutoExecutor(folder=str(self.folder), cluster="slurm", slurm_max_num_timeout=0)
        executor.update_parameters(**cc.executor_parameters(f"{self.job_name}-curate"))
        with python_path_first(code):
            return executor.map_array(curate_task, [spec] * len(tasks), list(tasks), [n_tasks] * len(tasks))


__all__ = ["CURATIONS", "CurationSpec", "CurationSubmitter", "curate_cluster", "curate_task", "curation_spec",
           "task_marker", "tasks_dir", "tasks_not_done"]
