"""Paired bootstrap intervals: what a reader of a Δ relies on."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomo_ablate.report.bootstrap import average_over_seeds, bootstrap_mean, paired_bootstrap

scores = st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(base=scores, arm=scores)
def test_interval_contains_the_observed_delta_and_is_ordered(base, arm):
    n = min(len(base), len(arm))
    b = {i: base[i] for i in range(n)}
    a = {i: arm[i] for i in range(n)}
    ci = paired_bootstrap(b, a, resamples=200, seed=1)
    assert ci.n == n
    assert ci.delta == pytest.approx(np.mean([arm[i] - base[i] for i in range(n)]))
    assert ci.lo <= ci.delta + 1e-12 and ci.delta <= ci.hi + 1e-12
    assert -1.0 <= ci.lo <= ci.hi <= 1.0


@settings(max_examples=25, deadline=None)
@given(d=st.lists(st.floats(-1, 1), min_size=2, max_size=40), shift=st.floats(-0.5, 0.5))
def test_shifting_every_difference_shifts_the_interval(d, shift):
    """Same seed, same resampled items: the interval moves with the data and nothing else."""
    a = bootstrap_mean(np.array(d), resamples=300, seed=3)
    b = bootstrap_mean(np.array(d) + shift, resamples=300, seed=3)
    assert b.lo == pytest.approx(a.lo + shift, abs=1e-9)
    assert b.hi == pytest.approx(a.hi + shift, abs=1e-9)


def test_identical_arms_are_within_noise_and_a_consistent_gain_is_not():
    rng = np.random.default_rng(0)
    base = {i: float(rng.random() < 0.5) for i in range(300)}
    same = paired_bootstrap(base, dict(base))
    assert same.delta == 0.0 and same.within_noise
    better = {i: 1.0 if (s == 1.0 or i % 4 == 0) else 0.0 for i, s in base.items()}  # fixes 1 in 4 items
    gain = paired_bootstrap(base, better)
    assert gain.delta > 0.05 and not gain.within_noise and gain.lo > 0


def test_pairing_narrows_the_interval_compared_with_independent_resampling():
    """Two strongly correlated arms: resampling items jointly sees the small, steady gain; resampling
    each arm independently (what a paired design avoids) is far wider."""
    rng = np.random.default_rng(1)
    difficulty = rng.random(400)
    base = {i: float(difficulty[i] < 0.5) for i in range(400)}
    arm = {i: float(difficulty[i] < 0.56) for i in range(400)}
    paired = paired_bootstrap(base, arm, seed=0)
    b, a = np.array(list(base.values())), np.array(list(arm.values()))
    r = np.random.default_rng(0)
    indep = [a[r.integers(0, 400, 400)].mean() - b[r.integers(0, 400, 400)].mean() for _ in range(1000)]
    lo, hi = np.quantile(indep, [0.025, 0.975])
    assert (paired.hi - paired.lo) < 0.6 * (hi - lo)
    assert not paired.within_noise and lo <= 0 <= hi


def test_only_items_scored_by_both_arms_are_paired():
    ci = paired_bootstrap({"a": 0.0, "b": 0.0, "c": 1.0}, {"b": 1.0, "c": 1.0, "d": 0.0})
    assert ci.n == 2 and ci.delta == pytest.approx(0.5)
    assert paired_bootstrap({"a": 1.0}, {"b": 1.0}) is None


def test_seeds_are_averaged_per_item_before_resampling():
    avg = average_over_seeds([{"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 0.0}, {"x": 1.0}])
    assert avg == {"x": pytest.approx(2 / 3), "y": 0.0}


def test_same_seed_same_interval_and_bad_arguments_are_named():
    d = np.linspace(-1, 1, 50)
    assert bootstrap_mean(d, seed="col") == bootstrap_mean(d, seed="col")
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean(d, confidence=1.5)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_mean(d, resamples=0)


def test_strata_give_the_mean_over_groups_and_resample_within_each():
    """An average over benchmarks (evaluate's overall) weighs each benchmark equally, whatever its size."""
    base = {("big", i): 0.0 for i in range(90)} | {("small", i): 0.0 for i in range(10)}
    arm = {("big", i): 0.0 for i in range(90)} | {("small", i): 1.0 for i in range(10)}
    ci = paired_bootstrap(base, arm, strata=lambda item: item[0], resamples=200)
    assert ci.delta == pytest.approx(0.5) and ci.n == 100
    # every resample keeps 10 items of the small benchmark, all improved: no spread at all
    assert ci.lo == pytest.approx(0.5) and ci.hi == pytest.approx(0.5)
    assert paired_bootstrap(base, arm).delta == pytest.approx(0.1)  # the item (micro) mean differs
