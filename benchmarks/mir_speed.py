"""MIR speed: the exact fast Fréchet distance (lomo_ablate.evaluate.alignment) vs the scipy-sqrtm reference.

Synthetic hidden states at a realistic size (hidden 4096, 36 decoder layers; ``--quick``: 1024) in two
regimes: fewer tokens per modality than the hidden size (the usual MIR set-up: ``auto`` takes the
low-rank form) and more (``auto`` takes the eigendecomposition form). Our MIR is timed on every layer;
the reference (the MIR code's accurate mode: sqrtm of Σ1Σ2) takes ~2 min per layer at d=4096, so it is
timed on ``--ref-layers`` layers (default 1) and multiplied by the layer count. Data generation is not
timed. Prints the speed-up and the max relative difference on the layers both computed.

    .venv/bin/python benchmarks/mir_speed.py            # d=4096, 36 layers (~15-30 min on 2 cores)
    .venv/bin/python benchmarks/mir_speed.py --quick    # d=1024 (~1 min)
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from lomo_ablate.evaluate.alignment import choose_method, mir_layer


def synthetic_layer(seed: int, n: int, d: int, shift: float, scale: float) -> np.ndarray:
    """Hidden-state-like rows: anisotropic per-dimension scales, a shared rank-32 component, a mean
    offset and a few 'massive activation' rows (what the outlier step is for)."""
    rng = np.random.default_rng(seed)
    dim_scale = 1.0 / np.sqrt(1.0 + np.arange(d) / 16.0)
    x = rng.standard_normal((n, d)) * dim_scale
    x += rng.standard_normal((n, 32)) @ rng.standard_normal((32, d)) * 0.2
    x += shift
    x[rng.choice(n, size=max(1, n // 500), replace=False)] *= 50.0
    return x * scale


def run_regime(label: str, n_vis: int, n_txt: int, d: int, layers: int, ref_layers: int) -> dict:
    method = choose_method(n_vis, n_txt, d)
    ours_s, ref_s, rel = 0.0, 0.0, []
    for layer in range(layers):
        vis = synthetic_layer(1000 + layer, n_vis, d, shift=0.3 + 0.01 * layer, scale=4.0 + layer)
        txt = synthetic_layer(2000 + layer, n_txt, d, shift=0.0, scale=1.0)
        t0 = time.perf_counter()
        value = mir_layer(vis, txt, method="auto")
        ours_s += time.perf_counter() - t0
        if layer < ref_layers:
            t0 = time.perf_counter()
            ref = mir_layer(vis, txt, method="sqrtm")
            ref_s += time.perf_counter() - t0
            rel.append(abs(value - ref) / abs(ref))
            print(f"  [{label}] layer {layer}: ours {value:.10g}  sqrtm {ref:.10g}  rel diff {rel[-1]:.2e}",
                  flush=True)
    ref_total = ref_s / ref_layers * layers
    out = dict(regime=label, n_vis=n_vis, n_txt=n_txt, d=d, layers=layers, method=method, ours_s=ours_s,
               ref_per_layer_s=ref_s / ref_layers, ref_total_s=ref_total, speedup=ref_total / ours_s,
               max_rel_diff=max(rel))
    print(f"[{label}] n_vis={n_vis} n_txt={n_txt} d={d} layers={layers} auto→{method}: "
          f"ours {ours_s:.1f} s total ({ours_s / layers:.2f} s/layer); sqrtm {ref_s / ref_layers:.1f} s/layer "
          f"× {layers} = {ref_total:.0f} s (timed on {ref_layers}); speed-up {out['speedup']:.0f}×; "
          f"max rel diff {out['max_rel_diff']:.1e}", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="hidden size 1024 instead of 4096")
    ap.add_argument("--layers", type=int, default=36)
    ap.add_argument("--ref-layers", type=int, default=1, help="layers on which the sqrtm reference is timed")
    ap.add_argument("--regime", choices=["few", "many", "both"], default="both")
    args = ap.parse_args(argv)
    d = 1024 if args.quick else 4096
    print(f"python {platform.python_version()}, numpy {np.__version__}, machine {platform.machine()}, "
          f"d={d}, layers={args.layers}", flush=True)
    regimes = {"few": (int(0.28 * d), int(0.22 * d)),   # e.g. 1152 visual, 901 text tokens at d=4096
               "many": (int(1.7 * d), int(1.5 * d))}    # more tokens than dimensions
    rows = [run_regime(name, *regimes[name], d, args.layers, args.ref_layers)
            for name in regimes if args.regime in (name, "both")]
    print("\n| regime | tokens (visual/text) | d | layers | auto method | ours total | sqrtm total (est.) | speed-up | max rel diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['regime']} | {r['n_vis']}/{r['n_txt']} | {r['d']} | {r['layers']} | {r['method']} | "
              f"{r['ours_s']:.1f} s | {r['ref_total_s']:.0f} s ({r['ref_per_layer_s']:.1f} s/layer) | "
              f"{r['speedup']:.0f}× | {r['max_rel_diff']:.1e} |")


if __name__ == "__main__":
    main()
