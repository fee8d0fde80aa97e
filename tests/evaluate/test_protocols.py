"""Protocols: standard / rendered / graded rendered_<f>, cut by curation's localizer and rendered by the
curation Renderer itself."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lomo_ablate.curate import localize
from lomo_ablate.render import RenderConfig, Renderer
from lomo_ablate.contracts import IMAGE_SLOT as IMAGE_TOKEN
from lomo_ablate.evaluate.protocols import (EvalItem, graded_span, parse_protocol, prompts_for,
                                            renderer_fn, split_blocks)

Q = "You are given a list. The list is 3, 7, 2. What is the largest number? Answer with a number."
QM = "You are given a formula. The formula is $9.5-2.5$. What is its value? Answer with a number."

# text renderer only: no TeX needed for these tests
RCFG = {"math_renderer": "text"}


@pytest.fixture(scope="module")
def renderer():
    return Renderer(RenderConfig.from_dict(RCFG))


def item(question=Q, images=()):
    return EvalItem("probe", "x:0", "list_max", question, "7", list(images))


def test_protocol_names():
    assert parse_protocol("standard").fraction == 0.0
    assert parse_protocol("rendered").fraction == 1.0
    assert parse_protocol("rendered_0.33").fraction == pytest.approx(0.33)
    for bad in ("rendred", "rendered_1.5", "rendered_", "Standard"):
        with pytest.raises(ValueError, match="allowed"):
            parse_protocol(bad)


def test_blocks_keep_formulas_whole():
    """A formula is its own atomic block (as curation renders it), with the period that closes its sentence."""
    blocks = [QM[s:e] for s, e in split_blocks(QM)]
    assert blocks == ["You are given a formula.", "The formula is", "$9.5-2.5$.", "What is its value?",
                      "Answer with a number."]
    s, e = graded_span(QM, 0.33)  # 5 blocks -> 2, centred: the sentence that holds the formula
    assert QM[s:e] == "The formula is $9.5-2.5$."


CURATION_CASES = {  # question -> the blocks both curation and the graded protocol cut it into
    QM: ["You are given a formula.", "The formula is", "$9.5-2.5$.", "What is its value?", "Answer with a number."],
    r"Let \(x = 2.5\) be given. Then \frac{x}{2} is what? Answer with a number.":
        ["Let", r"\(x = 2.5\)", "be given.", "Then", r"\frac{x}{2}", "is what?", "Answer with a number."],
    "They are $a$ and $b$. Which is larger? Answer with the letter.":
        ["They are", "$a$", "and", "$b$.", "Which is larger?", "Answer with the letter."],
    'He said "Stop." Then he left. What did he say?': ['He said "Stop."', "Then he left.", "What did he say?"],
    r"Compute $$\sum_{i=1}^{3} i.$$ The sum is asked. What is it?":
        ["Compute", r"$$\sum_{i=1}^{3} i.$$", "The sum is asked.", "What is it?"],
}


@pytest.mark.parametrize("question", list(CURATION_CASES))
def test_graded_blocks_are_curations_blocks(question):
    """The graded protocol cuts a question where curation's localizer cuts the prompts training renders
    (formulas atomic and their own block; the old splitter kept a formula inside its sentence and did not end
    a sentence at a closing quote): a graded block starts exactly where curation may start a span."""
    graded = split_blocks(question)
    assert [question[s:e] for s, e in graded] == CURATION_CASES[question]
    may_start = set()
    for b in localize.split_blocks(question):
        piece = b.text(question)
        if piece.strip() and question[b.start] not in localize._NO_CUT_BEFORE:
            may_start.add(b.start + len(piece) - len(piece.lstrip()))
    assert {s for s, _ in graded} == may_start


def test_graded_spans_follow_the_fraction():
    whole = Q.strip()
    assert graded_span(Q, 0) is None
    s, e = graded_span(Q, 1)
    assert Q[s:e] == whole
    s, e = graded_span(Q, 0.33)  # 4 blocks -> 1 block, the centred one: the list itself
    assert Q[s:e] == "The list is 3, 7, 2."
    s, e = graded_span(Q, 0.67)  # 3 blocks
    assert Q[s:e] == "You are given a list. The list is 3, 7, 2. What is the largest number?"


@settings(max_examples=60, deadline=None)
@given(sents=st.lists(st.from_regex(r"[A-Za-z0-9 ,$+]{1,20}", fullmatch=True).map(str.strip).filter(bool),
                      min_size=1, max_size=8),
       f1=st.floats(0, 1), f2=st.floats(0, 1))
def test_graded_span_is_monotone_and_on_block_edges(sents, f1, f2):
    text = " ".join(s.replace("$", "") + "." for s in sents)
    lo, hi = sorted((f1, f2))
    a, b = graded_span(text, lo), graded_span(text, hi)
    len_a = 0 if a is None else a[1] - a[0]
    len_b = 0 if b is None else b[1] - b[0]
    assert len_a <= len_b  # more pixels for a larger fraction
    starts = {s for s, _ in split_blocks(text)}
    ends = {e for _, e in split_blocks(text)}
    for span in (a, b):
        if span:
            assert span[0] in starts and span[1] in ends


def test_rendered_protocol_uses_the_curation_renderer_pixels(renderer):
    """The image the model sees under `rendered` is exactly what curation's Renderer draws for the text."""
    own = Image.new("RGB", (32, 32), "red")
    p = prompts_for([item(images=[own])], parse_protocol("rendered"), renderer_fn(renderer))[0]
    assert p.text == IMAGE_TOKEN + "\n" + IMAGE_TOKEN  # original image first, then the question as pixels
    assert p.images[0] is own
    direct = Renderer(RenderConfig.from_dict(RCFG)).render(Q).image.convert("RGB")
    assert np.array_equal(np.asarray(p.images[1]), np.asarray(direct))
    assert p.rendered_text == Q


