"""MIR speed: the exact fast Fréchet distance (lomo_ablate.evaluate.alignment) vs the scipy-sqrtm reference.

Synthetic hidden states at a realistic size (hidden 4096, 36 decoder layers; ``--quick``: 1024) in two
regimes: fewer tokens per modality than the hidden size (the usual MIR set-up: ``auto`` takes the
low-rank form) and more (``auto`` takes the eigendecomposition form). Our MIR is timed on every layer;
the reference (the MIR code's accurate mode: sqrtm of Σ1Σ2) takes ~2 min per layer at d=4096, so it is
timed on ``--ref-layers`` layers (default 1) and multiplied by the layer count. Data generation is not
timed. Prints the speed-up and the max relative difference on the layers both computed.

    .venv/bin/python benchmarks/mir_speed.py            # d=4096, 36 layers (~15 min CPU on one core)
    .venv/bin/python benchmarks/mir_speed.py --quick    # d=1024 (~1 min)
    .venv/bin/python benchmarks/mir_speed.py --regime many --layers 6   # eig regime, fewer layers

Both sides scale linearly with the layer count, so the speed-up is the per-layer ratio and does not depend
on ``--layers``. Times are reported as CPU seconds of this process (robust to other load on a shared
machine) and wall seconds, with one BLAS thread unless ``--threads=N``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

# One BLAS thread (set before NumPy loads): the comparison is per core, as the ~2 min/sqrtm figure is,
# and a shared 2-core machine under load makes multi-threaded BLAS timings erratic. --threads overrides.
_THREADS = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _THREADS

import numpy as np  # noqa: E402

from lomo_ablate.evaluate.alignment import choose_method, mir_layer  # noqa: E402


class Timer:
    """Wall and CPU (process) seconds; CPU time is robust to other processes' load on a shared machine."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


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
    ours, ref, rel = Timer(), Timer(), []
    for layer in range(layers):
        vis = synthetic_layer(1000 + layer, n_vis, d, shift=0.3 + 0.01 * layer, scale=4.0 + layer)
        txt = synthetic_layer(2000 + layer, n_txt, d, shift=0.0, scale=1.0)
        with ours:
            value = mir_layer(vis, txt, method="auto")
        if layer < ref_layers:
            with ref:
                reference = mir_layer(vis, txt, method="sqrtm")
            rel.append(abs(value - reference) / abs(reference))
            print(f"  [{label}] layer {layer}: ours {value:.10g}  sqrtm {reference:.10g}  rel diff {rel[-1]:.2e}",
                  flush=True)
        if layer % 6 == 5:
            print(f"  [{label}] {layer + 1}/{layers} layers, ours so far {ours.cpu:.1f} s CPU", flush=True)
    out = dict(regime=label, n_vis=n_vis, n_txt=n_txt, d=d, layers=layers, method=method, max_rel_diff=max(rel),
               ours_cpu=ours.cpu, ours_wall=ours.wall, ref_cpu_layer=ref.cpu / ref_layers,
               ref_wall_layer=ref.wall / ref_layers)
    out["ref_cpu_total"] = out["ref_cpu_layer"] * layers
    out["ref_wall_total"] = out["ref_wall_layer"] * layers
    out["speedup_cpu"] = out["ref_cpu_total"] / ours.cpu
    out["speedup_wall"] = out["ref_wall_total"] / ours.wall
    print(f"[{label}] n_vis={n_vis} n_txt={n_txt} d={d} layers={layers} auto→{method}: ours {ours.cpu:.1f} s CPU "
          f"/ {ours.wall:.1f} s wall; sqrtm {out['ref_cpu_layer']:.1f} s CPU/layer × {layers} "
          f"(timed on {ref_layers}); speed-up {out['speedup_cpu']:.0f}× CPU, {out['speedup_wall']:.0f}× wall; "
          f"max rel diff {out['max_rel_diff']:.1e}", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="hidden size 1024 instead of 4096")
    ap.add_argument("--layers", type=int, default=36)
    ap.add_argument("--ref-layers", type=int, default=1, help="layers on which the sqrtm reference is timed")
    ap.add_argument("--regime", choices=["few", "many", "both"], default="both")
    ap.add_argument("--threads", default="1", help="BLAS threads (read before NumPy loads; use --threads=N)")
    args = ap.parse_args(argv)
    d = 1024 if args.quick else 4096
    print(f"python {platform.python_version()}, numpy {np.__version__}, machine {platform.machine()}, "
          f"BLAS threads {_THREADS}, load average {os.getloadavg()[0]:.1f}, d={d}, layers={args.layers}",
          flush=True)
    regimes = {"few": (int(0.28 * d), int(0.22 * d)),   # e.g. 1152 visual, 901 text tokens at d=4096
               "many": (int(1.7 * d), int(1.5 * d))}    # more tokens than dimensions
    rows = [run_regime(name, *regimes[name], d, args.layers, args.ref_layers)
            for name in regimes if args.regime in (name, "both")]
    print("\n| regime | tokens (visual/text) | d | layers | auto method | ours, all layers (CPU / wall) "
          "| sqrtm, est. all layers (CPU / wall) | speed-up (CPU / wall) | max rel diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['regime']} | {r['n_vis']}/{r['n_txt']} | {r['d']} | {r['layers']} | {r['method']} | "
              f"{r['ours_cpu']:.1f} s / {r['ours_wall']:.1f} s | {r['ref_cpu_total']:.0f} s / {r['ref_wall_total']:.0f} s "
              f"| {r['speedup_cpu']:.0f}× / {r['speedup_wall']:.0f}× | {r['max_rel_diff']:.1e} |")


if __name__ == "__main__":
    main()
