"""MMLongBench-Doc prompt building: the page cache off against on, one run.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/mmlongbench_pages.py --docs 4 --pages 30 --questions 8

Writes a hub-layout copy (``data/test-*.parquet`` + ``documents/*.pdf``) of ``--docs`` US-letter PDFs of
``--pages`` pages each (Pillow's PDF writer: one JPEG-coded page image with text per page), ``--questions``
questions per document in the hub's order (a document's questions together), then builds every item's prompt
(``adapter.build_prompt``: the official 144 dpi, 5 images, 3 pages per row) with ``page_cache_mb: 0`` and with
the default cache, each pass on its own adapter, off first. Prints seconds per item (wall and this process's
CPU), the pages rasterised, and the ratios; then checks that both passes gave the same pixels.
"""
from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from lomo_ablate.evaluate.benchmarks import get_adapter


def write_copy(root: Path, docs: int, pages: int, questions: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / "MMLongBench-Doc"
    (folder / "documents").mkdir(parents=True)
    rows = []
    for d in range(docs):
        ims = []
        for p in range(pages):
            im = Image.new("RGB", (612, 792), "white")  # 612x792 px at Pillow's 72 dpi: a US-letter page
            draw = ImageDraw.Draw(im)
            for line in range(40):
                draw.text((40, 30 + 18 * line), f"Document {d} page {p + 1} line {line}: revenue {d * p + line}",
                          fill="black")
            ims.append(im)
        ims[0].save(folder / "documents" / f"doc{d}.pdf", "PDF", save_all=True, append_images=ims[1:])
        rows += [{"doc_id": f"doc{d}.pdf", "doc_type": "Research report / Introduction",
                  "question": f"What is the revenue on page {q + 1} of document {d}?", "answer": str(d * q),
                  "answer_format": "Int", "evidence_pages": f"[{q + 1}]", "evidence_sources": "['Pure-text']"}
                 for q in range(questions)]
    (folder / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "test-00000-of-00001.parquet")
    return folder


def one_pass(folder: Path, options: dict) -> dict:
    """Every item's build_prompt, timed alone (the pixel digest of its images is taken outside the timing)."""
    adapter = get_adapter("mmlongbench_doc", options)
    items = adapter.load(folder)
    digests, wall, cpu, split = [], 0.0, 0.0, {"rendered": [], "from cache": []}
    for it in items:
        rendered = adapter.pages_rendered
        w0, c0 = time.perf_counter(), time.process_time()
        _, images = adapter.build_prompt(it)
        dt = time.perf_counter() - w0
        wall, cpu = wall + dt, cpu + time.process_time() - c0
        split["rendered" if adapter.pages_rendered > rendered else "from cache"].append(dt)
        digests.append(hashlib.sha256(b"".join(im.tobytes() for im in images)).hexdigest())
        del images
    return {"items": len(items), "wall_s": wall, "cpu_s": cpu, "pages_rendered": adapter.pages_rendered,
            "split": split, "digests": digests, "cache": adapter.page_cache.stats() if adapter.page_cache else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=4)
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--dpi", type=int, default=144)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_copy(Path(tmp), args.docs, args.pages, args.questions)
        off = one_pass(folder, {"dpi": args.dpi, "page_cache_mb": 0})
        on = one_pass(folder, {"dpi": args.dpi})
    assert off["digests"] == on["digests"], "the cache changed the pixels"
    n = off["items"]
    print(f"{args.docs} documents x {args.pages} pages x {args.questions} questions = {n} items, {args.dpi} dpi")
    for name, r in (("cache off", off), ("cache on", on)):
        print(f"{name:10s} {r['wall_s'] / n:.3f} s/item wall, {r['cpu_s'] / n:.3f} s/item CPU, "
              f"{r['pages_rendered']} pages rendered; " +
              ", ".join(f"{k}: {len(v)} items, {sum(v) / len(v):.3f} s each" for k, v in r["split"].items() if v))
    print(f"ratio      {off['wall_s'] / on['wall_s']:.2f}x wall, {off['cpu_s'] / on['cpu_s']:.2f}x CPU, "
          f"renders {off['pages_rendered']} -> {on['pages_rendered']}")
    print(f"cache      {on['cache']}")
    print("pixels     identical with and without the cache (sha256 of every item's images)")


if __name__ == "__main__":
    main()
