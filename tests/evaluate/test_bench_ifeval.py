"""IFEval scored by the reference implementation (if-verifiable's packaged google-research checks) on a small
local copy laid out as on the hub (``ifeval_input_data.jsonl``), with real NLTK punkt_tab data on disk."""
from __future__ import annotations

import json

import pytest

from lomo_ablate.evaluate.benchmarks import BenchmarkFormatError, get_adapter
from lomo_ablate.evaluate.benchmarks.ifeval import follow_instructions, instruction_registry

# every kwarg key of the hub's kwargs struct: unused ones are None in each row, as in google/IFEval
KWARG_KEYS = ("num_highlights", "relation", "num_words", "num_placeholders", "prompt_to_repeat", "num_paragraphs",
              "nth_paragraph", "first_word", "language", "keywords", "num_sentences", "postscript_marker",
              "end_phrase", "num_bullets", "forbidden_words", "keyword", "frequency", "letter", "let_frequency",
              "let_relation", "section_spliter", "num_sections", "capital_frequency", "capital_relation")


def kw(**given):
    return {k: given.get(k) for k in KWARG_KEYS}


def strict(iid: str, reply: str, prompt: str = "p", **kwargs) -> bool:
    return follow_instructions(reply, prompt, [iid], [kw(**kwargs)])[0][0]


def test_all_25_reference_instructions_are_available():
    ids = set(instruction_registry())
    assert len(ids) == 25
    assert {"language:response_language", "combination:repeat_prompt", "detectable_format:json_format",
            "change_case:capital_word_frequency", "keywords:letter_frequency"} <= ids


# The 8 cases the hand-written checks got wrong (issue 15); expected values are what the reference code says.
def test_lowercase_needs_letters_not_just_digits():
    assert strict("change_case:english_lowercase", "12345 678") is False      # "".islower() on digits: False
    assert strict("change_case:english_lowercase", "all of this is plain english text") is True


def test_empty_reply_follows_nothing():
    assert strict("punctuation:no_comma", "") is False
    assert strict("punctuation:no_comma", "   \n ") is False


def test_dr_does_not_split_a_sentence():
    reply = "Dr. Smith went home. He was tired."
    assert strict("length_constraints:number_sentences", reply, num_sentences=3, relation="less than") is True
    assert strict("length_constraints:number_sentences", reply, num_sentences=3, relation="at least") is False


def test_end_phrase_inside_closing_quotes():
    assert strict("startend:end_checker", '"It is done. Is there anything else I can help with?"',
                  end_phrase="Is there anything else I can help with?") is True


def test_blank_title_is_not_a_title():
    assert strict("detectable_format:title", "<<   >>\nbody") is False
    assert strict("detectable_format:title", "<<poem of joy>>\nbody") is True


def test_star_bullets_without_a_space_count():
    assert strict("detectable_format:number_bullet_lists", "*one\n*two", num_bullets=2) is True


def test_dash_lines_count_as_bullets_in_the_reference():
    # the reference's second bullet pattern is ^\s*-.*$ : a "---" rule line is one more bullet
    assert strict("detectable_format:number_bullet_lists", "* a\n* b\n---", num_bullets=3) is True
    assert strict("detectable_format:number_bullet_lists", "* a\n* b\n---", num_bullets=2) is False


def test_spaced_ps_marker():
    assert strict("detectable_content:postscript", "Hello.\nP. S. see you", postscript_marker="P.S.") is True
    assert strict("detectable_content:postscript", "Hello. See you", postscript_marker="P.S.") is False


def test_loose_mode_drops_first_line_and_stars():
    reply = "Sure, here it is:\n**all lowercase now**"
    s, l = follow_instructions(reply, "p", ["punctuation:no_comma"], [kw()])
    assert s == [False] and l == [True]


def hub_rows() -> list[dict]:
    return [
        {"key": 1000, "prompt": "Write about tea in lowercase, mentioning 'green', under 10 words, no commas.",
         "instruction_id_list": ["change_case:english_lowercase", "keywords:existence",
                                 "length_constraints:number_words", "punctuation:no_comma"],
         "kwargs": [kw(), kw(keywords=["green"]), kw(num_words=10, relation="less than"), kw()]},
        {"key": 1001, "prompt": "Answer in French.", "instruction_id_list": ["language:response_language"],
         "kwargs": [kw(language="fr")]},
        {"key": 1002, "prompt": "Repeat the request first: say hi", "instruction_id_list": ["combination:repeat_prompt"],
         "kwargs": [kw(prompt_to_repeat="Repeat the request first: say hi")]},
        {"key": 1003, "prompt": "x", "instruction_id_list": ["keywords:no_such_check"], "kwargs": [kw()]},
    ]


def write_hub(tmp_path):
    folder = tmp_path / "IFEval"
    folder.mkdir()
    with open(folder / "ifeval_input_data.jsonl", "w") as f:
        for r in hub_rows():
            f.write(json.dumps(r) + "\n")
    return folder


def test_adapter_reads_the_hub_file_and_aggregates_over_all_instructions(tmp_path):
    folder = write_hub(tmp_path)
    with pytest.raises(BenchmarkFormatError, match="line 4: key 'instruction_id_list': unknown instruction"):
        get_adapter("ifeval").load(folder)
    adapter = get_adapter("ifeval", {"strict": False})
    items = adapter.load(folder)
    assert [it.id for it in items] == ["1000", "1001", "1002"]
    assert adapter.rejected == [{"source": str(folder / "ifeval_input_data.jsonl"), "line": 4,
                                 "reason": "unknown instruction 'keywords:no_such_check'",
                                 "detail": "instruction_id_list"}]
    replies = ["green tea, i think, is calm and kind and good for you truly",   # 2 of 4 followed
               "Bonjour, je suis très heureux de vous aider aujourd'hui avec votre question.",  # 1 of 1
               "say hi"]                                                         # did not repeat: 0 of 1
    scores = [adapter.score(r, it) for r, it in zip(replies, items)]
    details = [adapter.detail(r, it) for r, it in zip(replies, items)]
    assert scores == [0.0, 1.0, 0.0]
    assert details[0]["strict"] == [True, True, False, False]
    agg = adapter.aggregate(items, scores, details)
    assert agg["prompt_strict"] == pytest.approx(1 / 3)
    # over all 6 instructions (3 followed) = 0.5; a per-prompt average would be (0.5 + 1 + 0) / 3 = 0.5 too,
    # so check with a reply set where they differ:
    replies[0] = "green tea is calm"                                             # 4 of 4
    details = [adapter.detail(r, it) for r, it in zip(replies, items)]
    agg = adapter.aggregate(items, [adapter.score(r, it) for r, it in zip(replies, items)], details)
    assert agg["inst_strict"] == pytest.approx(5 / 6) and agg["n_instructions"] == 6
    assert agg["prompt_strict"] == pytest.approx(2 / 3)
    per_item = get_adapter("ifeval", {"metric": "inst_strict"})
    assert per_item.score("green tea, i think, is calm and kind and good for you truly", items[0]) == 0.5


def test_bad_metric_is_a_config_error():
    from lomo_ablate.utils.config import ConfigError

    with pytest.raises(ConfigError, match="metric must be one of"):
        get_adapter("ifeval", {"metric": "average"})
