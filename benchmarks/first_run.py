"""The README's first command from a fresh clone: ``bash scripts/run.sh`` (install, then the embedded default),
timed end to end, with each stage's seconds from the job's result.json and the console's size.

    .venv/bin/python benchmarks/first_run.py                       # clone HEAD, run scripts/run.sh (installs)
    .venv/bin/python benchmarks/first_run.py --venv .venv          # reuse an installed venv: times the run only
    .venv/bin/python benchmarks/first_run.py --venv .venv -- trainer.max_steps=40   # extra app arguments

The clone is ``git clone`` of the committed HEAD into a temporary folder (no .lomo_store, no outputs), so
the measurement starts from an empty store, as a newcomer's does. With ``--venv`` the clone's ``.venv`` is a
symlink to the given one (the install step then finds it installed and does nothing); the figure is then
"after the install", which is what the README states. Prints one JSON line:
``{"wall_s", "stages": {stage: {"status", "seconds"}}, "console_bytes", "console_lines", "summary": bool}``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fresh_clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(dest)], check=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, default=None, help="an installed venv to reuse (times the run only)")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its outputs/ and .lomo_store/)")
    ap.add_argument("args", nargs="*", help="arguments for scripts/run.sh (python -m lomo_ablate)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lomo-first-run-"))
    clone = fresh_clone(tmp / "lomo-ablate")
    if a.venv is not None:
        venv = a.venv.resolve()
        (clone / ".venv").symlink_to(venv)
        import hashlib

        want = venv / f".lomo-installed-{hashlib.sha1((clone / 'pyproject.toml').read_bytes()).hexdigest()[:12]}"
        if not want.is_file():  # scripts/install.sh would pip install into it: refuse instead
            print(f"{venv}: not installed for this pyproject.toml (no {want.name}); run without --venv",
                  file=sys.stderr)
            return 2
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOMO_REPO")}
    t0 = time.perf_counter()
    r = subprocess.run(["bash", "scripts/run.sh", *a.args], cwd=clone, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    console = r.stdout + r.stderr
    results = sorted((clone / "outputs" / "runs").glob("*/result.json"))
    stages = {}
    if results:
        res = json.loads(results[-1].read_text())
        stages = {k: {"status": v.get("status"), "seconds": v.get("seconds")} for k, v in res["stages"].items()}
    out = {"rc": r.returncode, "wall_s": round(wall, 1), "stages": stages, "console_bytes": len(console.encode()),
           "console_lines": len(console.replace("\r", "\n").splitlines()),
           "summary": "carrier drop (standard - rendered)" in console, "clone": str(clone) if a.keep else None,
           "load_average_after": os.getloadavg()}
    print(json.dumps(out))
    if r.returncode != 0:
        print(console[-4000:], file=sys.stderr)
    if not a.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
