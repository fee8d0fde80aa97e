"""``hydra/launcher=lomo_slurm`` — selected by ``cluster=slurm*`` (conf/cluster/).

Subclasses hydra-submitit-launcher's ``SlurmLauncher``; the work is done by plain functions in
``lomo_ablate.pipeline.submit`` (submission) and ``lomo_ablate.pipeline.collect`` (watching):

1. the cluster config is validated before anything happens (a missing partition is named);
2. each job's folder is computed from its overrides (composing its config only when hydra.sweep.subdir
   depends on more than the overrides); with the code snapshot, jobs import the package and compose their
   config from ``<sweep_dir>/.code/<hash>/``, i.e. as they were when submitted;
3. jobs whose ``<job_dir>/result.json`` says done are skipped; the rest go out as ONE job array;
4. ``cluster.wait=false``: write ``<sweep_dir>/submission.json`` and return at once;
   ``cluster.wait=true``: poll, print each failure (with its log path) as soon as it is seen, and return
   the jobs' results when all have finished.
"""

import copy
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
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


_JOB_ONLY = ("hydra.job.", "hydra.overrides.")


def job_dir_needs_compose(config: DictConfig) -> bool:
    """Whether the job folder (``hydra.sweep.dir/hydra.sweep.subdir``) depends on more than the job's
    overrides (``hydra.job.*``, ``hydra.overrides.*``). If not — the usual case, and the pipeline's — it
    is computed without composing the job's config, which costs Hydra ~0.25 s per job."""
    raw = OmegaConf.to_container(config.hydra.sweep, resolve=False)
    text = f"{raw.get('dir', '')} {raw.get('subdir', '')}"
    refs = re.findall(r"\$\{([\w.]+)\}", text)
    return any(not r.startswith(_JOB_ONLY) for r in refs) or "${now:" in text


def make_job_subdir(config: DictConfig) -> Callable[[Sequence[str], int], str]:
    """A function ``(overrides, job_num) -> hydra.sweep.subdir`` of one job, from the master config and
    the job's overrides: it fills ``hydra.job.override_dirname`` and ``hydra.overrides.task`` the way
    Hydra's config loader does (valid when :func:`job_dir_needs_compose` is false)."""
    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    od = config.hydra.job.config.override_dirname
    kv_sep, item_sep, exclude = od.kv_sep, od.item_sep, list(od.exclude_keys)
    hydra_overrides = list(OmegaConf.to_container(config.hydra.overrides, resolve=False).get("hydra", []))
    cfg = OmegaConf.create({"hydra": {
        "job": OmegaConf.to_container(config.hydra.job, resolve=False),
        "overrides": {"hydra": hydra_overrides, "task": []},
        "sweep": {"subdir": OmegaConf.to_container(config.hydra.sweep, resolve=False)["subdir"]}}})

    def subdir(overrides: Sequence[str], job_num: int) -> str:
        parsed = parser.parse_overrides(list(overrides))
        app = [o for o in parsed if not o.is_hydra_override()]
        cfg.hydra.overrides.hydra = hydra_overrides + [o.input_line for o in parsed if o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in app]
        cfg.hydra.job.override_dirname = get_overrides_dirname(overrides=app, kv_sep=kv_sep, item_sep=item_sep,
                                                               exclude_keys=exclude)
        cfg.hydra.job.num = job_num
        return str(cfg.hydra.sweep.subdir)

    return subdir


def cheap_job_subdir(config: DictConfig, overrides: Sequence[str], idx: int) -> str:
    """``hydra.sweep.subdir`` of one job without composing its config (see :func:`make_job_subdir`)."""
    return make_job_subdir(config)(overrides, idx)


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


