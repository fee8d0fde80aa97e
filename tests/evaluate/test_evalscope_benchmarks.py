"""eval.engine=evalscope for MMLU-Pro, HumanEval, LiveCodeBench, IFEval (text-only), V*, HallusionBench, MathVista
and MMMU, each on a
local copy these tests write in the layout EvalScope 1.14.1's adapter reads from the hub (README ``configs:``,
<config dir>/<split>-*.parquet, the columns its ``record_to_sample`` reads). Nothing is mocked: EvalScope loads
and scores, our native adapters (``eval.engine=native``) score the same rows, and the real tiny random VLM
answers through the pipeline's evaluate stage.

Agreement: for known replies, EvalScope's per-sample scorer (the one its evaluator applies, fed through the
engine's replaying model) and our adapter agree item by item; each case where they differ by design is named
here and in docs/evaluate_metrics.md "Where we differ from EvalScope 1.14.1, and why"."""
from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest

pytest.importorskip("evalscope", reason="EvalScope 1.14.1 is not installed (docs/evaluate.md: two-step install)")

from lomo_ablate.evaluate import EvalConfig, evaluate  # noqa: E402
from lomo_ablate.evaluate.benchmarks import get_adapter  # noqa: E402
from lomo_ablate.evaluate.engines.evalscope import EvalScopeAdapter, _main_value  # noqa: E402
from lomo_ablate.utils.config import ConfigError  # noqa: E402
from loopback_judge import LoopbackJudge  # noqa: E402
from test_evalscope import RENDER, _parquet, _png, _readme, _replay_scores, _rows, tiny_dir  # noqa: E402,F401

MMLU_PRO_ROWS = [{"question_id": 70 + i, "question": f"Which of these is prime (case {i})?",
                  "options": ["4", "6", "7", "8", "9", "10", "N/A"], "answer": "C", "answer_index": 2,
                  "cot_content": "", "category": "math", "src": "ours"} for i in range(2)]
HE_ROW = {"task_id": "HumanEval/0", "entry_point": "add",
          "prompt": "from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    \"\"\"Sum of xs.\"\"\"\n",
          "canonical_solution": "    return sum(xs)\n",
          "test": "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n"}
