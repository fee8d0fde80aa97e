"""MMLongBench-Doc: questions about long PDF documents, scored with the official ``eval/eval_score.py``.

Layout (as on the hub, ``yubo2333/MMLongBench-Doc``, or the GitHub ``data/`` folder): the sample rows
(``data/*.parquet`` or ``samples.json``) with ``doc_id`` (the PDF's file name), ``doc_type``, ``question``,
``answer``, ``answer_format`` (``Str`` / ``Int`` / ``Float`` / ``List`` / ``None``), ``evidence_pages`` and
``evidence_sources`` (stringified lists), and the PDFs in ``documents/`` beside them (``documents_dir``,
relative to the benchmark folder: the folder given as ``path``, or the folder of the given file).

Pages (official ``run_lvlm.py`` ``extract_images`` + ``concat_images``, github:mayubo2333/MMLongBench-Doc at
d73f0dc): the first ``max_pages`` pages (default 120) are rendered at ``dpi`` (default 144; the official
script uses PyMuPDF, we use pypdfium2 — same page raster up to anti-aliasing) and, when ``concat_num`` > 0
(official: 5, 1 for MiniCPM), concatenated into at most ``concat_num`` images of ``column_num`` (3) pages per
row, each image holding ``ceil(pages / concat_num)`` pages; ``concat_num: 0`` gives one image per page. The
PDF is checked when the rows are read (inside the documents folder, a regular file, a PDF pdfium opens, at
least one page); a missing, broken or outside PDF is a rejection naming file, row and ``doc_id``. Pages are
rendered only when the prompt is built, and kept in a :class:`PageCache` (``page_cache_mb``, default 1536 MiB;
0 = off): the ~8 questions of a document, and the same question under each protocol, render its pages once
while it stays in the cache. The prompt is the question with the images in front (as official).

Scoring:

1. **Answer extraction.** The official protocol asks GPT-4o with ``eval/prompt_for_answer_extraction.md``
   (user turn) and a prefilled assistant turn ``"\n\nQuestion:{question}\nAnalysis:{reply}\n"``, at
   temperature 0 and 256 tokens, then takes the text between ``Extracted answer:`` and ``Answer format:``
   (``extract_answer.py``, ``run_lvlm.py``). With ``judge`` set (``eval.judge``) exactly that request goes to
   the judge endpoint and scores are marked ``judge``. Without one a documented **rule** stands in (marked
   ``rule``, :func:`rule_extract`): a reply that itself has ``Extracted answer:`` is split as official;
   a reply saying the question cannot be answered from the document gives ``Not answerable``; else, by the
   gold ``answer_format`` (which the official extractor does not see — it picks the format itself): Int /
   Float the reply's final number, List a ``[...]`` literal in the reply or else its comma / line items,
   Str / None the reply's answer span (``\boxed{}``, "answer is …", else the whole reply).
2. **Comparison** (:func:`eval_score`, a line-by-line port of the official ``eval_score``): Int exact after
   ``int(float(pred))``; Float with ``is_float_equal`` (×1/×100/÷100, 1% relative tolerance, rounding to
   the shorter precision, at least 2 places); Str/None cleaned (lower case, parentheses, quotes, ``$``,
   ``%`` removed) then exact for URLs/dates/phones/emails/… (``is_exact_match``) or ANLS (0 at or below
   0.5); List equal length, sorted, then joined exact (numbers / exact-match items) or the minimum ANLS.
   An exception anywhere scores 0, as the official ``try``/``except`` around ``eval_score`` does (the
   official ``eval()`` of list strings is ``ast.literal_eval`` here: nothing is executed).
3. **Aggregate** (``eval_acc_and_f1``, ``show_results``): ``accuracy`` (mean score), ``f1`` — recall over
   answerable questions (gold ≠ "Not answerable"), precision over the items whose extracted answer is not
   "Not answerable", both with the answerable items' score sum as numerator — and the single-page,
   cross-page and unanswerable accuracies, and the accuracy per evidence source and per document type.
"""
from __future__ import annotations

