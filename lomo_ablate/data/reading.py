"""The reading stage's data: rendered texts to transcribe, written as a curated-dataset folder.

The tiny model's reading stage (docs/train.md "The reading stage") trains on ``<image>`` + "Write out the
text in the image." -> the text. The texts are :func:`lomo_ablate.data.builtin.reading_texts` (task-question
sentences and random strings the language model cannot guess), drawn by the job's
:class:`~lomo_ablate.render.Renderer` settings; ``p_distort`` of the images get one perceptual
distortion with the fixed settings :func:`reading_distortion` (not the job's distortion group, so every
method of a sweep shares one reader). The folder follows the curated-dataset contract (file names from
:mod:`lomo_ablate.contracts`, lines serialized as curation serializes them), so the ordinary ``train()``
reads it.

    from lomo_ablate.data.reading import build_reading_dataset
    manifest = build_reading_dataset("out/data", ReadingConfig(samples=64), render={"layout": "grid"})
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lomo_ablate import contracts as C
from lomo_ablate.utils.fs import atomic_dir, atomic_write_json

log = logging.getLogger("lomo_ablate.data")
#: What a render batch holds (images of one batch live in memory together).
RENDER_BATCH = 256
#: The shipped reader (package data): the embedded default's reading stage, made by
#: ``python -m lomo_ablate.pipeline.shipped_reader build``; ``shipped.json`` records the command, the store
#: key and the transcription score. A job whose read key equals the recorded one starts from it.
SHIPPED_READER = Path(__file__).resolve().parent / "reader"
SHIPPED_RECORD = "shipped.json"


def shipped_reader_record(folder: str | Path = SHIPPED_READER) -> dict[str, Any] | None:
    """The record of the shipped reader in ``folder`` (None when there is none, or it is incomplete)."""
    folder = Path(folder)
    try:
        record = json.loads((folder / SHIPPED_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not record.get("key") or not (folder / C.READING).is_file() \
            or not (folder / "train" / C.FINAL).is_dir():
        return None
    return record


def seed_reader(out: str | Path, key: str, source: str | Path = SHIPPED_READER) -> bool:
    """Copies the shipped reader into the read stage's folder ``out`` when its recorded key is ``key`` (what the
    pipeline's read stage does before computing anything). True when it did; the copy keeps ``shipped.json`` beside ``reading.json``, so the store's folder says where it came from."""
    record = shipped_reader_record(source)
    if record is None or record.get("key") != key:
        if record is not None:
            log.info("stage read: the shipped reader (key %s) is not this job's (key %s): computing it",
                     record.get("key"), key)
        return False
    out, source = Path(out), Path(source)
    for part in ("train", "data"):  # what a killed earlier attempt may have left in the work folder
        shutil.rmtree(out / part, ignore_errors=True)
    shutil.copytree(source / "train" / C.FINAL, out / "train" / C.FINAL)
    shutil.copy2(source / C.READING, out / C.READING)
    shutil.copy2(source / SHIPPED_RECORD, out / SHIPPED_RECORD)
    log.info("stage read: seeded the store from the shipped reader (%s, key %s; it transcribes %s)",
             source, key, transcription_score(record))
    return True


def transcription_score(record: dict[str, Any]) -> str:
    """A reader's transcription check in words (``record``: a shipped.json or a read stage's metrics)."""
    t = (record.get("reading") or record).get("transcription") or {}
    q, rnd = t.get("questions") or {}, t.get("random") or {}
    return (f"{100 * q.get('exact', 0):.0f} % of {t.get('n', '?')} held-out questions exactly, random strings "
            f"similarity {rnd.get('similarity', 0):.2f}")


def reading_prompt(cfg: Any) -> str:
    """The user turn of a reading sample (``cfg``: a ReadingConfig): the image first, then the prompt."""
    return C.IMAGE_SLOT + "\n" + cfg.prompt


def reading_distortion() -> Any:
    """The DistortConfig the reading data distorts ``p_distort`` of its images with (the defaults)."""
    from lomo_ablate.render.distort import DistortConfig

    return DistortConfig()


def reading_distortion_settings(cfg: Any) -> dict[str, Any] | None:
    """What the distortion of the reading data depends on (None when ``cfg.p_distort`` is 0): part of the
    read stage's store key."""
    if not cfg.p_distort:
        return None
    return dataclasses.asdict(reading_distortion())


def build_reading_dataset(out_dir: str | Path, cfg: Any, render: Any, seed: int = 0,
                          progress: bool = False) -> dict[str, Any]:
    """Renders ``cfg.samples`` reading texts into the curated-dataset folder ``out_dir`` (written atomically;
    ``cfg`` is the model's ReadingConfig, ``render`` a RenderConfig or its dict).

    A text the renderer had to clip (it does not fit ``render.max_width x max_height``) would teach a wrong
    transcription: it is set aside in ``rejected.jsonl`` with its reason and counted. Returns the manifest.
    """
    from tqdm import tqdm

    from lomo_ablate.render.distort import Distorter
    from lomo_ablate.curate.io import dumps_record
    from lomo_ablate.render import Renderer
    from lomo_ablate.data.builtin import reading_texts

    out_dir = Path(out_dir)
    renderer = Renderer(render)
    distorter = Distorter(reading_distortion())
    rng = np.random.default_rng(seed)
    texts = reading_texts(cfg.samples, seed, cfg.p_random)
    prompt = reading_prompt(cfg)
    rows, rejected, distorted = [], [], 0
    with atomic_dir(out_dir) as tmp:
        (tmp / C.IMAGES_DIR).mkdir()
        bar = tqdm(total=len(texts), desc="reading data", disable=not progress, leave=False)
        for start in range(0, len(texts), RENDER_BATCH):
            for i, res in enumerate(renderer.render_many(texts[start:start + RENDER_BATCH]), start):
                bar.update(1)
                if res.clipped:
                    rejected.append({"source": "reading", "line": i, "reason": "clipped",
                                     "detail": f"{len(texts[i])} characters do not fit the render canvas"})
                    continue
                image = res.image
                if cfg.p_distort and rng.random() < cfg.p_distort:
                    image, _ = distorter.apply(image, rng)
                    distorted += 1
                rel = f"{C.IMAGES_DIR}/{i // 1000:03d}/{i:06d}.png"
                (tmp / rel).parent.mkdir(exist_ok=True)
                image.save(tmp / rel, compress_level=1)
                rows.append({"id": f"reading:{i}", "images": [rel],
                             "messages": [{"role": "user", "content": prompt},
                                          {"role": "assistant", "content": texts[i]}]})
        bar.close()
        (tmp / C.DATA).write_text("".join(dumps_record(r) + "\n" for r in rows), encoding="utf-8")
        (tmp / C.REJECTED).write_text("".join(dumps_record(r) + "\n" for r in rejected), encoding="utf-8")
        manifest = {"read": len(texts), "written": len(rows), "rejected": len(rejected), "distorted": distorted,
                    "renderer": renderer.stats(), "seed": seed, "config": dataclasses.asdict(cfg)}
        assert manifest["read"] == manifest["written"] + manifest["rejected"]
        atomic_write_json(tmp / C.MANIFEST, manifest)
        (tmp / C.SUCCESS).write_text("")
    return manifest
