"""The benchmark adapter interface: :class:`Item`, :class:`Adapter`, errors and the prompt helpers.

An adapter turns one benchmark's local files into :class:`Item` s (``load``), an item into a chat prompt
with ``<image>`` slots (``build_prompt``) and a model's answer into a score in [0, 1] (``score``). Bad
rows raise :class:`BenchmarkFormatError` naming the file, row and key; with ``strict=False`` they are
set aside in ``adapter.rejected`` (same form as curate's rejected.jsonl) and counted instead.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from PIL import Image

from lomo_ablate.contracts import ESCAPED_SLOT, IMAGE_SLOT
from lomo_ablate.evaluate.benchmarks.records import ImageRef, RecordLocation, iter_records, open_image
from lomo_ablate.utils.config import config_from_dict

__all__ = ["IMAGE_SLOT", "Item", "Adapter", "AdapterConfig", "BenchmarkFormatError", "escape_slots",
           "user_prompt"]


class BenchmarkFormatError(ValueError):
    """A benchmark row that cannot be used; the message names file, row and key."""

    def __init__(self, where: RecordLocation | str, key: str | None, reason: str):
        self.where, self.key, self.reason = str(where), key, reason
        keypart = f" key {key!r}:" if key else ""
        super().__init__(f"{self.where}:{keypart} {reason}")


@dataclass
class Item:
    """One benchmark question.

    Attributes:
        id: stable identifier (the benchmark's own id column where it has one, else ``row<N>``).
        question: question text; may contain ``<image>`` slots placed by the adapter (never a literal
            ``<image>`` from the source, which is escaped to ``< image>``).
        images: PIL images or :class:`~lomo_ablate.evaluate.benchmarks.records.ImageRef` (a path or
            encoded bytes, opened lazily by ``build_prompt``).
        answer: gold answer (letter, string, number or list of acceptable strings, per benchmark).
        options: answer options for multiple-choice questions, in letter order (A, B, ...), else None.
        metadata: anything else the scorer or a report needs (question type, precision, source row…).
        companions: other prompts, by key, whose replies this item's score needs (MM-IFEval's compare judge:
            the same question without one constraint). The evaluate stage generates each beside its item,
            under the same protocol, and keeps it out of every metric; a companion is never an item itself.
        replies: the companions' replies, by key, as the scorer sees them (filled before ``score`` and
            ``detail`` are called: by the evaluate stage from its generations, by ``evaluate.score`` from
            the companion rows' predictions).
    """

    id: str
    question: str
    images: list = field(default_factory=list)
    answer: Any = None
    options: list[str] | None = None
    metadata: dict = field(default_factory=dict)
    companions: dict[str, "Item"] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)


@dataclass
class AdapterConfig:
    """Options every adapter takes.

    Attributes:
        split: split to read when ``path`` is a ``datasets`` DatasetDict folder (required there if it has
            more than one split).
        image_root: folder that relative image paths in the data are resolved against (default: the
            folder of the data file).
        strict: raise on the first bad row (default) or set bad rows aside in ``adapter.rejected``.
        limit: read at most this many usable items (None: all).
    """

    split: str | None = None
    image_root: str | None = None
    strict: bool = True
    limit: int | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "AdapterConfig":
        return config_from_dict(cls, d, cls.__name__)


def escape_slots(text: str) -> str:
    """Escape literal ``<image>`` in source text so that only adapter-placed slots count."""
    return text.replace(IMAGE_SLOT, ESCAPED_SLOT)


def user_prompt(text: str) -> list[dict]:
    """A one-turn conversation in role/content form."""
    return [{"role": "user", "content": text}]


class Adapter(ABC):
    """One benchmark format. Subclasses implement ``parse_record``, ``build_prompt`` and ``score``; ``load``
    handles files, errors and the rejected list. ``name`` and ``category`` are set by
    :func:`~lomo_ablate.evaluate.benchmarks.registry.register` (the one place a benchmark is named)."""

    name: str = ""
    category: str = ""
    #: keys a row must have (checked before ``parse_record``; missing ones raise naming the key)
    required_keys: tuple[str, ...] = ()

    #: the dataclass of this adapter's options (a subclass of AdapterConfig where it has more)
    config_cls: type = AdapterConfig

    #: re-scoring saved predictions (``evaluate.score``): a required image the row lacks is no rejection,
    #: and the same row may come several times (one line per saved prediction)
    rescoring: bool = False

    def __init__(self, config: AdapterConfig | dict | None = None):
        self.config = config if isinstance(config, self.config_cls) else self.config_cls.from_dict(config)
        self.rejected: list[dict] = []

    # ------------------------------------------------------------------ loading
    def load(self, path: str | Path) -> list[Item]:
        """Read a JSONL / JSON / Parquet / Arrow file or a ``datasets.save_to_disk`` folder into items.

        Bad rows raise :class:`BenchmarkFormatError` (``strict``) or are appended to ``self.rejected``
        as ``{"source", "line", "reason", "detail"}`` and skipped.
        """
        self.rejected = []
        items: list[Item] = []
        seen: set[str] = set()
        for where, record in iter_records(path, split=self.config.split):
            try:
                missing = [k for k in self.required_keys if k not in record]
                if missing:
                    raise BenchmarkFormatError(where, missing[0], f"missing (row has: {', '.join(sorted(record))})")
                item = self.parse_record(record, where)
                if item.id in seen and not self.rescoring:
                    raise BenchmarkFormatError(where, "id", f"duplicate item id {item.id!r}")
                self._check_slots(item, where)
            except BenchmarkFormatError as exc:
                if self.config.strict:
                    raise
                self.rejected.append({"source": where.source, "line": where.row, "reason": exc.reason,
                                      "detail": exc.key or ""})
                continue
            seen.add(item.id)
            items.append(item)
            if self.config.limit is not None and len(items) >= self.config.limit:
                break
        return items

    @abstractmethod
    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        """Turn one row into an :class:`Item` (raise BenchmarkFormatError for a bad row)."""

    # ------------------------------------------------------------------ prompting / scoring
    @abstractmethod
    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        """(messages in role/content form with one ``<image>`` per image, the images as RGB PIL)."""

    @abstractmethod
    def score(self, prediction: str, item: Item) -> float:
        """The benchmark's usual score of ``prediction`` for ``item``, in [0, 1]."""

    def score_many(self, predictions: Iterable[str], items: Iterable[Item]) -> list[float]:
        return [self.score(p, it) for p, it in zip(predictions, items, strict=True)]

    #: how scores are decided: "rule" (a fixed rule: the benchmark's official one, or a documented
    #: substitute where the benchmark's own protocol uses an LLM judge) or "judge" (an LLM judge was asked)
    scored_by: str = "rule"

    def shard_group(self, item: Item) -> str | None:
        """A key shared by items that one rank should evaluate together, under every protocol (a document
        benchmark's questions on one file: the rank that rendered its pages reuses them), or None (the
        default: units are dealt out one by one, ``u % world``; :mod:`~lomo_ablate.evaluate.engines.shards`)."""
        return None

    def companion_of(self, item: Item) -> tuple[str, str] | None:
        """``(main item id, key)`` when ``item`` is a companion row loaded for re-scoring (``rescoring``:
        the rows stay in file order, one per line, and ``evaluate.score`` hands their predictions to the main
        item as ``replies[key]``), else None (the default: no benchmark row is a companion)."""
        return None

    def detail(self, prediction: str, item: Item) -> dict | None:
        """What the benchmark-level metrics need about one item beyond its score (a JSON-able dict, kept in
        predictions.jsonl as ``detail``), or None (the default)."""
        return None

    def aggregate(self, items: Sequence[Item], scores: Sequence[float],
                  details: Sequence[dict | None]) -> dict:
        """The benchmark's own summary metrics over scored items (metrics.json ``benchmark_metrics``);
        the default is plain accuracy. Overridden where a benchmark defines more (IFEval's four accuracies,
        HallusionBench's question/figure/all levels, WeMath's four dimensions)."""
        return {"accuracy": sum(scores) / len(scores) if scores else float("nan"), "n": len(scores)}

    # ------------------------------------------------------------------ helpers for subclasses
    def image_ref(self, value: Any, where: RecordLocation, key: str) -> ImageRef | Image.Image | None:
        """A row's image cell as something ``open_image`` can open (None for an empty cell)."""
        root = Path(self.config.image_root) if self.config.image_root else where.base_dir
        try:
            return ImageRef.from_cell(value, root)
        except (ValueError, FileNotFoundError) as exc:
            raise BenchmarkFormatError(where, key, str(exc)) from None

    @staticmethod
    def open_images(images: list) -> list[Image.Image]:
        return [open_image(im) for im in images]

    def _check_slots(self, item: Item, where: RecordLocation) -> None:
        if self.rescoring:
            return
        n = item.question.count(IMAGE_SLOT)
        if n != len(item.images):
            raise BenchmarkFormatError(where, "question",
                                       f"{n} <image> slot(s) for {len(item.images)} image(s)")

