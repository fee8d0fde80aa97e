"""HumanEval (text-only code generation), pass@1 by running the benchmark's unit tests.

The reply's code (the last fenced ```python block, else the whole reply) is completed into a program as
HumanEval's ``execution.py`` does — ``prompt + completion + test + check(entry_point)``; when the reply
defines ``entry_point`` itself (chat models restate the function) it follows the prompt on a new line and
so redefines it. The program runs in :mod:`._sandbox` (a bounded subprocess, timeout
``timeout_s``); passing is exit status 0. Running model-written code needs ``execute_code: true``
(``conf/eval/paper.yaml`` sets it): otherwise ``load`` and ``score`` refuse, naming the option.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from lomo_ablate.contracts import TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks.base import Adapter, AdapterConfig, Item, escape_slots, user_prompt
from lomo_ablate.evaluate.benchmarks.common import row_id, text_field
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register
from lomo_ablate.utils.config import ConfigError, check_range

__all__ = ["CodeConfig", "HumanEvalAdapter", "extract_code"]

_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(reply: str) -> str:
    """The last fenced code block of a reply (```python … ```), else the reply itself."""
    blocks = _FENCE.findall(str(reply))
    return blocks[-1] if blocks else str(reply)


@dataclass
class CodeConfig(AdapterConfig):
    """``execute_code``: allow running the model's code in a bounded subprocess (required to score);
    ``timeout_s``: wall-clock seconds per program (per test case for LiveCodeBench)."""

    execute_code: bool = False
    timeout_s: float = 10.0

    def validate(self, where: str = "CodeConfig") -> None:
        check_range(f"{where}.timeout_s", self.timeout_s, 0.1)

    def require_execution(self, where: str) -> None:
        if not self.execute_code:
            raise ConfigError(f"{where}.execute_code is false: scoring this benchmark runs the model's code in a "
                              "subprocess (bounded, not a security sandbox); set options.execute_code: true to allow it")


@register("humaneval", category=TEXT_ONLY_GROUP)  # paper Table 6
class HumanEvalAdapter(Adapter):
    """HumanEval (openai_humaneval parquet / HumanEval.jsonl): task_id, prompt, test, entry_point."""

    required_keys = ("prompt", "test", "entry_point")
    config_cls = CodeConfig
    instruction = "Complete the following Python function. Reply with the complete function in a ```python block."

    def load(self, path):  # refuse before anything is generated, not after
        self.config.require_execution(f"{self.name} options")
        return super().load(path)

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        prompt = text_field(record, "prompt", where)
        return Item(id=row_id(record, ("task_id", "id"), where), question=escape_slots(prompt), answer=None,
                    metadata={"prompt": prompt, "test": text_field(record, "test", where),
                              "entry_point": text_field(record, "entry_point", where), "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        return user_prompt(f"{self.instruction}\n\n```python\n{item.question}```"), []

    def program(self, prediction: str, item: Item) -> str:
        m = item.metadata
        code = extract_code(prediction)
        # a reply that restates the function follows the prompt (whose def has only its docstring, and
        # whose imports it may rely on) and redefines it; a bare body continues the prompt's def
        defines = re.search(rf"^\s*def\s+{re.escape(m['entry_point'])}\s*\(", code, re.MULTILINE)
        head = m["prompt"] + ("\n" if defines else "") + code
        return f"{head}\n\n{m['test']}\n\ncheck({m['entry_point']})\n"

    def score(self, prediction: str, item: Item) -> float:
        from lomo_ablate.evaluate.benchmarks._sandbox import run_python

        self.config.require_execution(f"{self.name} options")
        return float(run_python(self.program(prediction, item), timeout_s=self.config.timeout_s).ok)
