"""MMLongBench-Doc and CC-OCR's doc_parsing / KIE tracks on small local copies laid out as on the hub (real
multi-page PDFs written by Pillow, Parquet sample files), through the pipeline's evaluate stage with a real tiny
random VLM and through the re-scoring CLI (a real subprocess): the same per-item scores. The official-rule cases
give the values the official code gives: each was computed by running the official function named in its
comment (github:mayubo2333/MMLongBench-Doc d73f0dc ``eval/eval_score.py``; github:AlibabaResearch/
AdvancedLiterateMachinery ``Benchmarks/CC-OCR/evaluation/evaluator/``) on the same strings. The one mock is the
LLM judge: a small OpenAI-compatible HTTP server on loopback stands in for GPT-4o (no hosted model here)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from lomo_ablate.data import probe_items
from lomo_ablate.evaluate import evaluate
from lomo_ablate.evaluate.benchmarks import get_adapter
from lomo_ablate.evaluate.benchmarks.ccocr import kie_counts, kie_ted_acc, parsing_score
from lomo_ablate.evaluate.benchmarks.mmlongbench_doc import (EXTRACTION_PROMPT, PageCache, eval_acc_and_f1,
                                                             eval_score, file_key, page_groups, render_pages,
                                                             rule_extract)
from lomo_ablate.evaluate.benchmarks.records import decoded_bytes
from hub_layouts import (KIE_GOLD, MMLONGBENCH_ROWS, TABLE_GOLD, ccocr_rows, doc_row, png, write_ccocr_track,
                         write_mmlongbench_doc, write_parquet, write_pdf)
from lomo_ablate.evaluate.score import rescore
from loopback_judge import LoopbackJudge

ROOT = Path(__file__).resolve().parents[2]
RENDER = {"math_renderer": "text", "font_size": 14, "min_font_size": 8, "max_width": 400}


def mmlongbench_copy(root: Path) -> Path:
    """yubo2333/MMLongBench-Doc as on the hub: data/*.parquet + documents/*.pdf; plus four hostile rows."""
    folder = root / "MMLongBench-Doc"
    write_mmlongbench_doc(root, MMLONGBENCH_ROWS + [doc_row("truncated.pdf", "q?", "a", "Str"),
                                                    doc_row("../outside.pdf", "q?", "a", "Str"),
                                                    doc_row("link.pdf", "q?", "a", "Str"),
                                                    doc_row("missing.pdf", "q?", "a", "Str")])
    write_pdf(root / "outside.pdf", 1)                                     # a real PDF outside the folder
    good = write_pdf(folder / "documents" / "good.pdf", 2).read_bytes()
    (folder / "documents" / "truncated.pdf").write_bytes(good[: len(good) // 3])
    (folder / "documents" / "link.pdf").symlink_to(root / "outside.pdf")   # a symlink leading out
    return folder


def ccocr_copies(root: Path) -> dict[str, Path]:
    """wulipc/CC-OCR's doc_parsing and kie tracks as Parquet (image struct, l2-category = the subset), each with
    one bad row last."""
    img = {"bytes": png("white", (24, 16)), "path": None}
    parsing = ccocr_rows("doc_parsing") + [{"index": 3, "question": "x", "answer": "y", "image": img,
                                            "l2-category": "chart_eng"}]  # no such op
    kie = ccocr_rows("kie") + [{"index": 2, "question": "x", "answer": "{not json", "image": img, "l2-category": "POIE"}]
    return {"ccocr_doc_parsing": next(write_ccocr_track(root, "doc_parsing", parsing).glob("*.parquet")),
            "ccocr_kie": next(write_ccocr_track(root, "kie", kie).glob("*.parquet"))}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(60, 0)]
    return build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model")


def run_cli(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "lomo_ablate.evaluate.score", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_stage_and_cli_agree_and_bad_documents_are_counted_rejections(tiny_dir, tmp_path):
    doc = mmlongbench_copy(tmp_path / "bench")
    cc = ccocr_copies(tmp_path / "bench")
    cfg = {"benchmarks": [{"name": "mmlongbench_doc", "path": str(doc),
                           "options": {"strict": False, "dpi": 18, "max_pages": 5}},
                          *({"name": n, "path": str(p), "options": {"strict": False}} for n, p in cc.items())],
           "protocols": ["standard"], "max_new_tokens": 4, "progress": False, "render": RENDER,
           "mir": {"enabled": False}, "paired": {"enabled": False}}
    metrics = evaluate(tiny_dir, tmp_path / "eval", cfg)
    # every bad row is set aside with its file, row and key, and counted
    assert metrics["rejected"] == {"mmlongbench_doc": 4, "ccocr_doc_parsing": 1, "ccocr_kie": 1}
    rejected = [json.loads(l) for l in (tmp_path / "eval" / "rejected.jsonl").read_text().splitlines()]
    doc_rej = {r["line"]: r for r in rejected if r["benchmark"] == "mmlongbench_doc"}
    assert sorted(doc_rej) == [4, 5, 6, 7] and {r["detail"] for r in doc_rej.values()} == {"doc_id"}
    assert all(r["source"].endswith("test-00000-of-00001.parquet") for r in doc_rej.values())
    assert "not a readable PDF" in doc_rej[4]["reason"]
    assert doc_rej[5]["reason"].startswith("document_outside_root") and "outside.pdf" in doc_rej[5]["reason"]
    assert doc_rej[6]["reason"].startswith("document_outside_root")            # the symlink is followed, refused
    assert doc_rej[7]["reason"].startswith("missing_document")
    assert [r["detail"] for r in rejected if r["benchmark"] != "mmlongbench_doc"] == ["l2-category", "answer"]
    assert metrics["scored_by"] == {"mmlongbench_doc": "rule", "ccocr_doc_parsing": "rule", "ccocr_kie": "rule"}

    rows = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    bm = metrics["benchmark_metrics"]
    assert {"accuracy", "f1", "accuracy_single_page", "accuracy_cross_page", "accuracy_unanswerable"} <= \
        set(bm["mmlongbench_doc"]["standard"])
    doc_m = bm["mmlongbench_doc"]["standard"]
    assert doc_m["n"] == 3 and doc_m["n_unanswerable"] == 1 and doc_m["n_single_page"] == 1
    assert doc_m["n_cross_page"] == 1 and set(doc_m["accuracy_by_source"]) == {"Pure-text", "Table"}
    doc_scores = [r["score"] for r in rows if r["benchmark"] == "mmlongbench_doc"]
    assert doc_m["accuracy"] == pytest.approx(sum(doc_scores) / 3)
    assert doc_m["accuracy_by_source"]["Table"] == doc_scores[1]     # only row 2 cites a table
    assert set(bm["ccocr_doc_parsing"]["standard"]) >= {"score", "score_doc_scan_eng", "score_table_photo_eng"}
    assert set(bm["ccocr_kie"]["standard"]) >= {"f1", "f1_CORD", "f1_POIE", "f1_micro", "acc", "acc_CORD"}
    hub = {"mmlongbench_doc": doc / "data" / "test-00000-of-00001.parquet", **cc}
    for bench, path in hub.items():
        records = pq.read_table(path).to_pylist()
        mine = [r for r in rows if r["benchmark"] == bench]
        kept = records[:len(mine)]                  # the bad rows are the last ones of each file
        lines = tmp_path / f"{bench}.jsonl"
        lines.write_text("".join(json.dumps({"record": {k: v for k, v in rec.items() if k != "image"},
                                             "prediction": r["prediction"]}) + "\n" for rec, r in zip(kept, mine)))
        out = run_cli(bench, str(lines))
        assert [p["score"] for p in out["per_item"]] == [r["score"] for r in mine], bench
        assert [p["detail"] for p in out["per_item"]] == [r["detail"] for r in mine], bench
        agg = {k: v for k, v in out["aggregate"].items() if k != "scored_by"}
        assert json.loads(json.dumps(agg)) == json.loads(json.dumps(bm[bench]["standard"])), bench


def test_pages_are_rendered_and_concatenated_as_the_official_script(tmp_path):
    folder = tmp_path / "MMLongBench-Doc"
    write_pdf(folder / "documents" / "report.pdf", 7)
    write_parquet(folder / "data" / "test-0.parquet", [doc_row("report.pdf", "q?", "20", "Int")])
    # official concat_images: interval = ceil(7 / 5) = 2 pages per image -> 4 images, 3 columns wide
    assert page_groups(7, 5) == [(0, 1), (2, 3), (4, 5), (6, 6)] and page_groups(3, 0) == [(0, 0), (1, 1), (2, 2)]
    adapter = get_adapter("mmlongbench_doc", {"dpi": 36})
    (item,) = adapter.load(folder)
    messages, images = adapter.build_prompt(item)
    assert messages[0]["content"] == "<image>\n" * 4 + "q?"
    assert [im.size for im in images] == [(300, 140)] * 4          # 100x140 px pages at 36 dpi, 3 per row
    assert images[0].getpixel((150, 70)) == (255, 255, 255)         # column 3 of image 1 is blank canvas
    (one,) = get_adapter("mmlongbench_doc", {"dpi": 72, "concat_num": 0, "max_pages": 2}).load(folder)
    assert len(one.images) == 2 and one.metadata["n_pages"] == 2


def docs_copy(root: Path, docs: dict[str, int], order: list[str]) -> Path:
    """A hub-layout copy with the given PDFs (name -> pages) and one question per entry of ``order``."""
    folder = root / "MMLongBench-Doc"
    for name, n in docs.items():
        write_pdf(folder / "documents" / name, n)
    write_parquet(folder / "data" / "test-0.parquet",
                  [doc_row(name, f"Question {i} on {name}?", "20", "Int") for i, name in enumerate(order)])
    return folder


def same_pixels(a: list[Image.Image], b: list[Image.Image]) -> bool:
    return [(im.mode, im.size) for im in a] == [(im.mode, im.size) for im in b] and \
        all(x.tobytes() == y.tobytes() for x, y in zip(a, b))


def test_page_cache_gives_the_same_pixels_and_renders_each_document_once(tmp_path):
    order = ["a.pdf"] * 4 + ["b.pdf"] * 3 + ["a.pdf"]
    folder = docs_copy(tmp_path, {"a.pdf": 7, "b.pdf": 4}, order)
    off = get_adapter("mmlongbench_doc", {"dpi": 36, "page_cache_mb": 0})
    on = get_adapter("mmlongbench_doc", {"dpi": 36})                       # the default cache
    items_off, items_on = off.load(folder), on.load(folder)
    assert off.page_cache is None and on.page_cache is not None
    for protocol in range(2):                                              # e.g. standard, then rendered
        for a, b in zip(items_off, items_on, strict=True):
            assert same_pixels(off.build_prompt(a)[1], on.build_prompt(b)[1]), a.id
    # without the cache every prompt rasterises its document's pages; with it each document is rasterised once
    # for all of its questions and both passes
    assert off.pages_rendered == 2 * sum(it.metadata["n_pages"] for it in items_off)
    assert on.pages_rendered == sum({it.metadata["doc_id"]: it.metadata["n_pages"] for it in items_on}.values())
    stats = on.page_cache.stats()
    assert (stats["entries"], stats["misses"], stats["hits"]) == (2, 2, 2 * len(order) - 2)
    assert stats["bytes"] == sum(decoded_bytes(im) for it in (items_on[0], items_on[4])
                                 for im in on.build_prompt(it)[1])
    # callers get copies: drawing on (or closing) a prompt's images does not change what the next prompt sees
    _, first = on.build_prompt(items_on[0])
    ImageDraw.Draw(first[0]).rectangle((0, 0, 60, 60), fill="black")
    first[1].close()
    _, again = on.build_prompt(items_on[0])
    assert same_pixels(again, off.build_prompt(items_off[0])[1]) and again[0] is not first[0]
    # the canvas holds each page where the official concat_images puts it: page 2 is row 0, column 1 of image 0
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(items_on[0].images[0].path)
    page = pdf[1].render(scale=36 / 72).to_pil()
    pdf.close()
    w, h = page.size
    assert again[0].crop((w, 0, 2 * w, h)).tobytes() == page.tobytes()


def test_page_cache_evicts_the_least_recently_used_by_decoded_bytes(tmp_path):
    assert decoded_bytes(Image.new("RGB", (10, 3))) == 120        # Pillow keeps an RGB pixel in 4 bytes
    assert decoded_bytes(Image.new("L", (10, 3))) == 30
    docs = {name: 7 for name in ("a.pdf", "b.pdf", "c.pdf")}
    folder = docs_copy(tmp_path, docs, list(docs))
    groups = {it.metadata["doc_id"]: it.images for it in get_adapter("mmlongbench_doc", {"dpi": 36}).load(folder)}
    images = {name: render_pages(g) for name, g in groups.items()}
    size = {name: sum(decoded_bytes(im) for im in ims) for name, ims in images.items()}
    keys = {name: PageCache.key(g) for name, g in groups.items()}
    cache = PageCache(size["a.pdf"] + size["b.pdf"] + size["c.pdf"] - 1)    # room for two of the three
    cache.put(keys["a.pdf"], images["a.pdf"])
    cache.put(keys["b.pdf"], images["b.pdf"])
    assert cache.get(keys["a.pdf"]) is not None                             # a is now the most recently used
    cache.put(keys["c.pdf"], images["c.pdf"])
    assert keys["b.pdf"] not in cache and keys["a.pdf"] in cache and keys["c.pdf"] in cache
    assert cache.bytes == size["a.pdf"] + size["c.pdf"] and cache.evictions == 1
    small = PageCache(size["a.pdf"] - 1)                                    # an entry over the whole budget
    assert small.put(keys["a.pdf"], images["a.pdf"]) is False and len(small) == 0 and small.oversize == 1
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        PageCache(0)

    # through the adapter: a 1 MiB budget holds one of these documents but not two
    assert 1 << 19 < size["a.pdf"] <= 1 << 20
    n = docs["a.pdf"]
    for order, renders in ((["a.pdf", "a.pdf", "b.pdf", "b.pdf"], 2 * n),      # grouped: once per document
                           (["a.pdf", "b.pdf", "a.pdf", "b.pdf"], 4 * n)):     # alternating: b evicts a
        folder = docs_copy(tmp_path / "-".join(order), {"a.pdf": n, "b.pdf": n}, order)
        adapter = get_adapter("mmlongbench_doc", {"dpi": 36, "page_cache_mb": 1})
        for it in adapter.load(folder):
            adapter.build_prompt(it)
        assert adapter.pages_rendered == renders, order
        assert len(adapter.page_cache) == 1 and adapter.page_cache.bytes <= 1 << 20


def test_a_changed_or_replaced_pdf_is_rendered_again(tmp_path):
    folder = docs_copy(tmp_path, {"r.pdf": 3}, ["r.pdf"])
    pdf = folder / "documents" / "r.pdf"
    adapter = get_adapter("mmlongbench_doc", {"dpi": 36, "concat_num": 0})
    (item,) = adapter.load(folder)
    before = adapter.build_prompt(item)[1]
    assert adapter.build_prompt(item)[1] and adapter.pages_rendered == 3       # the second prompt: a hit

    key = file_key(pdf)
    write_pdf(pdf, 3, label="profit")                       # rewritten in place: same inode, new size / mtime
    assert file_key(pdf) != key and file_key(pdf)[2] == key[2]
    rewritten = adapter.build_prompt(item)[1]
    assert adapter.pages_rendered == 6
    assert same_pixels(rewritten, render_pages(item.images)) and not same_pixels(rewritten, before)
    assert len(adapter.page_cache) == 1 and adapter.page_cache.stale == 1       # the old pages are dropped

    new = write_pdf(tmp_path / "new.pdf", 3, label="costs")
    os.replace(new, pdf)                                    # replaced: a new inode
    replaced = adapter.build_prompt(item)[1]
    assert adapter.pages_rendered == 9
    assert same_pixels(replaced, render_pages(item.images)) and not same_pixels(replaced, rewritten)
    assert adapter.page_cache.bytes == sum(decoded_bytes(im) for im in replaced) and adapter.page_cache.stale == 2


def test_page_cache_renders_once_for_concurrent_callers(tmp_path):
    import threading

    folder = docs_copy(tmp_path, {"a.pdf": 7}, ["a.pdf"])
    (item,) = get_adapter("mmlongbench_doc", {"dpi": 36}).load(folder)
    cache = PageCache(1 << 26)
    calls: list[int] = []

    def render(groups):  # the real renderer, counted
        calls.append(1)
        return render_pages(groups)

    start = threading.Barrier(6)
    results: list[list[Image.Image]] = []

    def worker():
        start.wait()
        results.append(cache.get_or_render(item.images, render))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 6
    reference = render_pages(item.images)
    assert all(same_pixels(r, reference) for r in results)
    assert len({id(im) for r in results for im in r}) == 6 * len(reference)   # each caller its own copies
    assert cache.stats()["hits"] == 5 and not cache._rendering


@pytest.mark.parametrize("value,message", [(-1, "page_cache_mb must be >= 0"), (1.5, "page_cache_mb: expected an integer"),
                                           (True, "page_cache_mb: expected an integer"),
                                           (1 << 21, "page_cache_mb must be <= 1048576")])
def test_page_cache_mb_is_validated(value, message):
    from lomo_ablate.utils.config import ConfigError

    with pytest.raises(ConfigError, match=f"MMLongBenchDocConfig.{message}"):
        get_adapter("mmlongbench_doc", {"page_cache_mb": value})


# (gt, pred, answer_format, what the official eval_score(gt, pred, answer_format) returns)
OFFICIAL_EVAL_SCORE = [
    ("8", "8.0", "Int", 1.0),                                  # int(float(pred))
    ("8", "eight", "Int", 0.0),
    ("12.5%", "0.125", "Float", 1.0),                          # is_float_equal tries gt/100, gt, gt*100
    ("3.14", "3.1", "Float", 0.0),                             # 1% tolerance, rounding to >= 2 places
    ("4.5", "4.55", "Float", 0.0),
    ("Less well-off", "less well off", "Str", 0.9230769230769231),   # ANLS of the cleaned strings
    ("abcd", "abXY", "Str", 0.0),                              # ANLS exactly 0.5 counts as 0 (<= threshold)
    ("https://a.b/c", "https://a.b/c/", "Str", 0.0),           # is_exact_match: a URL must be equal
    ("2019-03", "2019 03", "Str", 0.0),                        # YYYY-MM: exact
    ("Not answerable", "Not answerable", "None", 1.0),
    ("['a', 'b']", "['B', 'A']", "List", 1.0),                 # sorted, cleaned, joined
    ("['1', '2']", "['2', '1']", "List", 1.0),
    ("['apple pie', 'banana']", "['banana', 'apple pi']", "List", 0.8888888888888888),  # min ANLS
    ("['a', 'b']", "['a']", "List", 0.0),                      # lengths differ
]


@pytest.mark.parametrize("gt,pred,fmt,expected", OFFICIAL_EVAL_SCORE)
def test_eval_score_matches_the_official_function(gt, pred, fmt, expected):
    assert eval_score(gt, pred, fmt) == pytest.approx(expected, abs=1e-12)


def test_acc_f1_and_rule_extraction():
    samples = [{"score": 1.0, "answer": "a", "pred": "a"}, {"score": 0.0, "answer": "Not answerable", "pred": "b"},
               {"score": 1.0, "answer": "Not answerable", "pred": "Not answerable"},
               {"score": 0.0, "answer": "c", "pred": "Not answerable"}]
    assert eval_acc_and_f1(samples) == (0.5, 0.5)  # official eval_acc_and_f1: recall 1/2, precision 1/2
    assert eval_score("['x']", "[__import__('os')]", "List") == 0.0   # never evaluated: literal_eval fails -> 0
    assert rule_extract("Extracted answer: 12\nAnswer format: Integer", "Int") == "12"
    assert rule_extract("Page 2 shows revenue of 20 million, so the answer is 20.", "Int") == "20"
    assert rule_extract("The document does not mention the CEO.", "Str") == "Not answerable"
    assert rule_extract("The chart lists ['tea', 'cake'].", "List") == "['tea', 'cake']"
    assert rule_extract("- tea\n- cake", "List") == "['tea', 'cake']"
    assert eval_score("['cake', 'tea']", rule_extract("tea, cake", "List"), "List") == 1.0


def _extract(body: dict) -> str:
    """Answers like GPT-4o with the official extraction format: 'Extracted answer: <last word of the analysis>'
    — except for an analysis containing 'garble', where it answers out of format."""
    analysis = body["messages"][-1]["content"].split("Analysis:")[1].strip()
    return "no idea" if "garble" in analysis else f"Extracted answer: {analysis.split()[-1]}\nAnswer format: Integer"


def test_judge_extraction_is_the_official_request_and_marked(tmp_path):
    with LoopbackJudge(_extract) as extractor:
        judge = {"base_url": extractor.url, "model": "gpt-4o"}
        rec = doc_row("report.pdf", "What is the revenue on page 2?", "20", "Int")
        path = tmp_path / "preds.jsonl"
        path.write_text("".join(json.dumps({"record": rec, "prediction": p}) + "\n"
                                for p in ("Revenue on page 2 is 20", "It is 21", "garble 20")))
        out = rescore("mmlongbench_doc", path, {"judge": judge})
    assert [p["score"] for p in out["per_item"]] == [1.0, 0.0, 0.0]
    assert out["per_item"][2]["detail"]["pred"] == "Failed to extract"   # official run_lvlm.py
    assert out["aggregate"]["scored_by"] == "judge"
    assert len(extractor.bodies) == 3                                    # one request per reply (cached)
    body = extractor.bodies[0]
    assert body["model"] == "gpt-4o" and body["temperature"] == 0 and body["max_tokens"] == 256
    assert body["messages"] == [
        {"role": "user", "content": EXTRACTION_PROMPT},
        {"role": "assistant", "content": "\n\nQuestion:What is the revenue on page 2?\nAnalysis:Revenue on page 2 is 20\n"}]
    assert EXTRACTION_PROMPT.startswith("Given the question and analysis, you are tasked to extract answers")


# (op, gold, reply, what the official ParsingEvaluator.evaluate_single_*_sample(gold, reply) returns)
OFFICIAL_PARSING = [
    ("table", TABLE_GOLD, '```html\n<table><tr><td>Name</td><td>Qty</td></tr><tr><td colspan="2">Total 3</td></tr>'
                          '</table>\n```', 1.0),               # fence, spaces, full-width digit: all normalised
    ("table", TABLE_GOLD, "<table><tr><td>Name</td><td>Qt</td></tr></table>", 0.5333333333333334),
    ("table", TABLE_GOLD, "<table><tr><td>Nme</td><td>Qty</td></tr><tr><td>Total</td><td>3</td></tr></table>", 0.625),
    ("table", TABLE_GOLD, "I cannot read the table.", 0.0),    # no <table>: TEDS 0
    ("doc", "Hello World\n\\section{A}",
     "\\documentclass{article}\n\\begin{document}\n```latex\nHello Wrld \\section{A}\n```", 0.9523809523809523),
    ("formula", "\\frac{a}{b}", "```latex\n\\frac{a}{c}\n```", 0.9090909090909091),
    ("molecular", "CCO", "<smiles>CC=O</smiles>", 0.75),
]


@pytest.mark.parametrize("op,gold,reply,expected", OFFICIAL_PARSING)
def test_doc_parsing_matches_the_official_evaluator(op, gold, reply, expected):
    score, error = parsing_score(reply, gold, op)
    assert score == pytest.approx(expected, abs=1e-12)
    assert (error is not None) == (expected == 0.0)


# (reply, tp, fn_or_fp: what the official cal_f1_all counts after KieEvaluator's normalisation,
#  ted_acc: what the official cal_acc gives — kie_evaluator.py, run on the same values)
OFFICIAL_KIE = [
    ('```json\n{"company": "ACME ltd", "items": [{"name": "tea", "price": "3.00"}, {"name": "cake", "price": "5.0"}],'
     ' "total": "8.00"}\n```', 5, 2, 0.9393939393939394),       # full-width gold normalised; "5.0" != "5"
    ('{"company": "ACME  ltd", "total": ["8.00"], "extra": "x"}', 2, 5, 0.4242424242424242),
    ("not json at all", 0, 6, 0.0),                             # post_process_to_json -> None: all gold missed
    ("null", 0, 6, 0.0),
    ('["8.00"]', 0, 7, 0.12121212121212122),                    # a list: a field with an empty key
    ('{"items": [{"name": "tee"}]}', 0, 7, 0.1515151515151515),
]


@pytest.mark.parametrize("reply,tp,fn_or_fp,ted_acc", OFFICIAL_KIE)
def test_kie_matches_the_official_field_f1_and_ted_accuracy(reply, tp, fn_or_fp, ted_acc):
    d = kie_counts(reply, KIE_GOLD)
    assert (d["tp"], d["fn_or_fp"]) == (tp, fn_or_fp)
    assert ("error" in d) == (reply in ("not json at all", "null"))
    assert kie_ted_acc(reply, KIE_GOLD) == pytest.approx(ted_acc, abs=1e-12)


def test_kie_aggregate_is_the_mean_of_per_subset_micro_f1(tmp_path):
    recs = [{"index": i, "question": "q", "answer": json.dumps(g), "l2-category": s}
            for i, (g, s) in enumerate([({"a": "1", "b": "2"}, "CORD"), ({"a": "1"}, "CORD"), ({"n": "x"}, "POIE")])]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"record": r, "prediction": p}) + "\n"
                            for r, p in zip(recs, ['{"a": "1", "b": "3"}', '{"a": "1"}', "oops"])))
    agg = rescore("ccocr_kie", path)["aggregate"]
    cord = 2 / (2 + 2 / 2 + 1e-6)                    # tp 2, fn_or_fp 2 pooled over CORD's two items
    assert agg["f1_CORD"] == pytest.approx(cord) and agg["f1_POIE"] == 0.0
    assert agg["f1"] == pytest.approx(cord / 2) and agg["f1_micro"] == pytest.approx(2 / (2 + 3 / 2 + 1e-6))
    assert agg["n_errors"] == 1 and agg["track"] == "kie"
    # nTED accuracy: item 1 misses b's value by one edit out of 1 + 1 + 1 + 1 = 4 (keys a, b + leaves), item 2
    # is exact, item 3 is no JSON; cal_acc_all divides each subset's sum by n + 1e-6
    assert agg["acc_CORD"] == pytest.approx((0.75 + 1.0) / (2 + 1e-6)) and agg["acc_POIE"] == 0.0
    assert agg["acc"] == pytest.approx((agg["acc_CORD"] + agg["acc_POIE"]) / 2)


def test_eval_judge_reaches_mmlongbench_doc_and_bad_options_are_named():
    from lomo_ablate.evaluate.config import EvalConfig
    from lomo_ablate.utils.config import ConfigError

    cfg = EvalConfig.from_dict({"benchmarks": [{"name": "mmlongbench_doc", "path": "x"}, {"name": "ccocr_kie", "path": "y"}],
                                "judge": {"base_url": "http://127.0.0.1:9/v1", "model": "m"}})
    cfg.validate()
    assert get_adapter("mmlongbench_doc", cfg.benchmarks[0].adapter_options()).scored_by == "judge"
    assert "judge" not in cfg.benchmarks[1].options             # KIE has an exact rule: no judge
    with pytest.raises(ConfigError, match="dpi"):
        get_adapter("mmlongbench_doc", {"dpi": 0})
    with pytest.raises(ConfigError, match="track must be one of multi_scene_ocr, multi_lan_ocr, doc_parsing, kie"):
        get_adapter("ccocr", {"track": "tables"})


def test_a_documents_questions_are_evaluated_by_one_rank_under_every_protocol(tiny_dir, tmp_path):
    """MMLongBench-Doc's shard groups: each document's questions, under both protocols, go to one rank (the one
    that renders and caches its pages); two ranks run in turn here (files, no process group) and gather the same
    predictions as one rank."""
    import zlib

    from lomo_ablate.distributed import DistributedEnvironment
    from lomo_ablate.evaluate.engines import shards

    names = [f"doc{i}.pdf" for i in range(12)]
    owner = {n: zlib.crc32(f"mmlongbench_doc:{n}".encode()) % 2 for n in names}
    docs = [next(n for n in names if owner[n] == 0), next(n for n in names if owner[n] == 1)]
    folder = tmp_path / "MMLongBench-Doc"
    for d in docs:
        write_pdf(folder / "documents" / d, 2, (60, 84))
    rows = [doc_row(d, f"What is on page {p}?", str(10 * p), "Int", f"[{p}]") for d in docs for p in (1, 2, 1)]
    write_parquet(folder / "data" / "test-00000-of-00001.parquet", rows)
    cfg = {"benchmarks": [{"name": "mmlongbench_doc", "path": str(folder)}], "protocols": ["standard", "rendered"],
           "max_new_tokens": 3, "progress": False, "render": {"math_renderer": "text", "font_size": 14},
           "mir": {"enabled": False}, "paired": {"enabled": False}}

    def rank(r: int) -> DistributedEnvironment:
        return DistributedEnvironment(rank=r, world_size=2, local_rank=r, local_world_size=2,
                                      master_addr="127.0.0.1", master_port=29500, source="torchrun")

    two = tmp_path / "two"
    assert evaluate(tiny_dir, two, cfg, env=rank(1)) == {"rank": 1, "generated": 6}
    part = [json.loads(l) for l in (two / shards.PARTS / "rank1.jsonl").read_text().splitlines()]
    doc_of = {f"row{i + 1}": r["doc_id"] for i, r in enumerate(rows)}
    assert {(r["protocol"], doc_of[r["item_id"]]) for r in part} == {("standard", docs[1]), ("rendered", docs[1])}
    evaluate(tiny_dir, two, cfg, env=rank(0))
    evaluate(tiny_dir, tmp_path / "one", cfg)
    assert (two / "predictions.jsonl").read_bytes() == (tmp_path / "one" / "predictions.jsonl").read_bytes()
