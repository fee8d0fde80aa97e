"""MM-IFEval (Ding et al., 2025, MM-IFEngine): multimodal instruction following, C-Level and P-Level.

Layout (the official repository's ``data/``): ``MM-IFEval/C-Level.jsonl`` and ``MM-IFEval/P-Level.jsonl`` (the
benchmark's ``path`` is that folder or one of the files), images at paths relative to ``data/`` — the folder
above ``MM-IFEval/`` (the official ``img_root``); the file's own folder is tried first, ``image_root`` overrides
both. Columns: ``id``, ``tag`` (``C-Level`` / ``P-Level``), ``infer_type`` (``main`` / ``aux_cmp_gpt``),
``del_cons``; C-Level ``instruction`` and ``constraints`` (``[{key, value, judge: {method, verify_funcs?}}]``, a
list or its JSON string), P-Level ``question`` and ``answer`` (a JSON list of strings); the image in the first
present of the official ``get_real_image_key`` columns (``image``, ``filename``, ``img_name``, ...).

Prompt (official ``inference_multi_constraint_mp.py``): the image, then for C-Level ``make_prompt_v2`` —
the instruction followed by each constraint's ``value``, space-joined — and for P-Level the question.

Scoring (official ``score_multi_constraint_mp_with_image_v11.py`` / VLMEvalKit ``mmifeval.py``), per item:

- C-Level: one score per constraint, by its ``judge.method``: ``rule_based`` — 1 when every ``verify_funcs``
  function holds (:mod:`._mm_ifeval_rules`, the official functions ported); ``direct_gpt`` — the judge is
  shown the reply, the image and all of the item's direct_gpt constraints in one prompt (the official one) and
  its ``Score of constraint_i: x/1`` summary is read; ``cmp_gpt`` — the judge compares the reply with the
  reply to the prompt *without* that constraint (the ``aux_cmp_gpt`` row with the item's ``id`` whose
  ``del_cons`` is the constraint's key), text only (official ``run_once_without_image``), and reads its
  ``Summary: True/False``. The item's score is the mean over its constraints.
- P-Level: the judge says ``right`` when the reply covers every element of the answer list (official prompt).
- ``aggregate``: ``c_level`` and ``p_level`` (mean item score per level) and ``overall`` (mean over all items,
  = the count-weighted mean of the two, as VLMEvalKit computes it).

Where we differ, and why (docs/evaluate_metrics.md "MM-IFEval"):

- **the ``aux_cmp_gpt`` rows are companions, not items** (with a judge): each is attached to its main item
  (:attr:`~.base.Item.companions`, keyed by ``del_cons``); the evaluate stage generates it beside the item,
  under the same protocol, and the reply reaches the compare judge as ``item.replies[del_cons]``. They are
  never scored or counted on their own (the official scorer counts main rows only). An ``aux_cmp_gpt`` row
  whose ``id`` has no main row is set aside with the reason; a ``cmp_gpt`` constraint without its
  ``aux_cmp_gpt`` row is left out of its item's mean, counted in ``detail.left_out`` / ``aggregate.left_out``
  (the official scorer raises a KeyError there).
- **without ``judge``** the judged parts are not faked: ``direct_gpt`` and ``cmp_gpt`` constraints are left out
  (counted), the ``aux_cmp_gpt`` rows are set aside (nothing generated for them), the item's score is the mean
  of its rule constraints, and the benchmark is marked ``scored_by: rule``; items with no rule constraint
  (and every P-Level item) are set aside at load with the reason, counted.
- an unparseable verdict is asked again (3 tries, as the official ``judge_one_item``), then raises
  :class:`~lomo_ablate.evaluate.judge.JudgeError` naming the item (VLMEvalKit scores such a C-Level item 0).
"""
from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from lomo_ablate.evaluate.benchmarks._mm_ifeval_rules import RULES
from lomo_ablate.evaluate.benchmarks.base import Adapter, AdapterConfig, BenchmarkFormatError, Item, user_prompt
from lomo_ablate.evaluate.benchmarks.common import text_field, with_slots
from lomo_ablate.evaluate.benchmarks.records import ImageRef, RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

