"""Answer extraction and scoring rules shared by the adapters (pure functions on strings).

- :func:`extract_choice` — option letter from a free-form reply (MMMU-style: explicit "answer is (B)",
  a bare letter, "(B)", "B." or the option's text). No random fallback: an unparseable reply scores 0.
- :func:`extract_yes_no` — first standalone yes/no (HallusionBench).
- :func:`final_number` / :func:`find_numbers` — numbers in a reply (\\boxed{}, "####", "answer is", else the
  last number; thousands separators, fractions, number words zero–ninety).
- :func:`anls` — Average Normalised Levenshtein Similarity with threshold 0.5 (DocVQA).
- :func:`match_short_answer` — numeric equality when the gold answer is a number, else normalised exact
  match or whole-word containment (MMMU open questions, SimpleVQA, ZeroBench, WeMath free form).
"""
from __future__ import annotations

import math
import re
import string
from typing import Sequence

__all__ = ["LETTERS", "normalize_text", "levenshtein", "anls", "parse_number", "find_numbers", "final_number",
           "numbers_equal", "extract_choice", "extract_yes_no", "answer_span", "match_short_answer"]

LETTERS = "ABCDEFGHIJKLMNOP"

_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90})
_NUM_RE = re.compile(
    r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?(?![\w])"
    r"|(?<![\w.])[-−]?\.\d+(?![\w])"
    r"|\b(?:" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE)
_FRAC = re.compile(r"\\[dt]?frac\{\s*([^{}]+?)\s*\}\{\s*([^{}]+?)\s*\}")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(s: str) -> str:
    """Lowercase, punctuation → space, drop articles, collapse whitespace (SQuAD-style)."""
    s = str(s).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert/delete/substitute, cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def anls(prediction: str, answers: Sequence[str] | str, threshold: float = 0.5) -> float:
    """DocVQA's ANLS for one question: max over gold answers of 1 − NL when NL < threshold, else 0.

    NL = edit distance / max(len) on lower-cased, whitespace-collapsed strings.
    """
    golds = [answers] if isinstance(answers, str) else list(answers)
    pred = " ".join(str(prediction).strip().lower().split())
    best = 0.0
    for g in golds:
        gold = " ".join(str(g).strip().lower().split())
        longest = max(len(gold), len(pred))
        nl = levenshtein(gold, pred) / longest if longest else 0.0
        best = max(best, 1.0 - nl if nl < threshold else 0.0)
    return best


