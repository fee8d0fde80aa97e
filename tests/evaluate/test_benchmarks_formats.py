"""Benchmark adapters on small hand-made files in each benchmark's real layout and column names.

Files are built in tmp_path with pyarrow / json / Pillow: Parquet as on the hub, a ``datasets``
``save_to_disk`` folder (Arrow IPC stream + state.json), JSONL with relative image paths.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lomo_ablate.evaluate.benchmarks import (CATEGORIES, GROUPS, IMAGE_SLOT, REGISTRY, THIN, BenchmarkFormatError,
                                             DataFileError, Item, TEXT_ONLY, category_averages, get_adapter,
                                             overall_average, text_only_average)

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # datasets' Image feature


def png(color: str, size=(12, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def image_cell(color: str, name: str | None = None) -> dict:
    return {"bytes": png(color), "path": name}


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def save_to_disk(folder: Path, rows: list[dict], schema: pa.Schema) -> Path:
    """What ``datasets.Dataset.save_to_disk`` writes: Arrow IPC *stream* shards listed in state.json."""
    folder.mkdir(parents=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    (folder / "state.json").write_text(json.dumps({
        "_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_fingerprint": "x", "_format_type": None,
        "_split": "testmini"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def assert_prompt_contract(adapter, item: Item):
    """What generation relies on: one user turn, one <image> per image, RGB PIL images."""
    messages, images = adapter.build_prompt(item)
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"].count(IMAGE_SLOT) == len(images)
    assert all(isinstance(im, Image.Image) and im.mode == "RGB" for im in images)
    return messages[0]["content"], images


# ------------------------------------------------------------------------------------------ MMMU
MMMU_SCHEMA = pa.schema([("id", pa.string()), ("question", pa.string()), ("options", pa.string()),
                         ("explanation", pa.string()), ("image_1", IMAGE_STRUCT), ("image_2", IMAGE_STRUCT),
                         ("image_3", IMAGE_STRUCT), ("img_type", pa.string()), ("answer", pa.string()),
                         ("topic_difficulty", pa.string()), ("question_type", pa.string()),
                         ("subfield", pa.string())])


def mmmu_rows() -> list[dict]:
    base = dict(explanation="", img_type="['Diagrams']", topic_difficulty="Easy", subfield="Optics", image_3=None)
    return [
        dict(base, id="validation_Physics_1", question="Compare <image 2> with <image 1>. Which is brighter?",
             options="['the first', 'the second', 'both', 'neither']", answer="B", question_type="multiple-choice",
             image_1=image_cell("red", "r.png"), image_2=image_cell("white", "w.png")),
        dict(base, id="validation_Physics_2", question="What is the focal length in cm? A literal <image> here.",
             options="[]", answer="12.5", question_type="open", image_1=image_cell("gray"), image_2=None),
        dict(base, id="validation_Physics_3", question="Which option shows a lens?",
             options="['<image 1>', '<image 2>', '<image 3>']", answer="C", question_type="multiple-choice",
             image_1=image_cell("red"), image_2=image_cell("green"), image_3=image_cell("blue")),
    ]


def test_mmmu_parquet_prompts_and_scores(tmp_path):
    adapter = get_adapter("mmmu")
    items = adapter.load(write_parquet(tmp_path / "validation-00000-of-00001.parquet", mmmu_rows(), MMMU_SCHEMA))
    assert [it.id for it in items] == ["validation_Physics_1", "validation_Physics_2", "validation_Physics_3"]

    text, images = assert_prompt_contract(adapter, items[0])
    # slots follow the tags' order: <image 2> first, then <image 1>
    assert [im.getpixel((0, 0)) for im in images] == [(255, 255, 255), (255, 0, 0)]
    assert "A. the first\nB. the second" in text and "letter" in text
    assert adapter.score("The answer is (B).", items[0]) == 1.0
    assert adapter.score("B", items[0]) == 1.0
    assert adapter.score("I think it is the second one: (A) is dimmer, so answer: B", items[0]) == 1.0
    assert adapter.score("(A)", items[0]) == 0.0
    assert adapter.score("I cannot tell.", items[0]) == 0.0  # no random guess on unparseable replies

    text, images = assert_prompt_contract(adapter, items[1])
    assert items[1].options is None and "< image>" in text  # literal <image> escaped, image_1 slot in front
    assert len(images) == 1
    assert adapter.score("The focal length is 12.5 cm.", items[1]) == 1.0
    assert adapter.score("About 13 cm.", items[1]) == 0.0

    text, images = assert_prompt_contract(adapter, items[2])  # images inside the options
    assert len(images) == 3 and "C. <image>" in text
    assert adapter.score("C", items[2]) == 1.0


def test_mmmu_pro_standard_uses_mmmu_schema_with_ten_options(tmp_path):
    row = dict(mmmu_rows()[0], options=str([f"opt{i}" for i in range(10)]), answer="J")
    items = get_adapter("mmmu_pro").load(write_parquet(tmp_path / "pro.parquet", [row], MMMU_SCHEMA))
    assert len(items[0].options) == 10
    assert get_adapter("mmmu_pro").score("Answer: J", items[0]) == 1.0


@settings(max_examples=30, deadline=None)
@given(words=st.lists(st.sampled_from(["see", "<image 1>", "<image 2>", "<image>", "x", "\n"]), max_size=12))
def test_mmmu_slot_count_always_matches_images(tmp_path_factory, words):
    """Whatever tags (or literal <image>) a question holds, the prompt has one slot per image."""
    folder = tmp_path_factory.mktemp("mmmu_prop")
    row = dict(mmmu_rows()[0], question="q " + " ".join(words))
    items = get_adapter("mmmu").load(write_parquet(folder / "p.parquet", [row], MMMU_SCHEMA))
    text, images = assert_prompt_contract(get_adapter("mmmu"), items[0])
    mentioned = {w for w in words if w.startswith("<image ")}
    assert len(images) == sum(w.startswith("<image ") for w in words) + (2 - len(mentioned))


def test_mmmu_tag_without_image_names_row_and_key(tmp_path):
    row = dict(mmmu_rows()[0], question="Look at <image 3>.")
    path = write_parquet(tmp_path / "bad.parquet", [row], MMMU_SCHEMA)
    with pytest.raises(BenchmarkFormatError, match=r"bad\.parquet:row 1: key 'image_3'"):
        get_adapter("mmmu").load(path)


# ------------------------------------------------------------------------------------------ MathVista
MATHVISTA_SCHEMA = pa.schema([("pid", pa.string()), ("question", pa.string()), ("image", pa.string()),
                              ("decoded_image", IMAGE_STRUCT), ("choices", pa.list_(pa.string())),
                              ("unit", pa.string()), ("precision", pa.float64()), ("answer", pa.string()),
                              ("question_type", pa.string()), ("answer_type", pa.string()),
                              ("query", pa.string())])


def mathvista_rows() -> list[dict]:
    common = dict(image="images/1.jpg", decoded_image=image_cell("yellow"), unit=None, query="")
    return [
        dict(common, pid="1", question="Which shape is largest?", choices=["circle", "square", "triangle"],
             precision=None, answer="square", question_type="multi_choice", answer_type="text"),
        dict(common, pid="2", question="How many apples?", choices=None, precision=None, answer="7",
             question_type="free_form", answer_type="integer"),
        dict(common, pid="3", question="What is the slope?", choices=None, precision=2.0, answer="1.25",
             question_type="free_form", answer_type="float"),
        dict(common, pid="4", question="List the x-intercepts.", choices=None, precision=None, answer="[-2, 3]",
             question_type="free_form", answer_type="list"),
    ]


def test_mathvista_save_to_disk_folder(tmp_path):
    folder = save_to_disk(tmp_path / "MathVista" / "testmini", mathvista_rows(), MATHVISTA_SCHEMA)
    adapter = get_adapter("mathvista")
    items = adapter.load(folder)
    assert [it.id for it in items] == ["1", "2", "3", "4"]
    for it in items:
        assert_prompt_contract(adapter, it)
    mc, integer, flt, lst = items
    assert adapter.score("(B) square", mc) == 1.0 and adapter.score("The answer is A.", mc) == 0.0
    assert adapter.score("Counting them, there are 7 apples.", integer) == 1.0
    assert adapter.score("7.5", integer) == 0.0
    assert adapter.score("slope = 1.2499", flt) == 1.0  # rounded to 2 decimals
    assert adapter.score("slope = 1.3", flt) == 0.0
    assert adapter.score("The intercepts are [-2, 3]", lst) == 1.0
    assert adapter.score("The intercepts are [2, 3]", lst) == 0.0


def test_datasetdict_folder_needs_a_known_split(tmp_path):
    root = tmp_path / "dd"
    save_to_disk(root / "testmini", mathvista_rows(), MATHVISTA_SCHEMA)
    save_to_disk(root / "test", mathvista_rows()[:1], MATHVISTA_SCHEMA)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["testmini", "test"]}))
    with pytest.raises(DataFileError, match="choose one with split="):
        get_adapter("mathvista").load(root)
    assert len(get_adapter("mathvista", {"split": "testmini"}).load(root)) == 4
    with pytest.raises(DataFileError, match="no split 'val'"):
        get_adapter("mathvista", {"split": "val"}).load(root)


def test_mathvista_image_path_column_resolves_next_to_the_file(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (5, 5), "blue").save(tmp_path / "images" / "1.jpg")
    rows = [dict(r, decoded_image=None) for r in mathvista_rows()[:2]]
    for r in rows:
        r.pop("decoded_image")
    items = get_adapter("mathvista").load(write_jsonl(tmp_path / "testmini.jsonl", rows))
    _, images = assert_prompt_contract(get_adapter("mathvista"), items[0])
    assert images[0].size == (5, 5)


# ------------------------------------------------------------------------------------------ DocVQA
def test_docvqa_jsonl_anls_and_rejects_rows_without_answers(tmp_path):
    Image.new("RGB", (30, 20), "white").save(tmp_path / "doc1.png")
    rows = [{"questionId": 49153, "question": "What is the date?", "answers": ["March 3, 1998", "3/3/1998"],
             "image": "doc1.png", "docId": 1},
            {"questionId": 49154, "question": "Who signed?", "answers": None, "image": "doc1.png", "docId": 1}]
    path = write_jsonl(tmp_path / "val.jsonl", rows)
    with pytest.raises(BenchmarkFormatError, match=r"val\.jsonl:line 2: key 'answers': no answers"):
        get_adapter("docvqa").load(path)
    adapter = get_adapter("docvqa", {"strict": False})
    items = adapter.load(path)
    assert [it.id for it in items] == ["49153"]
    assert adapter.rejected == [{"source": str(path), "line": 2, "reason": "no answers (test split rows have none)",
                                 "detail": "answers"}]
    assert_prompt_contract(adapter, items[0])
    assert adapter.score("March 3, 1998", items[0]) == 1.0
    assert adapter.score("march 3 1998", items[0]) == pytest.approx(1 - 1 / 13)  # one edit in 13 chars
    assert adapter.score("the third of March", items[0]) == 0.0  # beyond the 0.5 threshold


def test_missing_image_file_is_reported_at_load(tmp_path):
    rows = [{"questionId": 1, "question": "q?", "answers": ["a"], "image": "nope.png"}]
    with pytest.raises(BenchmarkFormatError, match=r"line 1: key 'image': image file not found"):
        get_adapter("docvqa").load(write_jsonl(tmp_path / "d.jsonl", rows))


# ------------------------------------------------------------------------------------------ HallusionBench
def test_hallusionbench_yes_no_with_and_without_image(tmp_path):
    schema = pa.schema([("category", pa.string()), ("subcategory", pa.string()), ("visual_input", pa.string()),
                        ("set_id", pa.string()), ("figure_id", pa.string()), ("question_id", pa.string()),
                        ("question", pa.string()), ("gt_answer", pa.string()), ("image", IMAGE_STRUCT)])
    rows = [dict(category="VS", subcategory="chart", visual_input="1", set_id="0", figure_id="1",
                 question_id="0", question="Is the bar for 2020 taller than 2019?", gt_answer="1",
                 image=image_cell("black")),
            dict(category="VD", subcategory="math", visual_input="0", set_id="2", figure_id="0",
                 question_id="1", question="Is pi smaller than 3?", gt_answer="0", image=None)]
    adapter = get_adapter("hallusionbench")
    items = adapter.load(write_parquet(tmp_path / "hb.parquet", rows, schema))
    assert [it.id for it in items] == ["VS_chart_0_1_0", "VD_math_2_0_1"]
    assert [len(assert_prompt_contract(adapter, it)[1]) for it in items] == [1, 0]
    assert adapter.score("Yes, it is.", items[0]) == 1.0
    assert adapter.score("No.", items[0]) == 0.0
    assert adapter.score("no, pi is about 3.14", items[1]) == 1.0
    assert adapter.score("It is hard to say.", items[1]) == 0.0


# ------------------------------------------------------------------------------------------ CountBench
def test_countbench_numbers_and_number_words(tmp_path):
    schema = pa.schema([("image_url", pa.string()), ("text", pa.string()), ("number", pa.int64()),
                        ("question", pa.string()), ("image", IMAGE_STRUCT)])
    rows = [dict(image_url="http://x", text="three cats", number=3, question="How many cats are there?",
                 image=image_cell("orange"))]
    adapter = get_adapter("countbench")
    items = adapter.load(write_parquet(tmp_path / "count.parquet", rows, schema))
    assert items[0].id == "row1" and items[0].answer == 3
    assert_prompt_contract(adapter, items[0])
    assert adapter.score("3", items[0]) == 1.0
    assert adapter.score("There are three cats.", items[0]) == 1.0
    assert adapter.score("I count 2 cats on 1 sofa, no: 4", items[0]) == 0.0


# ------------------------------------------------------------------------------------------ text-only
def test_gsm8k_final_number(tmp_path):
    rows = [{"question": "Tom has 3 boxes of 400 pens. How many pens?",
             "answer": "3 boxes * 400 = <<3*400=1200>>1200 pens.\n#### 1200"},
            {"question": "bad", "answer": "no marker 5"}]
    path = write_jsonl(tmp_path / "gsm8k_test.jsonl", rows)
    adapter = get_adapter("gsm8k", {"strict": False})
    items = adapter.load(path)
    assert len(items) == 1 and items[0].answer == 1200
    assert adapter.rejected[0]["line"] == 2 and "####" in adapter.rejected[0]["reason"]
    text, images = assert_prompt_contract(adapter, items[0])
    assert images == [] and "####" in text
    assert adapter.score("3*400 = 1,200. #### 1,200", items[0]) == 1.0
    assert adapter.score("He has 3 boxes, so 1200 pens in total.", items[0]) == 1.0
    assert adapter.score("1200 pens? No: 1100", items[0]) == 0.0


# ------------------------------------------------------------------------------------------ thin adapters
def test_thin_adapters_with_their_column_names(tmp_path):
    Image.new("RGB", (6, 6), "green").save(tmp_path / "q1.png")
    wemath = write_jsonl(tmp_path / "wemath.jsonl", [
        {"ID": "1@3layer", "question": "Which angle is larger?", "option": "A. 30°; B. 45°; C. equal; D. unknown",
         "answer": "B", "image_path": "q1.png", "key": "1"}])
    zerobench = write_parquet(tmp_path / "zerobench.parquet", [
        {"question_id": "z1", "question_text": "How many red squares?", "question_answer": "4",
         "question_images_decoded": [image_cell("red"), image_cell("blue")]}])
    simplevqa = write_jsonl(tmp_path / "simplevqa.jsonl", [
        {"data_id": 7, "question": "Which city is shown?", "answer": "Paris", "image": "q1.png"}])
    vision = write_parquet(tmp_path / "pro_vision.parquet", [
        {"id": "p1", "image": image_cell("white"), "options": "['1', '2', '3']", "answer": "C", "subject": "Math"}])

    a = get_adapter("wemath")
    it = a.load(wemath)[0]
    assert it.options == ["30°", "45°", "equal", "unknown"] and a.score("B. 45°", it) == 1.0
    assert_prompt_contract(a, it)
    a = get_adapter("zerobench")
    it = a.load(zerobench)[0]
    assert len(assert_prompt_contract(a, it)[1]) == 2
    assert a.score("Let me count... {4}", it) == 1.0 and a.score("{5}", it) == 0.0
    a = get_adapter("simplevqa")
    it = a.load(simplevqa)[0]
    assert it.id == "7" and a.score("This is Paris, France.", it) == 1.0 and a.score("London", it) == 0.0
    a = get_adapter("mmmu_pro_vision")
    it = a.load(vision)[0]
    assert len(assert_prompt_contract(a, it)[1]) == 1 and a.score("(C)", it) == 1.0
    # columns are configurable for a release that renames them
    renamed = write_jsonl(tmp_path / "sv2.jsonl", [{"qid": "a", "q": "Capital of Italy?", "gold": "Rome"}])
    a = get_adapter("simplevqa", {"id_keys": ["qid"], "question_key": "q", "answer_key": "gold"})
    assert a.load(renamed)[0].id == "a"


# ------------------------------------------------------------------------------------------ errors, registry
def test_bad_input_errors_name_file_line_and_key(tmp_path):
    path = write_jsonl(tmp_path / "count.jsonl", [{"question": "How many?", "image": "x.png"}])
    with pytest.raises(BenchmarkFormatError, match=r"count\.jsonl:line 1: key 'number': missing"):
        get_adapter("countbench").load(path)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "a", "answer": "#### 1"}\n{not json\n')
    with pytest.raises(DataFileError, match=r"broken\.jsonl:line 2: invalid JSON"):
        get_adapter("gsm8k").load(broken)
    with pytest.raises(DataFileError, match="no such file"):
        get_adapter("gsm8k").load(tmp_path / "absent.jsonl")
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'AdapterConfig.splt' in AdapterConfig; allowed: split, image_root, strict, limit"):
        get_adapter("mmmu", {"splt": "validation"})
    with pytest.raises(KeyError, match="unknown benchmark 'mmlu'"):
        get_adapter("mmlu")
    dup = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "question": "q", "answer": "#### 1"}] * 2)
    with pytest.raises(BenchmarkFormatError, match="duplicate item id 'a'"):
        get_adapter("gsm8k").load(dup)


def test_broken_image_bytes_rejected_and_counted(tmp_path):
    rows = [dict(mmmu_rows()[0], image_2={"bytes": b"not a png", "path": None}), mmmu_rows()[1]]
    adapter = get_adapter("mmmu", {"strict": False})
    items = adapter.load(write_parquet(tmp_path / "m.parquet", rows, MMMU_SCHEMA))
    assert len(items) == 1 and len(adapter.rejected) == 1
    assert adapter.rejected[0]["detail"] == "image_2" and "not a readable image" in adapter.rejected[0]["reason"]


def test_limit_and_registry_categories(tmp_path):
    items = get_adapter("mmmu", {"limit": 2}).load(write_parquet(tmp_path / "m.parquet", mmmu_rows(), MMMU_SCHEMA))
    assert len(items) == 2
    assert set(THIN) <= set(REGISTRY)
    assert set(REGISTRY) == set(CATEGORIES) | {"probe"}  # the probe suite's items carry their task as category
    for name in CATEGORIES:
        adapter = get_adapter(name)
        assert adapter.name == name and adapter.category in (*GROUPS, TEXT_ONLY) and CATEGORIES[name] == adapter.category
    # the paper's Table 6 benchmarks form their own group, outside the six multimodal ones (Table 1)
    assert {n for n, c in CATEGORIES.items() if c == TEXT_ONLY} == {"mmlu_pro", "humaneval", "livecodebench", "gsm8k",
                                                                   "ifeval"}
    # every multimodal group has a benchmark (Instruction following: MM-IFEval, added on another branch)
    assert set(GROUPS) - {"Instruction following"} <= set(CATEGORIES.values()) <= {*GROUPS, TEXT_ONLY}
    assert get_adapter("probe", {"n": 3}).name == "probe" and "probe" not in CATEGORIES


def test_a_new_benchmark_module_is_registered_with_its_category(tmp_path):
    """Registering is the one step: the name reaches get_adapter, EvalConfig and the category table."""
    from lomo_ablate.evaluate import EvalConfig, benchmarks
    from lomo_ablate.evaluate.benchmarks import registry
    from lomo_ablate.evaluate.benchmarks.generic import ShortAnswerAdapter

    try:
        registry.register_thin("toy_vqa", "Factuality", ShortAnswerAdapter, id_keys=["qid"])
        assert "toy_vqa" in benchmarks.REGISTRY and benchmarks.CATEGORIES["toy_vqa"] == "Factuality"
        path = write_jsonl(tmp_path / "toy.jsonl", [{"qid": "q1", "question": "Sky colour?", "answer": "blue"}])
        cfg = EvalConfig.from_dict({"benchmarks": [{"name": "toy_vqa", "path": str(path)}]})
        items = get_adapter("toy_vqa").load(cfg.benchmarks[0].path)
        assert [i.id for i in items] == ["q1"] and get_adapter("toy_vqa").score("Blue.", items[0]) == 1.0
        with pytest.raises(ValueError, match="registered twice"):
            registry.register_thin("toy_vqa", "Math", ShortAnswerAdapter)
    finally:
        registry._BENCHMARKS.pop("toy_vqa", None)

def test_category_averages_per_protocol_and_plain():
    scores = {"mmmu": {"standard": 0.6, "rendered": 0.4}, "mmmu_pro": {"standard": 0.2, "rendered": 0.0},
              "zerobench": {"standard": 0.1, "rendered": 0.0},
              "docvqa": {"standard": 0.9, "rendered": 0.8}, "probe_arith": {"standard": 1.0}}
    cats = category_averages(scores)
    assert list(cats) == ["Reasoning", "Math", "Document & OCR", "Other"]  # paper order, unknown kept as Other
    assert cats["Reasoning"] == pytest.approx({"standard": 0.4, "rendered": 0.2})
    assert cats["Math"] == pytest.approx({"standard": 0.1, "rendered": 0.0})  # ZeroBench: the paper's Math group
    assert cats["Other"] == {"standard": 1.0}
    # GSM8K is text-only (paper Table 6): its own group after the six, not in Math nor in the multimodal average
    both = {"gsm8k": 1.0, "ifeval": 0.5, "mathvista": 0.5, "probe_arith": 0.0}
    assert category_averages(both) == {"Math": 0.5, TEXT_ONLY: 0.75, "Other": 0.0}
    assert list(category_averages(both)) == ["Math", TEXT_ONLY, "Other"]
    assert overall_average(both) == 0.25 and text_only_average(both) == 0.75
    assert overall_average({"gsm8k": {"standard": 1.0}, "docvqa": {"standard": 0.5, "rendered": 0.1}}) == {
        "standard": 0.5, "rendered": 0.1}
    assert overall_average({"gsm8k": 1.0, "ifeval": 0.5}) == 0.75  # nothing multimodal: the text-only mean
    assert category_averages({"x": 1.0}, categories={"x": "Math"}) == {"Math": 1.0}
    assert overall_average({"a": 1.0, "b": 0.0}) == 0.5
