"""The pipeline's stages: each one's key function and run function, registered in :data:`REGISTRY`.

``plan(cfg)`` computes, without running anything, each stage's key: a hash of the stage's own config,
the keys (or file fingerprints) of its inputs and a code salt. Keys chain: a change to curation changes
the curate key and therefore the train and evaluate keys; a change to evaluation only re-evaluates.

Stages (``<store_dir>/<stage>/<key>/``), in registry order:

* ``data``     the built-in pools (``text.jsonl``, ``multimodal.jsonl``) when ``data.text: builtin``;
* ``curate``   the curated dataset directory (docs/DESIGN.md "Curated dataset directory");
* ``read``     only for the tiny model with ``model.tiny.reading.steps > 0``: the reading stage, composed of
  its data (:mod:`lomo_ablate.data.reading`), the ordinary ``train()`` and its transcription check
  (:mod:`lomo_ablate.evaluate.transcription`); ``train/final/`` is the reader every method's SFT starts
  from. Its key depends on the tiny model, the renderer, the reading distortion (when ``p_distort > 0``)
  and the trainer's device settings — not on the job seed or the method — so the arms and seeds of a sweep
  share one reader, as real runs share one pretrained model;
* ``train``    ``final/`` is the checkpoint (resumable; every rank of a distributed job trains);
* ``evaluate`` ``metrics.json`` and ``predictions.jsonl`` (resumable; every rank generates a shard, rank 0
  gathers: :mod:`lomo_ablate.evaluate.engines.shards`).

A new stage is a :class:`~lomo_ablate.pipeline.registry.Stage` entry in :data:`REGISTRY` plus its key and
run functions (docs/extending.md "Add a stage"). The stage packages are imported inside the run functions:
``plan()`` needs none of them.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Mapping

from omegaconf import DictConfig, OmegaConf

import lomo_ablate
from lomo_ablate import contracts as C
from lomo_ablate.pipeline.config import BUILTIN
from lomo_ablate.pipeline.registry import Registry, Stage, StageContext, StagePlan
from lomo_ablate.pipeline.store import Store
from lomo_ablate.utils.fs import atomic_write_json

# Bump a stage's salt when its code changes what it produces: every key downstream changes with it.
SALTS = {"data": "data-1", "curate": "curate-1", "read": "read-2", "train": "train-2", "evaluate": "evaluate-3"}
#: Trainer keys that change what the reading stage computes (its budget comes from model.tiny.reading).
READ_TRAINER_KEYS = ("device", "bf16", "max_seq_len", "weight_decay", "warmup_ratio", "max_grad_norm",
                     "adam_beta1", "adam_beta2", "adam_eps")
# What changes how a job runs but not what it computes (progress bars; curation's worker processes, whose
# output is byte-identical for any count): left out of the keys, so a sweep that turns the bars off
# (sweeps/carrier.yaml) shares its jobs with `python -m lomo_ablate`.
RUN_ONLY_KEYS = ("progress", "workers")
#: Where a finished read stage keeps its parts.
READ_DATA, READ_TRAIN = "data", "train"


def _salt(stage: str) -> str:
    return f"{SALTS[stage]}/lomo_ablate-{lomo_ablate.__version__}"


def _section(cfg: DictConfig, key: str) -> Any:
    node = OmegaConf.select(cfg, key, default=None)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _computed(section: Any) -> Any:
    """A config section as it enters a key: without its :data:`RUN_ONLY_KEYS`."""
    return {k: v for k, v in section.items() if k not in RUN_ONLY_KEYS} if isinstance(section, dict) else section


def _pool_value(value: Any) -> Any:
    """A pool as plain data (a ListConfig of paths becomes a list)."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _input_id(value: Any, image_dir: str | None = None, split: str | None = None) -> Any:
    """How a user-supplied pool enters a key: its spec and a fingerprint of its content — every file's whole
    bytes (hashed once per process and file version) and the size and mtime of every image it references
    (:func:`lomo_ablate.curate.readers.pool_fingerprint`)."""
    if value is None:
        return None
    import dataclasses as dc

    from lomo_ablate.curate.readers import expand_pool, pool_fingerprint

    files = expand_pool(value, split)
    if image_dir is not None:
        files = [dc.replace(f, root=str(Path(image_dir).resolve())) for f in files]
    spec = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
    return {"path": spec, "image_dir": image_dir, "split": split, "fingerprint": pool_fingerprint(files)}


