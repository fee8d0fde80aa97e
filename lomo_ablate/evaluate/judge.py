"""An LLM judge behind an OpenAI-compatible chat-completions endpoint (a vLLM server on the cluster, a hosted API).

    eval:
      judge: {base_url: "http://judge-node:8000/v1", model: "Qwen/Qwen2.5-72B-Instruct", api_key_env: JUDGE_KEY}

The key is read from the environment variable ``api_key_env`` when the request is made (never from the
config, never written anywhere); an unset variable sends no ``Authorization`` header (a local vLLM needs
none). Requests are stdlib ``urllib`` POSTs to ``<base_url>/chat/completions`` at temperature 0; a failed
request is retried ``max_retries`` times, then raises :class:`JudgeError` naming the URL — a judge that
cannot be reached stops the scoring instead of silently scoring 0. Benchmarks that use a judge take it as
their ``judge`` option (``eval.judge`` is passed to each of them) and mark their scores ``judge``; without
one they use their documented rule and mark them ``rule`` (metrics.json ``scored_by``).
"""
from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Sequence

from lomo_ablate.utils.config import ConfigError, check_range, config_from_dict

__all__ = ["CORRECTNESS_PROMPT", "JudgeConfig", "Judge", "JudgeError", "make_judge"]

#: EvalScope 1.14.1's default judge template (``evalscope.metrics.judge.llm_judge.DEFAULT_PROMPT_TEMPLATE``),
#: which it uses for benchmarks without a grading prompt of their own (ZeroBench); the judge answers A or B
CORRECTNESS_PROMPT = """Your job is to look at a question, a gold target, and a predicted answer, and decide whether the predicted answer is correct or incorrect.

[Question]
{question}

[Reference Answer]
{gold}

[Predicted Answer]
{pred}

Evaluate the model's answer based on correctness compared to the reference answer.
Grade the predicted answer of this new question as one of:
A: CORRECT
B: INCORRECT"""  # noqa: E501


class JudgeError(RuntimeError):
    """The judge endpoint failed or answered something unusable (message names the URL)."""


@dataclass
class JudgeConfig:
    """``base_url``: the endpoint up to ``/v1``; ``model``: the served model name; ``api_key_env``: the
    environment variable holding the key (the key itself is never configured)."""

    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_retries: int = 2
    max_tokens: int = 16

    @classmethod
    def from_dict(cls, d: Any, where: str = "eval.judge") -> "JudgeConfig":
        cfg = config_from_dict(cls, d, where)
        cfg.validate(where)
        return cfg

    def validate(self, where: str = "eval.judge") -> None:
        if not re.match(r"https?://", self.base_url or ""):
            raise ConfigError(f"{where}.base_url must be an http(s) URL, got {self.base_url!r}")
        if not self.model:
            raise ConfigError(f"{where}.model must name the judge's model")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env or ""):
            raise ConfigError(f"{where}.api_key_env must be an environment variable name, got {self.api_key_env!r}")
        check_range(f"{where}.timeout_s", self.timeout_s, 0.001)
        check_range(f"{where}.max_retries", self.max_retries, 0, integer=True)
        check_range(f"{where}.max_tokens", self.max_tokens, 1, integer=True)


class Judge:
    """Chat-completions client; :meth:`ask` / :meth:`chat` return the reply text, :meth:`grade` one of ``choices``."""

    def __init__(self, config: JudgeConfig):
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.calls = 0

    def ask(self, prompt: str, system: str | None = None, images: Sequence[Any] = (),
            max_tokens: int | None = None) -> str:
        """The judge's reply to ``prompt``. ``images`` (PIL images) follow the text as ``image_url`` parts
        (PNG data URIs; the MM-IFEval judge looks at the image); ``max_tokens`` overrides the config's
        for judges that write a reasoning before their verdict."""
        content: Any = prompt
        if images:
            content = [{"type": "text", "text": prompt}] + [
                {"type": "image_url", "image_url": {"url": _data_uri(im)}} for im in images]
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        return self.chat(messages, max_tokens)

    def chat(self, messages: Sequence[dict], max_tokens: int | None = None) -> str:
        """The reply to a whole conversation (role/content messages, e.g. a benchmark's own prompt that ends
        with a prefilled assistant turn); ``max_tokens`` overrides the configured one for this request."""
        body = json.dumps({"model": self.config.model, "messages": list(messages), "temperature": 0,
                           "max_tokens": int(max_tokens or self.config.max_tokens)}).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last: Exception | None = None
        for attempt in range(self.config.max_retries + 1):
            try:
                req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.config.timeout_s) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
                self.calls += 1
                return str(payload["choices"][0]["message"]["content"] or "")
            except (urllib.error.URLError, TimeoutError, OSError, json.JSONDecodeError, KeyError, IndexError,
                    TypeError) as exc:
                last = exc
                if attempt < self.config.max_retries:
                    time.sleep(min(2.0 ** attempt, 10.0))
        raise JudgeError(f"judge {self.url} (model {self.config.model!r}) failed after "
                         f"{self.config.max_retries + 1} tries: {type(last).__name__}: {last}")

    def grade(self, prompt: str, choices: Sequence[str] = ("A", "B", "C")) -> str | None:
        """The first of ``choices`` (single letters or words) the judge's reply starts with or names; None if none."""
        reply = self.ask(prompt).strip()
        for c in choices:
            if re.match(rf"\W*{re.escape(c)}(?!\w)", reply, re.IGNORECASE):
                return c
        hits = [(m.start(), c) for c in choices for m in [re.search(rf"(?<!\w){re.escape(c)}(?!\w)", reply)] if m]
        return min(hits)[1] if hits else None


def _data_uri(image: Any) -> str:
    """A PNG ``data:`` URI of a PIL image."""
    import base64
    import io

    buf = io.BytesIO()
    image.convert("RGB").save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def make_judge(d: Any, where: str = "eval.judge") -> Judge | None:
    """A :class:`Judge` from an ``eval.judge`` mapping, or None when it is None/empty."""
    if d in (None, {}) or (isinstance(d, dict) and not d.get("base_url")):
        return None
    return Judge(d if isinstance(d, JudgeConfig) else JudgeConfig.from_dict(dict(d), where))
