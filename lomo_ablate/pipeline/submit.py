"""Submitting a sweep to Slurm as one job array — usable without Hydra.

The Hydra front door is the launcher plugin ``hydra/launcher=lomo_slurm`` (selected by the ``cluster``
config group); it builds :class:`JobSpec` s from the sweep's overrides and calls :func:`submit_jobs`.
What this module adds over hydra-submitit-launcher:

* **validate first**: :meth:`ClusterConfig.validate` rejects e.g. a Slurm cluster without a partition,
  naming the key, before anything is submitted;
* **resumable sweeps**: :func:`plan_submission` skips jobs whose ``<job_dir>/result.json`` says
  ``"status": "done"`` and jobs still queued or running from an earlier submission;
* **code snapshot**: :func:`snapshot_code` copies the package into ``<sweep_dir>/.code/<hash>/`` and jobs
  run with ``PYTHONPATH`` pointing there, so a queued job runs the code as it was at submission;
* **submit and exit**: :func:`submit_jobs` writes ``<sweep_dir>/submission.json`` (array id, one entry
  per job with its Slurm id, folder and log paths); ``python -m lomo_ablate.pipeline.collect <sweep_dir>``
  reports on the sweep later, from any shell.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from lomo_ablate.contracts import SUBMISSION, SUCCESS, load_result
from lomo_ablate.utils import atomic_write_json, locked
from lomo_ablate.utils.config import ConfigError, config_from_dict

CODE_DIR = ".code"
# what a snapshot copies from the repository root (only what exists is copied)
SNAPSHOT_PATHS = ("lomo_ablate", "hydra_plugins", "conf", "sweeps", "pyproject.toml")
_SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")

# keys of hydra-submitit-launcher's BaseQueueConf: submitit takes them unprefixed; every other Slurm key
# goes to submitit as ``slurm_<key>`` (the stock launcher's rule)
_BASE_KEYS = ("nodes", "tasks_per_node", "cpus_per_task", "gpus_per_node", "mem_gb", "timeout_min",
              "stderr_to_stdout")
_SLURM_KEYS = ("partition", "account", "qos", "comment", "constraint", "exclude", "gres", "cpus_per_gpu",
               "gpus_per_task", "mem_per_gpu", "mem_per_cpu", "array_parallelism", "signal_delay_s", "setup",
               "additional_parameters")
_OPTIONAL = ("gpus_per_node", "cpus_per_task", "cpus_per_gpu", "gpus_per_task")  # integers that may be null


@dataclasses.dataclass
class StageJobConfig:
    """The Slurm resources of a stage submitted as its own job array (``cluster.stages.<stage>``; used with
    ``cluster.stage_jobs=true``). Names and meaning as in ``SlurmQueueConf``; ``partition`` null: the
    cluster's. ``array``: the array tasks one computation is split into (curation: task ``r`` of ``array``
    curates the shards ``i % array == r``)."""

    partition: str | None = None
    cpus_per_task: int = 8
    mem_gb: int | None = 16
    array: int = 4
    timeout_min: int = 120

    def validate(self, where: str = "cluster.stages.curate") -> None:
        for key in ("cpus_per_task", "array", "timeout_min"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{where}.{key}={v!r}: expected an integer >= 1")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not self.mem_gb > 0):
            raise ConfigError(f"{where}.mem_gb={self.mem_gb!r}: expected a positive integer (GB) or null")


@dataclasses.dataclass
class StagesConfig:
    """``cluster.stages``: the stages that run as their own Slurm jobs with ``cluster.stage_jobs=true``."""

    curate: StageJobConfig = dataclasses.field(default_factory=StageJobConfig)

    def validate(self, where: str = "cluster.stages") -> None:
        self.curate.validate(f"{where}.curate")


@dataclasses.dataclass
class ClusterConfig:
    """Where and how the jobs of a sweep run (the ``cluster`` config group; docs/slurm.md).

    ``kind``: ``local`` (Hydra's in-process launcher) or ``slurm``. The Slurm keys are those of
    hydra-submitit-launcher's ``SlurmQueueConf``, with its names and meaning: ``partition`` (required),
    ``account``, ``qos``, ``nodes``, ``gpus_per_node``, ``tasks_per_node`` (one task per GPU for distributed
    training), ``cpus_per_task``, ``mem_gb`` (per node), ``timeout_min``, ``array_parallelism`` (most array
    tasks running at once), ``setup`` (shell lines run in the batch script before the job), ``signal_delay_s``
    (USR2 this long before the time limit, to checkpoint), ``max_num_timeout`` (how often a preempted /
    timed-out job is requeued), ``additional_parameters`` (any other sbatch option, e.g. ``{constraint:
    h200}``), and the rarer ``comment``, ``constraint``, ``exclude``, ``gres``, ``cpus_per_gpu``,
    ``gpus_per_task``, ``mem_per_gpu``, ``mem_per_cpu``, ``stderr_to_stdout``. What the ``lomo_slurm``
    launcher adds: ``wait`` (block until the array finishes, reporting failures as they happen, or submit and
    exit), ``skip_done`` (do not resubmit finished jobs), ``snapshot`` (run queued jobs on a copy of the code
    taken at submission), ``poll_s`` (seconds between polls while waiting), ``stage_jobs`` (curation runs as
    a CPU job array of its own, ``stages.curate``, and each GPU job waits for its curation with an
    ``afterok`` dependency: :mod:`lomo_ablate.pipeline.stagejobs`).
    """

    kind: str = "local"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int = 1
    gpus_per_node: int | None = 0
    tasks_per_node: int = 1
    cpus_per_task: int | None = 1
    mem_gb: int | None = None  # the stock SlurmQueueConf type
    timeout_min: int = 60
    array_parallelism: int = 64
    setup: list[str] | None = None
    additional_parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    signal_delay_s: int = 120
    max_num_timeout: int = 3
    comment: str | None = None
    constraint: str | None = None
    exclude: str | None = None
    gres: str | None = None
    cpus_per_gpu: int | None = None
    gpus_per_task: int | None = None
    mem_per_gpu: str | None = None
    mem_per_cpu: str | None = None
    stderr_to_stdout: bool = False
    wait: bool = True
    skip_done: bool = True
    snapshot: bool = True
    poll_s: float = 10.0
    stage_jobs: bool = False
    stages: StagesConfig = dataclasses.field(default_factory=StagesConfig)

    KINDS = ("local", "slurm")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "cluster") -> "ClusterConfig":
        """Builds a config from a plain mapping (``utils.config.config_from_dict``): an unknown key or a
        value of the wrong type is a :class:`ConfigError` naming it (``cluster.partition``). ``d`` may be
        an OmegaConf node (the ``cluster`` node of a job's config)."""
        if d is not None and not isinstance(d, dict) and type(d).__module__.startswith("omegaconf"):
            from omegaconf import OmegaConf

            d = OmegaConf.to_container(d, resolve=True)
        return config_from_dict(cls, dict(d or {}), where)

    def validate(self, where: str = "cluster") -> None:
        """Raises :class:`ConfigError` naming the first bad key."""
        if self.kind not in self.KINDS:
            raise ConfigError(f"{where}.kind={self.kind!r}: expected one of {', '.join(self.KINDS)}")
        ints = {"nodes": 1, "tasks_per_node": 1, "cpus_per_task": 1, "timeout_min": 1, "array_parallelism": 1,
                "gpus_per_node": 0, "max_num_timeout": 0, "signal_delay_s": 0, "cpus_per_gpu": 1,
                "gpus_per_task": 1}
        for key, low in ints.items():
            v = getattr(self, key)
            if v is None and key in _OPTIONAL:  # null: submitit's / the partition's default
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{where}.{key}={v!r}: expected an integer >= {low}")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not self.mem_gb > 0):
            raise ConfigError(f"{where}.mem_gb={self.mem_gb!r}: expected a positive integer (GB) or null")
        self.stages.validate(f"{where}.stages")
        if self.kind == "slurm" and not self.partition:
            raise ConfigError(
                f"{where}.partition is not set: a Slurm cluster needs a partition "
                f"(e.g. `{where}.partition=gpu` on the command line, or set it in conf/cluster/<name>.yaml)")

    def executor_parameters(self, job_name: str) -> dict[str, Any]:
        """The submitit ``AutoExecutor.update_parameters`` keywords of this config (unset keys left out)."""
        params: dict[str, Any] = {"name": job_name}
        for key in _BASE_KEYS + _SLURM_KEYS:
            value = getattr(self, key)
            if value is None or (value in (0, False) and key in ("gpus_per_node", "stderr_to_stdout")) or \
                    (key in ("setup", "additional_parameters") and not value):
                continue
            params[key if key in _BASE_KEYS else f"slurm_{key}"] = list(value) if key == "setup" else value
        return params


@dataclasses.dataclass
class JobSpec:
    """One job of a sweep: its deterministic name and folder, and the arguments of the job function."""

    name: str
    job_dir: Path
    args: tuple = ()


@dataclasses.dataclass
class SubmissionPlan:
    to_submit: list[JobSpec]
    skipped: list[dict]          # {"name", "job_dir", "reason"}
    stale: list[dict] = dataclasses.field(default_factory=list)  # done jobs resubmitted: config changed


def load_submission(sweep_dir: str | Path) -> dict:
    """``<sweep_dir>/submission.json`` (``{"submissions": [...]}``), or an empty record."""
    p = Path(sweep_dir) / SUBMISSION
    if not p.exists():
        return {"sweep_dir": str(Path(sweep_dir).resolve()), "submissions": []}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{p}: not valid JSON ({e}); move it aside to start the sweep's record afresh") from e


def latest_jobs(record: Mapping[str, Any]) -> dict[str, dict]:
    """Job name -> its entry in the most recent submission that included it."""
    out: dict[str, dict] = {}
    for sub in record.get("submissions", []):
        for job in sub.get("jobs", []):
            out[job["name"]] = job
    return out


def squeue_active(job_ids: Sequence[str]) -> set[str]:
    """Which of ``job_ids`` (``123_4`` form) Slurm still has queued or running."""
    arrays = sorted({j.split("_")[0] for j in job_ids})
    if not arrays:
        return set()
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-j", ",".join(arrays), "-o", "%i"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    live = {line.strip() for line in out.splitlines() if line.strip()}
    return {j for j in job_ids if j in live}


def plan_submission(jobs: Sequence[JobSpec], sweep_dir: str | Path, skip_done: bool = True,
                    is_current: Callable[[JobSpec, dict], bool] | None = None) -> SubmissionPlan:
    """Splits ``jobs`` into those to submit and those to skip: done (``result.json`` says so) or still
    queued/running from an earlier submission recorded in ``submission.json``. ``is_current(job,
    result)``, if given, is asked about each done job: False (its config changed since, e.g. a new
    default) resubmits it, with the reason recorded in ``plan.stale``."""
    if not skip_done:
        return SubmissionPlan(list(jobs), [])
    previous = latest_jobs(load_submission(sweep_dir))
    candidates = [previous[j.name]["job_id"] for j in jobs if j.name in previous]
    active = squeue_active(candidates) if candidates else set()
    to_submit, skipped, stale = [], [], []
    for job in jobs:
        result = load_result(job.job_dir)
        prev = previous.get(job.name)
        if result is not None and result.get("status") == "done":
            if is_current is None or is_current(job, result):
                skipped.append({"name": job.name, "job_dir": str(job.job_dir), "reason": "done"})
                continue
            stale.append({"name": job.name, "job_dir": str(job.job_dir),
                          "reason": "done, but with another config (config_hash differs): run again"})
            to_submit.append(job)
        elif prev is not None and prev.get("job_id") in active:
            skipped.append({"name": job.name, "job_dir": str(job.job_dir),
                            "reason": f"still queued or running as Slurm job {prev['job_id']}"})
        else:
            to_submit.append(job)
    return SubmissionPlan(to_submit, skipped, stale)


def find_repo_root(start: str | Path | None = None) -> Path:
    """The checkout holding the ``lomo_ablate`` package that is imported now."""
    if start is not None:
        return Path(start).resolve()
    import lomo_ablate

    return Path(lomo_ablate.__file__).resolve().parent.parent


def _tree_digest(root: Path, paths: Sequence[str]) -> str:
    h = hashlib.sha256()
    for rel in paths:
        top = root / rel
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            r = f.relative_to(root)
            if "__pycache__" in r.parts or r.suffix == ".pyc" or any(p.endswith(".egg-info") for p in r.parts):
                continue
            h.update(str(r).encode() + b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


def snapshot_code(sweep_dir: str | Path, repo_root: str | Path | None = None,
                  paths: Sequence[str] = SNAPSHOT_PATHS) -> Path:
    """Copies the package (and conf/, sweeps/, the launcher plugin) into
    ``<sweep_dir>/.code/<content hash>/`` once; the same code gives the same folder. Returns it."""
    root = find_repo_root(repo_root)
    present = [p for p in paths if (root / p).exists()]
    if "lomo_ablate" not in present:
        raise FileNotFoundError(f"{root}: no lomo_ablate package to snapshot")
    digest = _tree_digest(root, present)
    dest = Path(sweep_dir).resolve() / CODE_DIR / digest
    if (dest / SUCCESS).exists():
        return dest
    with locked(dest):
        if (dest / SUCCESS).exists():
            return dest
        tmp = dest.with_name(f".{digest}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for rel in present:
            src = root / rel
            if src.is_dir():
                shutil.copytree(src, tmp / rel, ignore=_SNAPSHOT_IGNORE)
            else:
                shutil.copy2(src, tmp / rel)
        (tmp / SUCCESS).write_text(f"{root}\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    return dest


@contextlib.contextmanager
def python_path_first(path: str | Path | None) -> Iterator[None]:
    """Puts ``path`` first on ``PYTHONPATH`` while jobs are submitted (sbatch exports the environment, so
    the jobs import from there). Also sets ``PYTHONSAFEPATH=1`` (Python >= 3.11): otherwise
    ``python -m`` puts the job's working directory — usually the checkout — before ``PYTHONPATH``."""
    if path is None:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PYTHONSAFEPATH")}
    old = saved["PYTHONPATH"]
    os.environ["PYTHONPATH"] = str(path) + (os.pathsep + old if old else "")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def submit_jobs(fn: Callable[..., Any], jobs: Sequence[JobSpec], cluster: ClusterConfig, sweep_dir: str | Path,
                job_name: str = "lomo", submitit_folder: str | Path | None = None,
                repo_root: str | Path | None = None,
                fn_for_code: Callable[[Path | None], Callable[..., Any]] | None = None,
                is_current: Callable[[JobSpec, dict], bool] | None = None,
                dependencies: Callable[[SubmissionPlan, Path | None], tuple[dict[str, str], dict]] | None = None,
                ) -> tuple[list[Any], dict]:
    """Submits ``fn(*job.args)`` for every job not already done as ONE Slurm job array, records the
    submission in ``<sweep_dir>/submission.json`` and returns ``(submitit jobs, this submission's
    record)`` without waiting. ``fn`` may define ``checkpoint()`` (submitit's requeue protocol).
    ``fn_for_code(snapshot_dir_or_None)``, if given, returns the function to submit once the code
    snapshot exists (the Hydra launcher points its config search path into the snapshot there).
    ``is_current``: see :func:`plan_submission`.

    ``dependencies(plan, code_snapshot)``, if given, is called once the plan and the snapshot exist (also when
    there is nothing to submit: it may resubmit what the queued jobs wait for) and returns ``({job name:
    sbatch dependency, e.g. "afterok:123"}, extra fields for this submission's record)``; the jobs then go
    out as one array per distinct dependency (``--dependency``; jobs without one in an array of their own).
    ``cluster.stage_jobs`` uses it (:class:`lomo_ablate.pipeline.stagejobs.CurationSubmitter`)."""
    import submitit

    cluster.validate()
    if cluster.kind != "slurm":
        raise ConfigError(f"cluster.kind={cluster.kind!r}: submit_jobs submits to Slurm only")
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_submission(jobs, sweep_dir, cluster.skip_done, is_current)
    code = snapshot_code(sweep_dir, repo_root) if cluster.snapshot and (plan.to_submit or dependencies) else None
    folder = Path(submitit_folder) if submitit_folder else sweep_dir / ".submitit" / "%j"
    deps, extra = dependencies(plan, code) if dependencies is not None else ({}, {})
    submitted: list[Any] = []
    order: list[JobSpec] = []
    if plan.to_submit:
        if fn_for_code is not None:
            fn = fn_for_code(code)
        groups: dict[str | None, list[JobSpec]] = {}
        for j in plan.to_submit:
            groups.setdefault(deps.get(j.name), []).append(j)
        for dep, group in groups.items():
            executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm",
                                             slurm_max_num_timeout=cluster.max_num_timeout)
            params = cluster.executor_parameters(job_name)
            if dep:
                # a blocking submission (wait=true) must end: a job whose dependency failed is cancelled
                # (reported failed; the next submission resubmits it); else it stays queued to be repointed
                kill = {"kill_on_invalid_dep": "yes"} if cluster.wait else {}
                params["slurm_additional_parameters"] = {**params.get("slurm_additional_parameters", {}),
                                                         "dependency": dep, **kill}
            executor.update_parameters(**params)
            with python_path_first(code):
                submitted += executor.map_array(fn, *zip(*(j.args for j in group)))
            order += group
        by_name = {spec.name: job for spec, job in zip(order, submitted)}
        submitted, order = [by_name[j.name] for j in plan.to_submit], list(plan.to_submit)  # the jobs' order
    arrays = list(dict.fromkeys(job.job_id.split("_")[0] for job in submitted))
    entry = {
        "submitted_at": _now(),
        "array_id": arrays[0] if arrays else None,
        "array_ids": arrays,
        "code_snapshot": str(code) if code else None,
        "cluster": dataclasses.asdict(cluster),
        "jobs": [{"name": spec.name, "job_dir": str(Path(spec.job_dir).resolve()), "job_id": job.job_id,
                  "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr),
                  **({"dependency": deps[spec.name]} if deps.get(spec.name) else {})}
                 for spec, job in zip(order, submitted)],
        "skipped": plan.skipped,
        "stale": plan.stale,
        **extra,
    }
    with locked(sweep_dir / SUBMISSION):
        record = load_submission(sweep_dir)
        record["submissions"].append(entry)
        atomic_write_json(sweep_dir / SUBMISSION, record)
    return submitted, entry
