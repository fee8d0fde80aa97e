"""One W&B run per job, plus local files that never depend on W&B.

``RunLogger.create(logger_cfg, job_dir, run_id, group, tags, config)`` opens a run:

* ``mode: offline`` (default): the run is stored under ``<job_dir>/wandb/offline-run-*/`` and can be
  uploaded later with ``wandb sync <job_dir>/wandb/offline-run-*``;
* ``mode: online``: only when selected *and* an API key is available (``WANDB_API_KEY`` or a netrc
  entry from ``wandb login``); otherwise it warns and stays offline;
* ``mode: none``: no W&B at all.

Whatever the mode, every call is mirrored to plain files in the job folder so that tests and the report
never parse ``.wandb`` files:

* ``<job_dir>/metrics.jsonl``: one ``{"step": s, ...}`` line per :meth:`RunLogger.log` (appended; after a
  requeue a step may appear twice: the last line of a step wins);
* ``<job_dir>/summary.json``: the merged :meth:`RunLogger.summary` values;
* ``<job_dir>/tables/<name>.json``: ``{"columns": [...], "rows": [...]}`` per :meth:`RunLogger.table`
  or :meth:`RunLogger.images` (images saved as PNG under ``<job_dir>/tables/<name>/``).

In W&B, tables are written into the run folder (bound before logging, so no ``run_table`` artifact is staged
outside it) and images are run media (``files/media/images/``, referenced relative to the run): an offline
run stays complete when its job folder is moved (local scratch to shared disk) before ``wandb sync``.

The run id is deterministic (derived from ``run_id``) and the run is opened with ``resume="allow"``, so a
Slurm requeue continues the same W&B run. The config is flattened (``a.b.c`` keys) and any key that looks
like a secret (``utils.secrets.is_secret_key``: api_key, token, password, secret, credential, auth as whole
words — ``tokens_per_s`` and ``max_new_tokens`` are kept) is dropped and credential-looking values are
redacted before anything is written anywhere.

W&B must never break a job: every W&B call is wrapped; on failure it warns once and keeps only the
local files.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import netrc
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlparse

from lomo_ablate.contracts import DATA, RUN_METRICS, RUN_SUMMARY
from lomo_ablate.utils import atomic_write_json, stable_hash
from lomo_ablate.utils.config import ConfigError, check_range, config_from_dict
from lomo_ablate.utils.secrets import is_secret_key, redact, redact_text

MODES = ("offline", "online", "none")
_RUN_ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_TAG = 64  # W&B rejects longer tags


@dataclasses.dataclass(frozen=True)
class LoggerConfig:
    """The ``logger`` config group (conf/logger/*.yaml)."""

    mode: str = "offline"
    project: str = "lomo-ablate"
    entity: str | None = None
    # write W&B's system metadata (host, GPU, command line). Off by default: the command line may carry
    # an override with a secret in it.
    system_metadata: bool = False
    # copy the job's console output into the run. Off by default: the job folder has its own log, and
    # whatever a library prints (a config dump, an environment) would otherwise be stored in W&B too.
    capture_console: bool = False
    # seconds W&B may take to start before the job goes on with local files only
    init_timeout: float = 60.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "LoggerConfig":
        """Unknown keys, wrong types and a bad ``mode`` raise ConfigError naming ``logger.<key>``."""
        return config_from_dict(cls, d, "logger")

    def validate(self, where: str = "logger") -> None:
        if self.mode not in MODES:
            raise ConfigError(f"{where}.mode={self.mode!r} is not allowed; allowed: {', '.join(MODES)}")
        check_range(f"{where}.init_timeout", self.init_timeout, 0, lo_open=True)


def flatten_config(config: Mapping[str, Any] | None, prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, dropping every key (at any depth) that names a credential
    (``utils.secrets.is_secret_key``: whole words, so ``tokens_per_s`` stays) and redacting credential-looking
    values (``https://user:<redacted>@host``)."""
    flat: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if is_secret_key(key):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, prefix=name + sep, sep=sep))
        elif isinstance(value, (list, tuple)):
            flat[name] = [_scrub(v) for v in value]
        else:
            flat[name] = redact(value)
    return flat


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if not is_secret_key(k)}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return redact(value)


def wandb_run_id(run_id: str) -> str:
    """A valid, deterministic W&B run id for ``run_id`` (kept as is when already valid)."""
    run_id = str(run_id)
    if _RUN_ID_OK.match(run_id):
        return run_id
    return stable_hash(run_id)[:32]


def tag_list(tags: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """Axis values as W&B tags: ``{"position": "middle"}`` -> ``["position=middle"]`` (≤ 64 characters)."""
    if not tags:
        return []
    items = [f"{k}={v}" for k, v in tags.items()] if isinstance(tags, Mapping) else [str(t) for t in tags]
    items = [redact_text(t) for t in items]
    return [t[:_MAX_TAG] for t in items if t and not is_secret_key(t.split("=", 1)[0])]


def wandb_logged_in() -> bool:
    """Whether an API key is available without asking the network (env var or ``wandb login``'s netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC") or None).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def _jsonable(value: Any) -> Any:
    """Numbers stay numbers (NaN/inf become None), tensors/arrays become floats/lists, the rest str."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


class RunLogger:
    """Logs one job. Build it with :meth:`create`; always call :meth:`finish` (or use ``with``)."""

    def __init__(self, cfg: LoggerConfig, job_dir: Path, run: Any = None):
        self.cfg = cfg
        self.job_dir = Path(job_dir)
        self.run = run  # the wandb Run, or None when W&B is off or broken
        self._warned = False

    # ----------------------------------------------------------------------------------------- create
    @classmethod
    def create(cls, logger_cfg: Mapping[str, Any] | LoggerConfig | None, job_dir: str | Path, run_id: str,
               group: str | None = None, tags: Mapping[str, Any] | Sequence[str] | None = None,
               config: Mapping[str, Any] | None = None) -> "RunLogger":
        """Open the job's run. ``group`` is the sweep name, ``tags`` the axis values, ``config`` the resolved
        config (flattened and scrubbed of secrets here)."""
        cfg = logger_cfg if isinstance(logger_cfg, LoggerConfig) else LoggerConfig.from_dict(logger_cfg)
        job_dir = Path(job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        flat = flatten_config(config)
        atomic_write_json(job_dir / "logger_config.json", {"run_id": wandb_run_id(run_id), "group": group,
                                                          "tags": tag_list(tags), "config": _jsonable(flat)})
        logger = cls(cfg, job_dir)
        if cfg.mode == "none":
            return logger
        mode = cfg.mode
        if mode == "online" and not wandb_logged_in():
            warnings.warn("logger.mode=online but no W&B API key was found (WANDB_API_KEY or `wandb login`): "
                          "logging offline instead", RuntimeWarning, stacklevel=2)
            mode = "offline"
        logger.run = logger._init_wandb(mode, wandb_run_id(run_id), group, tag_list(tags), flat)
        if logger.run is None and mode == "online":
            logger.run = logger._init_wandb("offline", wandb_run_id(run_id), group, tag_list(tags), flat)
        return logger

    def _init_wandb(self, mode: str, run_id: str, group: str | None, tags: list[str], flat: dict) -> Any:
        try:
            import wandb

            settings = wandb.Settings(init_timeout=self.cfg.init_timeout, x_disable_stats=True,
                                      x_disable_meta=not self.cfg.system_metadata, silent=True,
                                      console="auto" if self.cfg.capture_console else "off")
            return wandb.init(project=self.cfg.project, entity=self.cfg.entity, dir=str(self.job_dir), id=run_id,
                              resume="allow", mode=mode, group=group, tags=tags, config=_jsonable(flat),
                              reinit="finish_previous", settings=settings)
        except Exception as exc:  # W&B must never break a job
            self._warn(f"W&B init ({mode}) failed: {type(exc).__name__}: {exc}")
            return None

    def _warn(self, message: str) -> None:
        if not self._warned:
            warnings.warn(f"{message}; keeping local files in {self.job_dir} only", RuntimeWarning, stacklevel=3)
            self._warned = True

    def _wandb(self, what: str, fn) -> None:
        if self.run is None:
            return
        try:
            with self._staging_in_job():
                fn()
        except Exception as exc:
            self._warn(f"W&B {what} failed: {type(exc).__name__}: {exc}")

    @contextlib.contextmanager
    def _staging_in_job(self):
        """W&B copies a table's files (its images) to a staging folder under WANDB_DATA_DIR (default:
        ~/.local/share/wandb) until they are synced. Unless the user chose WANDB_DATA_DIR, stage them in
        ``<job_dir>/wandb/data`` so that an offline job folder holds everything ``wandb sync`` needs."""
        if "WANDB_DATA_DIR" in os.environ:
            yield
            return
        os.environ["WANDB_DATA_DIR"] = str((self.job_dir / "wandb" / "data").resolve())
        try:
            yield
        finally:
            os.environ.pop("WANDB_DATA_DIR", None)

    # ------------------------------------------------------------------------------------------ calls
    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """A point of a curve (training loss, learning rate...) at ``step``."""
        clean = {k: _jsonable(v) for k, v in metrics.items() if not is_secret_key(k)}
        with (self.job_dir / RUN_METRICS).open("a", encoding="utf-8") as f:
            f.write(json.dumps({"step": int(step), **clean}, sort_keys=True) + "\n")
        self._wandb("log", lambda: self.run.log(dict(clean), step=int(step)))

    def summary(self, metrics: Mapping[str, Any]) -> None:
        """Final values; nested dicts are flattened with ``/`` (``{"scores": {"probe": {"standard": x}}}`` ->
        ``scores/probe/standard``, which W&B groups into a panel section per prefix); merged into
        summary.json."""
        clean = {k: _jsonable(v) for k, v in flatten_config(metrics, sep="/").items()}
        path = self.job_dir / RUN_SUMMARY
        merged = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        merged.update(clean)
        atomic_write_json(path, merged)
        self._wandb("summary", lambda: self.run.summary.update(clean))

    def table(self, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A table (e.g. scores: benchmark, protocol, accuracy) as a ``wandb.Table`` and tables/<name>.json."""
        rows = [[_jsonable(v) for v in row] for row in rows]
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(f"table {name!r}: row {i} has {len(row)} values for {len(columns)} columns")
        atomic_write_json(self.job_dir / "tables" / f"{name}.json", {"columns": list(columns), "rows": rows})

        def send():
            import wandb

            self.run.log({name: _bound_table(self.run, name, wandb.Table(columns=list(columns), data=rows))},
                         commit=False)

        self._wandb("table", send)

    def images(self, name: str, items: Sequence[tuple[Any, str]]) -> None:
        """Curated samples: ``items`` are ``(PIL image or path, caption)``; logged as a table with an image
        column so a dashboard shows what the model saw."""
        folder = self.job_dir / "tables" / name
        rows, images = [], []
        for i, (image, caption) in enumerate(items):
            if isinstance(image, (str, os.PathLike)):
                path = Path(image)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{i:04d}.png"
                image.save(path)
            rows.append([str(path), str(caption)])
            images.append((path, str(caption)))
        atomic_write_json(self.job_dir / "tables" / f"{name}.json", {"columns": ["image", "caption"], "rows": rows})

        def send():
            import wandb

            # the images as run media (<run>/files/media/images/, referenced relative to the run folder) and a
            # bound table of their captions: nothing in W&B's artifact staging, whose files are referenced by
            # absolute path and would be lost when the job folder moves before `wandb sync`
            self.run.log({f"{name}/images": [wandb.Image(str(p), caption=c) for p, c in images]}, commit=False)
            table = wandb.Table(columns=["index", "caption"], data=[[i, c] for i, (_, c) in enumerate(images)])
            self.run.log({name: _bound_table(self.run, name, table)}, commit=False)

        self._wandb("images", send)

    def log_scores(self, metrics: Mapping[str, Any]) -> None:
        """evaluate's metrics.json as summary values (``scores/<bench>/<protocol>``, ``overall/<protocol>``,
        ``mir/mean``...) and two tables: ``scores`` (benchmark, protocol, accuracy) and ``categories``."""
        scalars = {k: v for k, v in flatten_config(metrics, sep="/").items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        self.summary(scalars)
        self.table("scores", ["benchmark", "protocol", "accuracy"],
                   [[b, p, acc] for b, by_p in (metrics.get("scores") or {}).items() for p, acc in by_p.items()])
        self.table("categories", ["category", "protocol", "accuracy"],
                   [[c, p, acc] for c, by_p in (metrics.get("categories") or {}).items() for p, acc in by_p.items()])

    def log_curated_samples(self, curated_dir: str | Path, limit: int = 16, name: str = "curated_samples") -> int:
        """The first ``limit`` records with images of a curated dataset (``data.jsonl`` + ``images/``, the
        curate → train contract) as an image table, captioned with the id, the distortion and the prompt
        (``<image>`` marks where the image sits), so a dashboard shows what the model saw. Returns the count."""
        curated_dir = Path(curated_dir)
        items: list[tuple[Any, str]] = []
        with (curated_dir / DATA).open(encoding="utf-8") as f:
            for line in f:
                if len(items) >= limit:
                    break
                if not line.strip():
                    continue
                record = json.loads(line)
                if not record.get("images"):
                    continue
                prompt = next((m.get("content", "") for m in record.get("messages", []) if m.get("role") == "user"), "")
                ops = [d.get("op") for d in (record.get("meta") or {}).get("distortion") or [] if isinstance(d, dict)]
                caption = f"{record.get('id')} | distortion: {', '.join(map(str, ops)) or 'none'} | {prompt[:300]}"
                items.append((curated_dir / record["images"][0], caption))
        self.images(name, items)
        return len(items)

    def finish(self, exit_code: int = 0) -> None:
        """Close the run (needed between jobs of a multirun) and wait until it is on disk.

        wandb 0.31 writes a run's .wandb file from a background service that, for the second and later
        runs of a process, may still be flushing when ``run.finish()`` returns; tearing the service down
        (when no other run is open) flushes it, so a job's offline run is complete when its job ends."""
        run, self.run = self.run, None
        if run is not None:
            try:
                run.finish(exit_code=exit_code)
                import wandb

                if wandb.run is None:
                    wandb.teardown()
            except Exception as exc:
                self._warn(f"W&B finish failed: {type(exc).__name__}: {exc}")

    @property
    def offline_dirs(self) -> list[Path]:
        """The ``wandb/offline-run-*`` folders of this job (what ``wandb sync`` takes)."""
        return sorted((self.job_dir / "wandb").glob("offline-run-*"))

    def __enter__(self) -> "RunLogger":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


def _bound_table(run: Any, key: str, table: Any) -> Any:
    """``table`` written into the run folder (``files/media/table/``) now: a table logged unbound is also made a
    ``run_table`` artifact whose files wandb stages by absolute path outside the run (lost when a job folder
    moves before ``wandb sync``)."""
    table.bind_to_run(run, key, 0)
    return table


def read_metrics_jsonl(path: str | Path) -> dict[int, dict[str, Any]]:
    """``metrics.jsonl`` as ``{step: values}``; a step logged twice (requeue) keeps its last values."""
    steps: dict[int, dict[str, Any]] = {}
    path = Path(path)
    if not path.exists():
        return steps
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step = int(row.pop("step"))
        except (ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"{path}:{n}: skipped a malformed line ({exc})", RuntimeWarning, stacklevel=2)
            continue
        steps.setdefault(step, {}).update(row)
    return dict(sorted(steps.items()))


def read_wandb_records(path: str | Path) -> list[Any]:
    """The ``wandb_internal_pb2.Record`` protobufs of a ``run-<id>.wandb`` file.

    wandb 0.31 ships no reader, so this decodes its LevelDB-style log (FACTS.md): a 7-byte file header
    (``:W&B``, magic 0xBEE1, version), then 32 KiB blocks of records with a 7-byte header each (CRC32,
    little-endian length, type: 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a .wandb file (header {data[:4]!r})")
    block, pos, records, pending = 32768, 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer padding
            pos += left
            continue
        length = int.from_bytes(data[pos + 4:pos + 6], "little")
        kind = data[pos + 6]
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind in (1, 2):
            pending = chunk
        else:
            pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records
