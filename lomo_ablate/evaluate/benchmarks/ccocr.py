r"""CC-OCR (v1), its four tracks, with the official evaluators (github:AlibabaResearch/AdvancedLiterateMachinery,
``Benchmarks/CC-OCR/evaluation/evaluator/``).

**OCR** (``multi_scene_ocr``, ``multi_lan_ocr``; ``ocr_evaluator``): both texts have tabs/newlines turned to
spaces, ``###`` / ``***`` removed, whitespace collapsed and are lower-cased; they are split into words — or into
characters for the Arabic, Japanese and Korean subsets and any subset whose name contains ``zh`` — and, for
word-level ``multi_scene_ocr``, each word is reduced to ``[A-Za-z0-9]``. Matched = Σ min(count in gold, count in
reply) over gold tokens. Per item: F1 of recall = matched / gold tokens and precision = matched / reply tokens
(the official macro F1 is their mean); ``aggregate``: ``macro_f1`` and ``micro_f1`` (F1 of the summed counts).

**Document parsing** (``doc_parsing``; ``doc_parsing_evaluator.ParsingEvaluator``). The op comes from the
subset name as in the official index (``doc_*`` doc, ``table_*`` table, ``formula_*`` formula, ``molecular_*``
molecular; another subset is a rejection naming the subset column):

- doc: the LaTeX preamble commands (``\documentclass``, ``\usepackage``, ``\geometry``,
  ``\begin/\end{document}``, ``\noindent``) removed, the body of a ```` ```latex ```` fence taken, all spaces and
  newlines removed from both; score 1 − edit distance / max(length).
- formula / molecular: the official replacements (fences, ``<smiles>`` tags, whitespace), then the same
  normalised edit-distance similarity.
- table: the ```` ```html ```` fence body, ``<table>…</table>`` parts flattened and cleaned, full-width
  characters to half-width, then **TEDS** (APTED tree edit distance over lxml's HTML tree, cell text compared
  by normalised edit distance, ÷ the larger node count). A reply with no ``<table>`` — or HTML lxml cannot
  build a tree of — scores 0 and its ``detail.error`` says why.

Edit distances are rapidfuzz's Levenshtein (unit costs: the same numbers as the official ``nltk.edit_distance``).
``aggregate``: ``score`` = the mean over subsets of each subset's mean (the official summary line),
``score_<subset>`` and ``micro`` (mean over items).

**KIE** (``kie``; ``kie_evaluator.KieEvaluator``): the gold ``answer`` is the JSON label; the reply is parsed as
the official ``post_process_to_json`` does (the ```` ```json ```` fence body, newlines dropped, ``json.loads``);
a reply that is not JSON is scored as an empty prediction (every gold field a miss) with ``detail.error``.
Both sides' strings go through ``normalize_func`` (full-width → half-width, ``、`` → ``,``, the official space
rules), then ``normalize_dict`` + ``flatten`` into (key path, value) fields. Per item: tp (fields found in the
gold, each gold field used once) and fn_or_fp, F1 = tp / (tp + fn_or_fp / 2). ``aggregate``: ``f1`` = mean
over subsets of each subset's pooled (micro) F1 — the official per-dataset ``f1_score`` averaged as its summary —
``f1_<subset>`` and ``f1_micro`` over all items; ``acc`` / ``acc_<subset>``: the official nTED accuracy
(``cal_acc``: 1 − Zhang–Shasha tree edit distance to the gold ÷ that of an empty prediction, ``zss``), per item
``detail.ted_acc``.
"""
from __future__ import annotations

import json
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Sequence

from lomo_ablate.evaluate.benchmarks.base import Adapter, AdapterConfig, BenchmarkFormatError, Item
from lomo_ablate.evaluate.benchmarks.common import SimplePromptMixin, image_cells, row_id, text_field, with_slots
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils.config import ConfigError

__all__ = ["CCOCRAdapter", "CCOCRDocParsingAdapter", "CCOCRKieAdapter", "ocr_tokens", "ocr_counts", "parsing_score", "teds", "kie_counts", "post_process_to_json",
           "parsing_op", "kie_ted_acc"]

OCR_TRACKS = ("multi_scene_ocr", "multi_lan_ocr")
TRACKS = (*OCR_TRACKS, "doc_parsing", "kie")
PARSING_OPS = ("doc", "table", "formula", "molecular")
_CHAR_LEVEL = ("Arabic", "Japanese", "Korean")


