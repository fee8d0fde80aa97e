"""Span localization: math is atomic, spans reconstruct the text, positions land where they say."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomo_ablate.curate.localize import (POSITIONS, count_sentences, locate_spans, math_ranges, split_blocks)

PIECES = ["The value is large. ", "We compute it! ", "Is it right? ", "word ", "  ", "\n", "$x^2+1$", "$$\\sum_i i.$$",
          "\\(a.b\\)", "\\[E=mc^2.\\]", "\\begin{align} a&=b. \\\\ c&=d \\end{align}", "\\frac{1.5}{2}",
          "costs $5 and $10 ", "$", "\\$3 ", "e.g. ", "x", ". ", "<image> ", "\\begin{matrix}1", "ünïcødé 数学。"]


@st.composite
def texts(draw) -> str:
    return "".join(draw(st.lists(st.sampled_from(PIECES), min_size=0, max_size=30)))


def _inside_math(text: str, offset: int) -> bool:
    return any(s < offset < e for s, e in math_ranges(text))


@settings(max_examples=150, deadline=None)
@given(text=texts(), position=st.sampled_from(POSITIONS), min_sentences=st.integers(0, 5))
def test_spans_reconstruct_and_never_cut_math(text: str, position: str, min_sentences: int):
    spans = locate_spans(text, position, min_sentences=min_sentences)
    if not text.strip():
        assert spans == []
        return
    assert spans, "non-blank text always gets a span"
    prev = 0
    for s, e in spans:
        assert prev <= s < e <= len(text)
        assert not text[s].isspace() and not text[e - 1].isspace()
        assert not _inside_math(text, s) and not _inside_math(text, e), (text, s, e)
        prev = e
    # prefix + span + suffix is the original, for every span
    for s, e in spans:
        assert text[:s] + text[s:e] + text[e:] == text


@settings(max_examples=150, deadline=None)
@given(text=texts())
def test_blocks_tile_the_text(text: str):
    blocks = split_blocks(text)
    assert "".join(b.text(text) for b in blocks) == text
    assert all(b.length > 0 for b in blocks)
    maths = {(b.start, b.end) for b in blocks if b.kind == "math"}
    assert maths == set(math_ranges(text))


@pytest.mark.parametrize("text, expected", [
    ("It costs $5 and $10 today.", []),
    ("It costs $5, $10 or $20.", []),
    ("Pay $5 for $x$ items.", ["$x$"]),
    ("Solve $x+1=2$ now.", ["$x+1=2$"]),
    ("The price is \\$5 and \\$6.", []),
    ("Unbalanced $x + y here.", []),
    ("Display $$a = b$$ and \\(c\\) and \\[d\\].", ["$$a = b$$", "\\(c\\)", "\\[d\\]"]),
    ("Nested \\begin{a}\\begin{a}x\\end{a}y\\end{a} end", ["\\begin{a}\\begin{a}x\\end{a}y\\end{a}"]),
    ("Broken \\begin{align} x = 1 with no end.", []),
    ("Bare \\frac{a}{b}_1 and \\sqrt[3]{x} here.", ["\\frac{a}{b}_1", "\\sqrt[3]{x}"]),
    ("$5$ is math by the rule.", ["$5$"]),
    ("Two paragraphs $a\n\nb$ are not one formula.", []),
])
def test_math_detection_and_currency_rule(text: str, expected: list[str]):
    assert [text[s:e] for s, e in math_ranges(text)] == expected


def test_sentences_are_counted_outside_math():
    assert count_sentences("One. Two! Three?") == 3
    assert count_sentences("Let $x = 1.5$. Then $y = 2.5$ follows") == 2
    assert count_sentences("Compute $$a. b. c.$$ now.") == 1
    assert count_sentences("   ") == 0


Q = "You are given a list. The list is 3, 7, 2. What is the largest number? Answer with a number."


def test_positions_on_a_four_sentence_question():
    got = {p: [Q[s:e] for s, e in locate_spans(Q, p)] for p in ("prefix", "middle", "suffix", "full")}
    assert got["prefix"] == ["You are given a list."]
    assert got["middle"] == ["The list is 3, 7, 2. What is the largest number?"]
    assert got["suffix"] == ["Answer with a number."]
    assert got["full"] == [Q]


def test_short_text_is_taken_whole_and_threshold_is_configurable():
    short = "Add the numbers. Then stop."
    assert locate_spans(short, "middle", min_sentences=3) == [(0, len(short))]
    assert locate_spans(short, "middle", min_sentences=2) != [(0, len(short))]


def test_multi_span_alternates_text_and_images():
    text = " ".join(f"Sentence number {i} is here." for i in range(10))
    spans = locate_spans(text, "multi_span", multi_span_images=2)
    assert len(spans) == 2
    (a, b), (c, d) = spans
    assert 0 < a and b < c and d < len(text)
    assert text[:a].strip() and text[b:c].strip() and text[d:].strip()  # text–image–text–image–text


def test_middle_span_of_a_math_heavy_text_keeps_equations_whole():
    text = ("First we define terms. Let $a = 1.5$ and $b = 2.5$. Then \\begin{align} c &= a + b. \\end{align} "
            "So the sum is known. Finally report $c$.")
    (s, e), = locate_spans(text, "middle")
    for ms, me in math_ranges(text):
        assert e <= ms or s >= me or (s <= ms and me <= e)


def test_unknown_position_names_allowed_values():
    with pytest.raises(ValueError, match="prefix, middle, suffix, multi_span, full"):
        locate_spans("Hello.", "center")


def test_punctuation_after_a_formula_stays_with_it():
    text = "Consider the setup. Then solve for $a$. Explain briefly. Be exact. Show work."
    for position in ("prefix", "middle", "suffix", "multi_span"):
        for s, e in locate_spans(text, position, multi_span_images=1):
            assert text[e:e + 1] not in (".", ",", ";", ":"), (position, text[s:e])


def test_backslash_before_non_ascii_letter_is_text_not_a_crash():
    # "\é" is no LaTeX command: it must be plain text, not an AssertionError in the command scanner
    from lomo_ablate.curate.localize import locate_spans, math_ranges

    text = "Let \\é be the first. One more. Two more. Then $x+1$ ends it."
    ranges = math_ranges(text)
    assert all(text[s] != "\\" for s, _ in ranges)
    spans = locate_spans(text, "middle")
    assert spans and all(0 <= s < e <= len(text) for s, e in spans)
