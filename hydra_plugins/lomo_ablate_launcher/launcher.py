"""``hydra/launcher=lomo_slurm`` — selected by ``cluster=slurm*`` (conf/cluster/).

Subclasses hydra-submitit-launcher's ``SlurmLauncher``; the work is done by plain functions in
``lomo_ablate.pipeline.submit`` (submission) and ``lomo_ablate.pipeline.collect`` (watching):

1. the cluster config is validated before anything happens (a missing partition is named);
2. every job's config is composed at submission time and shipped with the job, so a queued job runs the
   config (and, with the code snapshot, the code) as it was when submitted;
3. jobs whose ``<job_dir>/result.json`` says done are skipped; the rest go out as ONE job array;
4. ``cluster.wait=false``: write ``<sweep_dir>/submission.json`` and return at once;
   ``cluster.wait=true``: poll, print each failure (with its log path) as soon as it is seen, and return
   the jobs' results when all have finished.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class LomoSlurmLauncherConf:
    _target_: str = "hydra_plugins.lomo_ablate_launcher.launcher.LomoSlurmLauncher"
    # the `cluster` node of the app's config (lomo_ablate.pipeline.submit.ClusterConfig)
    cluster: Dict[str, Any] = field(default_factory=dict)
    submitit_folder: str = "${hydra.sweep.dir}/.submitit/%j"


ConfigStore.instance().store(group="hydra/launcher", name="lomo_slurm", node=LomoSlurmLauncherConf,
                             provider="lomo_ablate")


class LomoSlurmLauncher(SlurmLauncher):
    def __init__(self, cluster: Any = None, submitit_folder: str = "${hydra.sweep.dir}/.submitit/%j") -> None:
        from lomo_ablate.pipeline.submit import ClusterConfig

        if OmegaConf.is_config(cluster):
            cluster = OmegaConf.to_container(cluster, resolve=True)
        super().__init__(submitit_folder=submitit_folder)
        # validated here: a bad cluster group fails before any job is composed or submitted
        self.cluster = ClusterConfig.from_dict(cluster or {"kind": "slurm"})

    # runs on the compute node (every task of the job; again after a requeue)
    def __call__(self, sweep_config: DictConfig, job_dir_key: str, job_num: int, job_id: str,  # type: ignore[override]
                 singleton_state: Dict[type, Singleton]) -> JobReturn:
        import submitit

        import lomo_ablate.pipeline  # noqa: F401  (registers the job-name resolver used by hydra.sweep.subdir)

        assert self.hydra_context is not None and self.task_function is not None
        Singleton.set_state(singleton_state)
        setup_globals()
        sweep_config = sweep_config.copy()
        with open_dict(sweep_config.hydra.job) as job:
            job.id = submitit.JobEnvironment().job_id
            job.num = job_num
        return run_job(hydra_context=self.hydra_context, task_function=self.task_function, config=sweep_config,
                       job_dir_key=job_dir_key, job_subdir_key="hydra.sweep.subdir")

    def _compose(self, overrides: Sequence[str], idx: int) -> DictConfig:
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(cfg.hydra.job) as job:
            job.num = idx
            job.id = f"pending_{idx}"
        return cfg

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from lomo_ablate.pipeline import collect
        from lomo_ablate.pipeline.submit import JobSpec, submit_jobs

        import lomo_ablate.pipeline  # noqa: F401  (job-name resolver)

        assert self.config is not None
        if self.cluster.kind != "slurm":
            raise ValueError("hydra/launcher=lomo_slurm needs cluster.kind=slurm (use cluster=local to run here)")
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        specs: List[JobSpec] = []
        for k, overrides in enumerate(job_overrides):
            idx = initial_job_idx + k
            cfg = self._compose(overrides, idx)
            job_dir = sweep_dir / str(cfg.hydra.sweep.subdir)
            name = job_dir.name
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            specs.append(JobSpec(name=name, job_dir=job_dir,
                                 args=(cfg, "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state())))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"jobs share a folder ({', '.join(dup[:5])}): hydra.sweep.subdir must differ per job")
        jobs, entry = submit_jobs(self, specs, self.cluster, sweep_dir, job_name=str(self.config.hydra.job.name),
                                  submitit_folder=str(self.params["submitit_folder"]))
        for s in entry["skipped"]:
            log.info(f"skipped {s['name']}: {s['reason']}")
        if jobs:
            log.info(f"submitted {len(jobs)} job(s) as array {entry['array_id']} (record: {sweep_dir}/submission.json)")
        by_name = {s.name: s for s in specs}
        if not self.cluster.wait:
            log.info(f"not waiting (cluster.wait=false); later: python -m lomo_ablate.pipeline.collect {sweep_dir}")
            return [JobReturn(overrides=list(by_name[j["name"]].args[0].hydra.overrides.task), status=JobStatus.COMPLETED,
                              _return_value=None, working_dir=j["job_dir"]) for j in entry["jobs"]]
        report = collect.watch(sweep_dir, poll_s=self.cluster.poll_s, only=[j["name"] for j in entry["jobs"]])
        returns: List[JobReturn] = []
        for job in jobs:
            try:
                returns.append(job.results()[0])
            except Exception as e:  # noqa: BLE001  (reported per job by watch(); re-raised by Hydra's sweeper)
                returns.append(JobReturn(status=JobStatus.FAILED, _return_value=e))
        log.info(report.summary_line())
        return returns
