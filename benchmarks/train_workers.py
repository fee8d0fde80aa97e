"""Training steps/s of the embedded default against ``trainer.num_workers`` (0, 1, 2, 4), in one run.

The data are the embedded default job's curated dataset (36,000 records, about a third with rendered
images), found in the store by the default config's curate key — run ``python -m lomo_ablate`` once first
(or pass ``--data DIR``). The model is the default job's starting point (the reader of the read stage when
the store has it, else the tiny init) and the trainer config is the default's (``conf/trainer/cpu.yaml``:
batch 32, ``cache_encoded_mb`` 512) with ``max_steps=--steps``; only ``num_workers`` changes between runs.
Each run is a ``train()`` in this process; steps/s is timed from the metrics of step ``--skip`` + 1 to the
last step's (worker start-up, model loading and the first steps are out); the counts run round-robin
``--repeats`` times (best and median reported), and every run's losses must equal num_workers=0's.

    .venv/bin/python benchmarks/train_workers.py --steps 40 --repeats 2 [--threads 1] [--workers 0 1 2 4] [--data DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def default_job() -> tuple[Path, Path | None, object, dict]:
    """(curated data dir, reader dir or None, ModelConfig, trainer dict) of the embedded default."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from lomo_ablate.models import ModelConfig
    from lomo_ablate.pipeline.schema import register_schemas
    from lomo_ablate.pipeline.stages import plan, reader_dir
    from lomo_ablate.pipeline.store import Store

    register_schemas()  # the defaults list names the structured schema (as the app registers it)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config")
    root = Path(cfg.store_dir)
    store = Store(root if root.is_absolute() else REPO / root)
    keys = {p.name: p.key for p in plan(cfg)}
    curate = store.path("curate", keys["curate"])
    if not store.is_done("curate", keys["curate"]):
        raise SystemExit(f"{curate}: the default job's curated data are not in the store; run "
                         f"`python -m lomo_ablate` once (or pass --data DIR)")
    reader = None
    if "read" in keys and store.is_done("read", keys["read"]):
        reader = reader_dir(store.path("read", keys["read"]))
    model = ModelConfig.from_dict(OmegaConf.to_container(cfg.model, resolve=True))
    return curate, reader, model, OmegaConf.to_container(cfg.trainer, resolve=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2, 4])
    ap.add_argument("--repeats", type=int, default=2, help="rounds over the worker counts (best is reported)")
    ap.add_argument("--skip", type=int, default=5, help="first steps left out of the timing")
    ap.add_argument("--threads", type=int, default=None, help="torch threads of the training process "
                    "(default: torch's own, one per core); workers use one each")
    ap.add_argument("--data", type=Path, default=None, help="a curated dataset dir (default: the default job's)")
    args = ap.parse_args()

    import torch

    from lomo_ablate.train import TrainerConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)

    data, reader, model, trainer = default_job() if args.data is None else (args.data, None, None, {})
    if model is None:
        from lomo_ablate.models import ModelConfig

        model = ModelConfig()
    if reader is not None:
        model = dataclasses.replace(model, name_or_path=str(reader))
    trainer.update(max_steps=args.steps, progress=False, save_every=0)
    print(f"data {data}; model {model.name_or_path}; batch {trainer.get('per_device_batch_size')}, "
          f"cache_encoded_mb {trainer.get('cache_encoded_mb')}, {args.steps} steps, "
          f"{torch.get_num_threads()} torch thread(s)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="train-workers-"))
    rates: dict[int, list[float]] = {w: [] for w in args.workers}
    same: dict[int, bool] = {w: True for w in args.workers}
    ref = None
    try:
        for rep in range(args.repeats):  # round-robin, so load from other work hits every count alike
            for w in args.workers:
                stamps: list[float] = []
                out = work / f"w{w}"
                if (work / "tiny_init").is_dir():  # tiny model: every run starts from the same init
                    shutil.copytree(work / "tiny_init", out / "tiny_init")
                res = train(data, out, model, TrainerConfig.from_dict(dict(trainer, num_workers=w)), seed=0,
                            log_fn=lambda step, m: stamps.append(time.perf_counter()))
                if (out / "tiny_init").is_dir() and not (work / "tiny_init").is_dir():
                    shutil.copytree(out / "tiny_init", work / "tiny_init")
                losses = [json.loads(x)["loss"] for x in res.metrics_path.read_text().splitlines()]
                ref = losses if ref is None else ref
                same[w] = same[w] and losses == ref
                timed = stamps[args.skip:]  # the first steps (first allocations) are left out
                rates[w].append((len(timed) - 1) / (timed[-1] - timed[0]))
                print(f"repeat {rep + 1}: num_workers={w}: {rates[w][-1]:.2f} steps/s, losses equal to "
                      f"num_workers={args.workers[0]}'s: {losses == ref}", flush=True)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = max(rates[args.workers[0]])
    print(f"\n| num_workers | steps/s (best of {args.repeats}) | median | × num_workers={args.workers[0]} (best) "
          f"| losses identical |")
    print("|---|---|---|---|---|")
    for w in args.workers:
        best = max(rates[w])
        print(f"| {w} | {best:.2f} | {statistics.median(rates[w]):.2f} | {best / base:.2f} | "
              f"{'yes' if same[w] else 'NO'} |")

if __name__ == "__main__":
    main()