import ast
import math
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from math import isclose
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image

from lomo_ablate.evaluate.benchmarks import scoring
from lomo_ablate.evaluate.benchmarks.base import Adapter, AdapterConfig, BenchmarkFormatError, Item, user_prompt
from lomo_ablate.evaluate.benchmarks.common import row_id, text_field, with_slots
from lomo_ablate.evaluate.benchmarks.records import RecordLocation, decoded_bytes
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils.config import ConfigError, check_range

__all__ = ["MMLongBenchDocAdapter", "MMLongBenchDocConfig", "PdfPages", "PageCache", "render_pages", "decoded_bytes",
           "file_key", "eval_score", "eval_acc_and_f1", "rule_extract", "parse_extracted", "EXTRACTION_PROMPT",
           "NOT_ANSWERABLE"]

NOT_ANSWERABLE = "Not answerable"
FORMATS = ("Str", "Int", "Float", "List", "None")

#: eval/prompt_for_answer_extraction.md of github:mayubo2333/MMLongBench-Doc (Apache-2.0), verbatim
EXTRACTION_PROMPT = (
    'Given the question and analysis, you are tasked to extract answers with required formats from the free-form analysis. \n'
    '- Your extracted answers should be one of the following formats: (1) Integer, (2) Float, (3) String and (4) List. If you find the analysis the question can not be answered from the given documents, type "Not answerable". Exception: If the analysis only tells you that it can not read/understand the images or documents, type "Fail to answer".\n'
    '- Please make your response as concise as possible. Also note that your response should be formatted as below:\n'
    '```\n'
    'Extracted answer: [answer]\n'
    'Answer format: [answer format]\n'
    '```\n'
    '\n'
    'Please read the following example, then extract the answer from the model response and type it at the end of the prompt. \n'
    '\n'
    '---\n'
    'Question: List the primary questions asked about the services in this report.\n'
    'Analysis:  The primary questions asked about the services in the report for The Limes Residential Home are:\\n\\n1. Is the service safe?\\n2. Is the service effective?\\n3. Is the service caring?\\n4. Is the service responsive?\\n5. Is the service well-led?\n'
    "Extracted answer: ['Is the servife safe?', 'Is the service effective', 'Is the serve caring?', 'Is the service responsive?', 'Is the service well-led?']\n"
    'Answer format: List\n'
    '\n'
    '---\n'
    'Question: How many regulations of the HSCA 2008 are breached in all according to this report?\n'
    'Analysis: According to the report, the provider breached 10 Health and Social Care Act 2008 (Regulated Activities) Regulations in total. Here are the specifics:\\n\\n1. Regulation 13: Safeguarding service users from abuse and improper treatment\\n2. Regulation 12: Safe care and treatment\\n3. Regulation 18: Staffing\\n4. Regulation 11: Need for consent\\n5. Regulation 10: Dignity and respect\\n6. Regulation 9: Person-centred care\\n7. Regulation 17: Good governance\\n8. Regulation 18 (CQC Registration Regulations 2009): Notification of other incidents\\n9. Regulation 18: Failure to maintain an accurate and up-to-date care plan\\n10. Regulation 11: Failure to implement the Mental Capacity Act 2005 code of practice effectively\\n\\nThese breaches involve issues concerning staffing, safeguarding, medicines management, dignity and respect, consent, care planning, governance, and failure to notify the CQC of incidents.\n'
    'Extracted answer: 10\n'
    'Answer format: Integer\n'
    '\n'
    '---\n'
    "Question: According to the survey that is the percentage of Chinese who are paying more or about the same attention to politics after Trump's election?\n"
    "Analysis: The survey provided does not specify the percentage of Chinese individuals specifically who are paying more or about the same attention to politics after Trump's election. The report focuses primarily on American demographics and does not include specific details about the Chinese population in relation to this question. If you need information about a different demographic or a summary of the findings from the American demographic, I can certainly help with that!\n"
    'Extracted answer: Not answerable\n'
    'Answer format: String\n'
    '\n'
    '---\n'
    'Question: How many quotations from male respondent over 50 years old are included in this report?\n'
    "Analysis: The image you've provided appears to be a screenshot of a document with multiple charts. However, the text is too small and blurry to read accurately. If you can provide a clearer image or more context, I might be able to help you with your question.\n"
    'Extracted answer: Fail to answer\n'
    'Answer format: String\n'
    '\n'
    '---')


