"""A cut, truncated or changed store entry is never reused (issue 17): it is moved aside, computed again,
and the job's result.json says so.

Real store, real files; the pipeline test runs the real data and curate stages (built-in pools, Pillow
rendering) through ``run_job`` with a third stage that counts what it was given, as training would."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from lomo_ablate.contracts import DATA, FILES_MANIFEST, IMAGES_DIR, SUCCESS
from lomo_ablate.pipeline.store import Store, verify_result_entries

REPO = Path(__file__).resolve().parents[2]


def _checkpoint(out: Path) -> None:
    (out / "final").mkdir()
    (out / "final" / "model.safetensors").write_bytes(bytes(range(256)) * 400)
    (out / "final" / "config.json").write_text('{"hidden_size": 64}\n')


def _corrupt_entries(store: Store, stage: str) -> list[Path]:
    return sorted((store.root / stage).glob("*.corrupt-*"))


def test_a_finished_entry_has_a_manifest_of_its_files(tmp_path):
    store = Store(tmp_path)
    res = store.get_or_compute("train", {"k": 1}, _checkpoint)
    manifest = json.loads((res.path / FILES_MANIFEST).read_text())
    assert set(manifest["files"]) == {"final/model.safetensors", "final/config.json", "_key.json"}
    assert manifest["files"]["final/model.safetensors"]["size"] == 102400
    assert len(manifest["files"]["final/model.safetensors"]["sha256"]) == 64


def test_a_truncated_checkpoint_is_recomputed_with_a_warning(tmp_path):
    store = Store(tmp_path)
    calls = []
    compute = lambda out: (calls.append(1), _checkpoint(out))  # noqa: E731
    first = store.get_or_compute("train", {"k": 1}, compute)
    weights = first.path / "final" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy that stopped half-way
    again = store.get_or_compute("train", {"k": 1}, compute)
    assert len(calls) == 2 and not again.cached
    assert again.warnings and "model.safetensors: 1000 bytes, expected 102400" in again.warnings[0]
    assert weights.stat().st_size == 102400  # recomputed in place
    aside = _corrupt_entries(store, "train")
    assert len(aside) == 1 and (aside[0] / "final" / "model.safetensors").stat().st_size == 1000
    assert store.get_or_compute("train", {"k": 1}, compute).cached and len(calls) == 2  # now intact


def test_changed_content_of_the_same_size_is_caught_with_verify_only(tmp_path):
    calls = []
    compute = lambda out: (calls.append(1), _checkpoint(out))  # noqa: E731
    first = Store(tmp_path).get_or_compute("train", {"k": 1}, compute)
    weights = first.path / "final" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[5000] ^= 0xFF  # one flipped byte: same size
    weights.write_bytes(bytes(data))
    assert Store(tmp_path).get_or_compute("train", {"k": 1}, compute).cached  # sizes only: not seen
    res = Store(tmp_path, verify=True).get_or_compute("train", {"k": 1}, compute)
    assert not res.cached and len(calls) == 2 and "content changed" in res.warnings[0]


def test_collect_verify_moves_a_corrupt_entry_aside(tmp_path):
    store = Store(tmp_path)
    res = store.get_or_compute("train", {"k": 1}, _checkpoint)
    result = {"stages": {"train": {"path": str(res.path), "key": res.key}}}
    assert verify_result_entries(result) == []
    (res.path / "final" / "config.json").write_text('{"hidden_size": 65}\n')  # same size, other bytes
    problems = verify_result_entries(result)
    assert len(problems) == 1 and "config.json: content changed" in problems[0]
    assert not (res.path / SUCCESS).exists() and len(_corrupt_entries(store, "train")) == 1


def _cfg(tmp_path: Path):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            return compose("config", overrides=[
                "data.text_size=12", "data.multimodal_size=4", "curate.mix.scale=null", "rewrite_ratio=1.0",
                "curate.render.math_renderer=text", "logger=none", f"store_dir={tmp_path / 'store'}"])
    finally:
        GlobalHydra.instance().clear()


def test_a_cut_curation_in_the_store_is_recomputed_and_the_job_says_so(tmp_path):
    from lomo_ablate.pipeline.app import run_job
    from lomo_ablate.pipeline.registry import Registry, Stage
    from lomo_ablate.pipeline.stages import REGISTRY

    seen = []

    def count(ctx):  # what training would train on
        n = sum(1 for line in (ctx.inputs["curate"] / DATA).read_text().splitlines() if line.strip())
        seen.append(n)
        (ctx.out / "count.json").write_text(json.dumps({"records": n}))

    registry = Registry([REGISTRY["data"], REGISTRY["curate"],
                         Stage("count", lambda cfg, up: {"curate": up["curate"], "n": len(seen)}, count)])
    cfg = _cfg(tmp_path)
    first = run_job(cfg, tmp_path / "job1", registry=registry)
    curated = Path(first["stages"]["curate"]["path"])
    original = (curated / DATA).read_bytes()
    images = sorted((curated / IMAGES_DIR).rglob("*.png"))
    assert len(images) >= 2 and seen == [len(original.splitlines())]

    (curated / DATA).write_bytes(original[: len(original) // 2])  # cut in half
    images[0].unlink()                                             # an image deleted
    images[1].write_bytes(images[1].read_bytes()[:100])            # one truncated
    second = run_job(cfg, tmp_path / "job2", registry=registry)
    entry = second["stages"]["curate"]
    assert entry["status"] == "done", entry  # computed again, not "cached"
    assert entry["warnings"] and "corrupt" in entry["warnings"][0] and second["warnings"] == entry["warnings"]
    assert json.loads((tmp_path / "job2" / "result.json").read_text())["warnings"] == entry["warnings"]
    assert (curated / DATA).read_bytes() == original and images[0].is_file()
    assert seen[-1] == len(original.splitlines())  # what came after saw every record
    assert len(_corrupt_entries(Store(cfg.store_dir), "curate")) == 1


def test_the_standalone_curation_cut_to_one_line_is_not_reported_cached(tmp_path, capsys, monkeypatch):
    from lomo_ablate.curate.__main__ import CONF_DIR, run_app

    monkeypatch.chdir(tmp_path)
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"Question {i}: what is {i} plus {i}? "
                                                                    "Explain each step in a sentence or two."},
                                         {"role": "assistant", "content": str(2 * i)}]} for i in range(10)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("curate_app", overrides=["input=in.jsonl", "output=out", "rewrite_ratio=1.0",
                                               "curate.render.math_renderer=text", "workers=1"])
    GlobalHydra.instance().clear()
    assert run_app(cfg) == 0 and "curate: done" in capsys.readouterr().out
    assert run_app(cfg) == 0 and "curate: cached" in capsys.readouterr().out
    data = tmp_path / "out" / DATA
    full = data.read_text()
    data.write_text(full.splitlines()[0] + "\n")
    assert run_app(cfg) == 0
    out = capsys.readouterr()
    assert "curate: done" in out.out and "cached" not in out.out
    assert "corrupt curation" in out.err and data.read_text() == full
    assert list(tmp_path.glob("out.corrupt-*"))
