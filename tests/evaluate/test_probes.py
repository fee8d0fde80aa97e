"""The probe suite behind the Adapter interface: items, prompts, exact-match scoring, file round trip."""
from __future__ import annotations

import numpy as np
import pytest

from lomo_ablate.data import ALL_TASKS, IMAGE_TASKS, TEXT_TASKS
from lomo_ablate.evaluate.benchmarks import Adapter
from lomo_ablate.evaluate.benchmarks.probe import ProbeAdapter, ProbeConfig, normalize_answer
from lomo_ablate.evaluate.protocols import from_adapter


def test_probe_suite_covers_every_task_with_images_where_due():
    adapter = ProbeAdapter({"n": 28, "seed": 5})
    assert isinstance(adapter, Adapter) and adapter.name == "probe"
    items = adapter.load()
    assert len(items) == 28 and len({it.id for it in items}) == 28
    cats = [it.metadata["category"] for it in items]
    assert {c: cats.count(c) for c in set(cats)} == {t: 4 for t in ALL_TASKS}  # balanced, one category per task
    for it in items:
        messages, images = adapter.build_prompt(it)
        assert messages[0]["role"] == "user"
        assert messages[0]["content"].count("<image>") == len(images)
        assert len(images) == (1 if it.metadata["task"] in IMAGE_TASKS else 0)
        assert all(im.mode == "RGB" for im in images)


def test_probe_suite_is_deterministic_per_seed():
    a = [(it.question, it.answer) for it in ProbeAdapter({"n": 14, "seed": 1}).load()]
    b = [(it.question, it.answer) for it in ProbeAdapter({"n": 14, "seed": 1}).load()]
    c = [(it.question, it.answer) for it in ProbeAdapter({"n": 14, "seed": 2}).load()]
    assert a == b and a != c


@pytest.mark.parametrize("pred,gold,ok", [("7", "7", 1), (" 7.\n", "7", 1), ("7.0", "7", 1), ("Cat", "cat", 1),
                                         ("cat.", "cat", 1), ("8", "7", 0), ("77", "7", 0), ("", "7", 0),
                                         ("the cat", "cat", 0)])
def test_exact_match_scoring(pred, gold, ok):
    item = ProbeAdapter({"n": 1}).load()[0]
    item.answer = gold
    assert ProbeAdapter({"n": 1}).score(pred, item) == ok


def test_normalize_answer_canonical_numbers():
    assert normalize_answer("  12 ") == normalize_answer("12.0") == "12"
    assert normalize_answer("1.5") == "1.5"


def test_written_suite_loads_back_identically(tmp_path):
    adapter = ProbeAdapter({"n": 14, "seed": 9})
    path = adapter.write(tmp_path / "probe.jsonl")
    fresh, back = adapter.load(), ProbeAdapter().load(path)
    assert [(i.id, i.question, i.answer, i.metadata["task"]) for i in fresh] == \
           [(i.id, i.question, i.answer, i.metadata["task"]) for i in back]
    for a, b in zip(fresh, back):
        ia, ib = adapter.build_prompt(a)[1], adapter.build_prompt(b)[1]
        assert len(ia) == len(ib)
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(ia, ib))


def test_bad_rows_in_a_written_suite_are_named(tmp_path):
    p = tmp_path / "probe.jsonl"
    p.write_text('{"id": "a", "task": "copy_word", "question": "q", "answer": "x"}\n'
                 '{"id": "b", "task": "juggle", "question": "q", "answer": "x"}\n'
                 '{"id": "c", "question": "q", "answer": "x"}\n')
    with pytest.raises(ValueError, match=r"probe.jsonl:line 2.*task.*juggle"):
        ProbeAdapter().load(p)
    lenient = ProbeAdapter(adapter={"strict": False})
    assert [i.id for i in lenient.load(p)] == ["a"]
    assert [(r["line"], r["detail"]) for r in lenient.rejected] == [(2, "task"), (3, "task")]


def test_config_rejects_unknown_keys_and_tasks():
    with pytest.raises(ValueError, match=r"'ProbeConfig.size'.*allowed: n, seed, tasks"):
        ProbeConfig.from_dict({"size": 3})
    with pytest.raises(ValueError, match="juggle"):
        ProbeConfig.from_dict({"tasks": ["juggle"]})


def test_eval_items_keep_text_question_and_task_category():
    adapter = ProbeAdapter({"n": 7, "tasks": [*TEXT_TASKS, *IMAGE_TASKS]})
    for raw in adapter.load():
        it = from_adapter(adapter, raw)
        assert it.category == raw.metadata["task"]
        assert "<image>" not in it.question and it.question.endswith(".")
        assert it.content.count("<image>") == len(it.images)


def test_the_probe_suite_is_a_registered_benchmark():
    """``probe`` is looked up like every benchmark; its flat options hold suite and adapter keys alike."""
    from lomo_ablate.evaluate.benchmarks import get_adapter

    adapter = get_adapter("probe", {"n": 5, "seed": 2, "strict": False})
    assert isinstance(adapter, ProbeAdapter) and adapter.config.strict is False
    assert [i.id for i in adapter.load()] == [i.id for i in ProbeAdapter({"n": 5, "seed": 2}).load()]