# ------------------------------------------------------------------ the official eval_score.py, ported
def _levenshtein(s1: str, s2: str) -> int:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(s1, s2)  # unit insert/delete/substitute, as levenshtein_distance


def anls_compute(groundtruth: str, prediction: str, threshold: float = 0.5) -> float:
    dist = _levenshtein(groundtruth, prediction)
    length = max(len(groundtruth.upper()), len(prediction.upper()))
    value = 0.0 if length == 0 else float(dist) / float(length)
    anls = 1.0 - value
    return 0.0 if anls <= threshold else anls


def is_float_equal(reference, prediction, include_percentage: bool = False, is_close: bool = False) -> bool:
    def get_precision(gt_ans: float) -> int:
        precision = 3
        if "." in str(gt_ans):
            precision = len(str(gt_ans).split(".")[-1])
        return precision

    reference = float(str(reference).strip().rstrip("%").strip())
    try:
        prediction = float(str(prediction).strip().rstrip("%").strip())
    except ValueError:
        return False
    gt_result = [reference / 100, reference, reference * 100] if include_percentage else [reference]
    for item in gt_result:
        try:
            if is_close and isclose(item, prediction, rel_tol=0.01):
                return True
            precision = max(min(get_precision(prediction), get_precision(item)), 2)
            if round(prediction, precision) == round(item, precision):
                return True
        except Exception:  # noqa: BLE001 — as official
            continue
    return False


def get_clean_string(s) -> str:
    # (the official strips of "mile"/"miles"/"million" discard their result: no-ops, kept so)
    s = str(s).lower().strip()
    s = re.sub(r"\s*\([^)]*\)", "", s).strip()
    s = re.sub(r"^['\"]|['\"]$", "", s).strip()
    s = s.strip().lstrip("$").strip()
    s = s.strip().rstrip("%").strip()
    return s


def is_exact_match(s: str) -> bool:
    return bool("https://" in s or s.endswith(".py") or s.endswith("ipynb") or s.startswith("page")
                or re.fullmatch(r"\b\d+(-\d+|\s\d+)?\b", s) or "a.m." in s or "p.m." in s
                or re.fullmatch(r"\b\d{4}[-\s]\d{2}[-\s]\d{2}\b", s) or re.fullmatch(r"\b\d{4}[-\s]\d{2}\b", s)
                or re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}", s))


def _isfloat(num) -> bool:
    try:
        float(num)
        return True
    except ValueError:
        return False


def _eval_score(gt, pred, answer_type: str) -> float:
    if answer_type == "Int":
        try:
            gt, pred = int(gt), int(float(pred))
        except (ValueError, TypeError, OverflowError):
            pred = ""
        score = gt == pred
    elif answer_type == "Float":
        try:
            gt = float(get_clean_string(str(gt)))
            pred = float(get_clean_string(str(pred)))
        except ValueError:
            pred = ""
        score = is_float_equal(gt, pred, include_percentage=True, is_close=True)
    elif answer_type in ("Str", "None"):
        gt, pred = get_clean_string(gt), get_clean_string(pred)
        score = (gt == pred) if is_exact_match(gt) else anls_compute(gt, pred)
    else:
        if isinstance(gt, str) and gt.startswith("["):
            gt = ast.literal_eval(gt)
        if not isinstance(gt, list):
            gt = [gt]
        if isinstance(pred, str) and pred.startswith("["):
            pred = ast.literal_eval(pred)
        if not isinstance(pred, list):
            pred = [pred]
        if len(gt) != len(pred):
            score = 0.0
        else:
            gt = sorted(get_clean_string(a) for a in gt)
            pred = sorted(get_clean_string(a) for a in pred)
            if _isfloat(gt[0]) or is_exact_match(gt[0]):
                score = "-".join(gt) == "-".join(pred)
            else:
                score = min(anls_compute(g, p) for g, p in zip(gt, pred))
    return float(score)