END = "Is there anything else I can help with?"
IFEVAL_ROWS = [
    {"key": 1, "prompt": "Write a haiku about rain in all lowercase letters.",
     "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{"num_words": None}]},
    {"key": 2, "prompt": f"Answer in at least 5 words, and end with '{END}'",
     "instruction_id_list": ["length_constraints:number_words", "startend:end_checker"],
     "kwargs": [{"num_words": 5, "relation": "at least", "end_phrase": None},
                {"num_words": None, "relation": None, "end_phrase": END}]}]


def _default_readme(root: Path, splits: list[str]) -> None:
    """A hub README whose one config (``default``) reads data/<split>-* (TIGER-Lab/MMLU-Pro, google/IFEval)."""
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for s in splits:
        lines += [f"  - split: {s}", f"    path: data/{s}-*"]
    (root / "README.md").write_text("\n".join(lines + ["---", ""]))


def write_mmlu_pro(root: Path) -> Path:
    """TIGER-Lab/MMLU-Pro: config default, splits test and validation (few-shot), `category` = subset."""
    for split in ("test", "validation"):
        _parquet(root / "data" / f"{split}-00000-of-00001.parquet", MMLU_PRO_ROWS)
    _default_readme(root, ["test", "validation"])
    return root


def write_humaneval(root: Path) -> Path:
    """openai/openai_humaneval: config openai_humaneval, split test."""
    _parquet(root / "openai_humaneval" / "test-00000-of-00001.parquet", [HE_ROW])
    _readme(root, "openai_humaneval", ["test"])
    return root


def write_ifeval(root: Path) -> Path:
    """google/IFEval: config default, split train; kwargs a list of structs (absent keys null)."""
    _parquet(root / "data" / "train-00000-of-00001.parquet", IFEVAL_ROWS)
    _default_readme(root, ["train"])
    return root


def write_vstar(root: Path) -> Path:
    """lmms-lab/vstar-bench: config default, split test, image struct with the bytes, `text` with the options."""
    rows = [{"image": {"bytes": _png("cup"), "path": None}, "question_id": i, "category": "direct_attributes",
             "label": "B", "text": "What is the color of the cup?\n(A) blue\n(B) red\n(C) green\n(D) white\n"
                                   "Answer with the option's letter from the given choices directly."} for i in range(2)]
    _parquet(root / "data" / "test-00000-of-00001.parquet", rows)
    _default_readme(root, ["test"])
    return root


def write_hallusionbench(root: Path) -> Path:
    """lmms-lab/HallusionBench: config default, split image, gt_answer "1"/"0", image struct."""
    rows = [{"category": "VS", "subcategory": "chart", "visual_input": "1", "set_id": "0", "figure_id": "0",
             "sample_note": "bars", "question_id": str(i), "question": f"Is bar {i} the tallest?",
             "gt_answer_details": "", "gt_answer": gold, "filename": f"f{i}.png",
             "image": {"bytes": _png("bars"), "path": None}} for i, gold in enumerate(["1", "0"])]
    _parquet(root / "data" / "image-00000-of-00001.parquet", rows)
    _default_readme(root, ["image"])
    return root


FIG = {"bytes": _png("fig"), "path": None}
MV_META = {"category": "math-targeted-vqa", "context": "chart", "grade": "high school", "img_height": 32,
           "img_width": 64, "language": "english", "skills": ["arithmetic"], "source": "ours", "split": "testmini",
           "task": "figure question answering"}


def write_mathvista(root: Path) -> Path:
    """AI4Math/MathVista: config default, split testmini, decoded_image struct, metadata struct, choices/precision."""
    common = {"image": "images/x.jpg", "decoded_image": FIG, "unit": None, "metadata": MV_META, "query": ""}
    rows = [{**common, "pid": "1", "question": "Which is largest?", "choices": ["2", "5", "9"], "precision": None,
             "answer": "9", "question_type": "multi_choice", "answer_type": "text"},
            {**common, "pid": "2", "question": "What is the length?", "choices": None, "precision": 1.0,
             "answer": "1.5", "question_type": "free_form", "answer_type": "float"},
            {**common, "pid": "3", "question": "How many bars?", "choices": None, "precision": None, "answer": "4",
             "question_type": "free_form", "answer_type": "integer"}]
    _parquet(root / "data" / "testmini-00000-of-00001.parquet", rows)
    _default_readme(root, ["testmini"])
    return root


def write_mmmu(root: Path) -> Path:
    """MMMU/MMMU: one config per subject (here Math), split validation, options a stringified list, image_1..7."""
    common = {"explanation": "", "image_1": FIG, **{f"image_{k}": None for k in range(2, 8)}, "img_type": "['Diagrams']",
              "topic_difficulty": "Easy", "subfield": "Algebra"}
    rows = [{**common, "id": "validation_Math_1", "question": "<image 1> Which is the sum?",
             "options": "['1', '2', '3', '4']", "answer": "B", "question_type": "multiple-choice"},
            {**common, "id": "validation_Math_2", "question": "<image 1> What is x?", "options": "[]",
             "answer": "['0.5', '1/2']", "question_type": "open"}]
    _parquet(root / "Math" / "validation-00000-of-00001.parquet", rows)
    _readme(root, "Math", ["validation"])
    return root


def _lcb_private(tests: list[dict]) -> str:
    """The hub's encoding of the private tests: base64(zlib(pickle(json)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def write_livecodebench(root: Path) -> Path:
    """livecodebench code_generation_lite (parquet copy EvalScope reads): one config per release (release_v6),
    split test; a stdin problem and a functional (LeetCode-style) one."""
    rows = [{"question_id": "abc1", "question_title": "Sum", "question_content": "Print a+b.", "starter_code": "",
             "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
             "private_test_cases": _lcb_private([{"input": "5 6\n", "output": "11\n", "testtype": "stdin"}]),
             "metadata": "{}", "platform": "atcoder", "contest_id": "abc", "difficulty": "easy",
             "contest_date": "2025-02-01T00:00:00"},
            {"question_id": "lc2", "question_title": "Double", "question_content": "Return 2x.",
             "starter_code": "class Solution:\n    def double(self, x: int) -> int:\n        ",
             "public_test_cases": json.dumps([{"input": "4", "output": "8", "testtype": "functional"}]),
             "private_test_cases": _lcb_private([{"input": "5", "output": "10", "testtype": "functional"}]),
             "metadata": json.dumps({"func_name": "double"}), "platform": "leetcode", "contest_id": "w1",
             "difficulty": "easy", "contest_date": "2025-03-01T00:00:00"}]
    _parquet(root / "release_v6" / "test-00000-of-00001.parquet", rows)
    _readme(root, "release_v6", ["test"])
    return root


ES_ARGS = {"mmmu": {"subset_list": ["Math"]}, "mmlu_pro": {"few_shot_num": 0, "subset_list": ["math"]}}


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_bench")
    return {"mmlu_pro": write_mmlu_pro(root / "MMLU-Pro"), "humaneval": write_humaneval(root / "openai_humaneval"),
            "ifeval": write_ifeval(root / "IFEval")}


def _agree(name: str, folder: Path, native_path: Path, native_options: dict, replies: list[tuple[int, str]],
           tmp: Path, differ: dict[int, tuple[float, float]] = {},  # noqa: B006 (read only)
           es_args: dict | None = None) -> EvalScopeAdapter:
    """EvalScope's score (its per-sample scorer, and its evaluator's review through the replaying model) and
    our adapter's score for each (item index, reply); equal except the cases in ``differ`` {case index:
    (evalscope, ours)}. ``es_args``: EvalScope's dataset_args (default ``ES_ARGS[name]``)."""
    es = EvalScopeAdapter(name, str(folder), None, ES_ARGS.get(name, {}) if es_args is None else es_args, tmp / "es")
    es_items = es.load()
    native = get_adapter(name, native_options)
    ours = native.load(native_path)
    assert len(ours) == len(es_items)
    for case, (i, reply) in enumerate(replies):
        theirs, mine = es.sample_score(reply, es_items[i])[0], float(native.score(reply, ours[i]))
        assert (theirs, mine) == differ.get(case, (theirs, theirs)), (name, case, reply)
    # EvalScope's evaluator (reviews written by its run) gives the per-sample scorer's value, row by row
    last = {es_items[i].id: reply for i, reply in replies}
    reviewed = _replay_scores(es, last, tmp / "review")
    assert reviewed == {k: es.sample_score(v, es.items[k])[0] for k, v in last.items()}
    return es


