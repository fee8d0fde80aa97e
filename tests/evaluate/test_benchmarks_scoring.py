"""Answer extraction and scoring rules: what a model's reply earns."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lomo_ablate.evaluate.benchmarks.scoring import (anls, extract_choice, extract_yes_no, final_number,
                                                     find_numbers, levenshtein, match_short_answer,
                                                     parse_number)

OPTS = ["red apple", "green pear", "yellow banana", "blue berry"]


@pytest.mark.parametrize("reply,letter", [
    ("B", "B"), ("(C)", "C"), ("D.", "D"),
    ("The answer is (B).", "B"), ("answer: c", "C"), ("Answer: D because ...", "D"),
    (r"So the result is \boxed{A}", "A"),
    ("Looking at options (A) and (C), I pick (C)", "C"),
    ("A. is wrong, B. is wrong, so C: it is", "C"),
    ("It must be the green pear.", "B"),                   # option text
    ("I like a yellow banana more than a banana", "C"),
    ("I am not sure.", None), ("", None),
    ("The answer is E.", None),                            # not among 4 options
])
def test_extract_choice(reply, letter):
    assert extract_choice(reply, OPTS) == letter


def test_extract_choice_does_not_take_the_article_a_as_an_option():
    assert extract_choice("A cat sits on a mat.", ["dog", "bird"]) is None


@pytest.mark.parametrize("reply,want", [("Yes.", "yes"), ("no, it is not", "no"), ("NO", "no"),
                                        ("Nothing is shown, yes", "yes"), ("maybe", None)])
def test_extract_yes_no(reply, want):
    assert extract_yes_no(reply) == want


@pytest.mark.parametrize("reply,value", [
    ("x = 3 + 4 = 7", 7.0), ("#### 1,234", 1234.0), ("The answer is -2.5 meters, not 3", -2.5),
    (r"\boxed{\frac{3}{4}}", 0.75), ("about seven", 7.0), ("3/8 of the cake", 0.375), ("none", None),
    ("{42} is it.", 42.0), ("I get 12.", 12.0), ("−5", -5.0),
])
def test_final_number(reply, value):
    assert final_number(reply) == value


def test_numbers_parse_thousands_separators_and_words():
    assert find_numbers("1,000 and 2,50 and ten") == [1000.0, 2.0, 50.0, 10.0]
    assert parse_number("$12") == 12.0 and parse_number("40%") == 40.0 and parse_number("abc") is None


def test_anls_matches_the_definition():
    # NL = edit distance / longest; score = 1 − NL if NL < 0.5 else 0; best over gold answers
    assert anls("Hello World", ["hello world"]) == 1.0
    assert anls("helo world", ["hello world"]) == pytest.approx(1 - 1 / 11)
    assert anls("abcdef", ["abcxyz"]) == 0.0  # NL = 0.5 → not below threshold
    assert anls("abcdex", ["zzz", "abcdef"]) == pytest.approx(1 - 1 / 6)
    assert anls("", [""]) == 1.0


@given(st.text(max_size=12), st.text(max_size=12))
def test_levenshtein_is_a_metric_bounded_by_length(a, b):
    d = levenshtein(a, b)
    assert d == levenshtein(b, a) and (d == 0) == (a == b) and d <= max(len(a), len(b))
    assert 0.0 <= anls(a, [b]) <= 1.0


def test_short_answer_matching():
    assert match_short_answer("The capital is Paris.", "paris") == 1.0
    assert match_short_answer("Parisian food", "paris") == 0.0           # whole words only
    assert match_short_answer("It equals 0.50", "0.5") == 1.0           # numeric gold: numeric compare
    assert match_short_answer("It equals 5", "0.5") == 0.0
    assert match_short_answer("New York City", ["NYC", "new york city"]) == 1.0
