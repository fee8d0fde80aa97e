"""Peak memory of reading a JSON array pool: 100 MB vs a bigger one (flat means the same peak).

    python benchmarks/curate_memory.py [--sizes 100 1000]

Writes a JSON array of SFT records of each size (MB), then in a fresh process streams it into the pool's
JSONL copy and indexes it (``readers.materialize`` + ``io.index_jsonl``: the part of curation whose memory
could grow with the input), and reports that process's peak RSS. The per-record work after that reads one
shard at a time (benchmarks/curate_scale.py)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from lomo_ablate.curate.readers import expand_pool, materialize
from lomo_ablate.curate.io import index_jsonl
t0 = time.perf_counter()
path, segs = materialize(expand_pool(sys.argv[1]), Path(sys.argv[2]), "text")
idx = index_jsonl(path, 256)
print(idx.records, round(time.perf_counter() - t0, 2), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def write_array(path: Path, mb: int) -> int:
    n = 0
    target = mb << 20
    with path.open("w", encoding="utf-8") as f:
        f.write("[\n")
        size = 2
        while size < target:
            rec = json.dumps({"id": n, "conversations": [
                {"from": "human", "value": f"Question {n}. " + "Some context sentence here. " * 20},
                {"from": "gpt", "value": "An answer. " * 30}]}, ensure_ascii=False)
            f.write(("," if n else "") + rec + "\n")
            size += len(rec) + 2
            n += 1
        f.write("]\n")
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        for mb in args.sizes:
            src = Path(d) / f"a{mb}.json"
            t0 = time.perf_counter()
            n = write_array(src, mb)
            out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(Path(d) / f"w{mb}"), str(ROOT)],
                                 capture_output=True, text=True, check=True).stdout.split()
            print(f"{mb:5d} MB JSON array, {n} records: streamed+indexed {out[0]} records in {out[1]} s, "
                  f"peak RSS {out[2]} MiB (write {time.perf_counter() - t0:.0f} s total)")
            src.unlink()


if __name__ == "__main__":
    main()