def test_mmlu_pro_agrees_with_evalscope(text_dir, tmp_path):
    es = _agree("mmlu_pro", text_dir["mmlu_pro"], text_dir["mmlu_pro"], {"split": "test"},
                [(0, "ANSWER: C"), (0, "7 is prime, so the answer is (C)."), (0, "Answer: C"), (0, "**C**"),
                 (0, "A is even, C is prime."), (0, "seven"), (0, "ANSWER: A"), (1, "The answer is C.")], tmp_path)
    assert [it.id for it in es.items.values()] == ["math:0", "math:1"] and es.items["math:0"].answer == "C"
    # by design: EvalScope keeps the hub's "N/A" padding as option G; we drop it (it is never the answer)
    text = es.build_prompt(es.items["math:0"])[0][0]["content"]
    assert "G) N/A" in text and "ANSWER: [LETTER]" in text


def test_humaneval_agrees_with_evalscope(text_dir, tmp_path):
    two_blocks = ("```python\nfrom typing import List\n\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```\n"
                  "Usage:\n```python\nprint(add([1]))\n```")
    _agree("humaneval", text_dir["humaneval"], text_dir["humaneval"] / "openai_humaneval",
           {"execute_code": True, "timeout_s": 5},
           [(0, "    return sum(xs)\n"), (0, "Here:\n```python\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```"),
            (0, "```python\ndef add(xs):\n    return 0\n```"), (0, "Sure:\n    return sum(xs)\n"),
            (0, "```\n    return sum(xs)\n```"), (0, two_blocks)], tmp_path,
           # by design: EvalScope runs the FIRST fenced block, we run the LAST (a reply that ends with its
           # corrected code is scored on it); here the last block is a usage example
           differ={5: (1.0, 0.0)})


def test_livecodebench_agrees_with_evalscope(tmp_path):
    folder = write_livecodebench(tmp_path / "livecodebench")
    solve = "a, b = map(int, input().split())\nprint(a + b)"
    es = _agree("livecodebench", folder, folder / "release_v6" / "test-00000-of-00001.parquet", {"execute_code": True},
                [(0, f"```python\n{solve}\n```"), (0, "```python\nprint(3)\n```"),
                 (0, f"```python\nprint(3)\n```\nFixed:\n```python\n{solve}\n```"),  # both run the last block
                 (1, "```python\nclass Solution:\n    def double(self, x: int) -> int:\n        return 2 * x\n```"),
                 (1, "```python\nclass Solution:\n    def double(self, x):\n        return x\n```"),
                 (0, solve)], tmp_path,
                # by design: a reply that is bare code (no fence) is run by us as the program; EvalScope needs a
                # fenced block and scores it 0
                differ={5: (0.0, 1.0)})
    assert list(es.items) == ["release_v6:0", "release_v6:1"]  # the release_v6 subset our table selects
    text = es.build_prompt(es.items["release_v6:0"])[0][0]["content"]
    assert text.startswith("You are an expert Python programmer") and "### Question:\nPrint a+b." in text


