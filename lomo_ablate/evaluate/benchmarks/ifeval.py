"""A subset of IFEval's verifiable instructions (Zhou et al., 2023), checked on a reply string.

Each check takes the reply and the instruction's kwargs and returns True when the instruction is
followed ("strict" mode: the reply as is, no loosening). Supported instruction ids are the keys of
:data:`CHECKS`; an IFEval row using any other id is rejected at load time with the id named.
"""
from __future__ import annotations

import re
from typing import Callable

__all__ = ["CHECKS", "REQUIRED_KWARGS", "check_instruction", "word_count", "sentence_count"]


def word_count(text: str) -> int:
    """Words as IFEval counts them (runs of word characters)."""
    return len(re.findall(r"\w+", text))


def sentence_count(text: str) -> int:
    """Sentences: non-empty pieces ending in . ! or ? (or the end of the text)."""
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if re.search(r"\w", s)])


def _relation(count: int, relation: str, n: int) -> bool:
    if relation == "less than":
        return count < n
    if relation == "at least":
        return count >= n
    raise ValueError(f"relation must be 'less than' or 'at least', got {relation!r}")


def _bullets(text: str) -> int:
    return len(re.findall(r"^\s*[\*\-]\s+\S", text, re.MULTILINE))


CHECKS: dict[str, Callable[..., bool]] = {
    "length_constraints:number_words":
        lambda r, num_words, relation: _relation(word_count(r), relation, int(num_words)),
    "length_constraints:number_sentences":
        lambda r, num_sentences, relation: _relation(sentence_count(r), relation, int(num_sentences)),
    "keywords:existence":
        lambda r, keywords: all(re.search(re.escape(k), r, re.IGNORECASE) for k in keywords),
    "keywords:forbidden_words":
        lambda r, forbidden_words: not any(re.search(r"\b" + re.escape(w) + r"\b", r, re.IGNORECASE)
                                           for w in forbidden_words),
    "keywords:frequency":
        lambda r, keyword, frequency, relation: _relation(
            len(re.findall(re.escape(keyword), r, re.IGNORECASE)), relation, int(frequency)),
    "change_case:english_lowercase": lambda r: r == r.lower(),
    "change_case:english_capital": lambda r: r == r.upper(),
    "punctuation:no_comma": lambda r: "," not in r,
    "startend:end_checker":
        lambda r, end_phrase: r.strip().lower().endswith(end_phrase.strip().lower()),
    "startend:quotation": lambda r: len(r.strip()) > 1 and r.strip()[0] == '"' and r.strip()[-1] == '"',
    "detectable_format:title": lambda r: re.search(r"<<[^\n]+>>", r) is not None,
    "detectable_format:number_bullet_lists": lambda r, num_bullets: _bullets(r) == int(num_bullets),
    "detectable_content:postscript":
        lambda r, postscript_marker: postscript_marker.strip().lower() in r.lower(),
}

#: kwargs each check needs (IFEval rows carry every kwarg key, most None: only these are read)
REQUIRED_KWARGS: dict[str, tuple[str, ...]] = {
    "length_constraints:number_words": ("num_words", "relation"),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "keywords:existence": ("keywords",),
    "keywords:forbidden_words": ("forbidden_words",),
    "keywords:frequency": ("keyword", "frequency", "relation"),
    "change_case:english_lowercase": (),
    "change_case:english_capital": (),
    "punctuation:no_comma": (),
    "startend:end_checker": ("end_phrase",),
    "startend:quotation": (),
    "detectable_format:title": (),
    "detectable_format:number_bullet_lists": ("num_bullets",),
    "detectable_content:postscript": ("postscript_marker",),
}


def check_instruction(instruction_id: str, response: str, kwargs: dict | None) -> bool:
    """Whether ``response`` follows one instruction (only the kwargs the check needs are used)."""
    needed = REQUIRED_KWARGS[instruction_id]
    args = {k: (kwargs or {})[k] for k in needed}
    return bool(CHECKS[instruction_id](response, **args))
