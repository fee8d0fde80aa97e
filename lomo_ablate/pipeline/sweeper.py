"""The ``lomo`` sweeper (``hydra/sweeper=lomo``; the plugin shell is ``hydra_plugins/lomo_ablate/sweeper.py``).

Expands the grid (``pipeline.grid``), composes and validates every job before anything is launched
(``pipeline.compose``), dry-runs (``pipeline.dryrun``) or launches in batches of ``max_parallel``, skips
jobs already done for the same config (``pipeline.jobconfig``), reports each failure with its log path as
soon as its batch returns, and gathers and reports at the end (``pipeline.callbacks``).

``max_parallel: N``: at most N jobs at once (launchers that run a batch in parallel); 1 with the default
launcher, which runs jobs one after another.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from lomo_ablate import contracts
from lomo_ablate.pipeline.app import axes_from_overrides
from lomo_ablate.pipeline.callbacks import ReportCallback
from lomo_ablate.pipeline.compose import compose_jobs, instantiate_launcher, job_failed, parse_overrides
from lomo_ablate.pipeline.dryrun import print_dry_run
from lomo_ablate.pipeline.grid import SweepSpecError, check_unique_names, expand_grid
from lomo_ablate.pipeline.jobconfig import already_done
from lomo_ablate.pipeline.naming import job_dir_name
from lomo_ablate.pipeline.store import Store
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config
from lomo_ablate.utils import atomic_write_json
from lomo_ablate.utils.config import ConfigError
from lomo_ablate.utils.secrets import redact, redact_file

log = logging.getLogger("lomo_ablate.sweep")


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
        self.hydra_context, self.config = hydra_context, config
        try:
            self.launcher = instantiate_launcher(hydra_context, task_function, config)
        except Exception as e:  # noqa: BLE001  (Hydra wraps what the launcher raises)
            error = e if isinstance(e, ConfigError) else e.__cause__
            if not isinstance(error, ConfigError):
                raise
            # a bad cluster setting (a missing partition, an unknown key): a user error, named, exit status 2
            print(f"[lomo-ablate] {error}", file=sys.stderr, flush=True)
            raise SystemExit(2) from e

    def grid(self, arguments: Sequence[str]) -> list[list[str]]:
        args = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        overrides = [o for o in parse_overrides(args, self.hydra_context.config_loader)
                     if not o.key_or_group.startswith("hydra.sweeper.")]
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
        jobs = self.grid(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        t0 = time.perf_counter()
        configs = compose_jobs(self.hydra_context.config_loader, self.config, jobs)
        names = [job_dir_name(self.config, j) for j in jobs]
        check_unique_names(names, jobs)
        validate_jobs(configs, names)
        log.info("validated %d job(s) in %.2f s", len(jobs), time.perf_counter() - t0)
        if self.config.get("dry_run"):
            exclude = list(self.config.hydra.job.config.override_dirname.exclude_keys)
            print_dry_run([(n, axes_from_overrides(j, exclude, c, set(c.hydra.runtime.choices.keys())), c)
                           for n, j, c in zip(names, jobs, configs)],
                          store=Store(self.config.store_dir))
            return []
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / contracts.MULTIRUN_CONFIG)
        redact_file(sweep_dir / contracts.MULTIRUN_CONFIG)
        atomic_write_json(sweep_dir / contracts.GRID,
                          redact([{"job": n, "overrides": j} for n, j in zip(names, jobs)]))
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
            redact_file(sweep_dir / contracts.MULTIRUN_CONFIG)  # the launcher saves it again, as it is
            for name, r in zip([n for _, _, n in chunk], results):
                if job_failed(r):
                    failed.append(name)
                    logfile = sweep_dir / name / f"{self.config.hydra.job.name}.log"
                    print(f"[lomo-ablate] FAILED {name}: {r._return_value!r}; log: {logfile}",
                          file=sys.stderr, flush=True)
            returns.append(results)
        if failed:
            # Hydra skips on_multirun_end when the sweep raises: gather and report what finished first
            ReportCallback().on_multirun_end(config=self.config)
            print(f"[lomo-ablate] {len(failed)} of {len(jobs)} job(s) failed: {', '.join(failed)} "
                  f"({contracts.RESULT} and logs under {sweep_dir})", file=sys.stderr, flush=True)
            raise SystemExit(1)
        return returns
