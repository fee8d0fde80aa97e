"""Peak memory of MIR's hidden-state pass: every item open at once (the old path) vs a window at a time.

MIR (and the paired distance) read ``mir.n`` items twice. The evaluate stage used to open all of them — their
images decoded — before the first forward pass; now it hands ``modality_states`` a lazy sequence
(``run._PromptWindow``) that opens one window of ``batch_size`` items at a time, keeping encoded inputs only up
to ``eval.chunk_mb``. This script builds the tiny VLM and a DocVQA-layout copy whose pages are large (default
24 items of 2000×2600 px, ~21 MB each as Pillow holds them; a real document benchmark's item can hold ~1 GB),
then runs the MIR pass in a fresh process per mode and reports the peak resident memory above the process's
level after loading, the wall time, and whether the two modes' MIR values are identical.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/eval_alignment_memory.py
    PYTHONPATH=$PWD .venv/bin/python benchmarks/eval_alignment_memory.py --items 48 --size 2000x2600 --batch 8
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


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(root: Path, n_items: int, size: tuple[int, int]) -> tuple[Path, Path]:
    """The tiny model and a DocVQA-layout parquet of ``n_items`` large white pages with a line of text."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image, ImageDraw

    from lomo_ablate.data import probe_items
    from lomo_ablate.models import TinyModelConfig, build_tiny

    model = build_tiny(TinyModelConfig(), [f"{it.question} {it.answer}" for _, it in probe_items(60, 0)],
                       root / "model")
    rows = []
    for i in range(n_items):
        im = Image.new("RGB", size, "white")
        ImageDraw.Draw(im).text((40, 40), f"Invoice {i}: total ${10 + i}.50", fill="black")
        buf = io.BytesIO()
        im.save(buf, "PNG")
        rows.append({"questionId": str(i), "question": f"What is the total of invoice {i}?",
                     "answers": [f"${10 + i}.50"], "image": {"bytes": buf.getvalue(), "path": f"p{i}.png"}})
    schema = pa.schema([("questionId", pa.string()), ("question", pa.string()), ("answers", pa.list_(pa.string())),
                        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())]))])
    data = root / "DocVQA" / "validation-00000-of-00001.parquet"
    data.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), data)
    return model, data.parent


def one(mode: str, model_dir: str, data: str, batch: int, max_tokens: int) -> dict:
    """Run the MIR pass once in this process (``eager``: all items opened first, the old path; ``windowed``)."""
    from lomo_ablate.evaluate.alignment import mir
    from lomo_ablate.evaluate.config import BenchmarkSpec, EvalConfig
    from lomo_ablate.evaluate.hidden import modality_states
    from lomo_ablate.evaluate.protocols import parse_protocol, prompts_for
    from lomo_ablate.evaluate.run import _PromptWindow, load_items, materialize
    from lomo_ablate.models import load_pretrained

    model, processor = load_pretrained(model_dir)
    refs, adapters, _ = load_items([BenchmarkSpec(name="docvqa", path=data)])
    proto = parse_protocol("standard")
    base = _rss_mb()
    t0 = time.perf_counter()
    if mode == "eager":
        prompts = prompts_for(materialize(refs, adapters), proto, None)
        keep = None
    else:
        prompts = _PromptWindow(refs, adapters, proto, None, batch)
        keep = EvalConfig().chunk_mb * 2**20
    vis, txt = modality_states(model, processor, prompts, batch, max_tokens, 0, False, keep_bytes=keep)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "peak_above_mb": round(peak - base, 1), "wall_s": round(wall, 2),
            "mir": mir(vis, txt).to_dict()["mean"], "n_items": len(refs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=24)
    ap.add_argument("--size", default="2000x2600", help="page size WxH in pixels")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=2000)
    ap.add_argument("--one", nargs=3, metavar=("MODE", "MODEL", "DATA"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], args.one[2], args.batch, args.max_tokens)))
        return
    w, h = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        model, data = build(Path(tmp), args.items, (w, h))
        out = []
        for mode in ("eager", "windowed"):
            p = subprocess.run([sys.executable, __file__, "--batch", str(args.batch), "--max-tokens",
                                str(args.max_tokens), "--one", mode, str(model), str(data)],
                               capture_output=True, text=True, check=True)
            out.append(json.loads(p.stdout.strip().splitlines()[-1]))
            print(json.dumps(out[-1]), flush=True)
    eager, windowed = out
    print(f"{args.items} items of {w}x{h} px, batch {args.batch}: peak memory above the loaded process "
          f"{eager['peak_above_mb']:.0f} MB (all items open) vs {windowed['peak_above_mb']:.0f} MB (a window at a "
          f"time): {eager['peak_above_mb'] / max(windowed['peak_above_mb'], 1e-9):.1f}x less; wall "
          f"{eager['wall_s']:.1f} s vs {windowed['wall_s']:.1f} s; MIR identical: {eager['mir'] == windowed['mir']}")


if __name__ == "__main__":
    main()
