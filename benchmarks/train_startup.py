"""Time to the first optimizer step of ``train()`` against the dataset size: today's code vs an older git ref.

For each size, a curated dataset of N records (``Compute a + b`` -> ``a+b``; every ``--image-every``-th
record carries its operands as a PNG, drawn from a pool of 256 real files) is written once, the tiny model
is built once from its texts and copied in as ``tiny_init`` (as a requeued job finds it), and then each
code version runs ``train()`` in a fresh child process: the clock starts just before ``train()`` is called
(imports done) and stops when step 1's metrics arrive. The older ref (default ``28771ba``: every record
checked and encoded before step 1) is unpacked with ``git archive`` into a temporary folder; "after" is
this working tree. A requeue starts the same way (a checkpoint adds its load time to both).

    .venv/bin/python benchmarks/train_startup.py --sizes 10000 100000 [--before-ref 28771ba] [--after-only 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from lomo_ablate.models import ModelConfig
from lomo_ablate.train import TrainerConfig, train
import lomo_ablate
data, out, trainer = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

class FirstStep(Exception):
    pass

def stop(step, metrics):
    raise FirstStep

t0 = time.perf_counter()
try:
    train(data, out, ModelConfig(), TrainerConfig.from_dict(trainer), seed=0, log_fn=stop)
except FirstStep:
    pass
print("FIRST_STEP", json.dumps({"seconds": time.perf_counter() - t0, "code": lomo_ablate.__file__}), flush=True)
"""


def write_records(root: Path, n: int, image_every: int, pool: int = 256) -> Path:
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True, exist_ok=True)
    for k in range(pool):
        img = Image.new("RGB", (96, 24), "white")
        ImageDraw.Draw(img).text((2, 4), f"{k % 7} + {k % 5}", fill="black")
        img.save(root / "images" / f"{k:03d}.png")
    rng = random.Random(0)
    with (root / "data.jsonl").open("w") as f:
        for i in range(n):
            a, b = rng.randrange(7), rng.randrange(5)
            if image_every and i % image_every == 0:
                k = rng.randrange(pool)
                a, b = k % 7, k % 5
                rec = {"id": f"r{i}", "messages": [{"role": "user", "content": "Compute <image> please."},
                                                   {"role": "assistant", "content": f"The sum is {a + b}."}],
                       "images": [f"images/{k:03d}.png"]}
            else:
                rec = {"id": f"r{i}", "messages": [{"role": "user", "content": f"Compute {a} + {b} please."},
                                                   {"role": "assistant", "content": f"The sum is {a + b}."}],
                       "images": []}
            f.write(json.dumps(rec) + "\n")
    (root / "_SUCCESS").write_text("")
    return root


def build_init(data: Path, target: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from lomo_ablate.models import ModelConfig, build_tiny
    from lomo_ablate.train.data import tokenizer_corpus

    build_tiny(ModelConfig().tiny, tokenizer_corpus(data), target)
    (target / "_SUCCESS").write_text("")


def first_step(code: Path, data: Path, out: Path, init: Path, trainer: dict) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copytree(init, out / "tiny_init")
    env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(data), str(out), json.dumps(trainer)],
                          env=env, capture_output=True, text=True, cwd=str(out))
    line = next((x for x in proc.stdout.splitlines() if x.startswith("FIRST_STEP")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    got = json.loads(line.split(" ", 1)[1])
    assert Path(got["code"]).resolve().is_relative_to(code.resolve()), got  # the intended code ran
    return got["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--after-only", type=int, nargs="*", default=[], help="sizes timed for this tree only")
    ap.add_argument("--before-ref", default="28771ba", help="git ref of the eager code ('' to skip it)")
    ap.add_argument("--image-every", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=0, help="trainer.num_workers")
    args = ap.parse_args()
    trainer = {"per_device_batch_size": args.batch, "max_seq_len": 512, "progress": False, "device": "cpu",
               "num_workers": args.workers, "save_every": 0}
    work = Path(tempfile.mkdtemp(prefix="train-startup-"))
    try:
        before = None
        if args.before_ref:
            before = work / "before"
            before.mkdir()
            tar = subprocess.run(["git", "-C", str(ROOT), "archive", args.before_ref, "lomo_ablate"],
                                 check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=tar, check=True)
        rows = []
        for n in sorted(set(args.sizes) | set(args.after_only)):
            t = time.perf_counter()
            data = write_records(work / f"data{n}", n, args.image_every)
            init = work / f"init{n}"
            build_init(data, init)
            print(f"{n} records written and tiny model built in {time.perf_counter() - t:.1f}s", flush=True)
            after_s = first_step(ROOT, data, work / "out-after", init, trainer)
            before_s = first_step(before, data, work / "out-before", init, trainer) \
                if before is not None and n in args.sizes else None
            rows.append((n, before_s, after_s))
            print(f"{n:>9} records: first step after {after_s:7.2f}s"
                  + (f"   before ({args.before_ref}) {before_s:8.2f}s   ratio {before_s / after_s:6.1f}x"
                     if before_s is not None else ""), flush=True)
        print("\n| records | before: first step (s) | after: first step (s) | before / after |")
        print("|---|---|---|---|")
        for n, b, a in rows:
            print(f"| {n:,} | {'' if b is None else f'{b:.1f}'} | {a:.2f} | {'' if b is None else f'{b / a:.0f}x'} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