def test_ifeval_agrees_with_evalscope(text_dir, tmp_path):
    es = _agree("ifeval", text_dir["ifeval"], text_dir["ifeval"], {},
                [(0, "rain falls soft\non the quiet roof"), (0, "Rain falls"), (0, "123"),
                 (1, f"one two three four five. {END}"), (1, f"short. {END}"), (1, "one two three four five six")],
                tmp_path)
    # the instruction-level metric EvalScope reports beside the prompt-level one
    _, values = es.sample_score("one two three four five six", es.items["default:1"])
    assert values["prompt_level_strict"] == 0.0 and values["inst_level_strict"] == 0.5


def test_vstar_agrees_with_evalscope(tmp_path):
    folder = write_vstar(tmp_path / "vstar-bench")
    es = _agree("vstar", folder, folder / "data" / "test-00000-of-00001.parquet", {},
                [(0, "B"), (0, "(B)"), (0, "ANSWER: B"), (0, "Answer: (B) red"), (0, "A"), (0, "B or C"), (0, "b"),
                 (1, "The cup is red."), (1, "red")], tmp_path,
                # by design: we also credit the chosen option's text (V*'s own scoring matches letter or text);
                # EvalScope reads a letter only
                differ={7: (0.0, 1.0), 8: (0.0, 1.0)})
    messages, images = es.build_prompt(es.items["default:0"])
    assert len(images) == 1 and messages[0]["content"].endswith("<image>") and "(B) red" in messages[0]["content"]


def test_hallusionbench_agrees_with_evalscope(tmp_path):
    folder = write_hallusionbench(tmp_path / "HallusionBench")
    es = _agree("hallusionbench", folder, folder / "data" / "image-00000-of-00001.parquet", {},
                [(0, "Yes"), (0, "YES."), (0, "No"), (0, "I cannot tell"), (0, "Yes and no"), (1, "no"),
                 (1, "No, it is not."), (1, "Nope"), (0, "yes, it is")], tmp_path,
                # by design: we take the first yes/no in any case; EvalScope accepts a lower-case verdict only as
                # the whole reply
                differ={8: (0.0, 1.0)})
    assert [it.answer for it in es.items.values()] == ["YES", "NO"]


def test_mathvista_agrees_with_evalscope(tmp_path):
    folder = write_mathvista(tmp_path / "MathVista")
    es = _agree("mathvista", folder, folder / "data" / "testmini-00000-of-00001.parquet", {"split": "testmini"},
                [(0, "ANSWER: C"), (0, "C"), (0, "The answer is \\boxed{C}"), (0, "A"), (1, "\\boxed{1.5}"), (1, "1.50"),
                 (2, "\\boxed{4}"), (2, "4 bars"), (2, "\\boxed{5}"),
                 (0, "9"), (1, "about 1.52"), (1, "\\boxed{1.54}"), (2, "There are four")], tmp_path,
                # by design: we credit the chosen option's text (MathVista's own extraction does); we compare a
                # float at the benchmark's precision (1.52 and 1.54 are 1.5 at one decimal), EvalScope without it;
                # we read number words
                differ={9: (0.0, 1.0), 10: (0.0, 1.0), 11: (0.0, 1.0), 12: (0.0, 1.0)})
    assert [it.answer for it in es.items.values()] == ["C", "1.5", "4"]  # EvalScope's MC target is the letter


