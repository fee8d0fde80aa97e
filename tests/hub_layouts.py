"""Small local copies of every registered benchmark, laid out as on the hub, at the path conf/eval/paper.yaml
expects under ``$LOMO_BENCH_DIR`` (a unique module name: importable from every test folder).

``WRITERS[name](bench_dir)`` writes benchmark ``name``'s copy (2-4 rows, real images written by Pillow, real
multi-page PDFs for MMLongBench-Doc) and returns a :class:`HubCopy`: the path ``eval.benchmarks[].path`` names
and, for each item id the adapter gives a row, a right reply (the gold answer in the form the benchmark's rule
expects: it scores the metric's maximum) and a wrong one (it scores 0). The probe suite reads no files
(``BUILT_IN``). tests/evaluate/test_every_benchmark.py fails when a registered benchmark has no writer here.

Rows are the ones the benchmark's own tests use where they had a builder (moved here, imported there);
MM-IFEval's copy is its test's ``hub_copy`` (imported from tests/evaluate/test_bench_mmifeval.py) and MathVista's
rows are tests/evaluate/test_benchmarks_formats.py's, written as the hub's Parquet.
"""
from __future__ import annotations

import base64
import io
import json
import pickle
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

__all__ = ["HubCopy", "WRITERS", "BUILT_IN", "IMAGE_STRUCT", "png", "write_jsonl", "write_parquet", "write_pdf"]

#: datasets' Image feature as stored in Parquet
IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
#: registered benchmarks that read no files (their items are generated)
BUILT_IN = ("probe",)


@dataclass
class HubCopy:
    """``path``: what ``eval.benchmarks[].path`` names; ``replies``: item id -> (right reply, wrong reply)."""

    path: Path
    replies: dict[str, tuple[str, str]]


