"""The files each stage folder holds, and ``result.json``: named here once, imported everywhere else.

Standard library and ``lomo_ablate.utils`` only, so every package may import it (curate writes its dataset folder with these names,
train its checkpoint, evaluate its metrics, pipeline its job and sweep folders, report reads them all).
docs/DESIGN.md "Contracts between stages" describes the content of each file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

# ---- the image slot of a conversation (LLaMA-Factory's sharegpt multimodal form) ----
#: The placeholder that stands for one image in a message's text; ``len(images)`` of them per record.
IMAGE_SLOT = "<image>"
#: What a literal ``<image>`` in source text is escaped to, so that it cannot become a slot.
ESCAPED_SLOT = "< image>"
#: The placeholder for one video (carried through; never rendered).
VIDEO_SLOT = "<video>"
#: What a literal ``<video>`` in the text of a record without videos is escaped to.
ESCAPED_VIDEO_SLOT = "< video>"

# ---- every finished stage folder ----
SUCCESS = "_SUCCESS"              # written last: a folder without it is incomplete
FILES_MANIFEST = "_files.json"    # every file's size and sha256 (utils.integrity): a cut or truncated folder is caught

# ---- curated dataset folder (curate -> train) ----
DATA = "data.jsonl"
#: A relative symlink to DATA: ``datasets``' loader picks split-named files first, so
#: ``load_dataset("json", data_dir=OUT)`` reads only the records, not the side files, images or _SUCCESS.
DATA_SPLIT_LINK = "train.jsonl"
IMAGES_DIR = "images"
VIDEOS_DIR = "videos"             # videos carried through from the multimodal pool (by content hash)
REJECTED = "rejected.jsonl"
MANIFEST = "manifest.json"
DATASET_INFO = "dataset_info.json"
GALLERY = "gallery.png"

# ---- built-in data stage ----
TEXT_POOL = "text.jsonl"
MULTIMODAL_POOL = "multimodal.jsonl"

# ---- train stage ----
FINAL = "final"                   # the save_pretrained checkpoint
CHECKPOINTS_DIR = "checkpoints"   # step-<n>/ resume points
TRAIN_CURVE = "train_curve.png"
TRAIN_RUNTIME = "runtime.json"  # what the run got: attention implementation (and why), liger
MODEL_SETTINGS = "lomo_model.json"  # in final/: chat-template variables, reasoning stripping (models.settings)

# ---- read stage (the tiny model's reading stage) ----
READING = "reading.json"

# ---- evaluate stage ----
METRICS = "metrics.json"
PREDICTIONS = "predictions.jsonl"
PROTOCOLS_PLOT = "protocols.png"
EXAMPLES_PLOT = "protocol_examples.png"   # what the model saw under each protocol
PAIRED = "paired.jsonl"           # per-item paired distance and correctness
# the paper's text-only group (Table 6: MMLU-Pro, HumanEval, LiveCodeBench, GSM8K, IFEval): its own average,
# never in metrics.json's multimodal `overall` (Table 1's Avg) nor in the six multimodal categories
TEXT_ONLY_GROUP = "Text-only"

# ---- job and sweep folders (pipeline -> report) ----
RESULT = "result.json"
GRID = "grid.json"                # the planned jobs of a sweep
MULTIRUN_CONFIG = "multirun.yaml" # <sweep_dir>/multirun.yaml: the sweep's master config (Hydra's name)
SUMMARY = "summary.json"          # <sweep_dir>/summary.json: the sweep's gathered results (one row per job)
SUBMISSION = "submission.json"    # <sweep_dir>/submission.json: Slurm job ids of a submitted sweep
STATUS = "status.json"            # <sweep_dir>/status.json: collect's view of a submitted sweep
REPORT_SUMMARY = "summary.json"   # results/<sweep>/summary.json: the report's headline numbers
RUN_SUMMARY = "summary.json"      # <job_dir>/summary.json: the run logger's merged summary values
RUN_METRICS = "metrics.jsonl"     # <job_dir>/metrics.jsonl: the run logger's per-step values

#: The statuses a result.json may carry.
RESULT_STATUSES = ("done", "failed", "running", "interrupted")


#: Top-level keys of a job's config that do not change what the job computes (where it runs, where it logs,
#: where its outputs go, dry-run estimates): left out of :func:`config_hash` AND of the job folder name
#: (conf/config.yaml's ``hydra.job.config.override_dirname.exclude_keys`` reads this list through the
#: ``${lomo.not_in_job:}`` resolver). So a second run of a done job with another logger or on another
#: cluster finds it done, in the same folder, instead of overwriting its result.json.
NOT_IN_JOB = ("sweep", "dry_run", "verify", "store_dir", "results_dir", "runs_dir", "multirun_dir", "sweep_name",
              "cluster", "logger", "estimate")


def config_hash(resolved: Mapping[str, Any]) -> str:
    """The hash of a job's resolved config, as result.json records it (``utils.hashing.stable_hash``), over
    every key but :data:`NOT_IN_JOB`: two configs that compute the same job have the same hash."""
    from lomo_ablate.utils.hashing import stable_hash

    return stable_hash({k: v for k, v in resolved.items() if k not in NOT_IN_JOB})


def load_result(job_dir: str | Path) -> dict[str, Any] | None:
    """``job_dir/result.json`` as a dict, or None when it is missing, unreadable or not a JSON object (a
    half-written file counts as missing: result.json is always written atomically)."""
    try:
        data = json.loads((Path(job_dir) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_result(job_dir: str | Path, result: Mapping[str, Any]) -> Path:
    """Writes ``job_dir/result.json`` atomically (a reader never sees half a file), credential-looking values
    redacted (``utils.secrets.redact``: a URL's ``user:password@``, ``Bearer ...``)."""
    from lomo_ablate.utils.fs import atomic_write_json
    from lomo_ablate.utils.secrets import redact

    path = Path(job_dir) / RESULT
    atomic_write_json(path, redact(dict(result)))
    return path


def is_done_for(result: Mapping[str, Any] | None, chash: str) -> bool:
    """True when ``result`` (a loaded result.json) is a finished job of exactly the config hashed ``chash``."""
    return bool(result) and result.get("status") == "done" and result.get("config_hash") == chash
