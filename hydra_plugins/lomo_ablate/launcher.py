"""``hydra/launcher=lomo_slurm`` — selected by ``cluster=slurm*`` (conf/cluster/).

Subclasses hydra-submitit-launcher's ``SlurmLauncher``; the work is done by plain functions in
``lomo_ablate.pipeline.submit`` (submission), ``lomo_ablate.pipeline.collect`` (watching) and
``lomo_ablate.pipeline.compose`` (job folders without composing, composing from the snapshot):

1. the cluster config (hydra-submitit-launcher's ``SlurmQueueConf`` keys plus ``wait``, ``skip_done``,
   ``snapshot``, ``poll_s``) is validated before anything happens (a missing partition is named);
2. each job's folder is computed from its overrides (composing its config only when hydra.sweep.subdir
   depends on more than the overrides); with the code snapshot, jobs import the package and compose their
   config from ``<sweep_dir>/.code/<hash>/``, i.e. as they were when submitted;
3. jobs whose ``<job_dir>/result.json`` says done are skipped; the rest go out as ONE job array;
   With ``cluster.stage_jobs=true`` each job's curation goes out first as a CPU array of its own and the jobs
   as one array per curation with an ``afterok`` dependency (``lomo_ablate.pipeline.stagejobs``);
4. ``cluster.wait=false``: write ``<sweep_dir>/submission.json`` and return at once;
   ``cluster.wait=true``: poll, print each failure (with its log path) as soon as it is seen, and return
   the jobs' results when all have finished.
"""

import copy
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

from lomo_ablate.contracts import SUBMISSION

log = logging.getLogger(__name__)


@dataclass
class LomoSlurmLauncherConf(SlurmQueueConf):
    """hydra-submitit-launcher's ``SlurmQueueConf`` (same keys: ``partition``, ``timeout_min``,
    ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``, ``array_parallelism``, ``additional_parameters``,
    ``setup``, ``max_num_timeout``...) plus what this launcher adds. conf/cluster/slurm.yaml sets every key
    from the ``cluster`` node (``cluster.partition=gpu`` on the command line)."""

    _target_: str = "hydra_plugins.lomo_ablate.launcher.LomoSlurmLauncher"
    # block until the array finishes, printing failures as they happen (else submit and exit)
    wait: bool = True
    # skip jobs whose result.json says done for the same config hash, and jobs still queued or running
    skip_done: bool = True
    # queued jobs run <sweep_dir>/.code/<hash>/, the code as it was at submission
    snapshot: bool = True
    # seconds between polls while waiting
    poll_s: float = 10.0
    # curation as a CPU job array of its own (stages.curate), GPU jobs with an afterok dependency on it
    stage_jobs: bool = False
    # per-stage resources (lomo_ablate.pipeline.submit.StagesConfig: curate.{partition, cpus_per_task, mem_gb,
    # array, timeout_min}); validated by ClusterConfig
    stages: Any = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/launcher", name="lomo_slurm", node=LomoSlurmLauncherConf,
                             provider="lomo_ablate")

# launcher keys that are not cluster settings (ClusterConfig): where submitit writes, the job name
_NOT_CLUSTER = ("submitit_folder", "name")


