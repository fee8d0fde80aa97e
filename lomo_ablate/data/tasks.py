"""Task generators shared by the built-in training pools and the probe suite.

Every task turns a seeded ``random.Random`` into one :class:`TaskItem` with an exact, short answer (a number
or a word). Questions follow one shape, 4 sentences — instruction, context, question, answer format — so the
middle third of a question (LoMo's default span) is a real part of it (the context that holds the data), not
boilerplate:

    You are given a list. The list is 3, 7, 2. What is the largest number? Answer with a number.

Vocabulary is small and texts are short (≤ ~110 characters) so a tiny model with max_seq_len ~256 can learn
them. Text tasks carry their data in the question; image tasks carry it in the image.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from lomo_ablate.data.draw import draw_glyph_row, draw_shapes

#: Three-letter words: the reading and copying vocabulary.
WORDS: tuple[str, ...] = ("cat", "dog", "sun", "red", "box", "cup", "hat", "pen", "map", "key", "egg", "bus")


@dataclass(frozen=True)
class TaskItem:
    """One generated question. ``image`` is None for text tasks; ``question`` never contains ``<image>``."""

    task: str
    question: str
    answer: str
    image: Image.Image | None = None


def _digits(rng: random.Random, k: int) -> list[int]:
    return rng.sample(range(1, 10), k)


def list_max(rng: random.Random) -> TaskItem:
    nums = _digits(rng, rng.choice((3, 4)))
    q = (f"You are given a list. The list is {', '.join(map(str, nums))}. "
         "What is the largest number? Answer with a number.")
    return TaskItem("list_max", q, str(max(nums)))


def compare(rng: random.Random) -> TaskItem:
    a, b = _digits(rng, 2)
    q = f"You are given two numbers. The numbers are {a} and {b}. Which number is smaller? Answer with a number."
    return TaskItem("compare", q, str(min(a, b)))


def formula(rng: random.Random) -> TaskItem:
    """Arithmetic from an inline LaTeX formula (``$7-3$``): the math span the renderer routes to TeX."""
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    op = rng.choice("+-")
    if op == "-" and a < b:
        a, b = b, a
    value = a + b if op == "+" else a - b
    q = f"You are given a formula. The formula is ${a}{op}{b}$. What is its value? Answer with a number."
    return TaskItem("formula", q, str(value))


def copy_word(rng: random.Random) -> TaskItem:
    w = rng.choice(WORDS)
    q = f"You are given a word. The word is {w}. Repeat the word. Answer with the word."
    return TaskItem("copy_word", q, w)


def count_shapes(rng: random.Random, image_size: int = 64, cells: int = 4) -> TaskItem:
    n = rng.randint(1, 5)
    img = draw_shapes(n, rng, image_size=image_size, cells=cells)
    q = "You are given an image. The image shows some shapes. How many shapes are there? Answer with a number."
    return TaskItem("count_shapes", q, str(n), img)


def read_word(rng: random.Random, image_size: int = 64, cells: int = 4) -> TaskItem:
    w = rng.choice(WORDS)
    img = draw_glyph_row(w, image_size=image_size, cells=cells)
    q = "You are given an image. The image shows a word. What is the word? Answer with the word."
    return TaskItem("read_word", q, w, img)


def read_formula(rng: random.Random, image_size: int = 64, cells: int = 4) -> TaskItem:
    """Arithmetic from a formula drawn as pixels (``3+4``)."""
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    op = rng.choice("+-")
    if op == "-" and a < b:
        a, b = b, a
    value = a + b if op == "+" else a - b
    img = draw_glyph_row(f"{a}{op}{b}", image_size=image_size, cells=cells)
    q = "You are given an image. The image shows a formula. What is its value? Answer with a number."
    return TaskItem("read_formula", q, str(value), img)


TEXT_TASKS: dict[str, Callable[[random.Random], TaskItem]] = {
    "list_max": list_max,
    "compare": compare,
    "formula": formula,
    "copy_word": copy_word,
}
IMAGE_TASKS: dict[str, Callable[..., TaskItem]] = {
    "count_shapes": count_shapes,
    "read_word": read_word,
    "read_formula": read_formula,
}
ALL_TASKS: dict[str, Callable[..., TaskItem]] = {**TEXT_TASKS, **IMAGE_TASKS}


def make_item(task: str, rng: random.Random, image_size: int = 64, cells: int = 4) -> TaskItem:
    """One item of ``task`` (a key of :data:`ALL_TASKS`); unknown names raise with the allowed ones."""
    if task in TEXT_TASKS:
        return TEXT_TASKS[task](rng)
    if task in IMAGE_TASKS:
        return IMAGE_TASKS[task](rng, image_size=image_size, cells=cells)
    raise KeyError(f"unknown task {task!r}; allowed: {sorted(ALL_TASKS)}")
