"""Curation throughput per worker (one process = one core), against a bare-Pillow baseline in the same run.

Measures, for plain-text spans and for math spans (TeX batched, and mathtext without TeX):

* ``pipeline``: localize → render (``render_many``) → distort → PNG encode (compress_level=1) → write, the
  render colleague's view of one curation worker, timed in this process — on the grey path (today: black-on-
  white spans stay mode ``L``) and on the RGB path (``Renderer(keep_gray=False)``: the output of the code
  before the grey path, 28771ba, pixel for pixel), interleaved, with the PNG bytes written by each;
* ``curate()``: the real end-to-end stage (read JSONL, parse, localize, render, distort, assemble, encode
  PNG, write data.jsonl/manifest) on the same records, one worker;
* ``baseline``: bare Pillow — draw a wrapped 200-character span on 800×200, trim, PNG-encode (level 1);

and prints samples/s and the ratio to the baseline. ``--memory`` re-runs the plain-text ``curate()`` in child
processes at two input sizes and prints their peak RSS (memory must stay flat in input size).

    .venv/bin/python benchmarks/curate_throughput.py [--n 300] [--repeats 3] [--memory]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lomo_ablate.render.distort import DistortConfig, Distorter  # noqa: E402
from lomo_ablate.render.fonts import find_font  # noqa: E402
from lomo_ablate.curate.localize import locate_spans  # noqa: E402
from lomo_ablate.render import RenderConfig, Renderer  # noqa: E402
from lomo_ablate.render.tex import tex_available  # noqa: E402

WORDS = ("the of model data image text span render value result answer number train token layer width height "
         "paper figure table method sample batch weight loss score metric across between under given every "
         "first second third small large quick slow clear short long simple robust").split()
FORMULAS = [r"$x^2 + y^2 = r^2$", r"$\frac{a+b}{2} \geq \sqrt{ab}$", r"$\sum_{i=1}^{n} i = \frac{n(n+1)}{2}$",
            r"$\int_0^1 x^2\,dx = \frac{1}{3}$", r"$e^{i\pi} + 1 = 0$", r"$f'(x) = 3x^2 - 2x$",
            r"$\alpha \cdot \beta \leq \gamma$", r"$P(A \mid B) = \frac{P(B \mid A) P(A)}{P(B)}$"]


def sentence(rng: random.Random, math: bool) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 14))]
    if math:
        words.insert(rng.randint(1, len(words) - 1), rng.choice(FORMULAS))
    return " ".join(words).capitalize() + "."


def make_texts(n: int, math: bool, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(sentence(rng, math) for _ in range(rng.randint(4, 6))) for _ in range(n)]


def write_jsonl(path: Path, texts: list[str]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"messages": [{"role": "user", "content": t},
                                             {"role": "assistant", "content": "ok"}]}) + "\n")


class Clock:
    """Wall time and CPU time (this process and its reaped children) of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu

    @staticmethod
    def _cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def rates(self, n: int) -> tuple[float, float]:
        """(samples per wall second, samples per CPU second)."""
        return n / self.wall, n / max(self.cpu, 1e-9)


def baseline(n: int) -> tuple[float, float]:
    """Bare Pillow: wrapped 200-char span on 800×200, trim, PNG (level 1). Returns (wall, CPU) samples/s."""
    font = ImageFont.truetype(str(find_font("DejaVu Sans")), 28)
    texts = [t[:200] for t in make_texts(n, False, seed=1)]
    with Clock() as c:
        for t in texts:
            im = Image.new("L", (800, 200), 255)
            ImageDraw.Draw(im).multiline_text((8, 8), "\n".join(textwrap.wrap(t, 52)), font=font, fill=0)
            box = Image.eval(im, lambda v: 255 - v).getbbox()
            im = im.crop(box).convert("RGB")
            im.save(io.BytesIO(), format="PNG", compress_level=1)
    return c.rates(n)


def pipeline(texts: list[str], render_cfg: RenderConfig, out_dir: Path, chunk: int = 64, keep_gray: bool = True):
    """localize → render_many → distort → PNG (level 1) → write, in chunks as a worker does.
    Returns ((wall, CPU) samples/s, renderer stats, PNG bytes written)."""
    renderer, distorter = Renderer(render_cfg, keep_gray=keep_gray), Distorter(DistortConfig())
    rng = np.random.default_rng(0)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Clock() as c:
        for k in range(0, len(texts), chunk):
            spans = []
            for t in texts[k:k + chunk]:
                s, e = locate_spans(t, "middle")[0]
                spans.append(t[s:e])
            for j, res in enumerate(renderer.render_many(spans)):
                im, _ = distorter.apply(res.image, rng)
                im.save(out_dir / f"{k + j:06d}.png", format="PNG", compress_level=1)
    return c.rates(len(texts)), renderer.stats(), sum(f.stat().st_size for f in out_dir.iterdir())