class SweepPayloadJob:
    """What each array task unpickles: the path of the submission's shared payload (the launcher shipped to
    the jobs plus Hydra's singleton state), pickled ONCE per submission instead of once per job."""

    _loaded: Dict[str, Any] = {}

    def __init__(self, payload: str) -> None:
        self.payload = payload

    def _load(self) -> Any:
        if self.payload not in SweepPayloadJob._loaded:
            import pickle

            with open(self.payload, "rb") as f:
                SweepPayloadJob._loaded[self.payload] = pickle.load(f)
        return SweepPayloadJob._loaded[self.payload]

    def __call__(self, overrides: List[str], job_dir_key: str, job_num: int, job_id: str) -> JobReturn:
        launcher, singleton_state = self._load()
        return launcher(overrides, job_dir_key, job_num, job_id, singleton_state)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """submitit's requeue protocol (USR2 before a time limit / preemption): run the same task again;
        the job resumes from what its folder holds."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


class LomoSlurmLauncher(SlurmLauncher):
    def __init__(self, **params: Any) -> None:
        from lomo_ablate.pipeline.submit import ClusterConfig

        super().__init__(**params)
        # validated here: a bad cluster group fails before any job is composed or submitted. Keys are
        # named cluster.<key>: the cluster group sets hydra.launcher.<key> from cluster.<key>
        plain = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
                 for k, v in self.params.items() if k not in _NOT_CLUSTER}
        self.cluster = ClusterConfig.from_dict({"kind": "slurm", **plain}, where="cluster")

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        from lomo_ablate.pipeline.submit import ClusterConfig
        from lomo_ablate.utils.config import reject_unknown_keys

        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        # a key of the cluster node the launcher does not know (an old name, +cluster.time_min=...) would be
        # ignored silently: name it instead
        node = config.get("cluster")
        if OmegaConf.is_dict(node):
            reject_unknown_keys(ClusterConfig, dict(node), "cluster")

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        import lomo_ablate.pipeline  # noqa: F401  (registers the job-name resolver used by hydra.sweep.subdir)

        return super().__call__(*args, **kwargs)

    def _for_code(self, snapshot: Optional[Path]) -> SweepPayloadJob:
        """The function submitted for every job: reads the launcher (whose config search path points into
        the code snapshot) and the singleton state from one payload file in the sweep's submitit folder."""
        import cloudpickle

        node = self
        if snapshot is not None:
            from lomo_ablate.pipeline.compose import repoint_search_path
            from lomo_ablate.pipeline.submit import find_repo_root

            node = copy.copy(self)
            node.hydra_context = repoint_search_path(self.hydra_context, find_repo_root(), snapshot)
        folder = Path(str(self.config.hydra.sweep.dir)).resolve() / ".submitit"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"payload-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.pkl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            cloudpickle.dump((node, Singleton.get_state()), f)
        os.replace(tmp, path)
        return SweepPayloadJob(str(path))

    def _is_current(self, job: Any, result: Dict[str, Any]) -> bool:
        """Whether a done job's result was computed from the config this job has now: its recorded
        ``config_hash`` against the hash of the freshly composed config (the pipeline's definition).
        A result without a hash cannot be checked and counts as current; a config that cannot be
        composed or hashed here counts as changed (the job itself compares again and returns at once)."""
        if "config_hash" not in result:
            return True
        try:
            from lomo_ablate.pipeline.compose import load_job_config
            from lomo_ablate.pipeline.jobconfig import job_config_hash

            assert self.hydra_context is not None and self.config is not None
            cfg = load_job_config(self.hydra_context.config_loader, self.config, job.args[0])
            return job_config_hash(cfg) == result["config_hash"]
        except Exception as e:  # noqa: BLE001
            log.warning(f"{job.name}: cannot check its config hash here ({type(e).__name__}: {e}); resubmitting")
            return False

    def _curations(self, specs: Sequence[Any]) -> Any:
        """``cluster.stage_jobs``: each job's curation (composed here, keys from the checkout's conf, which the
        snapshot copies) and the hook that submits them as CPU arrays before the GPU jobs."""
        from lomo_ablate.pipeline.compose import load_job_config
        from lomo_ablate.pipeline.stagejobs import CurationSubmitter, curation_spec

        assert self.hydra_context is not None and self.config is not None
        curations = {s.name: curation_spec(load_job_config(self.hydra_context.config_loader, self.config, s.args[0]))
                     for s in specs}
        return CurationSubmitter(curations, self.cluster, Path(str(self.config.hydra.sweep.dir)),
                                 job_name=str(self.config.hydra.job.name),
                                 submitit_folder=str(self.params["submitit_folder"]))

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import lomo_ablate.pipeline  # noqa: F401  (job-name resolver)
        from lomo_ablate.pipeline import collect
        from lomo_ablate.pipeline.compose import job_dir_needs_compose, load_job_config, make_job_subdir
        from lomo_ablate.pipeline.submit import JobSpec, submit_jobs

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        t0 = time.perf_counter()
        compose = job_dir_needs_compose(self.config)
        namer = None if compose else make_job_subdir(self.config)
        specs: List[JobSpec] = []
        for k, overrides in enumerate(job_overrides):
            idx = initial_job_idx + k
            if compose:
                cfg = load_job_config(self.hydra_context.config_loader, self.config, overrides)
                with open_dict(cfg.hydra.job) as job:
                    job.num = idx
                subdir = str(cfg.hydra.sweep.subdir)
            else:
                subdir = namer(overrides, idx)
            job_dir = sweep_dir / subdir
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            specs.append(JobSpec(name=job_dir.name, job_dir=job_dir,
                                 args=(list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}")))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"jobs share a folder ({', '.join(dup[:5])}): hydra.sweep.subdir must differ per job")
        t1 = time.perf_counter()
        dependencies = self._curations(specs) if self.cluster.stage_jobs else None
        jobs, entry = submit_jobs(self, specs, self.cluster, sweep_dir, job_name=str(self.config.hydra.job.name),
                                  submitit_folder=str(self.params["submitit_folder"]), fn_for_code=self._for_code,
                                  is_current=self._is_current, dependencies=dependencies)
        for c in entry.get("curations", []):
            log.info(f"curation {c['key']}: {len(c['tasks'])} of {c['n_tasks']} task(s) submitted"
                     f"{' as array ' + c['array_id'] if c.get('array_id') else ''}; {len(c['jobs'])} job(s) wait "
                     f"({c['dependency']})")
        for s in entry["skipped"]:
            log.info(f"skipped {s['name']}: {s['reason']}")
        for s in entry["stale"]:
            log.info(f"resubmitting {s['name']}: {s['reason']}")
        if jobs:
            log.info(f"submitted {len(jobs)} job(s) as array {', '.join(entry['array_ids'])} in {time.perf_counter() - t0:.2f} s "
                     f"(job folders {t1 - t0:.2f} s; record: {sweep_dir}/{SUBMISSION})")
        by_name = {s.name: s for s in specs}
        if not self.cluster.wait:
            log.info(f"not waiting (cluster.wait=false); later: python -m lomo_ablate.pipeline.collect {sweep_dir}")
            return [JobReturn(overrides=by_name[j["name"]].args[0], status=JobStatus.COMPLETED, _return_value=None,
                              working_dir=j["job_dir"]) for j in entry["jobs"]]
        report = collect.watch(sweep_dir, poll_s=self.cluster.poll_s, only=[j["name"] for j in entry["jobs"]])
        returns: List[JobReturn] = []
        for job in jobs:
            try:
                returns.append(job.results()[0])
            except Exception as e:  # noqa: BLE001  (reported per job by watch(); re-raised by Hydra's sweeper)
                returns.append(JobReturn(status=JobStatus.FAILED, _return_value=e))
        log.info(report.summary_line())
        return returns