# ---- key functions: (cfg, keys of the stages planned so far) -> key inputs, or None (not in this job) ----

def data_key(cfg: DictConfig, upstream: Mapping[str, str]) -> dict[str, Any] | None:
    text, mm = cfg.data.text, OmegaConf.select(cfg, "data.multimodal", default=None)
    if BUILTIN not in (text, mm):
        return None
    return {"stage": "data", "salt": _salt("data"), "seed": int(cfg.seed),
            "text_size": int(cfg.data.text_size) if text == BUILTIN else None,
            "multimodal_size": int(cfg.data.multimodal_size) if mm == BUILTIN else None}


def curate_key(cfg: DictConfig, upstream: Mapping[str, str]) -> dict[str, Any]:
    text, mm = cfg.data.text, OmegaConf.select(cfg, "data.multimodal", default=None)
    inputs: dict[str, Any] = {}
    if "data" in upstream:
        inputs["builtin"] = upstream["data"]
    split = OmegaConf.select(cfg, "data.split", default=None)
    if text != BUILTIN:
        inputs["text"] = _input_id(_pool_value(text), OmegaConf.select(cfg, "data.text_image_dir", default=None), split)
    if mm not in (None, BUILTIN):
        inputs["multimodal"] = _input_id(_pool_value(mm), OmegaConf.select(cfg, "data.multimodal_image_dir",
                                                                      default=None), split)
    return {"stage": "curate", "salt": _salt("curate"), "seed": int(cfg.seed),
            "config": _computed(_section(cfg, "curate")), "inputs": inputs}


def read_key(cfg: DictConfig, upstream: Mapping[str, str]) -> dict[str, Any] | None:
    if not has_reading_stage(cfg):
        return None
    trainer = _section(cfg, "trainer")
    inputs = {"stage": "read", "salt": _salt("read"), "tiny": _section(cfg, "model.tiny"),
              "render": _section(cfg, "curate.render"),
              "trainer": {k: trainer.get(k) for k in READ_TRAINER_KEYS}}
    p_distort = OmegaConf.select(cfg, "model.tiny.reading.p_distort", default=0) or 0
    if p_distort:  # the reading data's distortion settings (absent at p_distort 0: those keys are unchanged)
        from lomo_ablate.data.reading import reading_distortion_settings
        from lomo_ablate.models.config import ReadingConfig

        inputs["distort"] = reading_distortion_settings(ReadingConfig.from_dict(_section(cfg, "model.tiny.reading")))
    return inputs


def train_key(cfg: DictConfig, upstream: Mapping[str, str]) -> dict[str, Any]:
    inputs = {"stage": "train", "salt": _salt("train"), "seed": int(cfg.seed), "model": _section(cfg, "model"),
              "trainer": _computed(_section(cfg, "trainer")), "curate": upstream["curate"]}
    if "read" in upstream:
        inputs["read"] = upstream["read"]
    return inputs


def evaluate_key(cfg: DictConfig, upstream: Mapping[str, str]) -> dict[str, Any]:
    return {"stage": "evaluate", "salt": _salt("evaluate"), "config": _computed(_section(cfg, "eval")),
            "train": upstream["train"]}


def has_reading_stage(cfg: DictConfig) -> bool:
    """The tiny model is built here (``model.name_or_path: tiny``) and its reading stage is on."""
    steps = OmegaConf.select(cfg, "model.tiny.reading.steps", default=0) or 0
    return OmegaConf.select(cfg, "model.name_or_path", default=None) == "tiny" and int(steps) > 0


# ---- run functions (imports of the stage packages stay inside) ----

def run_data(ctx: StageContext) -> None:
    from lomo_ablate.data.builtin import write_multimodal_pool, write_text_pool

    cfg, seed = ctx.cfg, int(ctx.cfg.seed)
    if cfg.data.text == BUILTIN:
        write_text_pool(ctx.out / C.TEXT_POOL, int(cfg.data.text_size), seed)
    if OmegaConf.select(cfg, "data.multimodal", default=None) == BUILTIN:
        write_multimodal_pool(ctx.out / C.MULTIMODAL_POOL, int(cfg.data.multimodal_size), seed)


