"""Progress bars in a log stay readable: with stderr not a terminal (a log file, Slurm), a tqdm bar that
updates 60 times in 3 s redraws only at its start and end (every ~30 s at most); on a real terminal (a pty)
the same bar stays live. Real tqdm in a real child process; the terminal is a real pseudo-terminal."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# tqdm is imported *before* the helper runs (as Hydra's sweeper or a library may have done), then a
# transformers-style subclass bar (tqdm.auto) updates 60 times over ~3 s
SCRIPT = """
import time, tqdm.auto
from lomo_ablate.utils.logging import readable_progress
print("slowed" if readable_progress() else "live", flush=True)
for _ in tqdm.auto.tqdm(range(60), desc="work"):
    time.sleep(0.05)
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return env


def _redraws(text: str) -> int:
    return sum(1 for part in text.replace("\n", "\r").split("\r") if part.startswith("work:"))


def test_bars_redraw_rarely_when_stderr_is_a_log_file(tmp_path):
    log = tmp_path / "job.log"
    with log.open("w") as f:
        r = subprocess.run([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=f, text=True,
                           env=_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "slowed"
    text = log.read_text()
    assert "60/60" in text  # the final state is still written
    assert _redraws(text) <= 3, text


def test_bars_stay_live_on_a_terminal():
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=child, text=True,
                            env=_env())
    os.close(child)  # the child holds the terminal now; reading the main side until it closes
    chunks = []
    try:
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(main)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == "live"
    assert _redraws(b"".join(chunks).decode(errors="replace")) >= 10
