"""Cross-modal alignment metrics on arrays: Fréchet distance, MIR, paired distance, carrier bins.

Everything here is plain NumPy/SciPy on float64 arrays; the caller extracts hidden states from a model
(``lomo_ablate.evaluate.hidden``) and passes them in. Nothing here knows about models or files.

- :func:`frechet_distance` — exact Fréchet (2-Wasserstein between Gaussians) distance between two
  sets of row vectors. ``tr √(Σ1 Σ2)`` is computed *exactly*, by an eigendecomposition (any size) or by
  a low-rank identity when there are fewer samples than dimensions. The MIR reference code's default
  "fast" square root is a Newton–Schulz-like loop started at a fixed point: it returns ``Σ1 Σ2`` itself,
  not its square root, so its numbers are not a Fréchet distance. We do not reproduce that.
- :func:`mir` — Modality Integration Rate (Huang et al., 2024), with the reference code's preprocessing
  (text-centric scaling, 3-sigma outlier replacement, n−1 covariances).
- :func:`paired_cosine_distance` — mean cosine distance between a sample's text and rendered-image
  representation (the LoMo paper's paired cross-modal distance).
- :func:`carrier_bins` — accuracy drop standard → rendered per equal-count bin of paired distance
  (the LoMo paper's Figure 1b).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["MIRResult", "choose_method", "frechet_distance", "trace_sqrt_product", "normalize_modalities",
           "replace_outliers_with_median", "mir_layer", "mir", "paired_cosine_distance", "carrier_bins"]

_METHODS = ("auto", "eig", "lowrank", "sqrtm")


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    """float64 (n, d) copy-free view of ``x``; clear errors for wrong shapes or non-finite values."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, dim), got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 rows to estimate a covariance, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{name}: non-finite value (nan/inf) in row {bad}")
    return arr