def stage_inputs(cfg: DictConfig, data_dir: Path | None) -> tuple[Any, Any]:
    """The text and multimodal pools of curation (built-in pools live in the data stage; a user pool is a
    path, glob or list as given)."""
    def pool(value: Any) -> Any:
        value = _pool_value(value)
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)

    text = data_dir / C.TEXT_POOL if cfg.data.text == BUILTIN else pool(cfg.data.text)
    mm_value = OmegaConf.select(cfg, "data.multimodal", default=None)
    if mm_value is None:
        mm = None
    else:
        mm = data_dir / C.MULTIMODAL_POOL if mm_value == BUILTIN else pool(mm_value)
    return text, mm


def run_curate(ctx: StageContext) -> dict[str, Any]:
    """Curation; every rank of a multi-task job curates its share of the shards (the store's sharded stage)."""
    from lomo_ablate.curate import CurateConfig, curate
    from lomo_ablate.curate.config import available_cpus
    from lomo_ablate.distributed import DistributedEnvironment

    env = DistributedEnvironment.detect()
    ccfg = CurateConfig.from_dict(_section(ctx.cfg, "curate"))
    workers = ccfg.workers
    if workers is None and env.source == "torchrun":  # the local ranks share this machine's CPUs
        workers = max(1, available_cpus() // max(1, env.local_world_size))
    text, mm = stage_inputs(ctx.cfg, ctx.inputs.get("data"))
    summary = curate(text, ctx.out, ccfg, multimodal_input=mm, seed=int(ctx.cfg.seed), workers=workers,
                     progress=True, rank=env.rank, world_size=env.world_size,
                     text_image_dir=OmegaConf.select(ctx.cfg, "data.text_image_dir", default=None),
                     multimodal_image_dir=OmegaConf.select(ctx.cfg, "data.multimodal_image_dir", default=None),
                     split=OmegaConf.select(ctx.cfg, "data.split", default=None))
    return _plain(summary)


@dataclasses.dataclass
class ReadingResult:
    """Where the reader is and how well it reads (``metrics``: steps, final_loss, transcription)."""

    final_dir: Path
    metrics: dict[str, Any]


def pretrain_reading(out_dir: str | Path, model: Any, render: Any, trainer: Any,
                     log_fn: Callable[[int, dict], None] | None = None, progress: bool = False) -> ReadingResult:
    """The reading stage into ``out_dir``, from the ordinary parts: ``data/`` (the reading dataset),
    ``train/`` (``train()`` of the tiny model built from ``model.tiny`` — its tokenizer trained on the reading
    texts — with the reading budget), then the transcription check into ``reading.json``. Re-running it
    resumes inside ``out_dir``: a finished dataset is kept, training continues from its newest checkpoint."""
    from lomo_ablate.data.reading import build_reading_dataset
    from lomo_ablate.evaluate.transcription import transcription_metrics
    from lomo_ablate.train import train
    from lomo_ablate.train.reading import reading_trainer

    cfg = model.tiny.reading
    if cfg.steps < 1:
        raise ValueError("model.tiny.reading.steps is 0: there is no reading stage to run")
    if model.name_or_path != "tiny":
        raise ValueError(f"the reading stage builds the tiny model; model.name_or_path is {model.name_or_path!r}")
    out_dir = Path(out_dir)
    data_dir, seed = out_dir / READ_DATA, model.tiny.seed
    if not (data_dir / C.SUCCESS).is_file():
        build_reading_dataset(data_dir, cfg, render, seed=seed, progress=progress)
    usable = json.loads((data_dir / C.MANIFEST).read_text())["written"]
    result = train(data_dir, out_dir / READ_TRAIN, model, reading_trainer(trainer, cfg, usable), seed=seed,
                   log_fn=log_fn)
    device = "cuda" if trainer.device == "cuda" else "cpu"
    metrics = {"steps": result.steps, "final_loss": result.final_loss,
               "transcription": transcription_metrics(result.final_dir, cfg, render, device=device)}
    atomic_write_json(out_dir / C.READING, metrics)
    return ReadingResult(Path(result.final_dir), metrics)


def run_read(ctx: StageContext) -> dict[str, Any]:
    """The reader: the shipped one (package data, :mod:`lomo_ablate.pipeline.shipped_reader`) when its key is
    this job's, else :func:`compute_read`."""
    from lomo_ablate.data.reading import seed_reader
    from lomo_ablate.pipeline.store import stage_key

    if seed_reader(ctx.out, stage_key(read_key(ctx.cfg, {}) or {})):
        return _plain(json.loads((ctx.out / C.READING).read_text()))
    return compute_read(ctx)


def compute_read(ctx: StageContext) -> dict[str, Any]:
    """The reading stage computed (:func:`pretrain_reading` with the job's model, renderer and trainer)."""
    from lomo_ablate.models import ModelConfig
    from lomo_ablate.train import TrainerConfig

    trainer = TrainerConfig.from_dict(_section(ctx.cfg, "trainer"))
    res = pretrain_reading(ctx.out, ModelConfig.from_dict(_section(ctx.cfg, "model")),
                           _section(ctx.cfg, "curate.render"), trainer, progress=trainer.progress)
    return _plain(res.metrics)


def reader_dir(read_dir: Path) -> Path:
    """The checkpoint a finished read stage leaves for the SFT."""
    return read_dir / READ_TRAIN / C.FINAL


def run_train(ctx: StageContext) -> dict[str, Any]:
    """SFT on the curated data; from the read stage's reader instead of ``model`` when there is one."""
    from lomo_ablate.models import ModelConfig
    from lomo_ablate.train import TrainerConfig, train

    model = ModelConfig.from_dict(_section(ctx.cfg, "model"))
    if "read" in ctx.inputs:
        model = dataclasses.replace(model, name_or_path=str(reader_dir(ctx.inputs["read"])))
    result = train(ctx.inputs["curate"], ctx.out, model, TrainerConfig.from_dict(_section(ctx.cfg, "trainer")),
                   seed=int(ctx.cfg.seed), log_fn=ctx.log_fn)
    return _plain(result)


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    from lomo_ablate.evaluate import EvalConfig, evaluate

    return evaluate(ctx.inputs["train"] / C.FINAL, ctx.out, EvalConfig.from_dict(_section(ctx.cfg, "eval")))


# ---- what each stage adds to result.json's metrics ----

def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def evaluate_metrics(folder: Path) -> dict[str, Any]:
    """The evaluation's metrics.json (its top-level keys)."""
    return _json(folder / C.METRICS) or {}


def train_metrics(folder: Path) -> dict[str, Any]:
    """What the training run got (attention implementation and why, liger), under ``train``."""
    runtime = _json(folder / C.TRAIN_RUNTIME)
    return {"train": runtime} if runtime is not None else {}


def read_metrics(folder: Path) -> dict[str, Any]:
    """The reading stage's transcription check, under ``reading``."""
    reading = _json(folder / C.READING)
    return {"reading": reading} if reading is not None else {}


REGISTRY = Registry([
    Stage("data", data_key, run_data),
    Stage("curate", curate_key, run_curate, resumable=True, sharded=True,
          configs=(("curate", "lomo_ablate.curate:CurateConfig"),)),
    Stage("read", read_key, run_read, resumable=True, metrics=read_metrics),
    Stage("train", train_key, run_train, resumable=True, rank0_only=False, metrics=train_metrics,
          configs=(("model", "lomo_ablate.models:ModelConfig"), ("trainer", "lomo_ablate.train:TrainerConfig"))),
    # every rank generates its shard of the items (resumable, lomo_ablate.evaluate.engines.shards); rank 0
    # gathers, scores the whole and the store's rank-0 finish moves the folder into place
    Stage("evaluate", evaluate_key, run_evaluate, resumable=True, rank0_only=False, metrics=evaluate_metrics,
          configs=(("eval", "lomo_ablate.evaluate:EvalConfig"),)),
])
#: The stage names in run order.
STAGES = REGISTRY.names


def plan(cfg: DictConfig, registry: Registry | None = None) -> list[StagePlan]:
    """The stages of the job described by ``cfg``, in order, with their keys (nothing is run)."""
    return (registry or REGISTRY).plan(cfg)


def cached_stages(cfg: DictConfig, store: Store, registry: Registry | None = None) -> dict[str, bool]:
    """``{stage: already in the store}`` for the job of ``cfg``."""
    return {p.name: store.is_done(p.name, p.key) for p in plan(cfg, registry)}


def _plain(obj: Any) -> Any:
    """A stage's summary object as JSON-able data (dataclass, dict, or its repr)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json.loads(json.dumps(dataclasses.asdict(obj), default=str))
    if isinstance(obj, dict):
        return json.loads(json.dumps(obj, default=str))
    return {"value": repr(obj)}


__all__ = ["REGISTRY", "STAGES", "SALTS", "ReadingResult", "StagePlan", "cached_stages", "has_reading_stage",
           "compute_read", "plan", "pretrain_reading", "reader_dir", "stage_inputs"]
