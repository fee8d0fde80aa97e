"""Alignment metrics: exact Fréchet distance, MIR as the reference code computes it, paired distance, bins."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import LinAlgWarning, sqrtm

from lomo_ablate.evaluate.alignment import (MIRResult, carrier_bins, frechet_distance, mir,
                                            paired_cosine_distance, replace_outliers_with_median)


def _correlated(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    """Rows with a non-trivial covariance (random mixing, decaying spectrum) and mean ``shift``."""
    mix = rng.normal(size=(d, d)) * (0.9 ** np.arange(d))[None, :]
    return rng.normal(size=(n, d)) @ mix.T + shift


def _scipy_reference(x1: np.ndarray, x2: np.ndarray) -> float:
    """Textbook formula, written independently here: sqrtm of the covariance product (real part)."""
    mu1, mu2 = x1.mean(0), x2.mean(0)
    c1, c2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    with warnings.catch_warnings():  # sqrtm warns on singular products (n < d); the value is still right
        warnings.simplefilter("ignore", LinAlgWarning)
        root = sqrtm(c1 @ c2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.real(np.trace(root)))


# ------------------------------------------------------------------------------------ Fréchet
@pytest.mark.parametrize("n1,n2,d", [(30, 45, 80),     # tokens < hidden size: low-rank regime
                                     (300, 260, 40),   # tokens > hidden size: eigendecomposition regime
                                     (25, 200, 60)])   # mixed
@pytest.mark.parametrize("method", ["auto", "eig", "lowrank"])
def test_frechet_matches_scipy_sqrtm_reference(n1, n2, d, method):
    rng = np.random.default_rng(n1 * 7 + d)
    x1, x2 = _correlated(rng, n1, d), _correlated(rng, n2, d, shift=0.3)
    ref = _scipy_reference(x1, x2)
    assert frechet_distance(x1, x2, method=method) == pytest.approx(ref, rel=1e-6)
    # sqrtm of a singular product (n < d) is itself only accurate to about √ε
    assert frechet_distance(x1, x2, method="sqrtm") == pytest.approx(ref, rel=1e-7)


@pytest.mark.parametrize("n,d", [(20, 50), (200, 30)])
def test_frechet_closed_forms(n, d):
    """A pure shift costs exactly its squared length; scaling by a costs (1−a)²(‖μ‖² + tr Σ)."""
    rng = np.random.default_rng(d)
    x = _correlated(rng, n, d, shift=1.0)
    shift = rng.normal(size=d)
    assert frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-7)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-7 * np.trace(np.cov(x, rowvar=False)))
    a = 0.4
    expected = (1 - a) ** 2 * (float(x.mean(0) @ x.mean(0)) + float(np.trace(np.cov(x, rowvar=False))))
    assert frechet_distance(x, a * x) == pytest.approx(expected, rel=1e-7)


def test_frechet_eig_with_singular_covariance_despite_many_samples():
    """A constant (dead) dimension makes Σ singular even with n > d: the eig form must stay exact."""
    rng = np.random.default_rng(5)
    x1, x2 = _correlated(rng, 200, 30), _correlated(rng, 150, 30, shift=0.2)
    x1[:, 7] = 3.0
    x2[:, [7, 8]] = x2[:, [8, 8]]  # two identical columns
    ref = _scipy_reference(x1, x2)
    assert frechet_distance(x1, x2, method="eig") == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(x2, x1, method="eig") == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(x1, x2, method="lowrank") == pytest.approx(ref, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(n1=st.integers(2, 40), n2=st.integers(2, 40), d=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_frechet_methods_agree_and_are_symmetric(n1, n2, d, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(n1, d)), 2.0 * rng.normal(size=(n2, d)) + 0.5
    eig, low = frechet_distance(x1, x2, "eig"), frechet_distance(x1, x2, "lowrank")
    scale = np.trace(np.cov(x1, rowvar=False, ddof=1).reshape(d, d)) + np.trace(np.cov(x2, rowvar=False).reshape(d, d)) + 1
    assert eig >= 0 and low >= 0
    assert abs(eig - low) <= 1e-7 * scale
    assert abs(frechet_distance(x2, x1) - low) <= 1e-7 * scale


def test_frechet_rejects_bad_input_with_reason():
    ok = np.zeros((5, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(ok, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(ok, np.zeros((1, 3)))
    bad = np.ones((4, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        frechet_distance(ok, bad)
    with pytest.raises(ValueError, match="allowed: auto, eig, lowrank, sqrtm"):
        frechet_distance(ok, ok, method="fast")


# ------------------------------------------------------------------------------------ MIR
def _reference_mir_torch(visual_layers, text_layers) -> list[float]:
    """The MIR reference code's per-layer recipe re-typed in torch (accurate mode: scipy sqrtm)."""
    out = []
    for v, t in zip(visual_layers, text_layers):
        v, t = torch.tensor(v), torch.tensor(t)
        scale = 1.0 / t.norm(p=2, dim=-1).mean(0)
        v, t = v * scale, t * scale
        for x in (v, t):
            norms = torch.norm(x, p=2, dim=-1)
            outliers = torch.abs(norms - torch.median(norms)) > 3 * torch.std(norms)
            x[outliers, :] = torch.median(x, dim=0).values
        mu_v, mu_t = v.mean(0), t.mean(0)
        cv = (v - mu_v).T @ (v - mu_v) / (v.shape[0] - 1)
        ct = (t - mu_t).T @ (t - mu_t) / (t.shape[0] - 1)
        root = sqrtm(cv.numpy() @ ct.numpy())
        out.append(float(((mu_v - mu_t) ** 2).sum() + torch.trace(cv) + torch.trace(ct)
                         - 2 * np.real(np.trace(root))))
    return out


