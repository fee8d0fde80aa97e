"""The stages of one job and their store keys.

``plan(cfg)`` computes, without running anything, each stage's key: a hash of the stage's own config,
the keys (or file fingerprints) of its inputs and a code salt. Keys chain: a change to curation changes
the curate key and therefore the train and evaluate keys; a change to evaluation only re-evaluates.

Stages (``<store_dir>/<stage>/<key>/``):

* ``data``     the built-in pools (``text.jsonl``, ``multimodal.jsonl``) when ``data.text: builtin``;
* ``curate``   the curated dataset directory (docs/DESIGN.md "Curated dataset directory");
* ``read``     only for the tiny model with ``model.tiny.reading.steps > 0``: the reading stage
  (lomo_ablate.train.reading), ``train/final/`` is the reader every method's SFT starts from. Its key
  depends on the tiny model, the renderer and the trainer's device settings — not on the job seed or the
  method — so the arms and seeds of a sweep share one reader, as real runs share one pretrained model;
* ``train``    ``final/`` is the checkpoint (resumable: kept in ``.work-<key>`` until complete);
* ``evaluate`` ``metrics.json`` and ``predictions.jsonl``.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

import lomo_ablate
from lomo_ablate.utils.hashing import file_fingerprint
from lomo_ablate.pipeline.store import Store, stage_key
from lomo_ablate.pipeline.validate import BUILTIN

# Bump a stage's salt when its code changes what it produces: every key downstream changes with it.
SALTS = {"data": "data-1", "curate": "curate-1", "read": "read-1", "train": "train-1", "evaluate": "evaluate-1"}
STAGES = ("data", "curate", "read", "train", "evaluate")
#: Trainer keys that change what the reading stage computes (its budget comes from model.tiny.reading).
READ_TRAINER_KEYS = ("device", "bf16", "max_seq_len", "weight_decay", "warmup_ratio", "max_grad_norm",
                     "adam_beta1", "adam_beta2", "adam_eps")


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """One stage of a job: its name, store key, and the inputs the key was computed from."""

    name: str
    key: str
    inputs: dict[str, Any]


def _salt(stage: str) -> str:
    return f"{SALTS[stage]}/lomo_ablate-{lomo_ablate.__version__}"


# What changes how a job runs but not what it computes (progress bars; curation's worker processes, whose
# output is byte-identical for any count): left out of the keys, so a sweep that turns the bars off
# (sweeps/carrier.yaml) shares its jobs with `python -m lomo_ablate`.
RUN_ONLY_KEYS = ("progress", "workers")


def _section(cfg: DictConfig, key: str) -> Any:
    node = OmegaConf.select(cfg, key, default=None)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _computed(section: Any) -> Any:
    """A config section as it enters a key: without its :data:`RUN_ONLY_KEYS`."""
    return {k: v for k, v in section.items() if k not in RUN_ONLY_KEYS} if isinstance(section, dict) else section


def _input_id(value: str | None) -> Any:
    """How a user-supplied input enters a key: its path and a fingerprint of its bytes."""
    if value is None:
        return None
    return {"path": str(value), "fingerprint": file_fingerprint(value)}


def plan(cfg: DictConfig) -> list[StagePlan]:
    """The stages of the job described by ``cfg``, in order, with their keys (nothing is run)."""
    seed = int(cfg.seed)
    text, mm = cfg.data.text, OmegaConf.select(cfg, "data.multimodal", default=None)
    stages: list[StagePlan] = []
    inputs: dict[str, Any] = {}
    if BUILTIN in (text, mm):
        data_inputs = {
            "stage": "data", "salt": _salt("data"), "seed": seed,
            "text_size": int(cfg.data.text_size) if text == BUILTIN else None,
            "multimodal_size": int(cfg.data.multimodal_size) if mm == BUILTIN else None,
        }
        stages.append(StagePlan("data", stage_key(data_inputs), data_inputs))
        inputs["builtin"] = stages[-1].key
    if text != BUILTIN:
        inputs["text"] = _input_id(text)
    if mm not in (None, BUILTIN):
        inputs["multimodal"] = _input_id(mm)
    curate_inputs = {"stage": "curate", "salt": _salt("curate"), "seed": seed,
                     "config": _computed(_section(cfg, "curate")), "inputs": inputs}
    stages.append(StagePlan("curate", stage_key(curate_inputs), curate_inputs))
    curate_key = stages[-1].key
    read_key = None
    if has_reading_stage(cfg):
        trainer = _section(cfg, "trainer")
        read_inputs = {"stage": "read", "salt": _salt("read"), "tiny": _section(cfg, "model.tiny"),
                       "render": _section(cfg, "curate.render"),
                       "trainer": {k: trainer.get(k) for k in READ_TRAINER_KEYS}}
        stages.append(StagePlan("read", stage_key(read_inputs), read_inputs))
        read_key = stages[-1].key
    train_inputs = {"stage": "train", "salt": _salt("train"), "seed": seed, "model": _section(cfg, "model"),
                    "trainer": _computed(_section(cfg, "trainer")), "curate": curate_key}
    if read_key is not None:
        train_inputs["read"] = read_key
    stages.append(StagePlan("train", stage_key(train_inputs), train_inputs))
    eval_inputs = {"stage": "evaluate", "salt": _salt("evaluate"), "config": _computed(_section(cfg, "eval")),
                   "train": stages[-1].key}
    stages.append(StagePlan("evaluate", stage_key(eval_inputs), eval_inputs))
    return stages


def has_reading_stage(cfg: DictConfig) -> bool:
    """The tiny model is built here (``model.name_or_path: tiny``) and its reading stage is on."""
    steps = OmegaConf.select(cfg, "model.tiny.reading.steps", default=0) or 0
    return OmegaConf.select(cfg, "model.name_or_path", default=None) == "tiny" and int(steps) > 0


def cached_stages(cfg: DictConfig, store: Store) -> dict[str, bool]:
    """``{stage: already in the store}`` for the job of ``cfg``."""
    return {p.name: store.is_done(p.name, p.key) for p in plan(cfg)}


# ---- running the stages (imports of the stage packages stay inside: plan() needs none of them) ----

def run_data(out: Path, cfg: DictConfig) -> None:
    from lomo_ablate.data.builtin import write_multimodal_pool, write_text_pool

    seed = int(cfg.seed)
    if cfg.data.text == BUILTIN:
        write_text_pool(out / "text.jsonl", int(cfg.data.text_size), seed)
    if OmegaConf.select(cfg, "data.multimodal", default=None) == BUILTIN:
        write_multimodal_pool(out / "multimodal.jsonl", int(cfg.data.multimodal_size), seed)


def stage_inputs(cfg: DictConfig, data_dir: Path | None) -> tuple[Path, Path | None]:
    """The text and multimodal input files of curation (built-in pools live in the data stage)."""
    text = data_dir / "text.jsonl" if cfg.data.text == BUILTIN else Path(cfg.data.text)
    mm_value = OmegaConf.select(cfg, "data.multimodal", default=None)
    if mm_value is None:
        mm = None
    else:
        mm = data_dir / "multimodal.jsonl" if mm_value == BUILTIN else Path(mm_value)
    return text, mm


def run_curate(out: Path, cfg: DictConfig, data_dir: Path | None) -> dict[str, Any]:
    from lomo_ablate.curate import CurateConfig, curate

    text, mm = stage_inputs(cfg, data_dir)
    summary = curate(text, out, CurateConfig.from_dict(_section(cfg, "curate")), multimodal_input=mm,
                     seed=int(cfg.seed), progress=True)
    return _plain(summary)


def run_read(out: Path, cfg: DictConfig) -> dict[str, Any]:
    from lomo_ablate.models import ModelConfig
    from lomo_ablate.train import TrainerConfig
    from lomo_ablate.train.reading import pretrain_reading

    trainer = TrainerConfig.from_dict(_section(cfg, "trainer"))
    res = pretrain_reading(out, ModelConfig.from_dict(_section(cfg, "model")), _section(cfg, "curate.render"),
                           trainer, progress=trainer.progress)
    return _plain(res.metrics)


def reader_dir(read_dir: Path) -> Path:
    """The checkpoint a finished read stage leaves for the SFT."""
    return read_dir / "train" / "final"


def run_train(out: Path, cfg: DictConfig, curated: Path, log_fn: Callable | None = None,
              reader: Path | None = None) -> dict[str, Any]:
    """SFT on the curated data; from ``reader`` (a read stage's checkpoint) instead of ``model`` when given."""
    from lomo_ablate.models import ModelConfig
    from lomo_ablate.train import TrainerConfig, train

    model = ModelConfig.from_dict(_section(cfg, "model"))
    if reader is not None:
        model = dataclasses.replace(model, name_or_path=str(reader))
    result = train(curated, out, model, TrainerConfig.from_dict(_section(cfg, "trainer")), seed=int(cfg.seed),
                   log_fn=log_fn)
    return _plain(result)


def run_evaluate(out: Path, cfg: DictConfig, checkpoint: Path) -> dict[str, Any]:
    from lomo_ablate.evaluate import EvalConfig, evaluate

    return evaluate(checkpoint, out, EvalConfig.from_dict(_section(cfg, "eval")))


def read_metrics(eval_dir: Path, read_dir: Path | None = None) -> dict[str, Any]:
    """The evaluation's metrics.json, with the reading stage's transcription check under ``reading``."""
    path = eval_dir / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    if read_dir is not None and (read_dir / "reading.json").is_file():
        metrics["reading"] = json.loads((read_dir / "reading.json").read_text())
    return metrics


def _plain(obj: Any) -> Any:
    """A stage's summary object as JSON-able data (dataclass, dict, or its repr)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json.loads(json.dumps(dataclasses.asdict(obj), default=str))
    if isinstance(obj, dict):
        return json.loads(json.dumps(obj, default=str))
    return {"value": repr(obj)}
