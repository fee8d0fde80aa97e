"""Multimodal pass-through from Parquet with image bytes (the LLaVA-OneVision layout), records/s per core.

    python benchmarks/curate_passthrough.py [--n 2000] [--kb 20]

Writes a Parquet subset of ``n`` rows whose ``image`` is an HF Image struct with ~``kb`` KB of PNG bytes,
and the same records as JSONL with the images as files beside it (the baseline: path-based copy). Each is
curated alone as the multimodal pool (workers=1, rewrite_ratio=0: nothing is rendered), so the time is
reading, checking (header + Pillow verify), hashing and writing the images, and the record JSON.
Prints records/s of both and their ratio (same run, same machine)."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402

from lomo_ablate.curate import CurateConfig, curate  # noqa: E402


def png(i: int, kb: int) -> bytes:
    side = max(8, int((kb * 1024 / 3) ** 0.5))
    rng = np.random.default_rng(i)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(buf, format="PNG",
                                                                               compress_level=1)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--kb", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        images = [png(i, args.kb) for i in range(args.n)]
        conv = lambda i: [{"from": "human", "value": f"<image>\nWhat is in picture {i}?"},  # noqa: E731
                          {"from": "gpt", "value": "noise"}]
        rows = [{"id": str(i), "image": {"bytes": b, "path": f"{i}.png"}, "conversations": conv(i)}
                for i, b in enumerate(images)]
        pq.write_table(pa.Table.from_pylist(rows), d / "train-00000-of-00001.parquet")
        (d / "imgs").mkdir()
        with (d / "mm.jsonl").open("w") as f:
            for i, b in enumerate(images):
                (d / "imgs" / f"{i}.png").write_bytes(b)
                f.write(json.dumps({"id": str(i), "image": f"imgs/{i}.png", "conversations": conv(i)}) + "\n")
        text = d / "t.jsonl"
        text.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                                 {"role": "assistant", "content": "a"}]}) + "\n")
        cfg = CurateConfig.from_dict({"mix": {"rewrite_ratio": 0.0}, "shard_size": 512})
        rates = {}
        for name, src in (("parquet bytes", d / "train-00000-of-00001.parquet"), ("jsonl + files", d / "mm.jsonl")):
            t0 = time.perf_counter()
            s = curate(text, d / f"out-{name[:4]}", cfg, multimodal_input=src, workers=1, progress=False)
            dt = time.perf_counter() - t0
            assert s.counts["written"] == args.n + 1 and s.counts["rejected_total"] == 0
            rates[name] = args.n / dt
            print(f"{name:14s}: {args.n} records ({args.kb} KB images) in {dt:6.2f} s = {rates[name]:7.0f} rec/s "
                  f"(workers=1)")
        print(f"ratio parquet/jsonl: {rates['parquet bytes'] / rates['jsonl + files']:.2f}; "
              f"cpus visible: {os.cpu_count()}")


if __name__ == "__main__":
    main()