def parse_number(s: str) -> float | None:
    """A single number from a short string ("1,234", "-3.5", "3/4", "$12", "40%", "seven"); else None."""
    t = str(s).strip().lower().replace("−", "-").replace("$", "").replace("%", "").strip()
    t = _FRAC.sub(r"\1/\2", t).strip("{}() ").rstrip(".")
    if t in _WORDS:
        return float(_WORDS[t])
    if re.fullmatch(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+", t):
        return float(t.replace(",", ""))
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", t)
    if m and float(m.group(2)) != 0:
        return float(m.group(1)) / float(m.group(2))
    return None


def find_numbers(text: str) -> list[float]:
    """All numbers in ``text`` in order of appearance (digits, fractions, number words)."""
    out = []
    t = _FRAC.sub(r"\1/\2", str(text).replace("−", "-"))
    for m in _NUM_RE.finditer(t):
        v = parse_number(m.group(0))
        if v is not None:
            out.append(v)
    return out


def answer_span(prediction: str) -> str:
    """The part of a reply that states the final answer, when it marks one, else the whole reply.

    In order: the last ``\\boxed{...}``, the text after the last ``####``, the last ``{...}`` when the
    reply ends with it (ZeroBench asks for curly braces), the text after the last "answer is"/"answer:".
    """
    return _answer_span(prediction)[0]


def _answer_span(prediction: str) -> tuple[str, bool]:
    """(span, whether the reply marked it)."""
    p = str(prediction)
    boxed = re.findall(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}", p)
    if boxed:
        return boxed[-1], True
    if "####" in p:
        return p.rsplit("####", 1)[1], True
    braces = re.search(r"\{([^{}]*)\}\s*\.?\s*$", p)
    if braces:
        return braces.group(1), True
    cue = list(re.finditer(r"answer\s*(?:is|:)\s*", p, re.IGNORECASE))
    if cue:
        return p[cue[-1].end():], True
    return p, False


def final_number(prediction: str) -> float | None:
    """The reply's final numeric answer: the first number of its marked :func:`answer_span`, else the
    last number anywhere in the reply; None when there is none."""
    span, marked = _answer_span(prediction)
    nums = find_numbers(span)
    if not nums:
        return None
    return nums[0] if marked else nums[-1]


def numbers_equal(a: float | None, b: float | None, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def extract_choice(prediction: str, options: Sequence[str] | None = None, n_options: int | None = None) -> str | None:
    """The option letter a reply picks, or None.

    Tried in order: an explicit cue ("answer is (B)", "Answer: B", "\\boxed{B}"); a reply that is just a
    letter ("B", "(B)", "B."); the last "(B)"; the last "B." / "B)" / "B:" at a word start; finally the text
    of exactly one option (the longest when several match) appearing in the reply.
    """
    n = n_options if n_options is not None else (len(options) if options else 4)
    valid = LETTERS[:n]
    if not valid:
        return None
    p = _unwrap_markup(str(prediction)).strip()
    cls = f"[{valid}]"
    patterns = [
        rf"\\boxed\{{\s*\(?({cls})\)?\s*\}}",
        rf"(?:answer|option|choice)\s*(?:is|:)?\s*[:\-]?\s*\(?({cls})\)?(?![A-Za-z])",
    ]
    for pat in patterns:
        hits = re.findall(pat, p, re.IGNORECASE if pat is patterns[1] else 0)
        hits = [h.upper() for h in hits if h.upper() in valid]
        if hits:
            return hits[-1]
    m = re.fullmatch(rf"[\(\[]?({cls})[\)\].:]?", p)
    if m:
        return m.group(1)
    for pat in (rf"[\(\[]({cls})[\)\]]", rf"(?:^|(?<=\s))({cls})[\.\):](?!\w)"):
        hits = re.findall(pat, p)
        if hits:
            return hits[-1]
    if options:
        norm_p = f" {normalize_text(p)} "
        found = [(len(normalize_text(o)), i) for i, o in enumerate(options)
                 if normalize_text(o) and f" {normalize_text(o)} " in norm_p]
        if found:
            return valid[max(found)[1]]
    return None


def _unwrap_markup(p: str) -> str:
    """Markdown bold/italics and LaTeX ``\\text{..}`` / ``\\mathrm{..}`` wrappers removed (``**B**``,
    ``\\boxed{\\text{B}}`` read as ``B`` and ``\\boxed{B}``)."""
    p = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}", r"\1", p)
    return re.sub(r"(\*\*|__)(.+?)\1", r"\2", p)


def extract_yes_no(prediction: str) -> str | None:
    """"yes" or "no": the first standalone yes/no word in the reply, else None."""
    m = re.search(r"\b(yes|no)\b", str(prediction).lower())
    return m.group(1) if m else None


def match_short_answer(prediction: str, gold, rel_tol: float = 1e-6) -> float:
    """1.0 if a free-form reply matches a short gold answer, else 0.0.

    A numeric gold compares with :func:`final_number` (relative tolerance ``rel_tol``). A text gold
    matches when the normalised answer span equals it, or when the normalised gold occurs as whole words
    in the normalised reply (lenient, as MMMU's open-question scoring). A list of golds: any.
    """
    golds = gold if isinstance(gold, (list, tuple)) else [gold]
    for g in golds:
        gnum = parse_number(str(g))
        if gnum is not None:
            if numbers_equal(final_number(prediction), gnum, rel_tol=rel_tol):
                return 1.0
            continue
        ng = normalize_text(g)
        if not ng:
            continue
        if normalize_text(answer_span(prediction)) == ng or f" {ng} " in f" {normalize_text(prediction)} ":
            return 1.0
    return 0.0
