"""Values that used to pass validation and fail later (issue 17) are rejected before anything is made.

The main app is run in-process as a user types it (real Hydra, RUN mode); the curation app through its
Hydra compose + ``run_app`` and once through its real ``main`` (Hydra's folder must not stay behind)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config

REPO = Path(__file__).resolve().parents[2]


def _compose(name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            return compose(name, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("override,key,allowed", [
    ("seed=99999999999999999999", "seed", "[0, 4294967295]"),
    ("seed=4294967296", "seed", "[0, 4294967295]"),
    ("trainer.lr=inf", "trainer.lr", "finite"),
    ("trainer.lr=nan", "trainer.lr", "finite"),
    ("eval.benchmarks.0.n=-1", "eval.benchmarks[0].n", ">= 1"),
    ("logger.mode=onlin", "logger.mode", "offline, online, none"),
])
def test_values_that_fail_later_are_rejected_naming_key_and_allowed_values(override, key, allowed):
    cfg = _compose("config", [override])
    with pytest.raises(ConfigValidationError) as e:
        validate_config(cfg)
    problems = dict(e.value.problems)
    assert key in problems, problems
    assert allowed in problems[key]


def test_the_largest_seed_is_accepted():
    validate_config(_compose("config", ["seed=4294967295"]))


@pytest.fixture
def main_app(app):
    """The app (tests/pipeline/conftest.py), returning (exit code, stderr)."""
    def run(cwd: Path, *argv: str) -> tuple[int, str]:
        code, _, err = app(cwd, *argv)
        return code, err

    return run


@pytest.mark.parametrize("override", ["trainer.lr=inf", "seed=99999999999999999999", "logger.mode=onlin"])
def test_a_rejected_run_leaves_no_folder_lock_or_hydra_files(tmp_path, main_app, override):
    code, err = main_app(tmp_path, override)
    assert code == 2 and "invalid config" in err and "Traceback" not in err
    assert list(tmp_path.rglob("*")) == []  # no outputs/runs/<job>/.hydra, no log, no store, no lock


@pytest.mark.parametrize("make,override,message", [
    (None, "seed=-1", "seed: -1: allowed: an integer in [0, 4294967295]"),
    ("file", "output=OUTFILE", "is a file"),
    (None, "output=/", "file-system root"),
])
def test_curation_app_rejects_seed_and_output_before_any_lock(tmp_path, capsys, monkeypatch, make, override, message):
    from lomo_ablate.curate.__main__ import run_app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    out_file = tmp_path / "out.txt"
    if make == "file":
        out_file.write_text("mine\n")
    root_lock = Path("/.lock").exists()
    over = override.replace("OUTFILE", str(out_file))
    cfg = _compose("curate_app", ["input=in.jsonl", "output=o" if not over.startswith("output") else over,
                                  *([over] if not over.startswith("output") else [])])
    assert run_app(cfg) == 2
    assert message in capsys.readouterr().err
    assert Path("/.lock").exists() == root_lock  # `output=/` used to create /.lock before refusing
    assert not list(tmp_path.glob("*.lock")) and not (tmp_path / "o").exists()
    if make == "file":
        assert out_file.read_text() == "mine\n"


def test_curation_app_rejection_removes_the_folder_hydra_made(tmp_path, monkeypatch, capsys):
    from lomo_ablate.curate.__main__ import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    monkeypatch.setattr(sys, "argv", ["curate", "input=in.jsonl", "output=o", "seed=-1",
                                      f"hydra.run.dir={tmp_path / 'hydra' / 'run'}"])
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as e:
        main()
    GlobalHydra.instance().clear()
    assert e.value.code == 2 and "seed" in capsys.readouterr().err
    assert not (tmp_path / "hydra" / "run").exists() and not (tmp_path / "o").exists()