@pytest.mark.parametrize("name", ["standard", "rendered_0.33", "rendered_0.67", "rendered"])
def test_text_image_text_puts_the_span_back_where_it_was(renderer, name):
    own = Image.new("RGB", (16, 16), "blue")
    p = prompts_for([item(images=[own])], parse_protocol(name), renderer_fn(renderer))[0]
    assert p.text.count(IMAGE_TOKEN) == len(p.images)
    body = p.text.split("\n", 1)[1]
    if name == "standard":
        assert body == Q and len(p.images) == 1
    else:  # substituting the rendered text back for its slot gives the question again
        assert body.replace(IMAGE_TOKEN, p.rendered_text) == Q
        assert len(p.images) == 2


def test_graded_protocols_render_more_of_the_question(renderer):
    render = renderer_fn(renderer)
    pixels = [sum(len(p.rendered_text or "") for p in prompts_for([item()], parse_protocol(n), render))
              for n in ("standard", "rendered_0.33", "rendered_0.67", "rendered")]
    assert pixels == sorted(pixels) and pixels[0] == 0 and pixels[-1] == len(Q)


def test_literal_image_tag_in_a_question_cannot_become_a_slot(renderer):
    q = "You are given a tag. The tag is <image>. Repeat it. Answer with the tag."
    for name in ("standard", "rendered_0.33"):
        p = prompts_for([item(q)], parse_protocol(name), renderer_fn(renderer))[0]
        assert p.text.count(IMAGE_TOKEN) == len(p.images)
        assert "< image>" in p.text + (p.rendered_text or "")


def test_rendering_protocol_without_a_renderer_is_an_error():
    with pytest.raises(ValueError, match="no renderer"):
        prompts_for([item()], parse_protocol("rendered"), None)


def test_render_cache_returns_identical_images(renderer):
    render = renderer_fn(renderer)
    render.prefetch([Q, QM, Q])
    assert np.array_equal(np.asarray(render(Q)), np.asarray(renderer.render(Q).image.convert("RGB")))
    assert render(QM) is render(QM)  # rendered once, reused across protocols