def test_mmmu_agrees_with_evalscope(tmp_path):
    folder = write_mmmu(tmp_path / "MMMU")
    es = _agree("mmmu", folder, folder / "Math" / "validation-00000-of-00001.parquet", {"split": "validation"},
                [(0, "ANSWER: B"), (0, "B"), (0, "**B**"), (0, "\\boxed{B}"), (0, "[B]"), (0, "A"), (0, "no idea"),
                 (1, "0.5"), (1, "1/2"), (1, "ANSWER: 0.5"), (1, "x = 0.50"), (1, "\\boxed{0.5}"), (1, "2"),
                 (0, "The answer is 2"), (0, "A or B"), (0, "B or C")], tmp_path,
                # by design: we credit the chosen option's text (MMMU's own parser does); EvalScope reads a letter.
                # "A or B" / "B or C": the letter standing last, as MMMU's parse_multi_choice_response and EvalScope
                differ={13: (0.0, 1.0)})
    messages, images = es.build_prompt(es.items["Math:0"])
    assert len(images) == 1 and "B) 2" in messages[0]["content"]


def test_text_only_benchmarks_through_the_evaluate_stage(tiny_dir, text_dir, tmp_path):
    """The pipeline's evaluate stage under eval.engine=evalscope: EvalScope's reviews hold our rows' replies and
    scores; the text-only group is averaged apart from the multimodal overall (HallusionBench, the probe)."""
    hallu = write_hallusionbench(tmp_path / "HallusionBench")
    cfg = {"engine": "evalscope", "protocols": ["standard", "rendered"], "batch_size": 4, "chunk_size": 3,
           "max_new_tokens": 4, "render": RENDER, "progress": False, "mir": {"enabled": False},
           "paired": {"enabled": False},
           "benchmarks": [{"name": n, "path": str(p)} for n, p in text_dir.items()]
           + [{"name": "hallusionbench", "path": str(hallu)}, {"name": "probe", "n": 2}],
           "evalscope": {"dataset_args": ES_ARGS}}
    out = tmp_path / "eval"
    # EvalScope runs HumanEval's code in a local subprocess: refused unless the user allows it
    with pytest.raises(ConfigError, match=r"'humaneval' under eval.engine=evalscope.*eval.evalscope.execute_code=true"):
        evaluate(tiny_dir, tmp_path / "refused", EvalConfig.from_dict(cfg))
    cfg["evalscope"]["execute_code"] = True
    metrics = evaluate(tiny_dir, out, EvalConfig.from_dict(cfg))
    rows = _rows(out)
    for name, es, subsets in (("mmlu_pro", "mmlu_pro", ["math"]), ("humaneval", "humaneval", ["openai_humaneval"]),
                              ("ifeval", "ifeval", ["default"]), ("hallusionbench", "hallusion_bench", ["default"])):
        assert metrics["engines"][name]["engine"] == "evalscope"
        for proto in ("standard", "rendered"):
            ours = {r["item_id"]: r for r in rows if r["benchmark"] == name and r["protocol"] == proto}
            recs = [json.loads(line) for s in subsets for line in
                    (out / "evalscope" / proto / "reviews" / "lomo" / f"{es}_{s}.jsonl").read_text().splitlines()]
            assert len(recs) == len(ours) > 0
            for s in subsets:
                for line in (out / "evalscope" / proto / "reviews" / "lomo" / f"{es}_{s}.jsonl").read_text().splitlines():
                    sc = json.loads(line)["sample_score"]
                    row = ours[f"{s}:{sc['sample_id']}"]
                    assert sc["score"]["prediction"] == row["prediction"]
                    assert _main_value(sc["score"]["value"], sc["score"].get("main_score_name")) == row["score"]
                    assert row["category"] == ("Factuality" if name == "hallusionbench" else "Text-only")
    assert metrics["overall_benchmarks"] == ["hallusionbench", "probe"]
    assert metrics["overall"]["standard"] == pytest.approx(
        (metrics["scores"]["hallusionbench"]["standard"] + metrics["scores"]["probe"]["standard"]) / 2)
    assert metrics["text_only"]["standard"] == pytest.approx(
        sum(metrics["scores"][b]["standard"] for b in text_dir) / 3)


# ------------------------------------------------------------------------------ judged under EvalScope
def _toy_gold_pred(prompt: str) -> tuple[str, str]:
    if "[Reference Answer]" in prompt:  # the correctness prompt (ZeroBench)
        gold = prompt.split("[Reference Answer]\n")[1].split("\n\n[Predicted Answer]")[0]
        pred = prompt.split("[Predicted Answer]\n")[1].split("\n\nEvaluate the model's answer")[0]
        return gold, pred
    return (prompt.split("Gold target: ")[1].split("\n")[0], prompt.split("Predicted answer: ")[1].split("\n")[0])


