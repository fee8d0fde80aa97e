"""MM-IFEval's rule-verified constraints: the 19 ``verify_funcs`` of the official evaluation, ported.

Source (Apache-2.0): github.com/SYuan03/MM-IFEngine ``data_gen/utils/function_and_compare.py`` (commit bb844a7),
the same functions VLMEvalKit ships as ``vlmeval/dataset/utils/mmif/function_and_compare.py``. A C-Level row's
constraint ``{"judge": {"method": "rule_based", "verify_funcs": [{"func": <name>, "params": [...]}]}}`` is
followed when every listed function returns True for the reply (``func(reply, *params)``; official
``judge_one_item``). Each function below keeps the official name, arguments and regular expressions; the
comment after its name says which official function it is (same name throughout). Sentences are split with
``nltk.sent_tokenize`` as the official code does (NLTK's punkt_tab model, :mod:`._nltk_data`).

Known quirks kept on purpose (they are the benchmark's rule): word counts drop every character that is not a
word character, whitespace, ``.`` or ``-`` and split on whitespace; paragraphs are blocks separated by blank
lines after every line is stripped; ``check_whether_whole_response_*`` strip the reply, the per-sentence and
per-paragraph checks do not strip the pieces; the keyword checks match ``\\b<keyword>\\b`` case-insensitively.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

__all__ = ["RULES", "paragraphs", "sentences"]

_WORD_DROP = re.compile(r"[^\w\s.-]")
_PARAGRAPH_SPLIT = re.compile(r"\n\s*\n")


def _clean(text: str) -> str:
    """Official ``clean_text``: every line stripped, the whole stripped."""
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def paragraphs(text: str) -> list[str]:
    """Official paragraph split: non-blank blocks between blank lines of the cleaned text."""
    return [p for p in _PARAGRAPH_SPLIT.split(_clean(text)) if p.strip()]


def sentences(text: str) -> list[str]:
    import nltk

    return nltk.sent_tokenize(text)


def _words(text: str) -> int:
    return len(_WORD_DROP.sub("", text).split())


def _in(lo: int, n: int, hi: int) -> bool:
    return lo <= n <= hi


# --------------------------------------------------------------------------- counts
def check_whether_response_paragraph_number_in_range(response: str, lower_bound: int, upper_bound: int) -> bool:
    return _in(lower_bound, len(paragraphs(response)), upper_bound)


def check_whether_response_sentence_number_in_range(response: str, lower_bound: int, upper_bound: int) -> bool:
    return _in(lower_bound, len(sentences(_clean(response))), upper_bound)


def check_whether_each_paragraph_sentence_number_in_range(response: str, lower_bound: int,
                                                          upper_bound: int) -> bool:
    return all(_in(lower_bound, len(sentences(p)), upper_bound) for p in paragraphs(response))


def check_whether_each_paragraph_sentence_number_in_range_list(response: str, ranges: Sequence[Sequence[int]]) -> bool:
    paras = paragraphs(response)
    if len(paras) != len(ranges):
        return False
    return all(_in(lo, len(sentences(p)), hi) for p, (lo, hi) in zip(paras, ranges))


def check_whether_response_word_count_in_range(response: str, lower_bound: int, upper_bound: int) -> bool:
    return _in(lower_bound, _words(response), upper_bound)


def check_whether_each_paragraph_word_count_in_range(response: str, lower_bound: int, upper_bound: int) -> bool:
    return all(_in(lower_bound, _words(p), upper_bound) for p in paragraphs(response))


# --------------------------------------------------------------------------- substrings
def check_whether_whole_response_not_contain_certain_substrings(response: str, substrings: Sequence[str]) -> bool:
    return all(s not in response for s in substrings)


def check_whether_whole_response_not_contain_certain_substring(response: str, substring: str) -> bool:
    return substring not in response


def check_whether_each_sentence_begin_with_certain_substring(response: str, substring: str) -> bool:
    return all(s.startswith(substring) for s in sentences(_clean(response)))


def check_whether_each_paragraph_begin_with_certain_substring(response: str, substring: str) -> bool:
    return all(p.startswith(substring) for p in paragraphs(response))


def check_whether_each_paragraph_end_with_certain_substring(response: str, substring: str) -> bool:
    return all(p.endswith(substring) for p in paragraphs(response))


def check_whether_each_sentence_end_with_certain_substring(response: str, substring: str) -> bool:
    return all(s.endswith(substring) for s in sentences(_clean(response)))


def check_whether_whole_response_begin_with_certain_substring(response: str, substring: str) -> bool:
    return response.strip().startswith(substring)


def check_whether_whole_response_end_with_certain_substring(response: str, substring: str) -> bool:
    return response.strip().endswith(substring)


# --------------------------------------------------------------------------- keywords
def _keyword_count(text_lower: str, keyword: str) -> int:
    return len(re.findall(r"\b" + re.escape(keyword.lower()) + r"\b", text_lower))


def check_whether_each_keyword_in_list_metioned_in_range(response: str, keywords: Sequence[str],
                                                         lower_bound_times: int, upper_bound_times: int) -> bool:
    low = _clean(response).lower()
    return all(_in(lower_bound_times, _keyword_count(low, k), upper_bound_times) for k in keywords)


def check_whether_total_keyword_in_list_metioned_in_range(response: str, keywords: Sequence[str],
                                                          lower_bound_times: int, upper_bound_times: int) -> bool:
    low = _clean(response).lower()
    return _in(lower_bound_times, sum(_keyword_count(low, k) for k in keywords), upper_bound_times)


# --------------------------------------------------------------------------- numbers
_PERCENT = re.compile(r"(\d+\.\d+|\d+)\s*%")
_NUMBER = re.compile(r"""
    (?<!\w) [+-]?
    (?: \d{1,3}(?:,\d{3})*(?:\.\d+)? | \d+\.\d+ | \.\d+ | \d+ )
    (?:[eE][+-]?\d+)? %? (?!\w)