def ocr_tokens(text: str, word_level: bool, alphanum_only: bool) -> list[str]:
    t = str(text).strip().replace("\t", " ").replace("\n", " ").replace("###", "").replace("***", "")
    t = re.sub(r"\s+", " ", t).lower()
    toks = t.split(" ") if word_level else list(t.replace(" ", ""))
    if alphanum_only:
        toks = [re.sub(r"[^A-Za-z0-9]+", "", x) for x in toks]
    return [x for x in toks if x]


def ocr_counts(prediction: str, gold: str, subset: str, track: str) -> dict:
    word_level = not (subset in _CHAR_LEVEL or "zh" in subset)
    alnum = track == "multi_scene_ocr" and word_level
    g, p = ocr_tokens(gold, word_level, alnum), ocr_tokens(prediction, word_level, alnum)
    pc = Counter(p)
    right = sum(min(n, pc.get(tok, 0)) for tok, n in Counter(g).items())
    return {"right": right, "n_gold": len(g), "n_pred": len(p)}


def _f1(right: int, n_gold: int, n_pred: int) -> float:
    r = right / (n_gold + 1e-9)
    p = right / (n_pred + 1e-9)
    return 2 * r * p / (r + p + 1e-9)



def _edit(a, b) -> int:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(a, b)


def _norm_edit_sim(pred: str, gt: str) -> float:
    longest = max(len(pred), len(gt))
    return 1.0 - _edit(pred, gt) / longest if longest else 1.0


# ------------------------------------------------------------------ doc_parsing (doc_parsing_evaluator.py)
_LATEX_PREAMBLE = [r"\\documentclass\{.*?\}", r"\\usepackage\[.*?\]\{.*?\}", r"\\usepackage\{.*?\}",
                   r"\\geometry\{.*?\}", r"\\begin\{document\}", r"\\end\{document\}", r"\\noindent"]
_HALFWIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})


def parsing_op(subset: str) -> str | None:
    """The official index's op for a doc_parsing subset (``table_scan_eng`` → ``table``), None if unknown."""
    op = str(subset).split("_", 1)[0]
    return op if op in PARSING_OPS else None


def _fence(pred: str, lang: str) -> str:
    m = re.search(rf"```{lang}(.+?)```", pred, re.DOTALL)
    if m:
        return m.group(1)
    return pred.split(f"```{lang}")[1] if f"```{lang}" in pred else pred


def _clean_tables(text: str) -> str:
    """Official ``extract_and_clean_tables``."""
    if "</table>" not in text:
        text += "</table>"
    out = []
    for table in re.findall(r"<table.*?>.*?</table>", text, re.DOTALL):
        t = re.sub(r"<table.*?>", "<table>", table)
        t = re.sub(r">\s+<", "><", t)
        t = re.sub(r">(.*?)<", lambda m: ">" + m.group(1).replace("\n", "").replace(" ", "") + "<", t, flags=re.DOTALL)
        out.append(t.replace("\n", "").strip())
    return "".join(out)


def _table_tree(node, structure_only: bool = False):
    """Official ``TEDS.load_html_tree`` (IBM's TEDS, Apache-2.0): an apted tree of tag / colspan / rowspan /
    cell tokens."""
    from apted.helpers import Tree

    class TableTree(Tree):
        def __init__(self, tag, colspan=None, rowspan=None, content=None, *children):
            self.tag, self.colspan, self.rowspan, self.content = tag, colspan, rowspan, content
            self.children = list(children)

        def bracket(self):
            return "{" + f'"tag": {self.tag}' + "".join(c.bracket() for c in self.children) + "}"

    def tokens(n, acc):
        acc.append(f"<{n.tag}>")
        if n.text is not None:
            acc.extend(n.text)
        for c in n:
            tokens(c, acc)
        if n.tag != "unk":
            acc.append(f"</{n.tag}>")
        if n.tag != "td" and n.tail is not None:
            acc.extend(n.tail)
        return acc

    def build(n, parent=None):
        if n.tag == "td":
            cell = [] if structure_only else tokens(n, [])[1:-1]
            new = TableTree(n.tag, int(n.attrib.get("colspan", "1")), int(n.attrib.get("rowspan", "1")), cell,
                            *deque())
        else:
            new = TableTree(n.tag, None, None, None, *deque())
        if parent is not None:
            parent.children.append(new)
        if n.tag != "td":
            for c in n:
                build(c, new)
        return new

    return build(node)


