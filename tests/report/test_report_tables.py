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