__all__ = ["MMIFEvalAdapter", "MMIFEvalConfig", "IMAGE_KEYS", "METHODS", "c_level_prompt", "p_level_prompt",
           "cmp_prompt", "parse_c_level_verdict", "parse_p_level_verdict", "parse_cmp_verdict"]

#: the official ``get_real_image_key`` columns, in its order
IMAGE_KEYS = ("image", "filename", "img_name", "image_name", "image_local_name", "image_path", "image_local_path",
              "img", "img_path", "img_local_path", "img_local_name")
METHODS = ("rule_based", "direct_gpt", "cmp_gpt")
#: official judge call budget (``max_tokens=4096``); our config's 16 would cut the reasoning off
JUDGE_MAX_TOKENS = 4096
JUDGE_TRIES = 3
NO_AUX = "no aux_cmp_gpt row (the reply without this constraint) for this item"
NO_JUDGE = "judged constraint; no eval.judge set"
#: the id of an ``aux_cmp_gpt`` row's item (distinct from its main item's); the key is ``del_cons``
AUX_MARK = "#without:"


# ------------------------------------------------------------------------------ official judge prompts
def c_level_prompt(constraints: Sequence[str], prediction: str) -> str:
    """Official ``generate_eval_pt`` (C-Level direct_gpt constraints, with the image)."""
    listed = "\n".join(f"Constraint_{i + 1}: {c}" for i, c in enumerate(constraints))
    return (
        "Your task is to evaluate whether the response from an AI assistant adheres to all of the given constraints. "
        "Please follow the requirements below to make the judgment:\n"
        "1. Be strict and consistent in your assessment.\n"
        "2. You should refer to the content of image to make the judgment.\n"
        "3. For each constraint, if the response fails to fully meet the constraint, give it a score of 0. "
        "Otherwise, give it a score of 1.\n\n"
        f"<start of response>\n{prediction}\n<end of response>\n\n"
        f"<start of constraint list>\n{listed}\n<end of constraint list>\n\n"
        "You must evaluate and provide an explanation for each constraint listed, ensuring no constraint is omitted. "
        "At the end, summarize the scores for all constraints in one sentence.\n\n"
        "Your output should strictly follow the format below:\nJudgement: ...\n"
        "Summary: Score of constraint_1: x/1, Score of constraint_2: x/1, Score of constraint_3: x/1, ..., "
        "Score of constraint_n: x/1.\n")


def p_level_prompt(question: str, prediction: str, answer: list[str]) -> str:
    """Official ``generate_eval_pt_vision`` (P-Level, text only); the list is shown as Python prints it."""
    return (
        "You are an expert evaluator. Your task is to extract the answer from the model output and compare it with "
        "the ground truth list to determine whether the model answer covers all the points in the ground truth "
        "list. The ground truth list is provided as a JSON array of strings, and the model answer is a text string. "
        "An answer is considered correct if every element from the ground truth list appears in the model answer "
        "(substring matching is acceptable). The order does not matter. \n"
        "Your response should only be 'right' if the model answer fully covers the ground truth, or 'wrong' if it "
        "does not. Do not provide any additional commentary.\n\n"
        f"Question: {question}\nResponse from the model: {prediction}\nGround Truth List: {answer}\n")