def teds(pred_html: str, true_html: str) -> tuple[float, str | None]:
    """(official ``TEDS(structure_only=False).evaluate``, why it is 0 when it could not be computed)."""
    from apted import APTED, Config
    from lxml import etree, html

    class CustomConfig(Config):
        def rename(self, a, b):
            if a.tag != b.tag or a.colspan != b.colspan or a.rowspan != b.rowspan:
                return 1.0
            if a.tag == "td" and (a.content or b.content):
                return _edit(a.content, b.content) / max(len(a.content), len(b.content))
            return 0.0

    if not pred_html or not true_html:
        return 0.0, "empty HTML"
    try:
        parser = html.HTMLParser(remove_comments=True, encoding="utf-8")
        pred, true = html.fromstring(pred_html, parser=parser), html.fromstring(true_html, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        return 0.0, f"HTML not parsed: {exc}"
    if not pred.xpath("body/table"):
        return 0.0, "no <table> in the reply"
    if not true.xpath("body/table"):
        return 0.0, "no <table> in the gold answer"
    pred, true = pred.xpath("body/table")[0], true.xpath("body/table")[0]
    n_nodes = max(len(pred.xpath(".//*")), len(true.xpath(".//*")))
    try:
        tp, tt = _table_tree(pred), _table_tree(true)
    except ValueError as exc:  # a colspan / rowspan that is no integer
        return 0.0, f"bad cell span: {exc}"
    distance = APTED(tp, tt, CustomConfig()).compute_edit_distance()
    return 1.0 - float(distance) / n_nodes, None


def parsing_score(prediction: str, gold: str, op: str) -> tuple[float, str | None]:
    """(the official per-sample score of a doc_parsing reply, why it is 0 where it could not be computed)."""
    pred = str(prediction)
    if op == "doc":
        for pat in _LATEX_PREAMBLE:
            pred = re.sub(pat, "", pred)
        pred = _fence(pred, "latex").replace(" ", "").replace("\n", "")
        return _norm_edit_sim(pred, gold.replace(" ", "").replace("\n", "")), None
    if op == "formula":
        pred = (pred.replace("\n", " ").replace("```latex", "").replace("```", "").replace("\t", " ")
                .replace(" ", ""))
        return _norm_edit_sim(pred, gold.replace(" ", "")), None
    if op == "molecular":
        pred = pred.replace("\n", "").replace(" ", "").replace("<smiles>", "").replace("</smiles>", "")
        return _norm_edit_sim(pred, gold.replace(" ", "")), None
    pred = _clean_tables(_fence(pred, "html")).translate(_HALFWIDTH)
    gt = _clean_tables(gold).translate(_HALFWIDTH)
    return teds(f"<html><body>{pred}</body></html>", f"<html><body>{gt}</body></html>")


# ------------------------------------------------------------------ kie (kie_evaluator.py, Donut's field F1)
def post_process_to_json(reply: str) -> Any:
    """Official ``post_process_to_json``: the parsed reply, or None when it is not JSON."""
    try:
        if "```json" in reply:
            json_str = re.search(r"```json(.*?)```", reply, re.DOTALL).group(1).strip().replace("\n", "")
        else:
            json_str = reply.strip().replace("\n", "")
        return json.loads(json_str)
    except (AttributeError, ValueError, RecursionError):
        return None


def _kie_text(text: str) -> str:
    """Official ``KieEvaluator.normalize_func`` (fullwidth_to_halfwidth + remove_unnecessary_spaces)."""
    t = "".join(" " if ord(c) == 0x3000 else chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c
                for c in str(text)).replace("、", ",")
    t = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", t)
    t = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[a-zA-Z0-9])", "", t)
    t = re.sub(r"(?<=[a-zA-Z0-9])\s+(?=[\u4e00-\u9fff])", "", t)
    t = re.sub(r"(?<![0-9])\s*([,.!?:;])\s*", r"\1 ", t)
    t = re.sub(r"(?<=[0-9])(?=[a-zA-Z])", " ", t)
    t = re.sub(r"(?<=[a-zA-Z])(?=[0-9])", " ", t)
    return re.sub(r"\s+", " ", t)