""", re.VERBOSE)
_ARABIC = re.compile(r"""
    (?<![.\w])
    (?: \d{1,3}(?:,\d{3})+(?:\.\d+)?%? | \d+\.\d+%? | \d+%? | \d+(?:\.\d+)?(?:[eE][+-]?\d+) )
    (?![.\w])
""", re.VERBOSE | re.IGNORECASE)


def check_percentage_number_precision_in_response(response: str, precision: int) -> bool:
    """Every number before a ``%`` has exactly ``precision`` decimals (an integer percentage fails)."""
    for num in _PERCENT.findall(response):
        if "." not in num or len(num.split(".")[1]) != precision:
            return False
    return True


def check_number_precision_in_response(response: str, precision: int) -> bool:
    """Every number (thousands separators, scientific notation, percentages) has exactly ``precision``
    decimals in its mantissa; an integer passes only when ``precision`` is 0."""
    for m in _NUMBER.finditer(response):
        mantissa = re.split("[eE]", m.group().replace(",", "").rstrip("%"))[0]
        decimals = len(mantissa.split(".")[-1]) if "." in mantissa else 0
        if decimals != precision:
            return False
    return True


def check_whether_has_no_arabic_number_in_response(response: str) -> bool:
    return not _ARABIC.findall(response)


#: official function name -> the port
RULES: dict[str, Callable[..., bool]] = {f.__name__: f for f in (
    check_whether_response_paragraph_number_in_range, check_whether_response_sentence_number_in_range,
    check_whether_each_paragraph_sentence_number_in_range, check_whether_each_paragraph_sentence_number_in_range_list,
    check_whether_response_word_count_in_range, check_whether_each_paragraph_word_count_in_range,
    check_whether_whole_response_not_contain_certain_substrings,
    check_whether_whole_response_not_contain_certain_substring,
    check_whether_each_sentence_begin_with_certain_substring, check_whether_each_paragraph_begin_with_certain_substring,
    check_whether_each_paragraph_end_with_certain_substring, check_whether_each_sentence_end_with_certain_substring,
    check_whether_whole_response_begin_with_certain_substring, check_whether_whole_response_end_with_certain_substring,
    check_whether_each_keyword_in_list_metioned_in_range, check_whether_total_keyword_in_list_metioned_in_range,
    check_percentage_number_precision_in_response, check_number_precision_in_response,
    check_whether_has_no_arabic_number_in_response)}
