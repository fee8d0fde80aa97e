"""Table invariants over arbitrary sweeps (hypothesis): whatever the benchmarks, categories, protocols and
arms, every Δ printed equals the difference of the two values printed, its interval contains it, and each
format has one line per arm plus one per Δ."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomo_ablate.report.tables import (Arm, assign_baselines, build_table, parse_baseline, protocols_of, to_csv,
                                       to_latex, to_markdown)
from report_fixtures import metrics_from


@st.composite
def sweeps(draw):
    n_bench = draw(st.integers(1, 3))
    benches = {f"b{i}": draw(st.lists(st.sampled_from(["math", "ocr", "chart"]), min_size=1, max_size=2, unique=True))
               for i in range(n_bench)}
    sizes = {b: draw(st.integers(1, 8)) for b in benches}
    protocols = draw(st.lists(st.sampled_from(["standard", "rendered", "rendered_0.5"]), min_size=1, max_size=3,
                              unique=True))
    methods = draw(st.lists(st.sampled_from(["standard_sft", "lomo", "full_text"]), min_size=1, max_size=3,
                            unique=True))
    arms = []
    for m in methods:
        preds = [{"benchmark": b, "protocol": p, "item_id": f"{b}-{i}", "category": cats[i % len(cats)],
                  "score": draw(st.sampled_from([0.0, 0.5, 1.0]))}
                 for b, cats in benches.items() for i in range(sizes[b]) for p in protocols]
        arms.append(Arm(label=f"method={m}", axes={"method": m}, jobs=[object()], metrics=metrics_from(preds),
                        items={(r["protocol"], r["benchmark"], r["item_id"]): r["score"] for r in preds},
                        category={(r["benchmark"], r["item_id"]): r["category"] for r in preds}, rejected=[]))
    return arms


@settings(max_examples=25, deadline=None)
@given(arms=sweeps())
def test_every_delta_is_the_difference_of_the_printed_values_and_lies_in_its_interval(arms):
    assign_baselines(arms, "method=" + arms[0].axes["method"])
    for protocol in protocols_of(arms):
        table = build_table(arms, protocol, resamples=50)
        n_delta = 0
        for arm in arms:
            for col in table.columns:
                d = table.deltas.get((arm.label, col))
                if arm.baseline is None:
                    assert d is None
                    continue
                n_delta += 1
                a, b = table.cells[(arm.label, col)], table.cells[(arm.baseline.label, col)]
                assert d.delta == pytest.approx(a - b, abs=1e-9), col
                assert d.lo - 1e-9 <= d.delta <= d.hi + 1e-9
        assert n_delta == (len(arms) - 1) * len(table.columns)
        rows = len(arms) + (len(arms) - 1)
        md = to_markdown(table).splitlines()
        assert len(md) == 2 + rows and all(line.count("|") == len(table.columns) + 2 for line in md)
        assert len(to_csv([table]).strip().splitlines()) == 1 + rows
        tex = to_latex(table, "caption")
        assert tex.count("{") == tex.count("}") and tex.count(" \\\\") == 2 + rows


def test_baseline_spec_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="axis=value"):
        parse_baseline("standard_sft")
    arm = Arm(label="method=lomo", axes={"method": "lomo"}, jobs=[], metrics={}, items={}, category={}, rejected=[])
    with pytest.raises(ValueError, match=r"no finished arm.*method=lomo"):
        assign_baselines([arm], "method=standard_sft")


def test_text_only_benchmarks_are_their_own_group_and_stay_out_of_the_overall_column():
    """Paper Table 1's Avg is over the multimodal benchmarks, Table 6 averages the text-only ones: the sweep
    table shows Text-only as its own group (after the multimodal ones) and its overall column (and the Δ's
    interval) leaves the text-only items out. Metrics come from evaluate's own aggregate."""
    from lomo_ablate.evaluate.metrics import aggregate

    cats = {"docvqa": "Document & OCR", "mmmu": "Reasoning", "gsm8k": "Text-only", "ifeval": "Text-only"}
    arms = []
    for m, acc in (("standard_sft", {"docvqa": 0.5, "mmmu": 0.25, "gsm8k": 0.0, "ifeval": 0.0}),
                   ("lomo", {"docvqa": 0.75, "mmmu": 0.5, "gsm8k": 1.0, "ifeval": 1.0})):
        preds = [{"benchmark": b, "protocol": "standard", "item_id": f"{b}-{i}", "category": cats[b],
                  "score": float(i < 4 * acc[b])} for b in cats for i in range(4)]
        arms.append(Arm(label=f"method={m}", axes={"method": m}, jobs=[object()],
                        metrics=aggregate(preds, ["standard"]),
                        items={(r["protocol"], r["benchmark"], r["item_id"]): r["score"] for r in preds},
                        category={(r["benchmark"], r["item_id"]): r["category"] for r in preds}, rejected=[]))
    assign_baselines(arms, "method=standard_sft")
    order = ("Reasoning", "Math", "Factuality", "Instruction following", "Document & OCR", "Visual perception",
             "Text-only")
    table = build_table(arms, "standard", resamples=200, category_order=order)
    groups = [c.group for c in table.columns]
    assert groups == ["Reasoning", "Document & OCR", "Text-only", "Text-only", "Text-only", "Overall"]
    overall = table.columns[-1]
    lomo = arms[1]
    assert table.cells[(lomo.label, overall)] == pytest.approx((0.75 + 0.5) / 2)  # not (0.75+0.5+1+1)/4
    text_avg = next(c for c in table.columns if c.kind == "category" and c.name == "Text-only")
    assert table.cells[(lomo.label, text_avg)] == 1.0
    d = table.deltas[(lomo.label, overall)]
    # the interval's point estimate comes from the resampled items: the multimodal ones only (with the
    # text-only items it would be +0.625)
    assert d.delta == pytest.approx(0.25) and d.lo <= 0.25 <= d.hi