def _normalize_values(d):
    """Official ``normalize_values_of_nested_dict`` (strings directly inside lists are left as they are)."""
    if isinstance(d, dict):
        return {k: _normalize_values(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_normalize_values(x) if isinstance(x, dict) else x for x in d]
    if isinstance(d, str):
        return _kie_text(d)
    return d


def _normalize_dict(data):
    """Official ``normalize_dict``."""
    if isinstance(data, dict):
        new = {}
        for key in sorted(data.keys(), key=lambda k: (len(k), k)):
            value = _normalize_dict(data[key])
            if value:
                new[key] = value if isinstance(value, list) else [value]
        return new
    if isinstance(data, list):
        if all(isinstance(x, dict) for x in data):
            return [y for y in (_normalize_dict(x) for x in data) if y]
        return [str(x).strip() for x in data if type(x) in {str, int, float} and str(x).strip()]
    return [str(data).strip()]


def _flatten(data) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def walk(value, key=""):
        if type(value) is dict:
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif type(value) is list:
            for v in value:
                walk(v, key)
        else:
            out.append((key, value))

    walk(data)
    return out


def kie_counts(prediction: str, gold: Any) -> dict:
    """``{"tp", "fn_or_fp"}`` (+ ``error`` for a reply that is not JSON) of one sample, as ``cal_f1_all``."""
    parsed = post_process_to_json(str(prediction))
    out: dict = {}
    if parsed is None:
        out["error"] = "reply is not JSON"
        parsed = {}
    pred = _flatten(_normalize_dict(_normalize_values(parsed)))
    answer = _flatten(_normalize_dict(_normalize_values(gold)))
    tp = fn_or_fp = 0
    for fld in pred:
        if fld in answer:
            tp += 1
            answer.remove(fld)
        else:
            fn_or_fp += 1
    return {"tp": tp, "fn_or_fp": fn_or_fp + len(answer), **out}


def _tree(data, name: str = "<root>"):
    """Official ``construct_tree_from_dict``."""
    from zss import Node

    node = Node(name)
    if isinstance(data, dict):
        for key, value in data.items():
            node.addkid(_tree(value, key))
    elif isinstance(data, list):
        if all(isinstance(x, dict) for x in data):
            for x in data:
                node.addkid(_tree(x, "<subtree>"))
        else:
            for x in data:
                node.addkid(Node(f"<leaf>{x}"))
    return node


def _update_cost(a, b) -> int:
    la, lb = "<leaf>" in a.label, "<leaf>" in b.label
    if la and lb:
        return _edit(a.label.replace("<leaf>", ""), b.label.replace("<leaf>", ""))
    if la != lb:
        return 1 + len((a if la else b).label.replace("<leaf>", ""))
    return int(a.label != b.label)


def _insert_remove_cost(node) -> int:
    return len(node.label.replace("<leaf>", "")) if "<leaf>" in node.label else 1


def kie_ted_acc(prediction: str, gold: Any) -> float:
    """Official ``cal_acc``: max(0, 1 − TED(pred, gold) / TED(empty, gold)) over the normalised trees (Zhang–Shasha,
    ``zss``); a reply that is not JSON is the empty prediction. A gold that normalises to nothing (the
    official code divides by zero) gives 1.0 for an empty prediction, else 0.0."""
    import zss

    parsed = post_process_to_json(str(prediction))
    pred = _tree(_normalize_dict(_normalize_values({} if parsed is None else parsed)))
    answer = _tree(_normalize_dict(_normalize_values(gold)))
    kw = dict(get_children=zss.Node.get_children, insert_cost=_insert_remove_cost, remove_cost=_insert_remove_cost,
              update_cost=_update_cost, return_operations=False)
    dist, full = zss.distance(pred, answer, **kw), zss.distance(_tree(_normalize_dict({})), answer, **kw)
    if full == 0:
        return 1.0 if dist == 0 else 0.0
    return max(0.0, 1.0 - dist / full)


def _kie_f1(tp: int, fn_or_fp: int) -> float:
    return tp / (tp + fn_or_fp / 2 + 1e-6)


# ------------------------------------------------------------------ the adapter
@dataclass
class CCOCRConfig(AdapterConfig):
    """``track``: multi_scene_ocr, multi_lan_ocr, doc_parsing or kie; column names as on the hub."""

    track: str = "multi_scene_ocr"
    id_keys: list[str] = field(default_factory=lambda: ["index", "id"])
    subset_key: str = "l2-category"

    def validate(self, where: str = "CCOCRConfig") -> None:
        if self.track not in TRACKS:
            raise ConfigError(f"{where}.track must be one of {', '.join(TRACKS)}, got {self.track!r}")


@register("ccocr", category="Document & OCR")
class CCOCRAdapter(SimplePromptMixin, Adapter):
    """CC-OCR: index, question (the track's instruction), answer (text / LaTeX / HTML / JSON label), image,
    l2-category (the subset)."""

    required_keys = ("question", "answer")
    config_cls = CCOCRConfig

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        images = image_cells(self, record, where, ("image",), required=True)
        subset = str(record.get(self.config.subset_key) or "")
        answer: Any = text_field(record, "answer", where)
        meta: dict = {"subset": subset, "source": str(where)}
        if self.config.track == "doc_parsing":
            op = parsing_op(subset)
            if op is None:
                raise BenchmarkFormatError(where, self.config.subset_key,
                                           f"doc_parsing subset {subset!r} names none of {', '.join(PARSING_OPS)}")
            meta["op"] = op
        elif self.config.track == "kie":
            try:
                answer = json.loads(answer)
            except ValueError as exc:
                raise BenchmarkFormatError(where, "answer", f"the KIE label is not JSON: {exc}") from None
        return Item(id=row_id(record, tuple(self.config.id_keys), where),
                    question=with_slots(text_field(record, "question", where), len(images)), images=images,
                    answer=answer, metadata=meta)

    def detail(self, prediction: str, item: Item) -> dict:
        track = self.config.track
        if track == "doc_parsing":
            score, error = parsing_score(prediction, item.answer, item.metadata["op"])
            return {"score": score, **({"error": error} if error else {})}
        if track == "kie":
            return {**kie_counts(prediction, item.answer), "ted_acc": kie_ted_acc(prediction, item.answer)}
        return ocr_counts(prediction, item.answer, item.metadata["subset"], track)

    def score(self, prediction: str, item: Item) -> float:
        d = self.detail(prediction, item)
        if self.config.track == "doc_parsing":
            return d["score"]
        if self.config.track == "kie":
            return _kie_f1(d["tp"], d["fn_or_fp"])
        return _f1(**d)

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        track = self.config.track
        out: dict[str, Any] = {"n": len(scores), "track": track}
        if track in OCR_TRACKS:
            ds = [d for d in details if d is not None]
            tot = {k: sum(d[k] for d in ds) for k in ("right", "n_gold", "n_pred")}
            return {"macro_f1": sum(scores) / len(scores) if scores else float("nan"),
                    "micro_f1": _f1(**tot) if ds else float("nan"), **out}
        by_subset: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            by_subset.setdefault(it.metadata["subset"], []).append(i)
        per: dict[str, float] = {}
        for sub, idx in sorted(by_subset.items()):
            if track == "kie":
                per[sub] = _kie_f1(sum(details[i]["tp"] for i in idx), sum(details[i]["fn_or_fp"] for i in idx))
            else:
                per[sub] = sum(scores[i] for i in idx) / len(idx)
        key = "f1" if track == "kie" else "score"
        out[key] = sum(per.values()) / len(per) if per else float("nan")
        out.update({f"{key}_{sub}": v for sub, v in per.items()})
        if track == "kie":  # cal_acc_all: sum / (n + 1e-6) per subset, then the mean over subsets
            acc = {sub: sum(details[i]["ted_acc"] for i in idx) / (len(idx) + 1e-6) for sub, idx in by_subset.items()}
            out["acc"] = sum(acc.values()) / len(acc) if acc else float("nan")
            out.update({f"acc_{sub}": v for sub, v in sorted(acc.items())})
            out["f1_micro"] = (_kie_f1(sum(d["tp"] for d in details), sum(d["fn_or_fp"] for d in details))
                               if details else float("nan"))
        else:
            out["micro"] = sum(scores) / len(scores) if scores else float("nan")
        out["n_errors"] = sum(1 for d in details if d and d.get("error"))
        return out


# One registered name per track, so that a job can run several tracks (a benchmark name is listed once per job).
@dataclass
class CCOCRDocParsingConfig(CCOCRConfig):
    track: str = "doc_parsing"


@dataclass
class CCOCRKieConfig(CCOCRConfig):
    track: str = "kie"


@register("ccocr_doc_parsing", category="Document & OCR")
class CCOCRDocParsingAdapter(CCOCRAdapter):
    """CC-OCR's document-parsing track (``ccocr`` with ``track: doc_parsing``)."""

    config_cls = CCOCRDocParsingConfig


@register("ccocr_kie", category="Document & OCR")
class CCOCRKieAdapter(CCOCRAdapter):
    """CC-OCR's key-information-extraction track (``ccocr`` with ``track: kie``)."""

    config_cls = CCOCRKieConfig
