"""aggregate (lomo_ablate.evaluate.metrics): benchmark, category and overall accuracies as metrics.json holds them."""
from __future__ import annotations

import pytest

from lomo_ablate.evaluate import aggregate


def row(bench, proto, cat, score):
    return {"benchmark": bench, "protocol": proto, "category": cat, "score": score}


def test_macro_averages_over_benchmarks_and_categories():
    rows = [row("mmmu", "standard", "Reasoning", 1.0), row("mmmu", "standard", "Reasoning", 0.0),
            row("zerobench", "standard", "Reasoning", 1.0),
            row("probe", "standard", "list_max", 1.0), row("probe", "standard", "copy_word", 0.0),
            row("probe", "standard", "copy_word", 0.0), row("probe", "rendered", "list_max", 0.0)]
    m = aggregate(rows, ["standard", "rendered"])
    assert m["scores"] == {"mmmu": {"standard": 0.5}, "zerobench": {"standard": 1.0},
                           "probe": {"standard": pytest.approx(1 / 3), "rendered": 0.0}}
    # a category is the mean over its benchmarks of their accuracy on it (not the pooled items)
    assert m["categories"]["Reasoning"] == {"standard": 0.75}
    assert m["categories"]["copy_word"] == {"standard": 0.0} and m["categories"]["list_max"]["rendered"] == 0.0
    assert m["overall"]["standard"] == pytest.approx((0.5 + 1.0 + 1 / 3) / 3)
    assert m["overall"]["rendered"] == 0.0


def test_text_only_benchmarks_have_their_own_average_outside_the_multimodal_overall():
    """Paper Table 1's Avg is over the multimodal benchmarks; Table 6 averages the text-only ones apart."""
    rows = [row("docvqa", "standard", "Document & OCR", 1.0), row("mmmu", "standard", "Reasoning", 0.0),
            row("gsm8k", "standard", "Text-only", 1.0), row("ifeval", "standard", "Text-only", 0.0),
            row("ifeval", "standard", "Text-only", 0.0), row("gsm8k", "rendered", "Text-only", 0.0)]
    m = aggregate(rows, ["standard", "rendered"])
    assert m["overall"]["standard"] == 0.5 and m["overall_benchmarks"] == ["docvqa", "mmmu"]
    assert m["text_only"] == {"standard": 0.5, "rendered": 0.0}
    assert m["categories"]["Text-only"] == {"standard": 0.5, "rendered": 0.0}
    assert m["overall"]["rendered"] != m["overall"]["rendered"]  # no multimodal benchmark ran rendered: NaN
    # a run of text-only benchmarks only: overall is their mean, and metrics say which were averaged
    only = aggregate([r for r in rows if r["category"] == "Text-only"], ["standard"])
    assert only["overall"] == only["text_only"] == {"standard": 0.5}
    assert only["overall_benchmarks"] == ["gsm8k", "ifeval"]