def _toy_verdict(prompt: str) -> bool:
    gold, pred = _toy_gold_pred(prompt)
    return gold.split(" / ")[0].lower() in pred.lower()


@pytest.fixture
def toy_judge():
    """The hosted judge / vLLM server mocked on loopback (tests/loopback_judge.py): it grades "A" when the gold
    answer occurs in the predicted answer, else "B", reading both from either grading prompt (SimpleVQA's, or
    the correctness prompt ZeroBench uses); ``prompts``: every grading prompt it was sent."""
    with LoopbackJudge(lambda body: "A" if _toy_verdict(body["messages"][-1]["content"]) else "B") as judge:
        yield judge


def test_zerobench_and_simplevqa_are_judged_under_the_evalscope_engine(tiny_dir, toy_judge, tmp_path):
    """EvalScope scores ZeroBench and SimpleVQA with an LLM judge only: under eval.engine=evalscope with eval.judge
    set, our adapters ask that judge (lomo_ablate.evaluate.judge: one client, each benchmark's grading prompt),
    every row is the judge's verdict on its reply, and metrics say so."""
    zb = tmp_path / "ZeroBench" / "zerobench.jsonl"
    zb.parent.mkdir()
    zb.write_text("".join(json.dumps({"question_id": f"z{i}", "question_text": f"How many sides has shape {i}?",
                                      "question_answer": str(3 + i)}) + "\n" for i in range(2)))
    sv = tmp_path / "SimpleVQA" / "simplevqa.jsonl"
    sv.parent.mkdir()
    sv.write_text("".join(json.dumps({"data_id": i, "question": f"Which city is number {i}?", "answer": "Paris"}) + "\n"
                          for i in range(2)))
    cfg = {"engine": "evalscope", "protocols": ["standard"], "batch_size": 4, "max_new_tokens": 4, "render": RENDER,
           "progress": False, "mir": {"enabled": False}, "paired": {"enabled": False},
           "benchmarks": [{"name": "zerobench", "path": str(zb)}, {"name": "simplevqa", "path": str(sv)}],
           "judge": {"base_url": toy_judge.url, "model": "toy-judge"}}
    out = tmp_path / "eval"
    metrics = evaluate(tiny_dir, out, EvalConfig.from_dict(cfg))
    rows = _rows(out)
    assert len(rows) == 4 and len(toy_judge.prompts) == 4  # every reply judged once
    asked = {_toy_gold_pred(p): _toy_verdict(p) for p in toy_judge.prompts}
    for r in rows:  # the row's score is the judge's verdict on that row's reply and gold
        assert r["score"] == float(asked[(str(r["answer"]), r["prediction"])])
    assert any("[Reference Answer]\n3" in p for p in toy_judge.prompts)  # ZeroBench: the correctness prompt
    assert sum("Gold target: Paris" in p for p in toy_judge.prompts) == 2  # SimpleVQA: its own grading prompt
    assert metrics["scored_by"] == {"zerobench": "judge", "simplevqa": "judge"}
    for name in ("zerobench", "simplevqa"):
        assert metrics["engines"][name]["engine"] == "native" and metrics["engines"][name]["scored_by"] == "judge"
        assert "judged by eval.judge" in metrics["engines"][name]["reason"]
    # the same replies without a judge: ZeroBench's braces rule, and said so
    from lomo_ablate.evaluate.engines.evalscope import native_reason

    assert "without eval.judge: by its documented rule" in native_reason("zerobench")
    rule = get_adapter("zerobench")
    assert rule.scored_by == "rule" and rule.score("{3}", rule.load(zb)[0]) == 1.0


def test_zerobench_judge_grades_with_the_correctness_prompt(toy_judge, tmp_path):
    zb = tmp_path / "zerobench.jsonl"
    zb.write_text(json.dumps({"question_id": "z0", "question_text": "How many sides?", "question_answer": "3"}) + "\n")
    judged = get_adapter("zerobench", {"judge": {"base_url": toy_judge.url, "model": "m"}})
    (item,) = judged.load(zb)
    # the judge decides, not the braces rule: a reply without braces can be right, one with wrong braces wrong
    assert judged.score("It has 3 sides.", item) == 1.0 and judged.score("{4}", item) == 0.0
    assert judged.scored_by == "judge"
    assert toy_judge.prompts[0].startswith("Your job is to look at a question, a gold target, and a predicted answer")
    assert "[Question]\nHow many sides?" in toy_judge.prompts[0]
