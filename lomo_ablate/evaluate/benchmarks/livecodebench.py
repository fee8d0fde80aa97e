"""LiveCodeBench code generation (``code_generation_lite``; v6 = its ``test6.jsonl`` release, or all releases
up to v6 — point ``path`` at the files wanted), pass@1 by running every public and private test case.

Test cases: ``public_test_cases`` (JSON) and ``private_test_cases`` (JSON, or base64 → zlib → pickle of a
JSON string, as on the hub; decoded with an unpickler that refuses every class, so only the plain string
loads). ``testtype: stdin``: the reply's program reads the input, its whitespace-separated output tokens
must equal the expected ones. ``testtype: functional`` (LeetCode): ``Solution().<metadata.func_name>`` is
called with the input's lines parsed as JSON arguments and must return the expected JSON value. A program
passes when every test passes (each run in :mod:`._sandbox` with ``timeout_s``); needs ``execute_code``.
"""
from __future__ import annotations

import base64
import io
import json
import pickle
import zlib

from PIL import Image

from lomo_ablate.contracts import TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks.base import BenchmarkFormatError, Item, escape_slots, user_prompt
from lomo_ablate.evaluate.benchmarks.common import row_id, text_field
from lomo_ablate.evaluate.benchmarks.humaneval import CodeConfig, HumanEvalAdapter, extract_code
from lomo_ablate.evaluate.benchmarks.records import RecordLocation
from lomo_ablate.evaluate.benchmarks.registry import register

__all__ = ["LiveCodeBenchAdapter", "decode_tests"]


class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused {module}.{name}: test cases are a plain string")


def decode_tests(value) -> list[dict]:
    """A test-case cell as a list of {input, output, testtype}."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [dict(v) for v in value]
    text = str(value)
    try:
        return list(json.loads(text))
    except json.JSONDecodeError:
        raw = _NoClasses(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load()
        return list(json.loads(raw))


_FUNCTIONAL = """
import json, sys
{code}

_args = [json.loads(line) for line in sys.stdin.read().splitlines() if line.strip()]
_got = Solution().{func}(*_args)
print(json.dumps(_got))
"""


@register("livecodebench", category=TEXT_ONLY_GROUP)  # paper Table 6
class LiveCodeBenchAdapter(HumanEvalAdapter):
    """LiveCodeBench: question_id, question_title, question_content, starter_code, public_test_cases,
    private_test_cases, metadata (JSON with func_name for functional problems), platform, contest_date."""

    required_keys = ("question_content", "public_test_cases")
    config_cls = CodeConfig

    def parse_record(self, record: dict, where: RecordLocation) -> Item:
        try:
            tests = decode_tests(record.get("public_test_cases")) + decode_tests(record.get("private_test_cases"))
        except Exception as exc:  # noqa: BLE001 — any decoding failure is this row's problem
            raise BenchmarkFormatError(where, "private_test_cases", f"cannot decode test cases: {exc}") from None
        if not tests:
            raise BenchmarkFormatError(where, "public_test_cases", "no test cases")
        meta = record.get("metadata") or "{}"
        meta = json.loads(meta) if isinstance(meta, str) else dict(meta)
        kinds = {t.get("testtype", "stdin") for t in tests}
        if "functional" in kinds and not meta.get("func_name"):
            raise BenchmarkFormatError(where, "metadata", "functional tests without func_name")
        question = text_field(record, "question_content", where)
        starter = str(record.get("starter_code") or "")
        return Item(id=row_id(record, ("question_id", "id"), where), question=escape_slots(question), answer=None,
                    metadata={"tests": tests, "func_name": meta.get("func_name"), "starter_code": starter,
                              "contest_date": str(record.get("contest_date")), "source": str(where)})

    def build_prompt(self, item: Item) -> tuple[list[dict], list[Image.Image]]:
        starter = item.metadata["starter_code"]
        how = (f"Use this starter code:\n```python\n{starter}\n```" if starter else
               "Read the input from stdin and write the answer to stdout.")
        return user_prompt(f"{item.question}\n\n{how}\nReply with the complete program in a ```python block."), []

    def score(self, prediction: str, item: Item) -> float:
        from lomo_ablate.evaluate.benchmarks._sandbox import run_python

        self.config.require_execution(f"{self.name} options")
        code = extract_code(prediction)
        for t in item.metadata["tests"]:
            if t.get("testtype", "stdin") == "functional":
                res = run_python(_FUNCTIONAL.format(code=code, func=item.metadata["func_name"]), t["input"],
                                 self.config.timeout_s)
                try:
                    ok = res.ok and json.loads(res.stdout.strip().splitlines()[-1]) == json.loads(t["output"])
                except (json.JSONDecodeError, IndexError):
                    ok = False
            else:
                res = run_python(code, t["input"], self.config.timeout_s)
                ok = res.ok and res.stdout.split() == str(t["output"]).split()
            if not ok:
                return 0.0
        return 1.0
