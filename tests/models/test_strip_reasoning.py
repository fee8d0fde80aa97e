"""Reasoning blocks are removed from answers before scoring (model.strip_reasoning)."""
from lomo_ablate.models import strip_reasoning


def test_think_blocks_and_a_dangling_close_are_removed():
    assert strip_reasoning("<think>\nlet me see\n</think>\n\n54") == "54"
    assert strip_reasoning("</think>\n\n54") == "54"  # the prompt opened the block (thinking on)
    assert strip_reasoning("\n</think>\n\nThe answer is 54.") == "The answer is 54."
    assert strip_reasoning("<think></think>a<think>b</think>c") == "ac"
    assert strip_reasoning("54 <think>ran out of tok") == "54"  # an unclosed block at the end
    assert strip_reasoning("no reasoning here") == "no reasoning here"
