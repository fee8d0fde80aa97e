"""Sweeps: grid expansion (product, paired/zip axes, baselines), validation of every job before anything
is launched, dry runs, a local concurrency limit, failures reported as they happen, and the report at the
end of a multirun.

Grid syntax (``hydra.sweeper`` of the ``lomo`` sweeper, set in sweeps/<name>.yaml or on the command line):

* ``params: {position: "prefix,middle"}`` and ``key=a,b`` arguments: the product, as Hydra's basic sweeper;
* ``paired: {backbone: {model: [tiny, qwen3_5_9b], trainer.lr: [1e-3, 1e-5]}}``: the lists of one pairing
  are zipped (equal lengths) and the pairing is one axis of the product; on the command line
  ``'zip(model,trainer.lr)=[tiny,qwen3_5_9b],[1e-3,1e-5]'`` means the same;
* ``baselines: [[method=standard_sft]]``: extra jobs (each a list of overrides) added once to the grid,
  not multiplied with the other axes;
* ``max_parallel: N``: at most N jobs at once (launchers that run a batch in parallel); 1 with the default
  launcher, which runs jobs one after another.
"""
from __future__ import annotations

import copy
import itertools
import logging
import re
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from lomo_ablate.pipeline.store import Store
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config

log = logging.getLogger("lomo_ablate.sweep")

ZIP_RE = re.compile(r"^zip\(([^()]+)\)=(.*)$")


class SweepSpecError(ValueError):
    """A malformed grid (paired lists of different lengths, a bad zip(...) argument...)."""


# ---- grid expansion ----

def rewrite_zip_arguments(argv: Sequence[str]) -> list[str]:
    """Turns ``zip(model,trainer.lr)=[tiny,q],[1e-3,1e-5]`` into the override
    ``++hydra.sweeper.paired.zip_model_trainer_lr={model:[tiny,q],trainer.lr:[1e-3,1e-5]}`` (the sweeper's
    ``paired`` syntax); other arguments pass unchanged."""
    out = []
    for arg in argv:
        m = ZIP_RE.match(arg)
        if not m:
            out.append(arg)
            continue
        keys = [k.strip() for k in m.group(1).split(",") if k.strip()]
        lists = _split_top_level(m.group(2))
        if len(keys) < 2 or len(lists) != len(keys) or not all(l.startswith("[") and l.endswith("]")
                                                               for l in lists):
            raise SweepSpecError(
                f"bad zip argument {arg!r}: expected zip(k1,k2,...)=[v1,v2,...],[w1,w2,...] with one "
                f"[...] list per key ({len(keys)} keys, {len(lists)} lists)")
        name = "zip_" + "_".join(re.sub(r"\W", "_", k) for k in keys)
        body = ",".join(f"{k}:{l}" for k, l in zip(keys, lists))
        out.append(f"++hydra.sweeper.paired.{name}={{{body}}}")
    return out