def _lower_median(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``torch.median`` semantics: the lower of the two middle values for an even count (no averaging)."""
    n = values.shape[axis]
    k = (n - 1) // 2
    return np.take(np.partition(values, k, axis=axis), k, axis=axis)


def _trace_sqrt_eig(c1: np.ndarray, c2: np.ndarray) -> float:
    """tr √(Σ1 Σ2) for PSD Σ1, Σ2 from the eigenvalues of a symmetric PSD matrix similar to Σ1Σ2.

    Σ1 = F Fᵀ with F the Cholesky factor L when Σ1 is numerically positive definite (the usual case with
    more samples than dimensions), else F = V diag(√w) from eigh(Σ1) (clipping tiny negative w). Then
    Σ1Σ2 = F Fᵀ Σ2 is similar to Fᵀ Σ2 F (symmetric PSD), whose eigenvalues come from eigvalsh; tiny
    negative ones from rounding are clipped to 0. Cholesky costs ~1/10 of eigh with vectors and its
    backward error is of the same order, so both branches are equally exact.
    """
    try:
        f = np.linalg.cholesky(c1)
    except np.linalg.LinAlgError:  # singular or indefinite by rounding: fall back to eigh
        w, v = np.linalg.eigh(c1)
        f = v * np.sqrt(np.clip(w, 0.0, None))[None, :]
    m = f.T @ c2 @ f
    m = 0.5 * (m + m.T)  # re-symmetrise against rounding before eigvalsh
    ev = np.linalg.eigvalsh(m)
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


def _trace_sqrt_lowrank(xc1: np.ndarray, xc2: np.ndarray) -> float:
    """tr √(Σ1 Σ2) = ‖X̃1 X̃2ᵀ‖_* / √((n1−1)(n2−1)) for centred X̃ (exact; cheap when n1, n2 < d).

    With Aᵢ = X̃ᵢ/√(nᵢ−1), Σᵢ = AᵢᵀAᵢ and the non-zero eigenvalues of A1ᵀA1A2ᵀA2 equal those of
    (A1A2ᵀ)(A1A2ᵀ)ᵀ, whose square roots are the singular values of A1A2ᵀ (n1 × n2).
    """
    n1, n2 = xc1.shape[0], xc2.shape[0]
    m = xc1 @ xc2.T
    sv = np.linalg.svd(m, compute_uv=False)
    return float(sv.sum() / math.sqrt((n1 - 1) * (n2 - 1)))


def _trace_sqrt_sqrtm(c1: np.ndarray, c2: np.ndarray) -> float:
    """Reference: scipy.linalg.sqrtm of the (non-symmetric) product, real part of its trace. Slow."""
    from scipy.linalg import sqrtm

    root = sqrtm(c1 @ c2)
    return float(np.real(np.trace(root)))


def choose_method(n1: int, n2: int, d: int) -> str:
    """The form ``method="auto"`` uses for n1 and n2 rows of dimension d: "lowrank" or "eig"."""
    return _resolve_method("auto", n1, n2, d)


def _resolve_method(method: str, n1: int, n2: int, d: int) -> str:
    if method not in _METHODS:
        raise ValueError(f"frechet_distance: unknown method {method!r}; allowed: {', '.join(_METHODS)}")
    if method == "auto":
        return "lowrank" if _lowrank_flops(n1, n2, d) < _eig_flops(n1, n2, d) else "eig"
    return method


def _lowrank_flops(n1: int, n2: int, d: int) -> float:
    """Rough cost of the low-rank form: the n1×n2 product plus singular values of it."""
    small, large = min(n1, n2), max(n1, n2)
    return float(n1) * n2 * d + 6.0 * small * small * large


def _eig_flops(n1: int, n2: int, d: int) -> float:
    """Rough cost of the eigendecomposition form: two covariances, a factorisation, two products,
    eigvalsh (calibrated with timings at d=1024, one BLAS thread)."""
    return float(n1 + n2) * d * d + 10.0 * float(d) ** 3


def trace_sqrt_product(x1: np.ndarray, x2: np.ndarray, method: str = "auto") -> float:
    """tr √(Σ1 Σ2) for the sample covariances (n−1) of the rows of ``x1`` and ``x2``."""
    a, b = _as_matrix(x1, "x1"), _as_matrix(x2, "x2")
    return _frechet_parts(a, b, method)[2]


def _frechet_parts(a: np.ndarray, b: np.ndarray, method: str) -> tuple[float, float, float, float]:
    """(‖μ1−μ2‖², tr Σ1, tr √(Σ1Σ2), tr Σ2) for validated float64 matrices."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: dimensions differ: x1 has {a.shape[1]} columns, "
                         f"x2 has {b.shape[1]}")
    (n1, d), n2 = a.shape, b.shape[0]
    how = _resolve_method(method, n1, n2, d)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    xc1, xc2 = a - mu1, b - mu2
    mean_term = float(np.sum((mu1 - mu2) ** 2))
    tr1 = float(np.sum(xc1 * xc1) / (n1 - 1))
    tr2 = float(np.sum(xc2 * xc2) / (n2 - 1))
    if how == "lowrank":
        ts = _trace_sqrt_lowrank(xc1, xc2)
    else:
        c1 = xc1.T @ xc1 / (n1 - 1)
        c2 = xc2.T @ xc2 / (n2 - 1)
        ts = _trace_sqrt_eig(c1, c2) if how == "eig" else _trace_sqrt_sqrtm(c1, c2)
    return mean_term, tr1, ts, tr2


def frechet_distance(x1: np.ndarray, x2: np.ndarray, method: str = "auto") -> float:
    """Fréchet distance ‖μ1−μ2‖² + tr Σ1 + tr Σ2 − 2 tr √(Σ1Σ2) between the rows of two arrays.

    Args:
        x1: (n1, d) samples of the first distribution (n1 ≥ 2).
        x2: (n2, d) samples of the second distribution (n2 ≥ 2), same d.
        method: how tr √(Σ1Σ2) is computed, all exact in exact arithmetic:
            ``"eig"`` — factor Σ1 = FFᵀ (Cholesky, or eigh when Σ1 is singular), then
            eigvalsh(FᵀΣ2F), which is similar to Σ1^½ Σ2 Σ1^½; O(d³), any n.
            ``"lowrank"`` — nuclear norm of X̃1X̃2ᵀ/√((n1−1)(n2−1)); O(n1·n2·d), best when n1, n2 < d.
            ``"sqrtm"`` — scipy.linalg.sqrtm(Σ1Σ2), the slow reference (tests and benchmarks only).
            ``"auto"`` (default) — whichever of ``lowrank``/``eig`` a flop estimate says is cheaper:
            always ``lowrank`` when n1, n2 < d (the usual case for MIR on a modest evaluation set),
            ``eig`` once both sets are larger than about 1.4 d. (The low-rank form is also the more
            accurate of the two when Σ1 or Σ2 is rank-deficient.)

    Covariances use n−1. Computed in float64; the result is clipped at 0 (it is a squared distance).
    """
    a, b = _as_matrix(x1, "x1"), _as_matrix(x2, "x2")
    mean_term, tr1, ts, tr2 = _frechet_parts(a, b, method)
    return max(0.0, mean_term + tr1 + tr2 - 2.0 * ts)