def repoint_search_path(hydra_context: Any, repo_root: Path, snapshot: Path) -> Any:
    """A copy of ``hydra_context`` whose config search path reads the snapshot's copy of every config
    folder that lies in the checkout (``<repo>/conf`` -> ``<snapshot>/conf``), so a queued job composes
    its config from the files as they were at submission. Folders not in the snapshot stay as they are."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
    from hydra.types import HydraContext

    old = hydra_context.config_loader.get_search_path()
    new = ConfigSearchPathImpl()
    root = str(repo_root.resolve()).rstrip("/") + "/"
    for el in old.get_path():
        path = el.path
        scheme, sep, rest = path.partition("://")
        if not sep:  # a bare path (an absolute config_path in @hydra.main) is a file:// one
            scheme, rest = "", path
        if scheme in ("", "file") or rest.startswith("/"):
            rest_abs = os.path.normpath(rest)
            rel = rest_abs[len(root):] if (rest_abs + "/").startswith(root) else None
            if rel is not None and (snapshot / rel).exists():
                path = f"{scheme}://{snapshot / rel}" if sep else str(snapshot / rel)
        new.append(el.provider, path)
    return HydraContext(config_loader=ConfigLoaderImpl(config_search_path=new), callbacks=hydra_context.callbacks)


class LomoSlurmLauncher(SlurmLauncher):
    def __init__(self, cluster: Any = None, submitit_folder: str = "${hydra.sweep.dir}/.submitit/%j") -> None:
        from lomo_ablate.pipeline.submit import ClusterConfig

        if OmegaConf.is_config(cluster):
            cluster = OmegaConf.to_container(cluster, resolve=True)
        super().__init__(submitit_folder=submitit_folder)
        # validated here: a bad cluster group fails before any job is composed or submitted
        self.cluster = ClusterConfig.from_dict(cluster or {"kind": "slurm"})

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        import lomo_ablate.pipeline  # noqa: F401  (registers the job-name resolver used by hydra.sweep.subdir)

        return super().__call__(*args, **kwargs)

    def _for_code(self, snapshot: Optional[Path]) -> SweepPayloadJob:
        """The function submitted for every job: reads the launcher (whose config search path points into
        the code snapshot) and the singleton state from one payload file in the sweep's submitit folder."""
        import cloudpickle

        node = self
        if snapshot is not None:
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
            from lomo_ablate.pipeline.app import config_hash, resolved_job_config

            assert self.hydra_context is not None and self.config is not None
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(job.args[0]))
            return config_hash(resolved_job_config(cfg)) == result["config_hash"]
        except Exception as e:  # noqa: BLE001
            log.warning(f"{job.name}: cannot check its config hash here ({type(e).__name__}: {e}); resubmitting")
            return False

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import lomo_ablate.pipeline  # noqa: F401  (job-name resolver)
        from lomo_ablate.pipeline import collect
        from lomo_ablate.pipeline.submit import JobSpec, submit_jobs

        assert self.config is not None and self.hydra_context is not None
        if self.cluster.kind != "slurm":
            raise ValueError("hydra/launcher=lomo_slurm needs cluster.kind=slurm (use cluster=local to run here)")
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        t0 = time.perf_counter()
        compose = job_dir_needs_compose(self.config)
        namer = None if compose else make_job_subdir(self.config)
        specs: List[JobSpec] = []
        for k, overrides in enumerate(job_overrides):
            idx = initial_job_idx + k
            if compose:
                cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
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
        jobs, entry = submit_jobs(self, specs, self.cluster, sweep_dir, job_name=str(self.config.hydra.job.name),
                                  submitit_folder=str(self.params["submitit_folder"]), fn_for_code=self._for_code,
                                  is_current=self._is_current)
        for s in entry["skipped"]:
            log.info(f"skipped {s['name']}: {s['reason']}")
        for s in entry["stale"]:
            log.info(f"resubmitting {s['name']}: {s['reason']}")
        if jobs:
            log.info(f"submitted {len(jobs)} job(s) as array {entry['array_id']} in {time.perf_counter() - t0:.2f} s "
                     f"(job folders {t1 - t0:.2f} s; record: {sweep_dir}/submission.json)")
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
