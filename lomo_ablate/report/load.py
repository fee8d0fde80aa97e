"""Read a sweep folder: ``<sweep_dir>/<job_name>/result.json`` per job and the per-item predictions.

A half-finished sweep is normal: a job folder without result.json is ``missing``, a result.json that
cannot be read is ``invalid`` (with the reason), and ``failed``/``running`` jobs are kept as such. Only
``done`` jobs enter the tables; the others are listed with their status. Nothing is dropped silently:
every job and every set-aside prediction line is counted with its reason.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from lomo_ablate.contracts import GRID, PREDICTIONS, RESULT

SEED_AXES = ("seed",)
NOT_JOBS = {"wandb", ".hydra", "report", "results", "__pycache__", ".submitit"}
PREDICTION_KEYS = ("benchmark", "protocol", "item_id", "score")
STATUSES = ("done", "failed", "running", "missing", "invalid")


@dataclasses.dataclass
class Job:
    """One job of the sweep (any status)."""

    name: str
    path: Path
    status: str
    axes: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    stages: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    reason: str | None = None
    sweep: str | None = None

    @property
    def seed(self) -> Any:
        for key in SEED_AXES:
            if key in self.axes:
                return self.axes[key]
        return self.config.get("seed")

    @property
    def arm_axes(self) -> dict[str, Any]:
        """The axis values that define the arm (all but the seed)."""
        return {k: v for k, v in self.axes.items() if k not in SEED_AXES}

    def predictions_path(self) -> Path | None:
        """``<stages.evaluate.path>/predictions.jsonl`` (a relative path is tried against the job and sweep
        folders), else ``predictions.jsonl`` in the job folder."""
        candidates = []
        ev = (self.stages or {}).get("evaluate") or {}
        if ev.get("path"):
            p = Path(ev["path"])
            candidates += [p] if p.is_absolute() else [self.path / p, self.path.parent / p, p]
        candidates += [self.path / PREDICTIONS]
        for c in candidates:
            f = c / PREDICTIONS if c.suffix != ".jsonl" else c
            if f.is_file():
                return f
        return None


# A job giving one prediction to at least this share of a protocol's items (while the references vary) is
# reported as answering a constant there.
CONSTANT_SHARE = 0.8


@dataclasses.dataclass
class Predictions:
    """Per-item scores of one job: ``{(protocol, benchmark, item_id): score}`` plus item categories."""

    scores: dict[tuple[str, str, str], float]
    category: dict[tuple[str, str], str]  # (benchmark, item_id) -> category
    rejected: list[dict[str, Any]]
    predicted: dict[str, Counter] = dataclasses.field(default_factory=dict)  # protocol -> Counter of predictions
    gold: dict[str, Counter] = dataclasses.field(default_factory=dict)  # protocol -> Counter of reference answers

    def constant_answers(self, min_share: float = CONSTANT_SHARE, min_items: int = 10) -> list[dict[str, Any]]:
        """Protocols where one prediction is given to at least ``min_share`` of the (≥ ``min_items``) items
        while the reference answers vary (no answer is that common): the model answers without reading the
        question, and its accuracy there is only the share of items whose answer happens to be that one."""
        out = []
        for protocol, counts in sorted(self.predicted.items()):
            n = sum(counts.values())
            gold = self.gold.get(protocol) or Counter()
            if n < min_items or not gold:
                continue
            answer, count = counts.most_common(1)[0]
            if count / n >= min_share and gold.most_common(1)[0][1] / sum(gold.values()) < min_share:
                out.append({"protocol": protocol, "answer": answer, "count": count, "n": n,
                            "right": gold.get(answer, 0)})
        return out


@dataclasses.dataclass
class Sweep:
    name: str
    path: Path
    jobs: list[Job]

    @property
    def done(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "done"]

    def counts(self) -> dict[str, int]:
        return {s: sum(j.status == s for j in self.jobs) for s in STATUSES if any(j.status == s for j in self.jobs)}


def load_sweep(sweep_dir: str | Path) -> Sweep:
    """All jobs under ``sweep_dir`` (sorted by name). Raises if the folder does not exist or holds no job."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist")
    jobs = [load_job(p) for p in sorted(sweep_dir.iterdir(), key=lambda p: natural_key(p.name))
            if p.is_dir() and not p.name.startswith((".", "_")) and p.name not in NOT_JOBS]
    jobs += planned_but_absent(sweep_dir, {j.path.name for j in jobs})
    if not jobs:
        raise FileNotFoundError(f"sweep folder {sweep_dir} holds no job folder (<sweep_dir>/<job_name>/result.json)")
    names = {j.sweep for j in jobs if j.sweep}
    name = names.pop() if len(names) == 1 else sweep_dir.name
    return Sweep(name=name, path=sweep_dir, jobs=jobs)