# --------------------------------------------------------------------------------------------- MIR
@dataclass(frozen=True)
class MIRResult:
    """MIR of one model on one evaluation set.

    Attributes:
        per_layer: Fréchet distance between visual and text token states, one per decoder layer
            (embedding output excluded), in layer order.
        mean: the layer-wise MEAN of ``per_layer`` — the number the LoMo paper reports as MIR.
        log10_sum: log10 of the SUM of ``per_layer`` — the number the MIR reference code prints
            ("Overall MIR"). Both are kept so results can be compared with either source.
    """

    per_layer: list[float] = field(default_factory=list)
    mean: float = float("nan")
    log10_sum: float = float("nan")

    def to_dict(self) -> dict:
        """JSON form used in metrics.json: {"per_layer": [...], "mean": x, "log10_sum": y}."""
        return {"per_layer": list(self.per_layer), "mean": self.mean, "log10_sum": self.log10_sum}


def normalize_modalities(visual: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text-centric normalisation: scale both modalities by 1 / (mean L2 norm of the text rows)."""
    norm = float(np.linalg.norm(text, axis=1).mean())
    if not norm > 0.0:
        raise ValueError("mir: text token states have zero mean norm; cannot normalise")
    return visual / norm, text / norm


def replace_outliers_with_median(x: np.ndarray, n_std: float = 3.0) -> tuple[np.ndarray, int]:
    """Replace rows whose L2 norm is more than ``n_std`` standard deviations from the median norm.

    Replaced rows become the per-dimension median of all rows (computed before replacement). As in the
    reference code: the std is the sample std (n−1) of the norms and medians are *lower* medians
    (``torch.median``: no averaging of the two middle values). Returns (new array, number replaced).
    """
    norms = np.linalg.norm(x, axis=1)
    med = float(_lower_median(norms))
    std = float(np.std(norms, ddof=1)) if len(norms) > 1 else 0.0
    outliers = np.abs(norms - med) > n_std * std
    count = int(outliers.sum())
    if count == 0:
        return x, 0
    out = x.copy()
    out[outliers] = _lower_median(x, axis=0)
    return out, count


def mir_layer(visual: np.ndarray, text: np.ndarray, method: str = "auto") -> float:
    """MIR contribution of one layer: normalise, replace outliers per modality, Fréchet distance."""
    v, t = _as_matrix(visual, "visual"), _as_matrix(text, "text")
    v, t = normalize_modalities(v, t)
    v, _ = replace_outliers_with_median(v)
    t, _ = replace_outliers_with_median(t)
    return frechet_distance(v, t, method=method)


def mir(visual_by_layer: Sequence[np.ndarray], text_by_layer: Sequence[np.ndarray],
        method: str = "auto", progress: bool = False) -> MIRResult:
    """Modality Integration Rate over decoder layers.

    Args:
        visual_by_layer: one (n_visual_tokens, hidden) array per decoder layer: the states of all visual
            tokens of the evaluation set stacked together. Pass ``hidden_states[1:]`` — the embedding
            output (``hidden_states[0]``) must NOT be included; this function does not skip it.
        text_by_layer: the same for text tokens, same number of layers and hidden size.
        method: see :func:`frechet_distance` (``"auto"`` picks the exact fast form).
        progress: show a tqdm bar over layers.

    Per layer, as the reference code: both modalities are scaled by 1 / mean L2 norm of the text rows;
    rows of each modality whose norm lies more than 3 std from the median norm are replaced by the
    per-dimension median; covariances with n−1; Fréchet distance, computed exactly.

    Returns:
        :class:`MIRResult` with ``per_layer``, ``mean`` (the LoMo paper's MIR: layer-wise MEAN) and
        ``log10_sum`` (the reference code's "Overall MIR": log10 of the SUM over layers).
    """
    if len(visual_by_layer) != len(text_by_layer):
        raise ValueError(f"mir: {len(visual_by_layer)} visual layers but {len(text_by_layer)} text layers")
    if len(visual_by_layer) == 0:
        raise ValueError("mir: no layers given")
    layers = range(len(visual_by_layer))
    if progress:
        from tqdm import tqdm

        layers = tqdm(layers, desc="MIR layers", unit="layer")
    per_layer = []
    for i in layers:
        try:
            per_layer.append(mir_layer(visual_by_layer[i], text_by_layer[i], method=method))
        except ValueError as exc:
            raise ValueError(f"mir: layer {i + 1} (hidden_states[{i + 1}]): {exc}") from exc
    total = float(sum(per_layer))
    return MIRResult(per_layer=per_layer, mean=total / len(per_layer),
                     log10_sum=math.log10(total) if total > 0 else float("-inf"))


# --------------------------------------------------------------------------- paired distance, bins
def paired_cosine_distance(text_vecs: np.ndarray, image_vecs: np.ndarray) -> tuple[float, np.ndarray]:
    """Cosine distance 1 − cos(tᵢ, vᵢ) between paired rows; returns (mean over items, per-item array).

    Row i of ``text_vecs`` is sample i's mean text-token state, row i of ``image_vecs`` the mean state of
    the tokens of the same content rendered as an image (the caller takes both at the output of the first
    self-attention layer). A zero-norm row is an error naming the item, not a silent NaN.
    """
    t = np.asarray(text_vecs, dtype=np.float64)
    v = np.asarray(image_vecs, dtype=np.float64)
    if t.ndim != 2 or v.ndim != 2 or t.shape != v.shape:
        raise ValueError(f"paired_cosine_distance: need two (n, d) arrays of the same shape, "
                         f"got {t.shape} and {v.shape}")
    if t.shape[0] == 0:
        raise ValueError("paired_cosine_distance: no items")
    nt, nv = np.linalg.norm(t, axis=1), np.linalg.norm(v, axis=1)
    for name, norms in (("text_vecs", nt), ("image_vecs", nv)):
        bad = np.flatnonzero(~(norms > 0) | ~np.isfinite(norms))
        if bad.size:
            raise ValueError(f"paired_cosine_distance: {name} row {int(bad[0])} has zero or non-finite norm")
    cos = np.einsum("ij,ij->i", t, v) / (nt * nv)
    per_item = 1.0 - np.clip(cos, -1.0, 1.0)
    return float(per_item.mean()), per_item


def carrier_bins(distances: Sequence[float], std_correct: Sequence[float],
                 rendered_correct: Sequence[float], n_bins: int = 5) -> list[dict]:
    """Accuracy drop from the standard to the rendered protocol per equal-count bin of paired distance.

    Items are sorted by distance and split into ``n_bins`` bins of (nearly) equal count (sizes differ by
    at most one; ties may straddle a bin edge). Correctness values are scores in [0, 1] (booleans work).
    With fewer items than bins, there are as many bins as items.

    Returns one dict per bin, in increasing distance: ``lo``/``hi`` (min/max distance in the bin), ``n``,
    ``acc_standard``, ``acc_rendered`` and ``drop`` = acc_standard − acc_rendered.
    """
    d = np.asarray(distances, dtype=np.float64).ravel()
    s = np.asarray(std_correct, dtype=np.float64).ravel()
    r = np.asarray(rendered_correct, dtype=np.float64).ravel()
    if not (len(d) == len(s) == len(r)):
        raise ValueError(f"carrier_bins: lengths differ: distances {len(d)}, std_correct {len(s)}, "
                         f"rendered_correct {len(r)}")
    if n_bins < 1:
        raise ValueError(f"carrier_bins: n_bins must be >= 1, got {n_bins}")
    if not np.isfinite(d).all():
        raise ValueError(f"carrier_bins: non-finite distance at item {int(np.flatnonzero(~np.isfinite(d))[0])}")
    if len(d) == 0:
        return []
    order = np.argsort(d, kind="stable")
    bins = []
    for idx in np.array_split(order, min(n_bins, len(d))):
        acc_s, acc_r = float(s[idx].mean()), float(r[idx].mean())
        bins.append({"lo": float(d[idx].min()), "hi": float(d[idx].max()), "n": int(len(idx)),
                     "acc_standard": acc_s, "acc_rendered": acc_r, "drop": acc_s - acc_r})
    return bins