def cmp_prompt(constraint: str, with_constraint: str, without_constraint: str) -> str:
    """Official ``generate_cmp_pt`` (C-Level cmp_gpt constraints, text only)."""
    return (
        "You are an expert in judging whether the respone follow the given constraint. Your task is to assess "
        "whether the model's response satisfies the given constraint and return True or False. I will provide you "
        "with the constraint and the model's response under this constraint. To assist with your evaluation, I will "
        "also provide you with the model's response to the same question without the constraint.\n\n"
        f"<start of constraint>\n{constraint}\n<end of constraint>\n\n"
        f"<start of response under the constraint>\n{with_constraint}\n<end of response under the constraint>\n\n"
        f"<start of response without the constraint>\n{without_constraint}\n"
        "<end of response without the constraint>\n\n"
        "**Please follow the steps below to evaluate**:\n"
        "Step 1. Compare the model's response under the constraint with its response without the constraint. If "
        "you believe these two answers are very similar, it means the model has not fully considered the impact of "
        "the constraint on the answer. Please return False.\n"
        "Step 2. Compare the model's response under the constraint with the content of the constraint. If you "
        "believe the model's response does not meet the requirements specified in the constraint, return False. "
        "Otherwise, if the response effectively satisfies the constraint, return True.\n\n"
        "Start by briefly explaining your reasoning based on the above steps. At the end, provide a one-sentence "
        "summary of your evaluation.\n\n"
        "Your output must strictly follow this format:  \nReasoning: ...  \nSummary: \"True\" / \"False\".\n")


