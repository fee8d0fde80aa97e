"""Where the LaTeX math is in a text: one set of rules for the renderer (what goes to TeX/mathtext), the TeX
sandbox (what is typeset as math) and curation's localizer (a span boundary never falls inside a formula).

Math is explicit math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, ``\\begin{env}…\\end{env}``) and bare LaTeX
commands with their arguments (``\\frac{a}{b}``, ``\\sqrt[3]{x}``, ``\\alpha_1^2``).

Currency rule for ``$`` (the Pandoc rule): a single ``$`` opens inline math only when the next character is
not whitespace, and a ``$`` closes it only when the previous character is not whitespace and the next is not
a digit; ``\\$`` is never a delimiter; inline math ends at a blank line. So ``costs $5 and $10`` stays text,
``$x+1$`` is math and ``$5$`` is math. A ``$`` that does not pair up stays text.
"""
from __future__ import annotations

import re

__all__ = ["math_ranges", "has_math"]

_BEGIN = re.compile(r"\\begin\{([^{}\s]+)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _escaped(text: str, i: int) -> bool:
    """True when the character at ``i`` is preceded by an odd number of backslashes."""
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _match_env(text: str, start: int, name: str) -> int | None:
    """End offset of ``\\begin{name}`` at ``start`` including its matching ``\\end{name}`` (nesting counted)."""
    begin, end = f"\\begin{{{name}}}", f"\\end{{{name}}}"
    depth, i = 0, start
    while i < len(text):
        if text.startswith(begin, i):
            depth += 1
            i += len(begin)
        elif text.startswith(end, i):
            depth -= 1
            i += len(end)
            if depth == 0:
                return i
        else:
            i += 1
    return None


def _find_closing(text: str, i: int, closer: str, stop_at_blank_line: bool = True) -> int | None:
    """Offset just past the first unescaped ``closer`` at or after ``i`` (None if absent)."""
    while True:
        j = text.find(closer, i)
        if j < 0:
            return None
        if stop_at_blank_line and _BLANK_LINE.search(text, i, j):
            return None
        if not _escaped(text, j):
            return j + len(closer)
        i = j + 1


def _inline_dollar_end(text: str, i: int) -> int | None:
    """End of ``$…$`` opening at ``i`` under the currency rule, or None when this ``$`` is not math."""
    if i + 1 >= len(text) or text[i + 1].isspace():
        return None
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\n" and _BLANK_LINE.match(text, j):
            return None
        if c == "$" and not _escaped(text, j):
            if text[j - 1].isspace() or (j + 1 < len(text) and text[j + 1].isdigit()):
                return None  # "costs $5 and $10": the second $ cannot close
            return j + 1
        j += 1
    return None


def _group_end(text: str, i: int, opener: str, closer: str) -> int | None:
    """End of a balanced ``{…}`` / ``[…]`` group starting at ``i`` (None if unbalanced)."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == opener and not _escaped(text, j):
            depth += 1
        elif c == closer and not _escaped(text, j):
            depth -= 1
            if depth == 0:
                return j + 1
    return None


def _command_end(text: str, i: int) -> int:
    """End of a bare LaTeX command at ``i`` with its ``[opt]``, ``{arg}``, ``_x`` and ``^x`` parts."""
    m = _COMMAND.match(text, i)
    assert m is not None
    j = m.end()
    while j < len(text):
        c = text[j]
        if c in "{[":
            end = _group_end(text, j, c, "}" if c == "{" else "]")
            if end is None:
                break
            j = end
        elif c in "_^" and j + 1 < len(text) and not text[j + 1].isspace():
            if text[j + 1] == "{":
                end = _group_end(text, j + 1, "{", "}")
                if end is None:
                    break
                j = end
            elif text[j + 1] == "\\" and _COMMAND.match(text, j + 1):
                j = _COMMAND.match(text, j + 1).end()
            else:
                j += 2
        else:
            break
    return j


def math_ranges(text: str, commands: bool = True) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``[start, end)`` ranges of math in ``text`` (see the module doc for the rules)."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        end: int | None = None
        if c == "$" and not _escaped(text, i):
            if text.startswith("$$", i):
                end = _find_closing(text, i + 2, "$$")
            else:
                end = _inline_dollar_end(text, i)
        elif c == "\\" and not _escaped(text, i) and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "(":
                end = _find_closing(text, i + 2, "\\)")
            elif nxt == "[":
                end = _find_closing(text, i + 2, "\\]", stop_at_blank_line=False)
            elif text.startswith("\\begin{", i):
                m = _BEGIN.match(text, i)
                end = _match_env(text, i, m.group(1)) if m else None
            elif commands and _COMMAND.match(text, i) and not text.startswith("\\end{", i):
                end = _command_end(text, i)
        if end is not None and end > i:
            out.append((i, end))
            i = end
        else:
            i += 1
    return out


def has_math(text: str) -> bool:
    """Whether ``text`` contains LaTeX math (delimited, an environment, or a bare command like ``\\frac``)."""
    try:
        return bool(math_ranges(text))
    except Exception:  # noqa: BLE001 - a segmentation error must not lose the span: it renders as text
        return False