def _layers(rng, n_layers, n_vis, n_txt, d, outliers=True):
    vis, txt = [], []
    for layer in range(n_layers):
        v = _correlated(rng, n_vis, d, shift=2.0 + layer) * (5 + layer)  # visual states: larger norms
        t = _correlated(rng, n_txt, d, shift=0.5)
        if outliers:  # a few "massive activation" rows, as real LLM hidden states have
            v[3] *= 60.0
            t[1] *= 40.0
        vis.append(v)
        txt.append(t)
    return vis, txt


@pytest.mark.parametrize("n_vis,n_txt,d", [(40, 30, 64), (160, 120, 24)])
def test_mir_matches_reference_recipe(n_vis, n_txt, d):
    rng = np.random.default_rng(d)
    vis, txt = _layers(rng, 3, n_vis, n_txt, d)
    ref = _reference_mir_torch(vis, txt)
    res = mir(vis, txt)
    assert isinstance(res, MIRResult) and len(res.per_layer) == 3
    np.testing.assert_allclose(res.per_layer, ref, rtol=1e-6)
    assert res.mean == pytest.approx(sum(ref) / 3, rel=1e-6)          # the LoMo paper's number
    assert res.log10_sum == pytest.approx(math.log10(sum(ref)), rel=1e-6)  # the reference code's number
    assert res.to_dict() == {"per_layer": res.per_layer, "mean": res.mean, "log10_sum": res.log10_sum}


def test_mir_is_invariant_to_a_common_scale_and_robust_to_outliers():
    """Text-centric scaling: multiplying all states by c changes nothing. One exploding visual token does
    not move MIR much, because it is replaced by the median row."""
    rng = np.random.default_rng(1)
    vis, txt = _layers(rng, 2, 50, 40, 32, outliers=False)
    base = mir(vis, txt)
    scaled = mir([7.5 * v for v in vis], [7.5 * t for t in txt])
    np.testing.assert_allclose(scaled.per_layer, base.per_layer, rtol=1e-9)
    spiked = [v.copy() for v in vis]
    for v in spiked:
        v[0] *= 1e4
    assert mir(spiked, txt).mean == pytest.approx(base.mean, rel=0.1)


def test_outlier_replacement_uses_lower_median_like_torch():
    x = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]] * 5 + [[500.0, 0.0]])
    out, count = replace_outliers_with_median(x)
    assert count == 1
    assert out[-1].tolist() == torch.median(torch.tensor(x), dim=0).values.tolist()
    assert np.array_equal(out[:-1], x[:-1])


def test_mir_errors_name_the_layer():
    rng = np.random.default_rng(0)
    vis, txt = _layers(rng, 2, 10, 10, 8, outliers=False)
    with pytest.raises(ValueError, match="2 visual layers but 1 text"):
        mir(vis, txt[:1])
    with pytest.raises(ValueError, match=r"layer 2 .*dimensions differ"):
        mir(vis, [txt[0], txt[1][:, :4]])


# ------------------------------------------------------------------------------------ paired distance
def test_paired_cosine_distance_geometry():
    t = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    v = np.array([[5.0, 0.0], [0.0, -1.0], [-1.0, 1.0]])  # same direction, opposite, orthogonal
    mean, per_item = paired_cosine_distance(t, v)
    np.testing.assert_allclose(per_item, [0.0, 2.0, 1.0], atol=1e-12)
    assert mean == pytest.approx(1.0)


def test_paired_cosine_distance_errors():
    with pytest.raises(ValueError, match="same shape"):
        paired_cosine_distance(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="image_vecs row 1 has zero"):
        paired_cosine_distance(np.ones((3, 2)), np.array([[1.0, 0], [0, 0], [1, 1]]))


# ------------------------------------------------------------------------------------ carrier bins
def test_carrier_bins_equal_count_sorted_with_growing_drop():
    """Items far apart across carriers fail more often when rendered: the drop grows with distance."""
    rng = np.random.default_rng(0)
    n = 103
    dist = rng.uniform(0, 1, size=n)
    std = np.ones(n)
    rendered = (rng.uniform(size=n) > dist).astype(float)  # P(correct when rendered) = 1 − distance
    bins = carrier_bins(dist, std, rendered, n_bins=5)
    assert [b["n"] for b in bins] == [21, 21, 21, 20, 20]
    assert sum(b["n"] for b in bins) == n
    assert all(a["hi"] <= b["lo"] for a, b in zip(bins, bins[1:]))
    assert bins[0]["lo"] == dist.min() and bins[-1]["hi"] == dist.max()
    for b in bins:
        inside = (dist >= b["lo"]) & (dist <= b["hi"])
        assert b["acc_rendered"] == pytest.approx(rendered[inside].mean())
        assert b["drop"] == pytest.approx(b["acc_standard"] - b["acc_rendered"])
    assert bins[-1]["drop"] > bins[0]["drop"]


def test_carrier_bins_small_and_bad_input():
    assert carrier_bins([], [], []) == []
    assert len(carrier_bins([0.1, 0.2], [1, 0], [0, 0], n_bins=5)) == 2
    with pytest.raises(ValueError, match="lengths differ"):
        carrier_bins([0.1, 0.2], [1], [0, 1])