def eval_score(gt, pred, answer_type: str) -> float:
    """The official ``eval_score(gt, pred, answer_type)``; an exception scores 0 (official ``run_lvlm.py``)."""
    try:
        return _eval_score(gt, pred, answer_type)
    except Exception:  # noqa: BLE001 — the official loop catches everything here and scores 0.0
        return 0.0


def eval_acc_and_f1(samples: Sequence[dict]) -> tuple[float, float]:
    """The official ``eval_acc_and_f1`` over ``{"score", "answer", "pred"}`` dicts."""
    samples = [s for s in samples if "score" in s]
    if not samples:
        return 0.0, 0.0
    acc = sum(s["score"] for s in samples) / len(samples)
    try:
        answerable = [s for s in samples if s["answer"] != NOT_ANSWERABLE]
        hit = sum(s["score"] for s in answerable)
        recall = hit / len(answerable)
        precision = hit / len([s for s in samples if s["pred"] != NOT_ANSWERABLE])
        f1 = 2 * recall * precision / (recall + precision) if (recall + precision) > 0.0 else 0.0
    except ZeroDivisionError:
        f1 = 0.0
    return acc, f1


# ------------------------------------------------------------------ answer extraction
_UNANSWERABLE = re.compile(
    r"not answerable|unanswerable|cannot be answered|can ?not be (?:answered|determined)|"
    r"(?:does|do) not (?:provide|mention|specify|contain|include|say)|no (?:information|mention)|"
    r"not (?:mentioned|provided|specified|stated) in the (?:document|report|text|images?)", re.IGNORECASE)


def parse_extracted(reply: str) -> str | None:
    """The official split of an extractor reply: between ``Extracted answer:`` and ``Answer format:``."""
    try:
        return reply.split("Answer format:")[0].split("Extracted answer:")[1].strip()
    except IndexError:
        return None


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def rule_extract(reply: str, answer_format: str) -> str:
    """The no-judge extraction of the module docstring (step 1); returns the extracted answer text."""
    reply = str(reply)
    own = parse_extracted(reply)
    if own is not None:
        return own
    if _UNANSWERABLE.search(reply):
        return NOT_ANSWERABLE
    span = scoring.answer_span(reply).strip()
    if answer_format in ("Int", "Float"):
        num = scoring.final_number(reply)
        return _number_text(num) if num is not None else span
    if answer_format == "List":
        m = re.search(r"\[[^\[\]]*\]", reply)
        if m:
            try:
                val = ast.literal_eval(m.group(0))
                if isinstance(val, (list, tuple)):
                    return repr([str(v) for v in val])
            except (ValueError, SyntaxError):
                pass
        lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", l).strip() for l in span.splitlines()]
        parts = [l for l in lines if l] if len([l for l in lines if l]) > 1 else \
            [p.strip() for p in re.split(r",|\band\b", span) if p.strip()]
        return repr([p.rstrip(".") for p in parts])
    return span.strip().rstrip(".").strip()


# ------------------------------------------------------------------ pages
#: pdfium is not thread-safe (pypdfium2's documentation: no two pdfium calls at once, not even on different
#: documents), so every call into it here holds this lock
_PDFIUM_LOCK = threading.RLock()