# ------------------------------------------------------------------------------ official verdict parsers
_SCORE = re.compile(r"Score\s+of\s+([a-zA-Z0-9_\-]+):\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE)


def parse_c_level_verdict(reply: str) -> dict[str, float]:
    """Official ``extract_score_from_direct_gpt_resp``: ``{"constraint_1": 1.0, ...}`` (whitespace collapsed,
    ``*`` removed, names lower-cased); ValueError when nothing parses."""
    cleaned = re.sub(r"\*", "", re.sub(r"\s+", " ", reply).strip())
    found = _SCORE.findall(cleaned)
    if not found:
        raise ValueError("no 'Score of constraint_i: x/y' in the judge's reply")
    out = {}
    for name, num, den in found:
        if int(den) == 0:
            raise ValueError(f"score {num}/{den} of {name!r}")
        out[name.strip().lower().replace(" ", "_")] = int(num) / int(den)
    return out


def parse_p_level_verdict(reply: str) -> int:
    """Official ``extract_score_from_vision_gpt_resp``: exactly right/wrong, else the first of
    ``right`` (searched first) / ``wrong`` anywhere, case-insensitive; ValueError when neither."""
    if reply == "right":
        return 1
    if reply == "wrong":
        return 0
    if re.search("right", reply, re.IGNORECASE):
        return 1
    if re.search("wrong", reply, re.IGNORECASE):
        return 0
    raise ValueError("neither 'right' nor 'wrong' in the judge's reply")


def parse_cmp_verdict(reply: str) -> int:
    """Official ``extract_score_from_cmp_gpt_resp``: the first true/false word after the last ``summary``."""
    at = reply.lower().rfind("summary")
    if at == -1:
        raise ValueError("no 'summary' in the judge's reply")
    m = re.search(r"\b(true|false)\b", reply[at + len("summary"):], re.IGNORECASE)
    if not m:
        raise ValueError("no True/False after 'summary'")
    return int(m.group(1).lower() == "true")


# ------------------------------------------------------------------------------ adapter
@dataclass
class MMIFEvalConfig(AdapterConfig):
    """MM-IFEval options. ``judge``: an ``eval.judge`` mapping (base_url, model, api_key_env) for the judged
    parts (C-Level ``direct_gpt`` constraints, every P-Level item), or None: rule constraints only, marked
    ``rule``."""

    judge: dict | None = None


class _SetAside(BenchmarkFormatError):
    """A well-formed row that is not scored here (its reason says why); set aside even when strict."""


@register("mm_ifeval", category="Instruction following")
class MMIFEvalAdapter(Adapter):
    config_cls = MMIFEvalConfig
    image_keys = IMAGE_KEYS

    def __init__(self, config: MMIFEvalConfig | dict | None = None):
        super().__init__(config)
        from lomo_ablate.evaluate.benchmarks._nltk_data import punkt_tab_missing
        from lomo_ablate.evaluate.judge import make_judge

        missing = punkt_tab_missing()  # the sentence rules use nltk.sent_tokenize, as the official code
        if missing:
            raise RuntimeError(f"mm_ifeval: {missing}")
        self.judge = make_judge(self.config.judge, "mm_ifeval options.judge")
        self.scored_by = "judge" if self.judge is not None else "rule"

    # ---------------------------------------------------------------- loading
    def load(self, path: str | Path) -> list[Item]:
        """As :meth:`Adapter.load`, except that rows that are well formed but not scored here (``aux_cmp_gpt``
        rows, items with nothing to score without a judge) are set aside with their reason even when strict
        (a strict load still raises on the first bad row, after reading the file)."""
        strict, limit = self.config.strict, self.config.limit
        self.config.strict, self.config.limit = False, None  # the limit counts main items, after pairing
        self._set_aside: set[tuple[str, int]] = set()
        self._where: dict[int, RecordLocation] = {}
        try:
            items = self._pair(super().load(path))
        finally:
            self.config.strict, self.config.limit = strict, limit
        if limit is not None:
            items = self._first_mains(items, limit)
        bad = [r for r in self.rejected if (r["source"], r["line"]) not in self._set_aside]
        if strict and bad:
            r = bad[0]
            where = RecordLocation(r["source"], r["line"], "line" if r["source"].endswith(".jsonl") else "row")
            raise BenchmarkFormatError(where, r["detail"] or None, r["reason"])
        return items

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        try:
            item = self._parse(record, where)
        except _SetAside:
            self._set_aside.add((where.source, where.row))
            raise
        self._where[id(item)] = where
        return item

    def companion_of(self, item: Item) -> tuple[str, str] | None:
        aux = item.metadata.get("aux_of")
        return None if aux is None else (aux, item.metadata["del_cons"])

    def _set_aside_item(self, item: Item, key: str, reason: str) -> None:
        where = self._where[id(item)]
        self._set_aside.add((where.source, where.row))
        self.rejected.append({"source": where.source, "line": where.row, "reason": reason, "detail": key})

    def _pair(self, items: list[Item]) -> list[Item]:
        """Attach each ``aux_cmp_gpt`` item to its main item (``companions[del_cons]``; re-scoring keeps it in
        the list, one per line, for ``evaluate.score`` to pair), set aside orphans and items left with nothing
        to score; file order is kept."""
        mains = {it.id: it for it in items if "aux_of" not in it.metadata}
        available: dict[str, set[str]] = {}
        out: list[Item] = []
        for it in items:
            main_id = it.metadata.get("aux_of")
            if main_id is None:
                out.append(it)
            elif main_id not in mains:
                self._set_aside_item(it, "id", f"aux_cmp_gpt row (reply without {it.metadata['del_cons']!r}): no "
                                               f"main row with id {main_id.split('/', 1)[1]!r}")
            else:
                available.setdefault(main_id, set()).add(it.metadata["del_cons"])
                if self.rescoring:
                    out.append(it)
                else:
                    mains[main_id].companions[it.metadata["del_cons"]] = it
        kept = []
        for it in out:
            if it.metadata["tag"] == "C-Level" and "aux_of" not in it.metadata:
                why = self._nothing_to_score(it.metadata["constraints"], available.get(it.id, set()))
                if why:
                    self._set_aside_item(it, "constraints", why)
                    continue
            kept.append(it)
        return kept

    def _nothing_to_score(self, constraints: list[dict], aux_keys: set[str]) -> str | None:
        """Why a C-Level item has no constraint we can score, or None."""
        if any(c["method"] == "rule_based" for c in constraints):
            return None
        if self.judge is not None and any(c["method"] == "direct_gpt" or c["key"] in aux_keys for c in constraints):
            return None
        methods = ", ".join(sorted({c["method"] for c in constraints}))
        why = NO_JUDGE if self.judge is None else NO_AUX
        return f"nothing to score: no rule-verified constraint ({methods}); {why}"

    @staticmethod
    def _first_mains(items: list[Item], limit: int) -> list[Item]:
        out, n = [], 0
        for it in items:
            if "aux_of" not in it.metadata:
                if n == limit:
                    break
                n += 1
            out.append(it)
        return out

    def _parse(self, record: dict, where: RecordLocation) -> Item:
        tag = text_field(record, "tag", where)
        if tag not in ("C-Level", "P-Level"):
            raise BenchmarkFormatError(where, "tag", f"expected 'C-Level' or 'P-Level', got {tag!r}")
        infer = record.get("infer_type") or "main"
        if infer not in ("main", "aux_cmp_gpt"):
            raise BenchmarkFormatError(where, "infer_type", f"expected 'main' or 'aux_cmp_gpt', got {infer!r}")
        rid = record.get("id", record.get("index"))
        if rid in (None, ""):
            raise BenchmarkFormatError(where, "id", "empty")
        if infer == "aux_cmp_gpt":
            return self._aux(record, where, tag, str(rid))
        images = self._images(record, where)
        meta: dict[str, Any] = {"tag": tag, "source": str(where)}
        if tag == "P-Level":
            question = text_field(record, "question", where)
            answer = self._json_list(record.get("answer"), where, "answer")
            if self.judge is None:
                raise _SetAside(where, "tag", f"P-Level items are scored by an LLM judge only: {NO_JUDGE}")
            meta.update(question=question)
            prompt = question
        else:
            prompt, constraints = self._c_level_prompt(record, where)
            if not constraints:
                raise BenchmarkFormatError(where, "constraints", "empty")
            if not any(c["method"] == "cmp_gpt" for c in constraints):  # else: known once paired (_pair)
                why = self._nothing_to_score(constraints, set())
                if why:
                    raise _SetAside(where, "constraints", why)
            answer = None
            meta.update(constraints=constraints)
        return Item(id=f"{tag}/{rid}", question=with_slots(prompt, len(images)), images=images, answer=answer,
                    metadata=meta)

    def _aux(self, record: dict, where: RecordLocation, tag: str, rid: str) -> Item:
        """An ``aux_cmp_gpt`` row: the main item's prompt without the constraint ``del_cons`` (official
        ``make_prompt_v2`` over the row's own instruction and constraints), a companion of ``C-Level/<id>``."""
        del_cons = record.get("del_cons")
        if self.judge is None:
            raise _SetAside(where, "infer_type", f"aux_cmp_gpt row (reply without constraint {del_cons!r}) "
                                                 f"feeds the compare judge: {NO_JUDGE}")
        if tag != "C-Level":
            raise BenchmarkFormatError(where, "tag", "an aux_cmp_gpt row belongs to a C-Level item")
        if not isinstance(del_cons, str) or not del_cons:
            raise BenchmarkFormatError(where, "del_cons", "an aux_cmp_gpt row names the constraint it drops")
        prompt, _ = self._c_level_prompt(record, where, default=[])
        images = self._images(record, where)
        main_id = f"{tag}/{rid}"
        return Item(id=f"{main_id}{AUX_MARK}{del_cons}", question=with_slots(prompt, len(images)), images=images,
                    metadata={"tag": tag, "source": str(where), "aux_of": main_id, "del_cons": del_cons})

    def _c_level_prompt(self, record: dict, where: RecordLocation, default: Any = None) -> tuple[str, list[dict]]:
        """(official ``make_prompt_v2``: the instruction and each constraint's value, space-joined; the checked
        constraints) of a C-Level row (``default``: the constraints of a row without the column)."""
        instruction = text_field(record, "instruction", where) if "instruction" in record else \
            text_field(record, "question", where)
        constraints = [self._constraint(c, where, i) for i, c in
                       enumerate(self._json_list(record.get("constraints", default), where, "constraints"))]
        return instruction + "".join(" " + c["value"] for c in constraints), constraints

    def _images(self, record: dict, where: RecordLocation) -> list:
        key = next((k for k in IMAGE_KEYS if record.get(k) is not None), None)  # official get_real_image_key
        if key is None:
            if self.rescoring:
                return []
            raise BenchmarkFormatError(where, "image", f"no image (looked for {', '.join(IMAGE_KEYS)})")
        cell = record[key]
        roots = [Path(self.config.image_root)] if self.config.image_root else [where.base_dir, where.base_dir.parent]
        last: Exception | None = None
        for root in roots:
            try:
                ref = ImageRef.from_cell(cell, root)
                return [] if ref is None else [ref]
            except FileNotFoundError as exc:
                last = exc
            except ValueError as exc:
                raise BenchmarkFormatError(where, key, str(exc)) from None
        raise BenchmarkFormatError(where, key, f"{last} (also looked under {', '.join(map(str, roots))})")

    @staticmethod
    def _json_list(value: Any, where: RecordLocation, key: str) -> list:
        if isinstance(value, str):  # VLMEvalKit's TSV keeps lists as JSON strings
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise BenchmarkFormatError(where, key, f"not a JSON list: {exc.msg}") from None
        if not isinstance(value, list):
            raise BenchmarkFormatError(where, key, f"expected a list, got {type(value).__name__}")
        return value

    @staticmethod
    def _constraint(c: Any, where: RecordLocation, i: int) -> dict:
        at = f"constraints[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("judge"), dict):
            raise BenchmarkFormatError(where, at, "expected {key, value, judge: {method, ...}}")
        method = c["judge"].get("method")
        if method not in METHODS:
            raise BenchmarkFormatError(where, f"{at}.judge.method", f"expected one of {', '.join(METHODS)}, "
                                                                    f"got {method!r}")
        out = {"key": str(c.get("key", f"constraint_{i + 1}")), "value": str(c.get("value", "")), "method": method}
        if method == "rule_based":
            funcs = c["judge"].get("verify_funcs")
            if not isinstance(funcs, list) or not funcs:
                raise BenchmarkFormatError(where, f"{at}.judge.verify_funcs", "a rule_based constraint needs them")
            checked = []
            for j, f in enumerate(funcs):
                name = f.get("func") if isinstance(f, dict) else None
                if name not in RULES:
                    raise BenchmarkFormatError(where, f"{at}.judge.verify_funcs[{j}].func",
                                               f"unknown verification function {name!r}")
                params = f.get("params") or []
                try:
                    inspect.signature(RULES[name]).bind("", *params)
                except TypeError as exc:
                    raise BenchmarkFormatError(where, f"{at}.judge.verify_funcs[{j}].params",
                                               f"{name}: {exc}") from None
                checked.append({"func": name, "params": list(params)})
            out["verify_funcs"] = checked
        return out

    # ---------------------------------------------------------------- prompting / scoring
    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        return user_prompt(item.question), self.open_images(item.images)

    def detail(self, prediction: str, item: Item) -> dict:
        """Per constraint score (``scores``, by key), what was left out and why, the level and the score. The
        last result is kept: the pipeline asks ``score`` and then ``detail`` of the same reply (one judge call)."""
        key = (item.id, str(prediction), tuple(sorted(item.replies.items())))
        if getattr(self, "_last", (None, None))[0] != key:
            self._last = (key, self._detail(prediction, item))
        return self._last[1]

    def _detail(self, prediction: str, item: Item) -> dict:
        if item.metadata["tag"] == "P-Level":
            verdict = self._ask(item, p_level_prompt(item.metadata["question"], prediction, item.answer),
                                parse_p_level_verdict, images=False)
            return {"tag": "P-Level", "score": float(verdict), "scores": {}, "left_out": [], "by": "judge"}
        reply = str(prediction)
        scores: dict[str, float] = {}
        left_out: list[dict] = []
        constraints = item.metadata["constraints"]
        judged = [c for c in constraints if c["method"] == "direct_gpt"]
        if judged and self.judge is not None:
            verdict = self._ask(item, c_level_prompt([c["value"] for c in judged], reply), parse_c_level_verdict,
                                images=True, expect=len(judged))
            for i, c in enumerate(judged):
                scores[c["key"]] = verdict[f"constraint_{i + 1}"]
        for c in constraints:
            if c["method"] == "rule_based":
                scores[c["key"]] = float(all(RULES[f["func"]](reply, *f["params"]) for f in c["verify_funcs"]))
            elif c["method"] == "cmp_gpt":
                if self.judge is None:
                    left_out.append({"key": c["key"], "method": "cmp_gpt", "reason": NO_JUDGE})
                elif c["key"] not in item.replies:
                    left_out.append({"key": c["key"], "method": "cmp_gpt", "reason": NO_AUX})
                else:
                    scores[c["key"]] = float(self._ask(item, cmp_prompt(c["value"], reply, item.replies[c["key"]]),
                                                       parse_cmp_verdict, images=False))
            elif self.judge is None:
                left_out.append({"key": c["key"], "method": "direct_gpt", "reason": NO_JUDGE})
        if not scores:  # load sets such items aside; an item built by hand can still get here
            raise ValueError(f"mm_ifeval: item {item.id!r}: no constraint could be scored ({left_out})")
        return {"tag": "C-Level", "score": sum(scores.values()) / len(scores), "scores": scores, "left_out": left_out,
                "by": self.scored_by}

    def score(self, prediction: str, item: Item) -> float:
        return self.detail(prediction, item)["score"]

    def _ask(self, item: Item, prompt: str, parse: Any, images: bool, expect: int = 0) -> Any:
        from lomo_ablate.evaluate.judge import JudgeError

        pics = self.open_images(item.images) if images and not self.rescoring else []
        reply = ""
        for _ in range(JUDGE_TRIES):
            reply = self.judge.ask(prompt, images=pics, max_tokens=JUDGE_MAX_TOKENS)
            try:
                verdict = parse(reply)
            except ValueError:
                continue
            if expect and any(f"constraint_{i + 1}" not in verdict for i in range(expect)):
                continue
            return verdict
        raise JudgeError(f"mm_ifeval: item {item.id!r} ({item.metadata['source']}): judge {self.judge.url} gave "
                         f"no usable verdict in {JUDGE_TRIES} tries; last reply: {reply[:200]!r}")

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        """``c_level``, ``p_level`` (mean item score per level), ``overall`` (mean over items), counts, and the
        constraints scored / left out by method."""
        by_tag: dict[str, list[float]] = {"C-Level": [], "P-Level": []}
        scored = {"rule_based": 0, "direct_gpt": 0, "cmp_gpt": 0}
        left = {"cmp_gpt": 0, "direct_gpt": 0}
        for it, s, d in zip(items, scores, details, strict=True):
            by_tag[it.metadata["tag"]].append(s)
            methods = {c["key"]: c["method"] for c in it.metadata.get("constraints", [])}
            for key in (d or {}).get("scores", {}):
                scored[methods[key]] += 1
            for lo in (d or {}).get("left_out", []):
                left[lo["method"]] += 1

        def mean(xs: list[float]) -> float:
            return sum(xs) / len(xs) if xs else float("nan")

        return {"overall": mean(by_tag["C-Level"] + by_tag["P-Level"]), "c_level": mean(by_tag["C-Level"]),
                "p_level": mean(by_tag["P-Level"]), "n_c_level": len(by_tag["C-Level"]),
                "n_p_level": len(by_tag["P-Level"]), "constraints_scored": scored, "left_out": left,
                "scored_by": self.scored_by}
