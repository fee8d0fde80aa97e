"""The reading stage: the tiny model learns to read rendered text before the SFT that is compared.

Production VLMs arrive pretrained to read text in images (OCR is a large share of their pretraining); the
embedded default's tiny model starts from random weights. Without this stage the compared SFT spends its
budget learning to see, and a fully rendered question stays near chance for every method, so the demo
cannot show what LoMo changes (docs/demo.md). Here the tiny model transcribes rendered text — task-question
sentences and random strings of numbers, words and formulas that the language model cannot guess
(:func:`lomo_ablate.data.builtin.reading_texts`) — drawn by the same :class:`~lomo_ablate.curate.render.Renderer`
settings the curation and the rendered protocols use. Every method then starts from the same reader.

Library use::

    from lomo_ablate.models import ModelConfig
    from lomo_ablate.train import TrainerConfig
    from lomo_ablate.train.reading import pretrain_reading
    model = ModelConfig.from_dict({"tiny": {"reading": {"steps": 1200}}})
    res = pretrain_reading("out/read", model, render={"layout": "grid"}, trainer=TrainerConfig(device="cpu"))
    res.final_dir            # save_pretrained folder: ModelConfig(name_or_path=str(res.final_dir)) for the SFT
    res.metrics              # transcription exact-match on held-out probe questions and random strings

Writes ``OUT/data/`` (a curated-dataset folder: data.jsonl, images/, rejected.jsonl, manifest.json),
``OUT/train/`` (train()'s output, resumable from its checkpoints) and ``OUT/reading.json``.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from lomo_ablate.models.config import ModelConfig, ReadingConfig
from lomo_ablate.train.config import TrainerConfig
from lomo_ablate.utils.fs import atomic_dir, atomic_write_json

#: Seeds of the held-out transcription checks (never the training texts' namespace).
EVAL_SEED, EVAL_NS = 1234, "reading-eval"


@dataclasses.dataclass
class ReadingResult:
    """Where the reader is and how well it reads (``metrics``: see :func:`transcription_metrics`)."""

    final_dir: Path
    metrics: dict[str, Any]


def _prompt(cfg: ReadingConfig) -> str:
    return "<image>\n" + cfg.prompt


def build_reading_dataset(out_dir: str | Path, cfg: ReadingConfig, render: Any, seed: int = 0,
                          progress: bool = False) -> dict[str, Any]:
    """Renders ``cfg.samples`` reading texts into a curated-dataset folder ``out_dir`` (written atomically).

    A text the renderer had to clip (it does not fit ``render.max_width × max_height``) would teach a wrong
    transcription: it is set aside in ``rejected.jsonl`` with its reason and counted. Returns the manifest.
    """
    from tqdm import tqdm

    from lomo_ablate.curate.distort import Distorter, DistortConfig
    from lomo_ablate.curate.render import Renderer
    from lomo_ablate.data.builtin import reading_texts

    out_dir = Path(out_dir)
    renderer = Renderer(render)
    distorter = Distorter(DistortConfig())
    rng = np.random.default_rng(seed)
    texts = reading_texts(cfg.samples, seed, cfg.p_random)
    rows, rejected, distorted = [], [], 0
    with atomic_dir(out_dir) as tmp:
        (tmp / "images").mkdir()
        bar = tqdm(total=len(texts), desc="reading data", disable=not progress, leave=False)
        for start in range(0, len(texts), 256):
            for i, res in enumerate(renderer.render_many(texts[start:start + 256]), start):
                bar.update(1)
                if res.clipped:
                    rejected.append({"source": "reading", "line": i, "reason": "clipped",
                                     "detail": f"{len(texts[i])} characters do not fit the render canvas"})
                    continue
                image = res.image
                if cfg.p_distort and rng.random() < cfg.p_distort:
                    image, _ = distorter.apply(image, rng)
                    distorted += 1
                rel = f"images/{i // 1000:03d}/{i:06d}.png"
                (tmp / rel).parent.mkdir(exist_ok=True)
                image.save(tmp / rel, compress_level=1)
                rows.append({"id": f"reading:{i}", "images": [rel],
                             "messages": [{"role": "user", "content": _prompt(cfg)},
                                          {"role": "assistant", "content": texts[i]}]})
        bar.close()
        (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (tmp / "rejected.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejected))
        manifest = {"read": len(texts), "written": len(rows), "rejected": len(rejected), "distorted": distorted,
                    "renderer": renderer.stats(), "seed": seed, "config": dataclasses.asdict(cfg)}
        assert manifest["read"] == manifest["written"] + manifest["rejected"]
        atomic_write_json(tmp / "manifest.json", manifest)
        (tmp / "_SUCCESS").write_text("")
    return manifest


def transcription_metrics(model_dir: str | Path, cfg: ReadingConfig, render: Any, n: int | None = None,
                          device: str = "cpu", batch_size: int = 16) -> dict[str, Any]:
    """How well the model at ``model_dir`` transcribes held-out rendered texts (greedy decoding):
    ``questions`` = whole probe-suite questions (the rendered protocol's images), ``random`` = random strings.
    Per set: ``exact`` (share transcribed exactly) and ``similarity`` (mean difflib ratio)."""
    import random

    from lomo_ablate.curate.render import Renderer
    from lomo_ablate.data.builtin import probe_items, random_string
    from lomo_ablate.models.generation import Prompt, generate
    from lomo_ablate.models import load_pretrained

    n = cfg.eval_n if n is None else n
    model, processor = load_pretrained(model_dir, device=device)
    model.eval()
    renderer = Renderer(render)
    rng = random.Random(f"{EVAL_NS}:{EVAL_SEED}")
    sets = {"questions": [it.question.strip() for _, it in probe_items(n, EVAL_SEED)],
            "random": [random_string(rng) for _ in range(n)]}
    out: dict[str, Any] = {"n": n}
    for name, texts in sets.items():
        prompts = [Prompt(messages=[{"role": "user", "content": _prompt(cfg)}], images=[r.image])
                   for r in renderer.render_many(texts)]
        preds = generate(model, processor, prompts, batch_size=batch_size, max_new_tokens=96, progress=False)
        out[name] = {
            "exact": float(np.mean([p.strip() == t for p, t in zip(preds, texts)])),
            "similarity": float(np.mean([difflib.SequenceMatcher(None, p.strip(), t).ratio()
                                         for p, t in zip(preds, texts)])),
            "examples": [{"text": t, "read": p} for p, t in list(zip(preds, texts))[:3]],
        }
    return out


def reading_trainer(trainer: TrainerConfig, cfg: ReadingConfig, usable: int) -> TrainerConfig:
    """The SFT trainer config with the reading stage's budget: ``cfg.steps`` at ``cfg.batch_size``
    (as many epochs over ``usable`` samples as that takes), ``cfg.lr`` → ``cfg.min_lr``, no packing."""
    steps_per_epoch = max(1, usable // cfg.batch_size)
    return dataclasses.replace(trainer, lr=cfg.lr, min_lr=cfg.min_lr, max_steps=cfg.steps,
                               epochs=max(1, math.ceil(cfg.steps / steps_per_epoch)),
                               per_device_batch_size=cfg.batch_size, grad_accum=1, packing=False)


def pretrain_reading(out_dir: str | Path, model: ModelConfig, render: Any, trainer: TrainerConfig,
                     log_fn: Callable[[int, dict], None] | None = None, progress: bool = False) -> ReadingResult:
    """The whole reading stage into ``out_dir``: dataset, training of the tiny model (built from
    ``model.tiny``; the tokenizer is trained on the reading texts), transcription check. Re-running it
    resumes: a finished dataset is kept, training continues from its newest checkpoint."""
    from lomo_ablate.train.trainer import train

    cfg = model.tiny.reading
    if cfg.steps < 1:
        raise ValueError("model.tiny.reading.steps is 0: there is no reading stage to run")
    if model.name_or_path != "tiny":
        raise ValueError(f"the reading stage builds the tiny model; model.name_or_path is {model.name_or_path!r}")
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    seed = model.tiny.seed
    if not (data_dir / "_SUCCESS").is_file():
        build_reading_dataset(data_dir, cfg, render, seed=seed, progress=progress)
    usable = json.loads((data_dir / "manifest.json").read_text())["written"]
    result = train(data_dir, out_dir / "train", model, reading_trainer(trainer, cfg, usable), seed=seed,
                   log_fn=log_fn)
    device = "cuda" if trainer.device == "cuda" else "cpu"
    metrics = {"steps": result.steps, "final_loss": result.final_loss,
               "transcription": transcription_metrics(result.final_dir, cfg, render, device=device)}
    atomic_write_json(out_dir / "reading.json", metrics)
    return ReadingResult(Path(result.final_dir), metrics)
