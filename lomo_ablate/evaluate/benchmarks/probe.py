"""The probe suite: procedurally generated items with exact answers, behind the benchmark Adapter interface.

Tasks (one category each; see :mod:`lomo_ablate.data.tasks`): reading text from pixels (``read_word``),
arithmetic from a formula image (``read_formula``), counting shapes (``count_shapes``), and text tasks whose
data sits in the middle of the question (``list_max``, ``compare``, ``formula`` with inline LaTeX,
``copy_word``). Under the rendered protocols the text question itself becomes pixels, so every task is
measured in standard and rendered form. Items come from the same generators as the built-in training pools
but a different seed namespace (held-out seeds).

    adapter = get_adapter("probe", {"n": 70, "seed": 1234})   # or ProbeAdapter({"n": 70, "seed": 1234})
    items = adapter.load()                      # no file needed; ``load(path)`` reads a written suite
    messages, images = adapter.build_prompt(items[0])
    adapter.score("7", items[0])                # 1.0 or 0.0

Registered as benchmark ``probe`` like the file benchmarks; its items carry their own category (the task), so
it has no paper group (``category=None``) and needs no path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from PIL import Image

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.data.builtin import probe_items
from lomo_ablate.data.tasks import ALL_TASKS
from lomo_ablate.evaluate.benchmarks.base import (Adapter, AdapterConfig, BenchmarkFormatError, Item, escape_slots,
                                                  user_prompt)
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils import write_jsonl
from lomo_ablate.utils.config import ConfigError, config_from_dict

NAME = "probe"
_SLOT_LINE = IMAGE_SLOT + "\n"  # the image first, on its own line: the built-in multimodal pool's layout


@dataclass
class ProbeConfig:
    """``n`` items, seed ``seed`` (held out from the training pools by namespace), tasks round-robin.

    ``image_size``/``cells``: canvas and grid of the task images (one glyph or shape per cell).
    """

    n: int = 70
    seed: int = 1234
    tasks: list[str] = field(default_factory=lambda: list(ALL_TASKS))
    image_size: int = 64
    cells: int = 4

    @classmethod
    def from_dict(cls, d: dict | None) -> "ProbeConfig":
        return config_from_dict(cls, d, cls.__name__)

    def validate(self, where: str = "ProbeConfig") -> None:
        bad = [t for t in self.tasks if t not in ALL_TASKS]
        if bad:
            raise ConfigError(f"{where}: unknown task {bad[0]!r}; allowed: {', '.join(ALL_TASKS)}")
        if self.n < 1:
            raise ConfigError(f"{where}: n must be >= 1, got {self.n}")


_SPACE = re.compile(r"\s+")


def normalize_answer(text: str) -> str:
    """Lower case, collapsed spaces, no surrounding punctuation; numbers in canonical form (``7.0`` → ``7``)."""
    t = _SPACE.sub(" ", str(text)).strip().strip(".,;:!?\"'` ").lower()
    try:
        v = float(t)
    except ValueError:
        return t
    return str(int(v)) if v.is_integer() else repr(v)


_ADAPTER_KEYS = tuple(f.name for f in fields(AdapterConfig))


@register(NAME, category=None, spec_keys=("n", "seed", "tasks"), needs_path=False)
class ProbeAdapter(Adapter):
    """The probe suite as an Adapter: ``name = "probe"``, category per task (``item.metadata["category"]``).

    ``config``: :class:`ProbeConfig` keys; :class:`AdapterConfig` keys (``strict``, ``limit``…) given there
    too go to ``adapter``, so ``get_adapter("probe", {"n": 7, "strict": False})`` works like the others.
    """

    category = "probe"
    required_keys = ("id", "task", "question", "answer")

    def __init__(self, config: ProbeConfig | dict | None = None, adapter: dict | None = None):
        if config is not None and not isinstance(config, ProbeConfig):
            config = dict(config)
            adapter = {**{k: config.pop(k) for k in _ADAPTER_KEYS if k in config}, **dict(adapter or {})}
        super().__init__(adapter)
        self.probe = config if isinstance(config, ProbeConfig) else ProbeConfig.from_dict(config)

    def load(self, path: str | Path | None = None) -> list[Item]:
        """Generate the suite (``path`` None) or read one written by :meth:`write`."""
        if path is not None:
            return super().load(path)
        cfg = self.probe
        items = []
        for i, t in probe_items(cfg.n, cfg.seed, cfg.tasks, cfg.image_size, cfg.cells):
            items.append(Item(id=f"probe:{cfg.seed}:{i}", question=self._question(t.question, t.image is not None),
                              images=[t.image] if t.image is not None else [], answer=t.answer,
                              metadata={"task": t.task, "category": t.task}))
        if self.config.limit is not None:
            items = items[: self.config.limit]
        return items

    @staticmethod
    def _question(text: str, has_image: bool) -> str:
        """Image first, then the question: the layout of the built-in multimodal pool."""
        return (_SLOT_LINE if has_image else "") + escape_slots(text)

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        task = record["task"]
        if task not in ALL_TASKS:
            raise BenchmarkFormatError(where, "task", f"unknown task {task!r}; allowed: {', '.join(ALL_TASKS)}")
        image = record.get("image")
        images = [self.image_ref(image, where, "image")] if image else []
        return Item(id=str(record["id"]), question=self._question(str(record["question"]), bool(images)),
                    images=images, answer=str(record["answer"]), metadata={"task": task, "category": task})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        return user_prompt(item.question), [im.convert("RGB") for im in self.open_images(item.images)]

    def score(self, prediction: str, item: Item) -> float:
        """Exact match after :func:`normalize_answer`."""
        return float(normalize_answer(prediction) == normalize_answer(item.answer))

    def write(self, path: str | Path) -> Path:
        """Write the generated suite as JSONL (+ PNGs under ``<stem>_images/``) that :meth:`load` reads back."""
        path = Path(path)
        img_dir = path.parent / f"{path.stem}_images"
        rows = []
        for k, it in enumerate(self.load()):
            row = {"id": it.id, "task": it.metadata["task"], "answer": it.answer,
                   "question": it.question.replace(_SLOT_LINE, "", 1) if it.images else it.question}
            if it.images:
                img_dir.mkdir(parents=True, exist_ok=True)
                rel = f"{img_dir.name}/{k:06d}.png"
                it.images[0].save(path.parent / rel)
                row["image"] = rel
            rows.append(row)
        write_jsonl(path, rows)
        return path
