"""Curation run mechanics at scale: streaming rate, worker speed-up, flat memory, cache hit.

* ``stream``: ``curate()`` with rewrite_ratio=0 (read, parse, validate, escape, write; nothing rendered) on N
  records, against a baseline of a bare ``json.loads`` + ``json.dumps`` pass over the same file, in this process.
* ``workers``: every record rewritten (text renderer + distortions), workers=2 against workers=1.
* ``memory``: peak RSS of ``curate()`` in a child process at N and 4N records (rewrite_ratio 0.05) — flat
  memory means the two are about equal.
* ``cache``: a second ``curate()`` with the same input and config (found by hash, nothing redone).

    .venv/bin/python benchmarks/curate_scale.py [--n 20000] [--render-n 400]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lomo_ablate.curate import CurateConfig, curate  # noqa: E402

QUESTION = ("You are given a list. The list is {a}, {b}, {c}. What is the largest number? Answer with a number. "
            "Costs are $5 and $10; the formula $x^2+{a}$ stays whole.")


def write_pool(path: Path, n: int) -> Path:
    with path.open("w") as f:
        for i in range(n):
            q = QUESTION.format(a=i % 9, b=(i * 7) % 9, c=(i * 5) % 9)
            f.write(json.dumps({"messages": [{"role": "user", "content": q},
                                             {"role": "assistant", "content": str(i % 9)}]}) + "\n")
    return path


def cfg(rewrite: float, **extra) -> CurateConfig:
    return CurateConfig.from_dict({"mix": {"rewrite_ratio": rewrite}, "render": {"math_renderer": "text"},
                                   "shard_size": 256, **extra})


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def child(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = write_pool(Path(tmp) / "t.jsonl", n)
        curate(src, Path(tmp) / "out", cfg(0.05), progress=False)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--render-n", type=int, default=400)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = write_pool(work / "big.jsonl", args.n)

        def baseline() -> None:
            with src.open() as f, (work / "copy.jsonl").open("w") as g:
                for line in f:
                    g.write(json.dumps(json.loads(line), sort_keys=True) + "\n")

        base = timed(baseline)
        stream = timed(lambda: curate(src, work / "stream", cfg(0.0), progress=False))
        cache = timed(lambda: curate(src, work / "stream", cfg(0.0), progress=False))
        print(f"stream  ({args.n} records, nothing rendered): curate {args.n / stream:8.0f} rec/s; "
              f"baseline json loads+dumps {args.n / base:8.0f} rec/s; ratio {base / stream:.3f}")
        print(f"cache hit (same input+config): {cache * 1000:.1f} ms = {cache / stream:.4f} of the first run")

        small = write_pool(work / "small.jsonl", args.render_n)
        t1 = timed(lambda: curate(small, work / "w1", cfg(1.0), workers=1, progress=False))
        t2 = timed(lambda: curate(small, work / "w2", cfg(1.0), workers=2, progress=False))
        same = (work / "w1" / "data.jsonl").read_bytes() == (work / "w2" / "data.jsonl").read_bytes()
        print(f"render  ({args.render_n} records, all rewritten): workers=1 {args.render_n / t1:6.1f} rec/s, "
              f"workers=2 {args.render_n / t2:6.1f} rec/s; speed-up {t1 / t2:.2f}x; identical data.jsonl: {same}")
    rss = {}
    for m in (args.n // 4, args.n):
        out = subprocess.run([sys.executable, __file__, "--child", str(m)], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        rss[m] = float(out)
    (a, ra), (b, rb) = rss.items()
    print(f"memory  peak RSS: {a} records {ra:.0f} MiB, {b} records {rb:.0f} MiB; ratio {rb / ra:.2f} "
          f"for {b / a:.0f}x the input")


if __name__ == "__main__":
    main()
