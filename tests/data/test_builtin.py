"""Built-in pools and probe items: deterministic, answers correct (recomputed independently), well-formed."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from lomo_ablate.data import (ALL_TASKS, IMAGE_TASKS, TEXT_TASKS, make_item, probe_items, write_multimodal_pool,
                              write_text_pool)
from lomo_ablate.data.builtin import item_rng
from lomo_ablate.data.tasks import WORDS


def recompute_text_answer(task: str, question: str) -> str:
    """The answer of a text question, from its wording alone (independent of the generator)."""
    if task == "list_max":
        nums = [int(x) for x in re.search(r"The list is ([\d, ]+)\.", question).group(1).split(",")]
        return str(max(nums))
    if task == "compare":
        a, b = map(int, re.search(r"The numbers are (\d+) and (\d+)\.", question).groups())
        return str(min(a, b))
    if task == "formula":
        a, op, b = re.search(r"\$(\d+)([+-])(\d+)\$", question).groups()
        return str(int(a) + int(b) if op == "+" else int(a) - int(b))
    if task == "copy_word":
        return re.search(r"The word is (\w+)\.", question).group(1)
    raise AssertionError(task)


def sentences(text: str) -> int:
    return len(re.findall(r"[.?!](?=\s|$)", re.sub(r"\$[^$]*\$", "X", text)))


def ink_components(img: Image.Image) -> int:
    ink = np.asarray(img.convert("L")) < 200
    return int(ndimage.label(ink)[1])


def ink_cells(img: Image.Image, cells: int = 4) -> int:
    ink = np.asarray(img.convert("L")) < 128
    c = ink.shape[0] // cells
    return sum(bool(ink[r * c:(r + 1) * c, k * c:(k + 1) * c].any()) for r in range(cells) for k in range(cells))


def test_text_pool_is_deterministic_and_prefix_stable(tmp_path):
    a = write_text_pool(tmp_path / "a.jsonl", 40, seed=3).read_bytes()
    b = write_text_pool(tmp_path / "b.jsonl", 40, seed=3).read_bytes()
    c = write_text_pool(tmp_path / "c.jsonl", 40, seed=4).read_bytes()
    short = write_text_pool(tmp_path / "s.jsonl", 10, seed=3).read_text().splitlines()
    assert a == b
    assert a != c
    assert a.decode().splitlines()[:10] == short  # a bigger pool extends a smaller one


def test_text_pool_records_answers_and_shape(tmp_path):
    rows = [json.loads(l) for l in write_text_pool(tmp_path / "t.jsonl", 80, seed=0).read_text().splitlines()]
    assert len(rows) == 80 and len({r["id"] for r in rows}) == 80
    tasks = {r["meta"]["task"] for r in rows}
    assert tasks == set(TEXT_TASKS)
    for r in rows:
        user, assistant = r["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        assert "images" not in r and "<image>" not in user["content"]
        assert assistant["content"] == recompute_text_answer(r["meta"]["task"], user["content"])
        assert 3 <= sentences(user["content"]) <= 5, user["content"]
        assert len(user["content"]) <= 160
    assert any("$" in r["messages"][0]["content"] for r in rows)  # some prompts carry inline LaTeX


def test_middle_of_each_question_holds_its_data():
    """Issue 7: the middle-third span must be a real part of the question, not boilerplate: the second of
    the four sentences (what a middle span covers) holds the data the answer depends on."""
    for task in TEXT_TASKS:
        for i in range(20):
            it = make_item(task, item_rng("t", 0, i))
            second = re.split(r"(?<=[.?!])\s+", it.question)[1]
            assert it.answer in second or "$" in second, (task, it.question)


def test_multimodal_pool_images_and_answers(tmp_path):
    path = write_multimodal_pool(tmp_path / "mm.jsonl", 30, seed=1)
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert {r["meta"]["task"] for r in rows} == set(IMAGE_TASKS)
    for r in rows:
        user, assistant = r["messages"]
        assert user["content"].count("<image>") == len(r["images"]) == 1
        img = Image.open(tmp_path / r["images"][0])
        assert img.mode == "RGB"
        task, answer = r["meta"]["task"], assistant["content"]
        if task == "count_shapes":
            assert ink_components(img) == int(answer)
        elif task == "read_word":
            assert answer in WORDS and ink_cells(img) == len(answer)  # one glyph per grid cell
        else:
            assert ink_cells(img) == 3 and answer.isdigit()
    again = write_multimodal_pool(tmp_path / "again" / "mm.jsonl", 30, seed=1)
    for r in rows:  # same seed: byte-identical PNGs
        assert (tmp_path / r["images"][0]).read_bytes() == (again.parent / r["images"][0]).read_bytes()


def test_glyph_images_determine_their_text():
    """Same text -> identical pixels; different texts -> different pixels (the answer is readable)."""
    seen: dict[bytes, str] = {}
    for i in range(60):
        it = make_item("read_word", item_rng("g", 0, i))
        key = it.image.tobytes()
        assert seen.setdefault(key, it.answer) == it.answer
    assert len(seen) >= 8


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), index=st.integers(0, 10_000), task=st.sampled_from(sorted(ALL_TASKS)))
def test_every_generated_answer_is_correct(seed, index, task):
    it = make_item(task, item_rng("probe", seed, index))
    assert it.task == task and it.answer and "<image>" not in it.question
    if task in TEXT_TASKS:
        assert it.image is None
        assert it.answer == recompute_text_answer(task, it.question)
    elif task == "count_shapes":
        assert ink_components(it.image) == int(it.answer)


def test_probe_items_are_held_out_from_training_pools(tmp_path):
    """Same seed, different namespace: the probe stream is not the training stream."""
    pool = [json.loads(l)["messages"][0]["content"]
            for l in write_text_pool(tmp_path / "t.jsonl", 40, seed=0, tasks=list(TEXT_TASKS)).read_text().splitlines()]
    probes = [it.question for _, it in probe_items(40, 0, tasks=list(TEXT_TASKS))]
    assert pool != probes
    assert sum(p == q for p, q in zip(pool, probes)) < 10
    assert [it.question for _, it in probe_items(40, 0, tasks=list(TEXT_TASKS))] == probes  # deterministic


def test_unknown_task_is_named():
    with pytest.raises(KeyError, match="read_word"):
        write_text_pool("/nonexistent/x.jsonl", 3, 0, tasks=["read_word"])
    with pytest.raises(KeyError, match="allowed"):
        make_item("nope", item_rng("x", 0, 0))


def test_curation_middle_span_renders_the_data_of_each_text_question():
    """Issue 7 against curation's own localizer: the middle span LoMo renders by default holds the data the
    answer depends on (so LoMo training puts real content into pixels), and never the whole question."""
    from lomo_ablate.curate.localize import locate_spans

    for task in TEXT_TASKS:
        for i in range(15):
            it = make_item(task, item_rng("text-pool", 0, i))
            (s, e), = locate_spans(it.question, "middle")
            span = it.question[s:e]
            context = re.split(r"(?<=[.?!])\s+", it.question)[1]
            assert context in span and span != it.question.strip(), (task, span)


# ---- reading-stage texts (lomo_ablate.train.reading) ----

def test_reading_texts_are_deterministic_and_mix_sentences_with_random_strings():
    from lomo_ablate.data import reading_texts

    texts = reading_texts(400, 0, p_random=0.5)
    assert texts == reading_texts(400, 0, p_random=0.5)
    assert texts != reading_texts(400, 1, p_random=0.5)
    # every non-random text is a run of whole sentences of some task question
    fragments = reading_texts(200, 0, p_random=0.0)
    assert all(t.endswith((".", "?")) and t[0].isupper() for t in fragments)
    assert any(t.startswith("You are given") and t.endswith("Answer with a number.") for t in fragments)
    # random strings: within 60 characters, inline formulas never cut in half, numbers the LM cannot guess
    randoms = reading_texts(300, 0, p_random=1.0)
    assert all(1 <= len(t) <= 60 and t.count("$") % 2 == 0 for t in randoms)
    assert len(set(randoms)) > 290
    # about half of the mixed texts are random strings (no sentence of a question)
    share = sum(not t[0].isupper() for t in texts) / len(texts)
    assert 0.35 < share < 0.65


def test_reading_texts_reject_a_bad_share():
    from lomo_ablate.data import reading_texts

    with pytest.raises(ValueError, match="p_random"):
        reading_texts(4, 0, p_random=1.5)