@dataclass(frozen=True)
class PdfPages:
    """Pages ``first``..``last`` (0-based, inclusive) of a PDF, rendered at ``dpi`` and laid out ``columns``
    per row into one image when opened (official ``concat_images``)."""

    path: str
    first: int
    last: int
    dpi: int
    columns: int

    @property
    def n_pages(self) -> int:
        return self.last - self.first + 1

    def open(self) -> Image.Image:
        return render_pages([self])[0]


def _render_group(pdf: Any, group: PdfPages) -> Image.Image:
    """One group's image, pasting each page into the canvas as soon as it is rendered (peak: the canvas and one
    page, not the group's pages and the canvas). pdfium's BGR bitmap comes back from ``to_pil`` as an RGB copy:
    it is converted only when it is not RGB already (``convert`` of an RGB image would copy it again)."""
    cols = group.columns
    out: Image.Image | None = None
    w = h = 0
    for n, i in enumerate(range(group.first, group.last + 1)):
        page = pdf[i]
        try:
            im = page.render(scale=group.dpi / 72).to_pil()
        finally:
            page.close()
        if im.mode != "RGB":
            im = im.convert("RGB")
        if group.n_pages == 1 and cols <= 1:
            return im
        if out is None:
            w, h = im.width, im.height
            rows = group.n_pages if cols == 1 else (group.n_pages - 1) // cols + 1
            out = Image.new("RGB", (w * cols, h * rows), "white")
        out.paste(im, ((n % cols) * w, (n // cols) * h))
    assert out is not None
    return out


def render_pages(groups: Sequence[PdfPages]) -> list[Image.Image]:
    """The image of each group, in order; each PDF is opened once for all of its groups."""
    import pypdfium2 as pdfium

    out: list[Image.Image] = []
    with _PDFIUM_LOCK:
        docs: dict[str, Any] = {}
        try:
            for g in groups:
                if g.path not in docs:
                    docs[g.path] = pdfium.PdfDocument(g.path)
                out.append(_render_group(docs[g.path], g))
        finally:
            for pdf in docs.values():
                pdf.close()
    return out


def file_key(path: str | os.PathLike) -> tuple:
    """What identifies a file's current content without reading it: its resolved path, device, inode, size and
    modification time (ns). Rewriting a file changes its size or mtime, replacing it (``os.replace``, a new
    copy) its inode."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class PageCache:
    """Rendered page images by document and layout, least recently used first out, bounded by
    :func:`decoded_bytes`.

    Keys come from :meth:`key` (:func:`file_key` of the PDF + the layout: each group's pages, dpi and
    columns), so a PDF changed or replaced on disk is a new key and is rendered again. :meth:`get` and
    :meth:`get_or_render` return copies: a caller drawing on, or closing, its images leaves the cache intact.
    An entry larger than the whole budget is not kept (counted in ``oversize``); when a PDF is rendered again
    because it changed, its entries from before are dropped at once (``stale``). Thread-safe; concurrent
    :meth:`get_or_render` calls for one key render it once (the others wait for that render).
    """

    def __init__(self, max_bytes: int):
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"PageCache: max_bytes must be a positive integer, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[tuple[Image.Image, ...], int]] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering: dict[tuple, list] = {}
        self.bytes = 0
        self.hits = self.misses = self.evictions = self.oversize = self.stale = 0

    @staticmethod
    def key(groups: Sequence[PdfPages]) -> tuple:
        """The key of ``groups`` (one PDF's): the file as it is now, and the layout."""
        paths = {g.path for g in groups}
        if len(paths) != 1:
            raise ValueError(f"PageCache.key: the groups must come from one PDF, got {sorted(paths)}")
        return (file_key(groups[0].path), tuple((g.first, g.last, g.dpi, g.columns) for g in groups))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._entries

    def get(self, key: tuple) -> list[Image.Image] | None:
        """Copies of the images under ``key`` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            images = entry[0]
        return [im.copy() for im in images]  # a cached image is never changed in place, so outside the lock

    def put(self, key: tuple, images: Sequence[Image.Image]) -> bool:
        """Keep ``images`` (the cache owns them from now on: pass copies if you go on using them) under
        ``key``, evicting the least recently used entries until they fit. False when they are larger than the
        whole budget (nothing is kept or evicted)."""
        size = sum(decoded_bytes(im) for im in images)
        with self._lock:
            if size > self.max_bytes:
                self.oversize += 1
                return False
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            while self._entries and self.bytes + size > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.bytes -= freed
                self.evictions += 1
            self._entries[key] = (tuple(images), size)
            self.bytes += size
        return True

    def get_or_render(self, groups: Sequence[PdfPages],
                      render: Callable[[Sequence[PdfPages]], list[Image.Image]] = render_pages) -> list[Image.Image]:
        """``render(groups)``'s images, from the cache when this PDF (as it is on disk now) was rendered with
        this layout before. What is rendered is kept only if the file did not change while it was read."""
        key = self.key(groups)
        with self._lock:
            gate = self._rendering.setdefault(key, [threading.Lock(), 0])  # [lock, callers holding or waiting]
            gate[1] += 1
        try:
            with gate[0]:
                hit = self.get(key)
                if hit is not None:
                    return hit
                with self._lock:
                    self.misses += 1
                    for old in [k for k in self._entries if k[0][0] == key[0][0] and k[0] != key[0]]:
                        self.bytes -= self._entries.pop(old)[1]  # the same path, no longer the same file
                        self.stale += 1
                images = render(groups)
                if self.key(groups) == key and self.put(key, images):
                    return [im.copy() for im in images]
                return images
        finally:
            with self._lock:
                gate[1] -= 1
                if not gate[1]:
                    del self._rendering[key]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": self.bytes, "max_bytes": self.max_bytes,
                    "hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                    "oversize": self.oversize, "stale": self.stale}


def page_groups(n_pages: int, concat_num: int) -> list[tuple[int, int]]:
    """(first, last) page of each image: official ``interval = max(ceil(n / concat_num), 1)``."""
    if concat_num <= 0:
        return [(i, i) for i in range(n_pages)]
    interval = max(math.ceil(n_pages / concat_num), 1)
    return [(i, min(i + interval, n_pages) - 1) for i in range(0, n_pages, interval)]


# ------------------------------------------------------------------ the adapter
@dataclass
class MMLongBenchDocConfig(AdapterConfig):
    """``documents_dir``: the PDFs' folder, relative to the benchmark folder; ``dpi`` / ``max_pages`` /
    ``concat_num`` / ``column_num``: page rendering (official 144 / 120 / 5 / 3; ``concat_num: 0`` = one image
    per page); ``judge``: an ``eval.judge`` mapping for the official LLM answer extraction, None for the rule;
    ``judge_max_tokens``: the extraction reply's length (official 256); ``page_cache_mb``: the
    :class:`PageCache` budget in MiB of decoded pixels (0 = no cache: every prompt renders its pages)."""

    documents_dir: str = "documents"
    dpi: int = 144
    max_pages: int = 120
    concat_num: int = 5
    column_num: int = 3
    judge: dict | None = None
    judge_max_tokens: int = 256
    page_cache_mb: int = 1536

    def validate(self, where: str = "MMLongBenchDocConfig") -> None:
        check_range(f"{where}.dpi", self.dpi, 1, 1200, integer=True)
        check_range(f"{where}.max_pages", self.max_pages, 1, integer=True)
        check_range(f"{where}.concat_num", self.concat_num, 0, integer=True)
        check_range(f"{where}.column_num", self.column_num, 1, integer=True)
        check_range(f"{where}.judge_max_tokens", self.judge_max_tokens, 1, integer=True)
        check_range(f"{where}.page_cache_mb", self.page_cache_mb, 0, 1 << 20, integer=True)  # MiB, 0 = off
        if not str(self.documents_dir).strip():
            raise ConfigError(f"{where}.documents_dir must name a folder")


def _list_cell(record: dict, key: str, where: RecordLocation) -> list:
    v = record.get(key)
    if v in (None, ""):
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    try:
        parsed = ast.literal_eval(str(v))
    except (ValueError, SyntaxError) as exc:
        raise BenchmarkFormatError(where, key, f"not a list: {str(v)[:60]!r} ({exc})") from None
    if not isinstance(parsed, (list, tuple)):
        raise BenchmarkFormatError(where, key, f"not a list: {str(v)[:60]!r}")
    return list(parsed)


@register("mmlongbench_doc", category="Document & OCR")
class MMLongBenchDocAdapter(Adapter):
    """MMLongBench-Doc (see the module docstring)."""

    required_keys = ("doc_id", "question", "answer", "answer_format")
    config_cls = MMLongBenchDocConfig
    image_keys = ()  # the pages come from doc_id, not an image cell

    def __init__(self, config: MMLongBenchDocConfig | dict | None = None):
        super().__init__(config)
        from lomo_ablate.evaluate.judge import make_judge

        self.judge = make_judge(self.config.judge, "mmlongbench_doc options.judge")
        self.scored_by = "judge" if self.judge is not None else "rule"
        self._root: Path | None = None
        self._extracted: dict[tuple[str, str], str] = {}
        mb = self.config.page_cache_mb
        self.page_cache: PageCache | None = PageCache(mb << 20) if mb else None
        #: pages rasterised by this adapter so far (a cache hit rasterises none)
        self.pages_rendered = 0
        self._count_lock = threading.Lock()

    def load(self, path: str | Path) -> list[Item]:
        p = Path(path)
        self._root = p if p.is_dir() else p.parent
        return super().load(path)

    def _document(self, doc_id: str, where: RecordLocation) -> tuple[str, int]:
        import pypdfium2 as pdfium

        from lomo_ablate.curate.media import MediaProblem, resolve_in_root

        folder = (self._root or where.base_dir) / self.config.documents_dir
        try:
            real = resolve_in_root(doc_id, folder, kind="document")
        except MediaProblem as exc:
            raise BenchmarkFormatError(where, "doc_id", f"{exc.reason}: {exc.detail}") from None
        with _PDFIUM_LOCK:
            try:
                pdf = pdfium.PdfDocument(real)
            except (pdfium.PdfiumError, OSError) as exc:
                raise BenchmarkFormatError(where, "doc_id", f"not a readable PDF ({real}): {exc}") from None
            try:
                n = len(pdf)
            finally:
                pdf.close()
        if n < 1:
            raise BenchmarkFormatError(where, "doc_id", f"PDF has no pages ({real})")
        return real, n

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        fmt = str(record.get("answer_format"))
        if fmt not in FORMATS:
            raise BenchmarkFormatError(where, "answer_format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        doc_id = text_field(record, "doc_id", where)
        question = text_field(record, "question", where)
        answer = record.get("answer")
        if answer is None:
            raise BenchmarkFormatError(where, "answer", "empty")
        evidence_pages = _list_cell(record, "evidence_pages", where)
        evidence_sources = _list_cell(record, "evidence_sources", where)
        images: list = []
        meta = {"doc_id": doc_id, "doc_type": str(record.get("doc_type") or ""), "answer_format": fmt,
                "evidence_pages": evidence_pages, "evidence_sources": [str(s) for s in evidence_sources],
                "raw_question": question, "source": str(where)}
        if not self.rescoring:  # re-scoring never reads the pages
            real, n = self._document(doc_id, where)
            n = min(n, self.config.max_pages)
            images = [PdfPages(real, a, b, self.config.dpi, self.config.column_num if self.config.concat_num else 1)
                      for a, b in page_groups(n, self.config.concat_num)]
            meta["n_pages"] = n
        return Item(id=row_id(record, ("id", "question_id"), where), question=with_slots(question, len(images)), images=images, answer=str(answer), metadata=meta)

    def shard_group(self, item: Item) -> str:
        """The document: its questions (and protocols) go to one rank, which renders its pages once."""
        return f"mmlongbench_doc:{item.metadata['doc_id']}"

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        groups = [im for im in item.images if isinstance(im, PdfPages)]
        if groups and len(groups) == len(item.images) and len({g.path for g in groups}) == 1:  # as parse_record
            return user_prompt(item.question), self.pages(groups)
        return user_prompt(item.question), [self.pages([im])[0] if isinstance(im, PdfPages) else im
                                            for im in item.images]

    def pages(self, groups: Sequence[PdfPages]) -> list[Image.Image]:
        """The images of one PDF's ``groups``: from the page cache when it holds them, else rendered."""
        if self.page_cache is None:
            return self._render(groups)
        return self.page_cache.get_or_render(groups, self._render)

    def _render(self, groups: Sequence[PdfPages]) -> list[Image.Image]:
        with self._count_lock:
            self.pages_rendered += sum(g.n_pages for g in groups)
        return render_pages(groups)

    # ---------------------------------------------------------------- scoring
    def extract(self, prediction: str, item: Item) -> str:
        """The extracted answer (step 1 of the module docstring); judge replies are cached per reply."""
        if self.judge is None:
            return rule_extract(prediction, item.metadata["answer_format"])
        key = (item.metadata["raw_question"], prediction)
        if key not in self._extracted:
            reply = self.judge.chat(
                [{"role": "user", "content": EXTRACTION_PROMPT},
                 {"role": "assistant", "content": "\n\nQuestion:{}\nAnalysis:{}\n".format(*key)}],
                max_tokens=self.config.judge_max_tokens)
            got = parse_extracted(reply)
            self._extracted[key] = "Failed to extract" if got is None else got  # official run_lvlm.py
        return self._extracted[key]

    def detail(self, prediction: str, item: Item) -> dict:
        pred = self.extract(prediction, item)
        return {"pred": pred, "score": eval_score(item.answer, pred, item.metadata["answer_format"])}

    def score(self, prediction: str, item: Item) -> float:
        return self.detail(prediction, item)["score"]

    def aggregate(self, items: Sequence[Item], scores: Sequence[float], details: Sequence[dict | None]) -> dict:
        samples = [{"score": s, "answer": it.answer, "pred": (d or {}).get("pred"),
                    "pages": it.metadata["evidence_pages"], "sources": it.metadata["evidence_sources"],
                    "doc_type": it.metadata["doc_type"]} for it, s, d in zip(items, scores, details)]
        acc, f1 = eval_acc_and_f1(samples)
        single = [s for s in samples if len(s["pages"]) == 1]
        cross = [s for s in samples if len(s["pages"]) != 1 and s["answer"] != NOT_ANSWERABLE]
        neg = [s for s in samples if s["answer"] == NOT_ANSWERABLE]
        out: dict[str, Any] = {"accuracy": acc if samples else float("nan"), "f1": f1, "n": len(samples)}
        for name, group in (("single_page", single), ("cross_page", cross), ("unanswerable", neg)):
            out[f"accuracy_{name}"] = eval_acc_and_f1(group)[0]
            out[f"n_{name}"] = len(group)
        by_source: dict[str, list[dict]] = {}
        by_type: dict[str, list[dict]] = {}
        for smp in samples:  # show_results: an item counts for each of its evidence sources
            for src in smp["sources"]:
                by_source.setdefault(src, []).append(smp)
            by_type.setdefault(smp["doc_type"], []).append(smp)
        out["accuracy_by_source"] = {k: eval_acc_and_f1(v)[0] for k, v in sorted(by_source.items())}
        out["accuracy_by_doc_type"] = {k: eval_acc_and_f1(v)[0] for k, v in sorted(by_type.items())}
        return out
