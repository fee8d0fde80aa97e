"""The embedded default's inputs, generated procedurally and deterministically (no downloads).

- :func:`write_text_pool`: text-only SFT instances (JSONL, ShareGPT ``messages`` form) — the pool LoMo
  rewrites.
- :func:`write_multimodal_pool`: image SFT instances (``<image>`` in the user turn + ``images`` relative
  paths, PNGs written under ``images/<stem>/`` beside the JSONL) — counting shapes, reading words, reading
  and computing formulas.
- :func:`probe_items`: the probe suite's items, from the same task generators but a different seed
  namespace, so the probe suite never shares a random stream with training ("held-out seeds").
- :func:`reading_texts`: what the tiny model transcribes in its reading stage (lomo_ablate.train.reading):
  runs of sentences of the task questions and random strings of numbers, words and formulas (which the
  language model cannot guess, so only reading the pixels gets them right), from their own namespace.

Item ``i`` depends only on (namespace, seed, i), so a larger ``n`` extends a pool without changing its first
items, and tasks are assigned round-robin so every task appears ``n // len(tasks)`` times or once more.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Iterable, Sequence

from tqdm import tqdm

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.data.tasks import ALL_TASKS, IMAGE_TASKS, TEXT_TASKS, WORDS, TaskItem, make_item
from lomo_ablate.utils import stable_hash, write_jsonl

#: Seed namespaces: training pools, the reading stage and the probe suite never draw from the same stream.
TEXT_NS, MULTIMODAL_NS, PROBE_NS, READING_NS = "text-pool", "multimodal-pool", "probe", "reading-pool"
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def item_rng(namespace: str, seed: int, index: int) -> random.Random:
    """The random stream of one item: a function of (namespace, seed, index) only."""
    return random.Random(int(stable_hash([namespace, int(seed), int(index)]), 16))


def generate(namespace: str, n: int, seed: int, tasks: Sequence[str], image_size: int = 64,
             cells: int = 4) -> Iterable[tuple[int, TaskItem]]:
    """``(index, item)`` for ``index < n``, tasks round-robin in the given order."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not tasks:
        raise ValueError("tasks must not be empty")
    for i in range(n):
        yield i, make_item(tasks[i % len(tasks)], item_rng(namespace, seed, i), image_size=image_size, cells=cells)


def _record(rid: str, user: str, answer: str, task: str, images: list[str] | None = None) -> dict:
    rec = {"id": rid,
           "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
           "meta": {"task": task, "generator": "lomo_ablate.data.builtin"}}
    if images is not None:
        rec["images"] = images
    return rec


def write_text_pool(path: str | Path, n: int, seed: int, tasks: Sequence[str] | None = None) -> Path:
    """Write ``n`` text-only SFT instances to ``path`` (JSONL). Returns the path."""
    tasks = list(tasks or TEXT_TASKS)
    bad = [t for t in tasks if t not in TEXT_TASKS]
    if bad:
        raise KeyError(f"not text tasks: {bad}; allowed: {sorted(TEXT_TASKS)}")
    path = Path(path)
    rows = [_record(f"text:{i}", it.question, it.answer, it.task)
            for i, it in tqdm(generate(TEXT_NS, n, seed, tasks), total=n, desc="text pool", leave=False)]
    write_jsonl(path, rows)
    return path


def write_multimodal_pool(path: str | Path, n: int, seed: int, tasks: Sequence[str] | None = None,
                          image_size: int = 64, cells: int = 4) -> Path:
    """Write ``n`` image SFT instances to ``path`` (JSONL) and their PNGs to ``images/<stem>/`` beside it.
    Image paths in the records are relative to the JSONL's folder. Returns the path."""
    tasks = list(tasks or IMAGE_TASKS)
    bad = [t for t in tasks if t not in IMAGE_TASKS]
    if bad:
        raise KeyError(f"not image tasks: {bad}; allowed: {sorted(IMAGE_TASKS)}")
    path = Path(path)
    img_dir = path.parent / "images" / path.stem
    img_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, it in tqdm(generate(MULTIMODAL_NS, n, seed, tasks, image_size, cells), total=n,
                      desc="multimodal pool", leave=False):
        rel = f"images/{path.stem}/{i:06d}.png"
        it.image.save(path.parent / rel)
        rows.append(_record(f"mm:{i}", IMAGE_SLOT + "\n" + it.question, it.answer, it.task, [rel]))
    write_jsonl(path, rows)
    return path


def probe_items(n: int, seed: int, tasks: Sequence[str] | None = None, image_size: int = 64,
                cells: int = 4) -> list[tuple[int, TaskItem]]:
    """The probe suite's ``n`` items (text and image tasks round-robin), from the held-out namespace."""
    tasks = list(tasks or [*TEXT_TASKS, *IMAGE_TASKS])
    return list(generate(PROBE_NS, n, seed, tasks, image_size, cells))


def random_string(rng: random.Random, max_chars: int = 60) -> str:
    """Numbers, words, inline formulas and digit lists in random order, 3 to ``max_chars`` characters: text
    a language model cannot predict, so transcribing it needs the pixels."""
    target = rng.randint(3, max_chars)
    parts: list[str] = []
    while len(" ".join(parts)) < target:
        k = rng.random()
        if k < 0.4:
            part = str(rng.randint(0, 99))
        elif k < 0.6:
            part = rng.choice(WORDS)
        elif k < 0.8:
            part = f"${rng.randint(1, 9)}{rng.choice('+-')}{rng.randint(1, 9)}$"
        else:
            part = ", ".join(str(rng.randint(1, 9)) for _ in range(rng.randint(2, 4))) + "."
        if parts and len(" ".join([*parts, part])) > max_chars:
            break  # whole parts only: a formula is never cut in half
        parts.append(part)
    return " ".join(parts)


def reading_texts(n: int, seed: int, p_random: float = 0.5, namespace: str = READING_NS) -> list[str]:
    """``n`` texts to transcribe: with probability ``p_random`` a :func:`random_string`, otherwise a run of
    consecutive sentences (30 % of them the whole question) of a task question (every task, round-robin).
    Text ``i`` depends only on (namespace, seed, i)."""
    if not 0.0 <= p_random <= 1.0:
        raise ValueError(f"p_random must be in [0, 1], got {p_random}")
    tasks = list(ALL_TASKS)
    out = []
    for i in range(n):
        rng = item_rng(namespace, seed, i)
        if rng.random() < p_random:
            out.append(random_string(rng))
            continue
        sentences = _SENTENCE_END.split(make_item(tasks[i % len(tasks)], rng).question.strip())
        a = rng.randrange(len(sentences))
        b = rng.randrange(a, len(sentences))
        if rng.random() < 0.3:
            a, b = 0, len(sentences) - 1
        out.append(" ".join(sentences[a:b + 1]))
    return out
