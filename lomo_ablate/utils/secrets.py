"""Secrets never come from config and are never written: one definition of what a credential looks like.

* :func:`is_secret_key`: a config key that names a credential, by whole words (``api_key``, ``apikey``,
  ``hf_token``, ``access_token``, ``password``, ``passwd``, ``secret``, ``client_secret``, ``credential(s)``,
  ``auth``, ``auth_header``, ``authorization``, ``private_key``). Counts are not credentials:
  ``tokens_per_s``, ``max_new_tokens``, ``num_tokens``, ``tokenizer`` and ``author`` are ordinary keys.
  :func:`secret_keys` lists them in a config and :func:`secret_key_problem` says which environment variable
  to use instead (validation rejects such keys before anything is written).
* :func:`redact_text` / :func:`redact`: values that look like credentials, whatever key they sit under — a
  URL's ``user:password@``, ``Bearer …`` / ``Basic …`` / ``token …`` headers, well-known token shapes
  (``sk-…``, ``hf_…``, ``ghp_…``, ``xox?-…``, ``AKIA…``, ``glpat-…``) and ``KEY=value`` / ``KEY: value`` where KEY
  is a secret key — become :data:`REDACTED`. Every file the project writes from a config (result.json,
  Hydra's ``.hydra/*.yaml``, ``multirun.yaml``, ``grid.json``, the results README's command line,
  ``logger_config.json``, W&B's config, the job log) goes through here.
* :class:`RedactingFilter`: the same for log records (installed on the root handlers by the pipeline).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

REDACTED = "<redacted>"

#: Single words that name a credential wherever they appear in a key.
SECRET_WORDS = frozenset({"token", "password", "passwd", "passphrase", "secret", "secrets", "credential",
                          "credentials", "auth", "authorization", "apikey", "privatekey", "accesskey"})
#: Pairs of consecutive words that do (``api_key``, ``private_key``, ``access_key``, ``secret_key``).
SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("api", "keys")})

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def key_words(key: Any) -> list[str]:
    """``"logger.hfToken"`` -> ``["logger", "hf", "token"]`` (separators and camelCase split, lower case)."""
    words: list[str] = []
    for part in _WORD_SPLIT.split(str(key)):
        words += [w.lower() for w in _CAMEL.split(part) if w]
    return words


def is_secret_key(key: Any) -> bool:
    """True when the last segment of a (dotted) key names a credential as a whole word."""
    last = str(key).rsplit(".", 1)[-1]
    words = key_words(last)
    return any(w in SECRET_WORDS for w in words) or any(p in SECRET_PAIRS for p in zip(words, words[1:]))


def secret_keys(config: Any, prefix: str = "") -> list[str]:
    """The dotted keys of ``config`` (mappings and lists, at any depth) that name a credential."""
    out: list[str] = []
    if isinstance(config, Mapping):
        for k, v in config.items():
            name = f"{prefix}.{k}" if prefix else str(k)
            if is_secret_key(k):
                out.append(name)
            else:
                out += secret_keys(v, name)
    elif isinstance(config, (list, tuple)):
        for i, v in enumerate(config):
            out += secret_keys(v, f"{prefix}[{i}]" if prefix else f"[{i}]")
    return out


def env_var_for(key: str) -> str:
    """The environment variable the tool that needs the credential ``key`` reads."""
    words = key_words(key)
    if words[:1] == ["logger"] or "wandb" in words:
        return "WANDB_API_KEY"
    if {"hf", "hub", "huggingface"} & set(words) or words[:1] == ["model"]:
        return "HF_TOKEN"
    return "the environment variable the tool itself reads (e.g. HF_TOKEN, WANDB_API_KEY)"


def secret_key_problem(key: str) -> str:
    """The validation message for a credential given as config (the value is never repeated)."""
    return (f"this key names a credential; secrets are never read from config or overrides (they would be "
            f"written to result.json, .hydra/ and the sweep folder). Remove it and set {env_var_for(key)} "
            "in the environment of the job instead (for Slurm: export it before submitting; sbatch passes the "
            "environment)")


# ---- values ----

# (Hydra writes an override's ``:`` as ``\:``, so a backslash may stand before either colon)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*\\*://)(?P<user>[^\s/:@'\"\\]*)(?P<colon>\\*:)"
                           r"(?P<pw>[^\s/@'\"]+)@")
_HEADER = re.compile(r"\b(?P<kind>Bearer|Basic|Token|Digest)(?P<sp>\s+)(?P<tok>[A-Za-z0-9._~+/=\-]{8,})",
                     re.IGNORECASE)
_TOKEN_SHAPES = re.compile(
    r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|glpat-[A-Za-z0-9_\-]{20,}"
    r"|local-[0-9a-f]{40})\b")
_ASSIGN = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)(?P<sep>['\"]?[ \t]*[=:][ \t]*['\"]?)"
                     r"(?P<val>[^\s'\",}\]]+)")


def _assignment(m: re.Match) -> str:
    if is_secret_key(m.group("key")) and m.group("val") != REDACTED:
        return f"{m.group('key')}{m.group('sep')}{REDACTED}"
    return m.group(0)


def redact_text(text: str) -> str:
    """``text`` with every credential-looking value replaced by :data:`REDACTED` (see the module doc)."""
    if not text:
        return text
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}{m.group('colon')}{REDACTED}@", text)
    text = _HEADER.sub(lambda m: f"{m.group('kind')}{m.group('sp')}{REDACTED}", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    return _ASSIGN.sub(_assignment, text)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` (mappings, lists, strings) with values under secret keys and credential-looking
    strings redacted; other values are returned as they are."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, Mapping):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "") else redact(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact(v) for v in obj) if isinstance(obj, list) else tuple(redact(v) for v in obj)
    return obj


def redact_file(path: str | Path) -> bool:
    """Rewrites a text file in place (atomically) with :func:`redact_text`; True when it changed."""
    from lomo_ablate.utils.fs import atomic_write_text

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    clean = redact_text(text)
    if clean == text:
        return False
    atomic_write_text(path, clean)
    return True


def redact_files(paths: Iterable[str | Path]) -> int:
    """:func:`redact_file` on each existing path; how many changed."""
    return sum(redact_file(p) for p in paths if Path(p).is_file())


class RedactingFilter(logging.Filter):
    """Redacts a log record's formatted message (and its exception text) before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001  (a record whose args do not format: leave it to logging)
            return True
        clean = redact_text(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def install_redaction(loggers: Iterable[logging.Logger] = ()) -> RedactingFilter:
    """One :class:`RedactingFilter` on the root logger's handlers and on those of ``loggers`` (idempotent)."""
    f = next((x for h in logging.getLogger().handlers for x in h.filters if isinstance(x, RedactingFilter)), None)
    f = f or RedactingFilter()
    for handler in [*logging.getLogger().handlers, *(h for lg in loggers for h in lg.handlers)]:
        if not any(isinstance(x, RedactingFilter) for x in handler.filters):
            handler.addFilter(f)
    return f


__all__ = ["REDACTED", "RedactingFilter", "env_var_for", "install_redaction", "is_secret_key", "key_words",
           "redact", "redact_file", "redact_files", "redact_text", "secret_key_problem", "secret_keys"]