def png(color="red", size=(12, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def image_cell(color: str = "red", name: str | None = None) -> dict:
    return {"bytes": png(color), "path": name}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def write_pdf(path: Path, n_pages: int, size: tuple[int, int] = (200, 280), label: str = "revenue") -> Path:
    """A real n-page PDF (Pillow's PDF writer), each page numbered in its text (``label`` and a number);
    ``size``: the page in points."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pages = []
    for i in range(n_pages):
        im = Image.new("RGB", size, "white")
        ImageDraw.Draw(im).text((20, 20), f"Page {i + 1}: {label} {10 * (i + 1)}", fill="black")
        pages.append(im)
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:])
    return path


# ------------------------------------------------------------------------------------------ Reasoning
def mmmu_copy(bench: Path) -> Path:
    """MMMU/MMMU: one folder per subject, <split>-*.parquet, image_1.. as datasets' Image struct."""
    rows = [{"id": "validation_Math_1", "question": "<image 1> What is x?", "options": "[]",
             "answer": "['0.5', '1/2']", "question_type": "open", "image_1": {"bytes": png(), "path": "a.png"}},
            {"id": "validation_Art_2", "question": "<image 1> Which style?", "options": "['Baroque', 'Gothic', 'Rococo']",
             "answer": "B", "question_type": "multiple-choice", "image_1": {"bytes": png("blue"), "path": "b.png"}}]
    schema = pa.schema([("id", pa.string()), ("question", pa.string()), ("options", pa.string()),
                        ("answer", pa.string()), ("question_type", pa.string()), ("image_1", IMAGE_STRUCT)])
    write_parquet(bench / "MMMU" / "Math" / "validation-00000-of-00001.parquet", rows, schema)
    return bench / "MMMU"


def write_mmmu(bench: Path) -> HubCopy:
    return HubCopy(mmmu_copy(bench), {"validation_Math_1": ("The answer is 0.5.", "x = 2"),
                                      "validation_Art_2": ("**B**", "**C**")})


def write_mmmu_pro(bench: Path) -> HubCopy:
    """MMMU/MMMU_Pro "standard (10 options)": MMMU's columns, ten options, test-*.parquet."""
    schema = pa.schema([("id", pa.string()), ("question", pa.string()), ("options", pa.string()),
                        ("answer", pa.string()), ("image_1", IMAGE_STRUCT), ("subject", pa.string())])
    rows = [{"id": f"test_Physics_{i}", "question": f"<image 1> Which reading is case {i}?",
             "options": str([f"{10 * k + i} N" for k in range(10)]), "answer": gold, "image_1": image_cell("gray"),
             "subject": "Physics"} for i, gold in ((1, "J"), (2, "C"))]
    path = bench / "MMMU_Pro" / "standard (10 options)"
    write_parquet(path / "test-00000-of-00001.parquet", rows, schema)
    return HubCopy(path, {"test_Physics_1": ("Answer: J", "Answer: A"), "test_Physics_2": ("Answer: C", "Answer: D")})


def write_mmmu_pro_vision(bench: Path) -> HubCopy:
    """MMMU/MMMU_Pro "vision": the question is inside the image; options and the answer letter beside it."""
    schema = pa.schema([("id", pa.string()), ("image", IMAGE_STRUCT), ("options", pa.string()),
                        ("answer", pa.string()), ("subject", pa.string())])
    rows = [{"id": f"test_Art_{i}", "image": image_cell("white", f"v{i}.png"), "options": "['1', '2', '3', '4']",
             "answer": gold, "subject": "Art"} for i, gold in ((1, "B"), (2, "D"))]
    path = bench / "MMMU_Pro" / "vision"
    write_parquet(path / "test-00000-of-00001.parquet", rows, schema)
    return HubCopy(path, {"test_Art_1": ("B", "A"), "test_Art_2": ("D", "C")})


# ------------------------------------------------------------------------------------------------ Math
ZEROBENCH_SCHEMA = pa.schema([("question_id", pa.string()), ("question_text", pa.string()),
                              ("question_answer", pa.string()), ("question_images_decoded", pa.list_(IMAGE_STRUCT))])


def write_zerobench(bench: Path) -> HubCopy:
    """jonathan-roberts1/zerobench: data/*.parquet, question_images_decoded a list of Image structs."""
    rows = [{"question_id": "zb_1", "question_text": "How many dots?", "question_answer": "42",
             "question_images_decoded": [image_cell("red", "q.png")]},
            {"question_id": "zb_2", "question_text": "How many squares?", "question_answer": "7",
             "question_images_decoded": [image_cell("blue", "q2.png"), image_cell("green", "q3.png")]}]
    write_parquet(bench / "ZeroBench" / "data" / "zerobench-00000.parquet", rows, ZEROBENCH_SCHEMA)
    return HubCopy(bench / "ZeroBench", {"zb_1": ("Counting carefully... {42}", "{41}"), "zb_2": ("{7}", "{8}")})


def write_mathvista(bench: Path) -> HubCopy:
    """AI4Math/MathVista: data/testmini-*.parquet (decoded_image struct, choices, precision)."""
    from test_benchmarks_formats import MATHVISTA_SCHEMA, mathvista_rows

    write_parquet(bench / "MathVista" / "data" / "testmini-00000-of-00001.parquet", mathvista_rows(), MATHVISTA_SCHEMA)
    return HubCopy(bench / "MathVista", {"1": ("(B) square", "The answer is A."), "2": ("There are 7 apples.", "8"),
                                         "3": ("slope = 1.25", "slope = 1.3"), "4": ("[-2, 3]", "[2, 3]")})


def wemath_rows() -> list[dict]:
    def row(i, key, ans):
        return {"ID": str(i), "key": key, "question": f"Q{i} {key}", "option": "A. 1; B. 2; C. 3; D. 4",
                "answer": ans, "image_path": "img.png"}
    return [row(1, "2steps_1", "A"), row(1, "2steps_2", "B"), row(1, "2steps_multi", "C"),
            row(2, "2steps_1", "A"), row(2, "2steps_2", "B"), row(2, "2steps_multi", "C"),
            row(3, "3steps_1", "A"), row(3, "3steps_2", "A"), row(3, "3steps_3", "A"), row(3, "3steps_multi", "D"),
            row(4, "2steps_1", "A"), row(4, "2steps_2", "A"), row(4, "2steps_multi", "A")]


def write_wemath(bench: Path, rows: list[dict] | None = None) -> HubCopy:
    """We-Math testmini.jsonl with image_path relative to the file (``rows``: default the first composite
    question and its two steps)."""
    rows = wemath_rows()[:3] if rows is None else rows
    folder = bench / "WeMath"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "img.png").write_bytes(png())
    write_jsonl(folder / "testmini.jsonl", rows)
    wrong = {"A": "B", "B": "C", "C": "D", "D": "A"}
    return HubCopy(folder, {f"{r['ID']}@{r['key']}": (f"Answer: {r['answer']}", f"Answer: {wrong[r['answer']]}")
                            for r in rows})


# ------------------------------------------------------------------------------------------ Factuality
def hallusionbench_rows() -> list[dict]:
    """Two figures x two questions (gt_answer "1"/"0"); figure f's image is figures/<f>.png."""
    base = {"category": "VD", "subcategory": "s", "set_id": "0"}
    return [dict(base, figure_id=str(f), question_id=str(q), question=f"Q{q} on F{f}?", gt_answer=str((f + q) % 2),
                 image=f"figures/{f}.png") for f in range(2) for q in range(2)]


def write_hallusionbench(bench: Path) -> HubCopy:
    folder = bench / "HallusionBench"
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    for f, color in enumerate(("black", "white")):
        (folder / "figures" / f"{f}.png").write_bytes(png(color))
    rows = hallusionbench_rows()
    write_jsonl(folder / "test.jsonl", rows)
    yes_no = {"1": ("Yes.", "No."), "0": ("No, it is not.", "Yes, it is.")}
    return HubCopy(folder, {f"VD_s_0_{r['figure_id']}_{r['question_id']}": yes_no[r["gt_answer"]] for r in rows})


def write_simplevqa(bench: Path) -> HubCopy:
    """m-a-p/SimpleVQA: data_id, question, answer, base64 image strings (aliases separated by |)."""
    buf = io.BytesIO()
    Image.effect_noise((48, 32), 60).convert("RGB").save(buf, "PNG")  # a photo-like image: a long string
    img = base64.b64encode(buf.getvalue()).decode()
    rows = [{"data_id": 1, "question": "Which city is this?", "answer": "Paris", "aliases": "Paris, France|Lutetia",
             "image": img},
            {"data_id": 2, "question": "Which river is this?", "answer": "Seine", "image": img}]
    path = write_jsonl(bench / "SimpleVQA" / "test.jsonl", rows)
    return HubCopy(path.parent, {"1": ("This is Lutetia.", "Rome"), "2": ("Seine", "It is either the Seine or the Loire.")})


# ------------------------------------------------------------------------------------ Instruction following
def write_mm_ifeval(bench: Path) -> HubCopy:
    """The official repository's data/ (MM-IFEval/{C,P}-Level.jsonl, images/ beside it): tests/evaluate/
    test_bench_mmifeval.py's ``hub_copy``, with ``bench`` as data/. Without a judge only C-Level items with
    rule-verified constraints are scored; the other rows are set aside."""
    from test_bench_mmifeval import hub_copy

    with tempfile.TemporaryDirectory() as tmp:
        hub_copy(Path(tmp))
        shutil.copytree(Path(tmp) / "data", bench, dirs_exist_ok=True)
    return HubCopy(bench / "MM-IFEval", {"C-Level/c1": ("A happy orange cat", "A happy, orange, fluffy, big cat"),
                                         "C-Level/c2": ("A dog!", "A dog.")})


# ------------------------------------------------------------------------------------------ Document & OCR
def write_docvqa(bench: Path) -> HubCopy:
    """lmms-lab/DocVQA config DocVQA: validation-*.parquet, answers a list, image struct."""
    schema = pa.schema([("questionId", pa.string()), ("question", pa.string()), ("answers", pa.list_(pa.string())),
                        ("image", IMAGE_STRUCT), ("docId", pa.int64())])
    rows = [{"questionId": "49153", "question": "What is the date?", "answers": ["March 3, 1998", "3/3/1998"],
             "image": image_cell("white", "d1.png"), "docId": 1},
            {"questionId": "49154", "question": "What is the total?", "answers": ["$12.50"],
             "image": image_cell("white", "d2.png"), "docId": 2}]
    write_parquet(bench / "DocVQA" / "validation-00000-of-00001.parquet", rows, schema)
    return HubCopy(bench / "DocVQA", {"49153": ("3/3/1998", "the third of March"), "49154": ("$12.50", "unknown")})


def write_countbench(bench: Path) -> HubCopy:
    """nielsr/countbench (CountBenchQA): data/test-*.parquet; image struct, question, number."""
    schema = pa.schema([("image", IMAGE_STRUCT), ("text", pa.string()), ("question", pa.string()),
                        ("number", pa.int64())])
    rows = [{"image": image_cell("orange"), "text": "three cats", "question": "How many cats are there?", "number": 3},
            {"image": image_cell("brown"), "text": "five dogs", "question": "How many dogs are there?", "number": 5}]
    write_parquet(bench / "CountBench" / "data" / "test-00000-of-00001.parquet", rows, schema)
    return HubCopy(bench / "CountBench", {"row1": ("There are three cats.", "4"), "row2": ("5", "six")})


CC_SCHEMA = pa.schema([("index", pa.int64()), ("question", pa.string()), ("answer", pa.string()), ("image", IMAGE_STRUCT),
                       ("l2-category", pa.string())])
TABLE_GOLD = '<table border="1"><tr><td>Name</td><td>Qty</td></tr>\n<tr><td colspan="2">Total ３</td></tr></table>'
KIE_GOLD = {"company": "ＡＣＭＥ ltd", "items": [{"name": "tea", "price": "3.00"}, {"name": "cake", "price": "5"}],
            "total": "8.00"}


def ccocr_rows(track: str) -> list[dict]:
    """wulipc/CC-OCR rows of one track (l2-category = the subset), all of them usable."""
    img = {"bytes": png("white", (24, 16)), "path": None}
    if track == "multi_scene_ocr":
        golds = [("Read all the text in the image.", "STOP here\nNow!", "en_scene"),
                 ("Read all the text.", "你好世界", "zh_scene")]
    elif track == "doc_parsing":
        golds = [("Transcribe the document into LaTeX.", "Hello World\n\\section{A}", "doc_scan_eng"),
                 ("Convert the table into HTML.", TABLE_GOLD, "table_photo_eng"),
                 ("Give the formula in LaTeX.", "\\frac{a}{b}", "formula_handwriting")]
    else:
        golds = [("Extract company, items and total as JSON.", json.dumps(KIE_GOLD), "CORD"),
                 ("Extract the fields as JSON.", '{"name": "Bo"}', "POIE")]
    return [{"index": i, "question": q, "answer": a, "image": img, "l2-category": s} for i, (q, a, s) in enumerate(golds)]


def write_ccocr_track(bench: Path, track: str, rows: list[dict] | None = None) -> Path:
    """CC-OCR/<track>/test-0.parquet (``rows``: default :func:`ccocr_rows`)."""
    folder = bench / "CC-OCR" / track
    write_parquet(folder / "test-0.parquet", ccocr_rows(track) if rows is None else rows, CC_SCHEMA)
    return folder


def _ccocr(track: str, wrong: str) -> Callable[[Path], HubCopy]:
    def writer(bench: Path) -> HubCopy:
        return HubCopy(write_ccocr_track(bench, track), {str(r["index"]): (r["answer"], wrong) for r in ccocr_rows(track)})

    return writer


def doc_row(doc_id: str, question: str, answer: str, fmt: str, pages: str = "[1]", sources: str = "['Pure-text']"):
    return {"doc_id": doc_id, "doc_type": "Research report / Introduction", "question": question, "answer": answer,
            "evidence_pages": pages, "evidence_sources": sources, "answer_format": fmt}


#: MMLongBench-Doc rows on documents/report.pdf (7 pages): single-page, cross-page and unanswerable
MMLONGBENCH_ROWS = [doc_row("report.pdf", "What is the revenue on page 2?", "20", "Int"),
                    doc_row("report.pdf", "Which word starts page 1?", "Page", "Str", "[1, 2]", "['Pure-text', 'Table']"),
                    doc_row("report.pdf", "What is the CEO's name?", "Not answerable", "None", "[]", "[]")]


def write_mmlongbench_doc(bench: Path, rows: list[dict] | None = None) -> HubCopy:
    """yubo2333/MMLongBench-Doc: data/*.parquet + documents/*.pdf (``rows``: default :data:`MMLONGBENCH_ROWS`)."""
    folder = bench / "MMLongBench-Doc"
    write_pdf(folder / "documents" / "report.pdf", 7, (60, 84))  # small pages: 120x168 px at the default 144 dpi
    write_parquet(folder / "data" / "test-00000-of-00001.parquet", MMLONGBENCH_ROWS if rows is None else rows)
    # ids are the row numbers: the hub has no id column
    return HubCopy(folder, {"row1": ("20", "21"), "row2": ("Page", "Revenue"), "row3": ("Not answerable", "Bob Smith")})


def write_vstar(bench: Path) -> HubCopy:
    """craigwu/vstar_bench: test_questions.jsonl, image paths relative to it, options inside ``text``."""
    folder = bench / "vstar_bench"
    (folder / "direct_attributes").mkdir(parents=True, exist_ok=True)
    (folder / "direct_attributes" / "sa_1.jpg").write_bytes(png("red", (16, 12)))
    rows = [{"image": "direct_attributes/sa_1.jpg", "question_id": i, "category": "direct_attributes", "label": "B",
             "text": "What is the color of the cup?\n(A) blue\n(B) red\n(C) green\n(D) white\n"
                     "Answer with the option's letter from the given choices directly."} for i in range(2)]
    path = write_jsonl(folder / "test_questions.jsonl", rows)
    return HubCopy(path, {"0": ("B", "(A)"), "1": ("The cup is red.", "D")})


# ------------------------------------------------------------------------------------------------ text-only
MMLU_PRO_ROWS = [{"question_id": 70 + i, "question": f"Which is a prime (case {i})?",
                  "options": ["4", "6", "7", "8", "9", "10", "N/A"], "answer": "C", "answer_index": 2,
                  "category": "math"} for i in range(2)]


def write_mmlu_pro(bench: Path) -> HubCopy:
    """TIGER-Lab/MMLU-Pro: data/test-*.parquet (and validation, the few-shot split)."""
    folder = bench / "MMLU-Pro"
    for split in ("test", "validation"):
        write_parquet(folder / "data" / f"{split}-00000-of-00001.parquet", MMLU_PRO_ROWS)
    return HubCopy(folder, {"70": ("7 is prime, so the answer is (C).", "the answer is (A)"),
                            "71": ("Answer: C", "Answer: B")})


HE_ROW = {"task_id": "HumanEval/0", "entry_point": "add",
          "prompt": "from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    \"\"\"Sum of xs.\"\"\"\n",
          "canonical_solution": "    return sum(xs)\n",
          "test": "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n"}
HE_NEG = {"task_id": "HumanEval/1", "entry_point": "neg", "prompt": "def neg(x: int) -> int:\n    \"\"\"-x.\"\"\"\n",
          "canonical_solution": "    return -x\n", "test": "def check(candidate):\n    assert candidate(2) == -2\n"}


def write_humaneval(bench: Path) -> HubCopy:
    """openai/openai_humaneval: openai_humaneval/test-*.parquet."""
    folder = bench / "openai_humaneval"
    write_parquet(folder / "openai_humaneval" / "test-00000-of-00001.parquet", [HE_ROW, HE_NEG])
    return HubCopy(folder, {"HumanEval/0": ("    return sum(xs)\n", "```python\ndef add(xs):\n    return 0\n```"),
                            "HumanEval/1": ("```python\ndef neg(x: int) -> int:\n    return -x\n```", "    return x\n")})


def lcb_private(tests: list[dict]) -> str:
    """The hub's encoding of LiveCodeBench's private tests: base64(zlib(pickle(json)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def livecodebench_rows() -> list[dict]:
    """A stdin problem (public and private tests) and a functional LeetCode-style one."""
    return [{"question_id": "abc1", "question_title": "Sum", "question_content": "Print a+b.", "starter_code": "",
             "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
             "private_test_cases": lcb_private([{"input": "5 6\n", "output": "11\n", "testtype": "stdin"}]),
             "metadata": "{}", "platform": "atcoder", "contest_date": "2025-02-01T00:00:00"},
            {"question_id": "lc2", "question_title": "Double", "question_content": "Return 2x.",
             "starter_code": "class Solution:\n    def double(self, x: int) -> int:\n        ",
             "public_test_cases": json.dumps([{"input": "4", "output": "8", "testtype": "functional"}]),
             "private_test_cases": "", "metadata": json.dumps({"func_name": "double"}), "platform": "leetcode",
             "contest_date": "2025-03-01T00:00:00"}]


LCB_SUM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
LCB_DOUBLE = "```python\nclass Solution:\n    def double(self, x: int) -> int:\n        return 2 * x\n```"


def write_livecodebench(bench: Path) -> HubCopy:
    """livecodebench/code_generation_lite: test6.jsonl (release v6's new problems)."""
    path = write_jsonl(bench / "code_generation_lite" / "test6.jsonl", livecodebench_rows())
    return HubCopy(path, {"abc1": (LCB_SUM, "```python\nprint(3)\n```"),
                          "lc2": (LCB_DOUBLE, LCB_DOUBLE.replace("2 * x", "x + 1"))})


def write_gsm8k(bench: Path) -> HubCopy:
    """openai/gsm8k config main: main/test-*.parquet (answer: worked solution, then "#### <number>")."""
    rows = [{"question": "Tom has 3 boxes of 400 pens. How many pens?",
             "answer": "3 boxes * 400 = <<3*400=1200>>1200 pens.\n#### 1200"},
            {"question": "Ann had 9 apples and ate 2. How many are left?", "answer": "9 - 2 = <<9-2=7>>7\n#### 7"}]
    write_parquet(bench / "gsm8k" / "main" / "test-00000-of-00001.parquet", rows)
    return HubCopy(bench / "gsm8k" / "main", {"row1": ("3*400 = 1,200. #### 1,200", "#### 1100"),
                                              "row2": ("#### 7", "She has 8 left. #### 8")})


IFEVAL_ROWS = [{"key": 1, "prompt": "Write in lowercase.", "instruction_id_list": ["change_case:english_lowercase",
                                                                                  "punctuation:no_comma"],
                "kwargs": [{}, {}]},
               {"key": 2, "prompt": "No commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}]


def write_ifeval(bench: Path) -> HubCopy:
    """google/IFEval as its source file ifeval_input_data.jsonl."""
    path = write_jsonl(bench / "IFEval" / "ifeval_input_data.jsonl", IFEVAL_ROWS)
    return HubCopy(path.parent, {"1": ("all of this is plain lowercase text", "Fine, THANKS"),
                                 "2": ("Sure thing", "Yes, sure")})


WRITERS: dict[str, Callable[[Path], HubCopy]] = {
    "mmmu": write_mmmu, "mmmu_pro": write_mmmu_pro, "mmmu_pro_vision": write_mmmu_pro_vision,
    "zerobench": write_zerobench, "mathvista": write_mathvista, "wemath": write_wemath,
    "hallusionbench": write_hallusionbench, "simplevqa": write_simplevqa, "mm_ifeval": write_mm_ifeval,
    "docvqa": write_docvqa, "countbench": write_countbench,
    "ccocr": _ccocr("multi_scene_ocr", "qqq"), "ccocr_doc_parsing": _ccocr("doc_parsing", "9"),
    "ccocr_kie": _ccocr("kie", '{"nothing": "found"}'), "mmlongbench_doc": write_mmlongbench_doc,
    "vstar": write_vstar, "mmlu_pro": write_mmlu_pro, "humaneval": write_humaneval,
    "livecodebench": write_livecodebench, "gsm8k": write_gsm8k, "ifeval": write_ifeval,
}
