"""The stand-alone Hydra app: one real subprocess run, and config validation through Hydra's compose API."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from curate_helpers import read_jsonl
from lomo_ablate.curate.__main__ import CONF_DIR, run_app

def test_cli_runs_end_to_end(tmp_path: Path, text_pool: Path, mm_pool: Path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "lomo_ablate.curate", f"input={text_pool}", f"output={out}",
           f"multimodal_input={mm_pool}", "position=suffix", "distortion=on", "rewrite_ratio=1.0", "seed=0",
           "workers=2", "gallery=true", "curate.render.math_renderer=text", "curate.shard_size=8", "curate.mix.scale=40",
           f"hydra.run.dir={tmp_path / 'hydra'}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "curate: done" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["localize"]["position"] == "suffix"
    assert manifest["config"]["mix"]["rewrite_ratio"] == 1.0 and manifest["config"]["mix"]["scale"] == 40
    rows = read_jsonl(out / "data.jsonl")
    assert len(rows) == 40  # the scale override from the command line sets the total
    text_rows = [r for r in rows if r["meta"]["source"] == "text"]
    assert text_rows and all(r["meta"]["rewritten"] and r["meta"]["position"] == "suffix" for r in text_rows)
    assert all(r["messages"][0]["content"].endswith("<image>") for r in text_rows)  # the suffix is the image
    assert (out / "gallery.png").is_file() and (out / "_SUCCESS").is_file()
    assert (tmp_path / "hydra" / ".hydra" / "config.yaml").is_file()  # Hydra's files went where told


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="curate_app", overrides=overrides)


@pytest.mark.parametrize("overrides, message", [
    (["input=in.jsonl", "output=o", "rewrite_ratio=1.5"], "rewrite_ratio=1.5 is outside [0, 1]"),
    (["input=/no/such/file.jsonl", "output=o"], "/no/such/file.jsonl"),
    (["output=o"], "input=... is required"),
    (["input=in.jsonl", "output=o", "+curate.localize.span=3"], "unknown key(s) 'curate.localize.span' in curate.localize"),
])
def test_bad_config_is_reported_clearly(tmp_path: Path, capsys, overrides, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"messages": []}\n')
    cfg = _compose(overrides)
    assert run_app(cfg) == 2
    assert message in capsys.readouterr().err


def test_every_position_scale_and_mix_option_composes():
    for group, options in {"position": ["prefix", "middle", "suffix", "multi_span", "full"],
                           "scale": ["tiny", "1M", "2M", "3M", "4M"], "mix": ["original", "matched_1to1"]}.items():
        for opt in options:
            cfg = _compose([f"{group}={opt}", "rewrite_ratio=0.25"])
            assert cfg.curate.mix.rewrite_ratio == 0.25
            if group == "position":
                assert cfg.curate.localize.position == opt
    assert _compose(["scale=2M"]).curate.mix.scale == 2_000_000
    assert _compose(["mix=matched_1to1"]).curate.mix.image_text_ratio == "1:1"


def test_unknown_position_lists_the_allowed_ones():
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException) as err:
        _compose(["position=center"])
    assert all(p in str(err.value) for p in ("prefix", "middle", "suffix", "multi_span", "full"))


def test_a_finished_output_is_reported_cached_and_another_config_is_refused(tmp_path: Path, text_pool: Path,
                                                                           capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    base = [f"input={text_pool}", f"output={out}", "curate.render.math_renderer=text", "curate.shard_size=8",
            "workers=1", "curate.mix.scale=null"]
    assert run_app(_compose(base)) == 0
    assert "curate: done" in capsys.readouterr().out
    before = (out / "data.jsonl").read_bytes()
    assert run_app(_compose([*base, "workers=2"])) == 0  # workers do not change what is curated
    assert "curate: cached" in capsys.readouterr().out
    assert run_app(_compose([*base, "seed=1"])) == 2
    err = capsys.readouterr().err
    assert "already holds a finished curation" in err and "overwrite=true" in err
    assert (out / "data.jsonl").read_bytes() == before
    assert run_app(_compose([*base, "seed=1", "overwrite=true"])) == 0
    assert "curate: done" in capsys.readouterr().out
