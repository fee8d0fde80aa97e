"""Run model-written Python in a bounded subprocess (HumanEval, LiveCodeBench).

Bounds: a fresh ``python -I`` (isolated: no user site, no PYTHON* variables) in an empty temporary folder
that is deleted afterwards, an environment with only ``PATH`` and ``LANG``, its own session (the whole
process group is killed at the wall-clock ``timeout_s``), and POSIX resource limits: CPU seconds, 2 GiB
address space, 64 MiB file writes, no core dumps. This bounds runaway code; it is **not** a security
sandbox (the code can read what the user can read and open sockets), so adapters run it only when their
``execute_code`` option is true. See docs/evaluate_metrics.md.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

__all__ = ["RunResult", "run_python"]


@dataclass
class RunResult:
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _limits(cpu_s: int) -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_python(code: str, stdin: str = "", timeout_s: float = 10.0) -> RunResult:
    """Run ``code`` as a script with ``stdin``; (returncode, stdout, stderr), returncode None on timeout."""
    with tempfile.TemporaryDirectory(prefix="lomo_exec_") as tmp:
        script = os.path.join(tmp, "main.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(code)
        proc = subprocess.Popen([sys.executable, "-I", script], cwd=tmp, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
                                preexec_fn=lambda: _limits(int(timeout_s) + 1))
        try:
            out, err = proc.communicate(stdin, timeout=timeout_s)
            return RunResult(proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return RunResult(None, out, err + f"\n[timed out after {timeout_s} s]")