def planned_but_absent(sweep_dir: Path, present: set[str]) -> list[Job]:
    """Jobs the sweep planned (``<sweep_dir>/grid.json``, written by the pipeline's sweeper: a list of
    ``{"job": name, "overrides": [...]}``) that have no folder yet: ``missing``, "not started". An unreadable
    grid.json only loses this list."""
    path = sweep_dir / GRID
    try:
        grid = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        names = [str(g["job"]) for g in grid]
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return [Job(name=n, path=sweep_dir / n, status="missing", reason="not started (planned in grid.json)")
            for n in names if n not in present]


def load_job(job_dir: Path) -> Job:
    """One job folder; never raises for bad content (the job is ``invalid`` with the reason instead)."""
    result = job_dir / RESULT
    if not result.exists():
        return Job(name=job_dir.name, path=job_dir, status="missing", reason="no result.json yet")
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return Job(name=job_dir.name, path=job_dir, status="invalid",
                   reason=f"{result}: line {exc.lineno}: invalid JSON ({exc.msg})")
    except OSError as exc:
        return Job(name=job_dir.name, path=job_dir, status="invalid", reason=f"{result}: {exc}")
    if not isinstance(data, dict):
        return Job(name=job_dir.name, path=job_dir, status="invalid", reason=f"{result}: not a JSON object")
    status = str(data.get("status", "missing"))
    job = Job(name=str(data.get("job") or job_dir.name), path=job_dir, status=status,
              axes=dict(data.get("axes") or {}), config=dict(data.get("config") or {}),
              stages=dict(data.get("stages") or {}), metrics=dict(data.get("metrics") or {}),
              sweep=data.get("sweep"))
    if status not in ("done", "failed", "running"):
        job.status, job.reason = "invalid", f"{result}: key 'status' is {status!r}; expected done, failed or running"
    elif status == "done" and not isinstance(job.metrics.get("overall"), dict):
        job.status, job.reason = "invalid", f"{result}: status done but key 'metrics.overall' is missing"
    elif status == "failed":
        job.reason = failure_reason(data)
    return job


def failure_reason(result: dict[str, Any]) -> str:
    """One line saying why a job failed: the pipeline's ``error`` {stage, type, message}, else the failed
    stages' errors."""
    error = result.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or "").strip().splitlines()
        return f"{error.get('stage', '?')}: {error.get('type', 'error')}: {message[0] if message else ''}".rstrip(": ")
    if error:
        return str(error).strip().splitlines()[0]
    failed = [f"{k}: {v.get('error') or v.get('reason') or 'failed'}" for k, v in (result.get("stages") or {}).items()
              if isinstance(v, dict) and v.get("status") == "failed"]
    return "; ".join(failed) or "failed (no error recorded)"


def load_predictions(path: Path) -> Predictions:
    """Read predictions.jsonl; a malformed line is set aside with file, line and reason (never raises)."""
    scores: dict[tuple[str, str, str], float] = {}
    category: dict[tuple[str, str], str] = {}
    rejected: list[dict[str, Any]] = []
    predicted: dict[str, Counter] = {}
    gold: dict[str, Counter] = {}
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                rejected.append({"file": str(path), "line": n, "reason": f"invalid JSON ({exc.msg})"})
                continue
            missing = [k for k in PREDICTION_KEYS if not isinstance(row, dict) or k not in row]
            if missing:
                rejected.append({"file": str(path), "line": n, "reason": f"missing key(s) {missing}"})
                continue
            try:
                score = float(row["score"])
            except (TypeError, ValueError):
                rejected.append({"file": str(path), "line": n, "reason": f"key 'score' is not a number: {row['score']!r}"})
                continue
            if not 0.0 <= score <= 1.0:
                rejected.append({"file": str(path), "line": n, "reason": f"key 'score' {score} outside [0, 1]"})
                continue
            bench, item = str(row["benchmark"]), str(row["item_id"])
            scores[(str(row["protocol"]), bench, item)] = score
            if "prediction" in row and "answer" in row:
                predicted.setdefault(str(row["protocol"]), Counter())[str(row["prediction"]).strip()] += 1
                gold.setdefault(str(row["protocol"]), Counter())[str(row["answer"]).strip()] += 1
            category[(bench, item)] = str(row.get("category") or bench)
    return Predictions(scores=scores, category=category, rejected=rejected, predicted=predicted,
                       gold=gold)


_NUM = re.compile(r"(\d+(?:\.\d+)?)")
_SIZE_WORDS = {"xxs": 0, "xs": 1, "tiny": 2, "small": 3, "base": 4, "medium": 5, "large": 6, "xl": 7, "full": 8,
               "paper": 9}


def natural_key(value: Any) -> tuple:
    """Sort key: numbers numerically, size words (tiny < small < medium < large < full) in size order."""
    text = str(value)
    if text.lower() in _SIZE_WORDS:
        return (0, _SIZE_WORDS[text.lower()], ())
    parts = tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(_NUM.split(text)) if p)
    return (1, 0, parts)
