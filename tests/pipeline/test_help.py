"""``python -m lomo_ablate --help`` is where a newcomer looks first: it names the ablation axes, every sweep
preset in sweeps/ (so a new preset cannot be left out of it) and the commands to run next, and Hydra's own
options stay under ``--hydra-help``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    r = subprocess.run([sys.executable, "-m", "lomo_ablate", *args], cwd=REPO, env=env, text=True,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def _section(text: str, title: str) -> str:
    """The lines under the ``== title ... ==`` header, up to the next header."""
    return text.split("== " + title)[1].split("==\n", 1)[1].split("\n== ")[0]


def test_help_names_the_axes_every_sweep_preset_and_the_next_commands():
    out = _run("--help")
    axes_part = _section(out, "Ablation axes")
    for axis in ("position=", "rewrite_ratio=", "distortion=", "scale=", "mix=", "method="):
        assert axis in axes_part, axis
    for group in ("position", "distortion", "scale", "mix", "method"):  # each option of the group is named
        options = sorted(p.stem for p in (REPO / "conf" / group).glob("*.yaml"))
        line = next(x for x in axes_part.splitlines() if x.strip().startswith(group + "="))
        assert set(line.split()[0].split("=", 1)[1].split("|")) == set(options), (group, line)
    presets = _section(out, "Sweep presets")
    named = {line.split()[0] for line in presets.splitlines() if line.strip()}
    assert named == {p.stem for p in (REPO / "sweeps").glob("*.yaml")}
    assert "python -m lomo_ablate -m sweep=carrier_quick" in out and "python -m lomo_ablate  " in out
    assert "--hydra-help" in out and "== Config ==" not in out  # not the 300-line config dump


def test_hydra_help_is_still_hydras():
    out = _run("--hydra-help")
    assert "Hydra (" in out and "--multirun" in out