def _split_top_level(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch in "[{("
        depth -= ch in "]})"
        cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _fmt(value: Any) -> str:
    """A value as Hydra override text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def expand_grid(overrides: Sequence[Any], paired: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
                baselines: Sequence[Sequence[str]] | None = None) -> list[list[str]]:
    """The jobs of a sweep, each a list of ``key=value`` override strings.

    ``overrides``: parsed Hydra overrides (sweeps are multiplied; constants go into every job);
    ``paired``: name -> {key: values} (zipped within a pairing, multiplied across); ``baselines``: extra
    jobs, each a list of overrides, added once (with the constant overrides). Duplicates are dropped."""
    axes: "OrderedDict[str, list[list[str]]]" = OrderedDict()
    constants: list[str] = []
    for o in overrides:
        key = o.get_key_element()
        if o.is_sweep_override():
            if not o.is_discrete_sweep():
                raise SweepSpecError(f"{key}: only lists and range() sweeps are supported, got {o.input_line}")
            axes[key] = [[f"{key}={v}"] for v in o.sweep_string_iterator()]
        else:
            constants.append(f"{key}={o.get_value_element_as_str()}")
            axes.pop(key, None)
    for name, pairing in (paired or {}).items():
        lengths = {k: len(v) for k, v in pairing.items()}
        if len(set(lengths.values())) > 1:
            raise SweepSpecError(f"hydra.sweeper.paired.{name}: lists must have equal lengths to be zipped, "
                                 f"got {lengths}")
        if any(k in axes for k in pairing):
            dup = [k for k in pairing if k in axes]
            raise SweepSpecError(f"hydra.sweeper.paired.{name}: {dup} also swept on their own; a key can be "
                                 "in one axis only")
        cols = [[f"{k}={_fmt(v)}" for v in vals] for k, vals in pairing.items()]
        axes[f"paired:{name}"] = [list(row) for row in zip(*cols)]
        constants = [c for c in constants if c.split("=", 1)[0] not in pairing]
    # swept values first, then the constants: the job folder name keeps this order (naming.py)
    jobs = [[o for part in combo for o in part] + constants for combo in itertools.product(*axes.values())]
    for base in baselines or []:
        base = [str(b) for b in base]
        keys = {b.split("=", 1)[0].lstrip("+~") for b in base}
        jobs.append(base + [c for c in constants if c.split("=", 1)[0].lstrip("+~") not in keys])
    seen, unique = set(), []
    for j in jobs:
        sig = tuple(sorted(j))
        if sig not in seen:
            seen.add(sig)
            unique.append(j)
    return unique


# ---- validation and dry run over the expanded grid ----

def compose_jobs(config_loader: Any, master: DictConfig, jobs: Sequence[Sequence[str]],
                 progress: bool = True) -> list[DictConfig]:
    """Each job's config, as the launcher will compose it.

    Hydra composes a config from scratch per job (~0.4 s here); a grid mostly varies plain values
    (``rewrite_ratio``, ``seed``), so the config is composed once per distinct set of *group* overrides
    and the value overrides are applied to a copy with Hydra's own override code. Jobs that override
    ``hydra.*`` values are composed in full."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from tqdm import tqdm

    parser = OverridesParser.create(config_loader=config_loader)
    repo = config_loader.repository
    base: dict[tuple[str, ...], DictConfig] = {}
    out = []
    for job in tqdm(jobs, desc="compose", unit="job", disable=not progress or len(jobs) < 20):
        parsed = parser.parse_overrides(list(job))
        groups = [o for o in parsed if not isinstance(o.value(), dict) and repo.group_exists(o.key_or_group)]
        values = [o for o in parsed if o not in groups]
        if any(o.key_or_group.startswith("hydra.") for o in values):
            out.append(config_loader.load_sweep_config(master, list(job)))
            continue
        sig = tuple(o.input_line for o in groups)
        if sig not in base:
            base[sig] = config_loader.load_sweep_config(master, list(sig))
        cfg = copy.deepcopy(base[sig])
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        with open_dict(cfg.hydra):
            OmegaConf.set_readonly(cfg.hydra, False)
            cfg.hydra.overrides.task = list(job)
            OmegaConf.set_readonly(cfg.hydra, True)
        out.append(cfg)
    return out


def validate_jobs(configs: Sequence[DictConfig], names: Sequence[str]) -> None:
    """Validates every job; raises one error listing every invalid job with its keys."""
    errors = []
    for cfg, name in zip(configs, names):
        try:
            validate_config(cfg, where=name)
        except ConfigValidationError as e:
            errors.append(str(e))
    if errors:
        raise ConfigValidationError(
            [("sweep", f"{len(errors)} of {len(configs)} job(s) invalid; nothing was launched\n" +
              "\n".join(errors))])


def job_dir_name(cfg: DictConfig, overrides: Sequence[str]) -> str:
    """The job folder name Hydra will use for these overrides (hydra.sweep.subdir)."""
    from lomo_ablate.pipeline.naming import job_name_from_overrides

    return job_name_from_overrides(overrides, list(cfg.hydra.job.config.override_dirname.exclude_keys))


def gpu_hours(cfg: DictConfig) -> float:
    """Estimated GPU-hours of a job's training: samples (curate.mix.scale, else the pool sizes) x epochs /
    ``estimate.samples_per_gpu_hour``; 0 without a throughput figure (a CPU job)."""
    rate = OmegaConf.select(cfg, "estimate.samples_per_gpu_hour", default=None)
    if not rate:
        return 0.0
    samples = OmegaConf.select(cfg, "curate.mix.scale", default=None) or \
        (OmegaConf.select(cfg, "data.text_size", default=0) or 0) + \
        (OmegaConf.select(cfg, "data.multimodal_size", default=0) or 0)
    epochs = OmegaConf.select(cfg, "trainer.epochs", default=None) or \
        OmegaConf.select(cfg, "trainer.num_train_epochs", default=1) or 1
    return float(samples) * float(epochs) / float(rate)


def print_dry_run(jobs: Sequence[tuple[str, Mapping[str, Any], DictConfig]], store: Store,
                  file: Any = None) -> dict[str, Any]:
    """Prints one line per job (axis values, cached stages) and the totals; returns them as a dict."""
    from lomo_ablate.pipeline.stages import STAGES, plan

    file = file or sys.stdout
    total_h, uncached_train, lines = 0.0, 0, []
    width = max([len(n) for n, _, _ in jobs] + [3])
    print(f"[dry-run] {len(jobs)} job(s); stages {'/'.join(STAGES)} (+ cached, . to compute)", file=file)
    for i, (name, axes, cfg) in enumerate(jobs):
        plans = plan(cfg)
        marks = "".join("+" if store.is_done(p.name, p.key) else "." for p in plans)
        cached = {p.name: store.is_done(p.name, p.key) for p in plans}
        hours = 0.0 if cached.get("train") else gpu_hours(cfg)
        uncached_train += not cached.get("train")
        total_h += hours
        axes_txt = " ".join(f"{k}={v}" for k, v in axes.items()) or "(defaults)"
        print(f"  {i:>3} {name:<{width}}  {marks:<5}  {hours:8.1f} GPU-h  {axes_txt}", file=file)
        lines.append({"job": name, "axes": dict(axes), "cached": cached, "gpu_hours": hours})
    n_done = sum(all(l["cached"].values()) for l in lines)
    print(f"[dry-run] fully cached: {n_done}/{len(jobs)}; to train: {uncached_train}; "
          f"estimated {total_h:.1f} GPU-hours; nothing was run or submitted", file=file)
    return {"jobs": lines, "gpu_hours": total_h, "fully_cached": n_done}


# ---- the sweeper (the Hydra plugin class in hydra_plugins/ subclasses this) ----

class LomoSweeperImpl:
    """Hydra sweeper: expands the grid, validates every job, dry-runs or launches in batches of
    ``max_parallel``, reports each failure with its log path as soon as its batch returns, and raises at
    the end if any job failed."""

    def __init__(self, params: Mapping[str, str] | None = None, paired: Mapping[str, Any] | None = None,
                 baselines: Sequence[Sequence[str]] | None = None, max_parallel: int | None = None,
                 max_batch_size: int | None = None) -> None:
        self.params = dict(params or {})
        self.paired = {k: dict(v) for k, v in (paired or {}).items()}
        self.baselines = [list(b) for b in (baselines or [])]
        self.max_parallel = max_parallel or max_batch_size
        self.config = self.launcher = self.hydra_context = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def grid(self, arguments: Sequence[str]) -> list[list[str]]:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        args = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = [o for o in parser.parse_overrides(args) if not o.key_or_group.startswith("hydra.sweeper.")]
        paired = {k: {kk: list(vv) for kk, vv in v.items()} for k, v in self.paired.items()}
        return expand_grid(overrides, paired, self.baselines)

    def sweep(self, arguments: list[str]) -> Any:
        try:
            return self._sweep(arguments)
        except (ConfigValidationError, SweepSpecError) as e:
            # a user error, not a bug: the message names the keys; no traceback, exit status 2
            print(f"[lomo-ablate] {e}", file=sys.stderr, flush=True)
            raise SystemExit(2) from e

    def _sweep(self, arguments: list[str]) -> Any:
        from hydra.core.utils import JobStatus

        jobs = self.grid(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        t0 = time.perf_counter()
        configs = compose_jobs(self.hydra_context.config_loader, self.config, jobs)
        names = [job_dir_name(self.config, j) for j in jobs]
        _check_unique(names, jobs)
        validate_jobs(configs, names)
        log.info("validated %d job(s) in %.2f s", len(jobs), time.perf_counter() - t0)
        if self.config.get("dry_run"):
            from lomo_ablate.pipeline.app import axes_from_overrides

            exclude = list(self.config.hydra.job.config.override_dirname.exclude_keys)
            print_dry_run([(n, axes_from_overrides(j, exclude, c, set(c.hydra.runtime.choices.keys())), c)
                           for n, j, c in zip(names, jobs, configs)],
                          store=Store(self.config.store_dir))
            return []
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        from lomo_ablate.utils import atomic_write_json

        atomic_write_json(sweep_dir / "grid.json", [{"job": n, "overrides": j} for n, j in zip(names, jobs)])
        done = [already_done(sweep_dir / n, c) for n, c in zip(names, configs)]
        if any(done):
            print(f"[lomo-ablate] {sum(done)} of {len(jobs)} job(s) already done in {sweep_dir}: skipped",
                  flush=True)
        todo = [(i, j, n) for i, (j, n, d) in enumerate(zip(jobs, names, done)) if not d]
        batch = self.max_parallel or max(len(todo), 1)
        returns, failed = [], []
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            results = self.launcher.launch([j for _, j, _ in chunk], initial_job_idx=chunk[0][0])
            for name, r in zip([n for _, _, n in chunk], results):
                if r.status == JobStatus.FAILED:
                    failed.append(name)
                    logfile = sweep_dir / name / f"{self.config.hydra.job.name}.log"
                    print(f"[lomo-ablate] FAILED {name}: {r._return_value!r}; log: {logfile}",
                          file=sys.stderr, flush=True)
            returns.append(results)
        if failed:
            # Hydra skips on_multirun_end when the sweep raises: gather and report what finished first
            ReportCallback().on_multirun_end(config=self.config)
            print(f"[lomo-ablate] {len(failed)} of {len(jobs)} job(s) failed: {', '.join(failed)} "
                  f"(result.json and logs under {sweep_dir})", file=sys.stderr, flush=True)
            raise SystemExit(1)
        return returns


def already_done(job_dir: Path, cfg: DictConfig) -> bool:
    """True when ``job_dir/result.json`` says done for exactly this config (same hash as run_job's)."""
    import json

    from lomo_ablate.pipeline.app import RESULT, config_hash, resolved_job_config

    try:
        previous = json.loads((job_dir / RESULT).read_text())
    except (OSError, ValueError):
        return False
    if previous.get("status") != "done":
        return False
    try:
        resolved = resolved_job_config(cfg)
    except Exception:  # noqa: BLE001  (a value that only resolves inside the job: let the job decide)
        return False
    return previous.get("config_hash") == config_hash(resolved)


def _check_unique(names: Sequence[str], jobs: Sequence[Sequence[str]]) -> None:
    seen: dict[str, Sequence[str]] = {}
    for n, j in zip(names, jobs):
        if n in seen:
            raise SweepSpecError(f"two jobs map to the same folder {n!r}: {list(seen[n])} and {list(j)}; "
                                 "a key in hydra.job.config.override_dirname.exclude_keys hides a difference")
        seen[n] = j


# ---- end of a multirun ----

from hydra.experimental.callback import Callback  # noqa: E402

class ReportCallback(Callback):
    """Hydra callback: after a multirun, gathers the job results (``<sweep_dir>/summary.json``) and runs
    the report (``lomo_ablate.report.report_sweep``) when it is installed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("dry_run"):
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        cluster = config.get("cluster") or {}
        if cluster.get("wait", True) is False:
            # submit-and-exit: the jobs have not run yet; `collect --wait --report` makes the report later
            print(f"[lomo-ablate] submitted; collect with `python -m lomo_ablate.pipeline.collect {sweep_dir} "
                  "--wait --report`", flush=True)
            return
        rows = gather(sweep_dir)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        print(f"[lomo-ablate] sweep {sweep_dir}: {len(rows)} job(s) {counts}", flush=True)
        try:
            from lomo_ablate.report import report_sweep
        except ImportError:
            return
        try:
            out = report_sweep(sweep_dir, config.results_dir)
        except Exception as e:  # noqa: BLE001  (the jobs' results stay; the report can be re-run alone)
            log.exception("report of %s failed", sweep_dir)
            print(f"[lomo-ablate] report FAILED: {type(e).__name__}: {e}; re-run with "
                  f"`python -m lomo_ablate.report {sweep_dir}`", file=sys.stderr, flush=True)
            return
        print(f"[lomo-ablate] report: {out}", flush=True)


def gather(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The ``result.json`` of every job folder of a sweep, summarised (written to summary.json)."""
    import json

    from lomo_ablate.utils import atomic_write_json

    rows = []
    for p in sorted(Path(sweep_dir).glob("*/result.json")):
        try:
            r = json.loads(p.read_text())
        except ValueError as e:
            rows.append({"job": p.parent.name, "status": "unreadable", "error": str(e)})
            continue
        rows.append({"job": r.get("job"), "status": r.get("status"), "axes": r.get("axes"),
                     "overall": (r.get("metrics") or {}).get("overall")})
    if rows:
        atomic_write_json(Path(sweep_dir) / "summary.json", rows)
    return rows
