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