def run_curate(texts: list[str], render_cfg: dict, work: Path, name: str) -> tuple[float, float]:
    """The real curation stage, one worker, every record rewritten. Samples/s."""
    from lomo_ablate.curate.config import CurateConfig
    from lomo_ablate.curate.run import curate

    src = work / f"{name}.jsonl"
    write_jsonl(src, texts)
    cfg = CurateConfig.from_dict({"mix": {"rewrite_ratio": 1.0}, "render": render_cfg, "distort": {}})
    with Clock() as c:
        summary = curate(src, work / f"out-{name}", cfg, workers=1, progress=False)
    return c.rates(int(summary.counts.get("written", len(texts))))


def child_memory(n: int) -> None:
    """Child mode: curate ``n`` plain records, print peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        run_curate(make_texts(n, False), {"math_renderer": "text"}, Path(tmp), "mem")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="samples per measurement")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best run is reported")
    ap.add_argument("--memory", action="store_true", help="also measure peak RSS at n and 4n records")
    ap.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    n = args.n
    plain, math = make_texts(n, False), make_texts(n, True)
    cases = [("plain text", plain, {"math_renderer": "text"})]
    if tex_available():
        cases.append(("math, TeX batched", math, {"math_renderer": "tex"}))
    else:
        print("TeX not installed: skipping the TeX case")
    cases.append(("math, mathtext (no TeX)", math, {"math_renderer": "mathtext"}))
    # best of `repeats` interleaved runs: on a shared machine the best run is the least disturbed one
    best = lambda a, b: (max(a[0], b[0]), max(a[1], b[1]))  # noqa: E731
    base = (0.0, 0.0)
    pipe = {name: (0.0, 0.0) for name, _, _ in cases}
    pipe_rgb = {name: (0.0, 0.0) for name, _, _ in cases}
    size: dict[str, list[int]] = {}
    cur = {name: (0.0, 0.0) for name, _, _ in cases}
    stats: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for rep in range(args.repeats):
            base = best(base, baseline(n))
            for k, (name, texts, rc) in enumerate(cases):
                if rep == 0:  # warm-up (font loading, first TeX/matplotlib use), not counted
                    pipeline(texts[:20], RenderConfig.from_dict(rc), work / f"warm-{k}")
                for grey in ((True, False) if rep % 2 == 0 else (False, True)):  # alternate which goes first
                    rates, st, nbytes = pipeline(texts, RenderConfig.from_dict(rc), work / f"pipe-{grey}-{rep}-{k}",
                                                 keep_gray=grey)
                    if grey:
                        pipe[name], stats[name] = best(pipe[name], rates), st
                    else:
                        pipe_rgb[name] = best(pipe_rgb[name], rates)
                    size.setdefault(name, [0, 0])[0 if grey else 1] = nbytes
                cur[name] = best(cur[name], run_curate(texts, rc, work, f"cur-{rep}-{k}"))
    print(f"baseline (bare Pillow: wrap 200 chars on 800x200, trim, PNG level 1): {base[0]:7.1f} samples/s wall, "
          f"{base[1]:7.1f} per CPU-s")
    print(f"\nbest of {args.repeats}; samples/s on the wall clock (and per CPU-second); "
          "x base = CPU-rate ratio to the baseline")
    print(f"{'case':26s} {'pipeline/s':>10s} {'(cpu)':>7s} {'x base':>7s} {'curate()/s':>10s} {'(cpu)':>7s} "
          f"{'x base':>7s}  renderers")
    for name, _, _ in cases:
        (sps, sps_cpu), (c, c_cpu) = pipe[name], cur[name]
        used = {k.split('.', 1)[1]: v for k, v in stats[name].items() if k.startswith("renderer.")}
        print(f"{name:26s} {sps:10.1f} {sps_cpu:7.1f} {sps_cpu / base[1]:7.2f} {c:10.1f} {c_cpu:7.1f} "
              f"{c_cpu / base[1]:7.2f}  {used}")
    print(f"\ngrey path (today) vs RGB path (Renderer(keep_gray=False) = the code before it), pipeline, best of "
          f"{args.repeats}, per CPU-s (wall)")
    print(f"{'case':26s} {'grey/s':>14s} {'RGB/s':>14s} {'grey/RGB':>8s} {'RGB x base':>10s} {'PNG bytes grey/RGB':>19s}")
    for name, _, _ in cases:
        g, r = pipe[name], pipe_rgb[name]
        print(f"{name:26s} {g[1]:7.1f} ({g[0]:5.1f}) {r[1]:7.1f} ({r[0]:5.1f}) {g[1] / r[1]:8.2f} "
              f"{r[1] / base[1]:10.2f} {size[name][0] / size[name][1]:19.2f}")
    if args.memory:
        print("\npeak RSS of curate() on plain text, one worker:")
        for m in (n, 4 * n):
            out = subprocess.run([sys.executable, __file__, "--child-memory", str(m)], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            print(f"  {m:6d} records: {float(out):7.1f} MiB")


if __name__ == "__main__":
    main()
