"""The curation run end to end: determinism across workers, resume, cache by hash, mixing counts, gallery,
provenance. Real renderer (TeX where installed), real distortions, real files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from curate_helpers import fast_config, read_jsonl, text_records, write_jsonl
from curated_tree import curated_tree
from lomo_ablate.curate import CurateConfig, curate
from lomo_ablate.curate import run as run_mod



def test_same_input_config_seed_give_identical_bytes_for_1_and_2_workers(tmp_path: Path, mm_pool: Path):
    rows = text_records(24) + [{"messages": [{"role": "user", "content": "Broken $\\frac{1}{$ here. Costs $5 and "
                                                                         "$10. What now? Tell me."},
                                             {"role": "assistant", "content": "x"}]}]
    src = write_jsonl(tmp_path / "text.jsonl", rows)
    cfg = CurateConfig.from_dict({"shard_size": 6, "mix": {"rewrite_ratio": 0.7}})  # default renderer: TeX/auto
    a = curate(src, tmp_path / "w1", cfg, multimodal_input=mm_pool, seed=3, workers=1, progress=False)
    b = curate(src, tmp_path / "w2", cfg, multimodal_input=mm_pool, seed=3, workers=2, progress=False)
    assert a.config_hash == b.config_hash and not b.cached
    ta, tb = curated_tree(tmp_path / "w1"), curated_tree(tmp_path / "w2")
    assert ta.keys() == tb.keys() and ta == tb
    assert any(k.startswith("images/") and k.endswith(".png") for k in ta)
    c = a.counts
    assert c["read"] == c["written"] + c["rejected_total"] == 25 + 12
    assert sum(c["renderer"].values()) == c["images"] - 12  # every rendered span says which renderer drew it
    assert sum(c["distortion"].values()) == sum(c["renderer"].values())
    broken = [r for r in read_jsonl(tmp_path / "w1" / "data.jsonl") if r["meta"]["line"] == 25
              and r["meta"]["source"] == "text"]
    assert broken, "broken LaTeX is rendered (with a fallback), never rejected"


def test_rewritten_records_carry_provenance_and_reconstruct_the_original(tmp_path: Path, text_pool: Path):
    out = tmp_path / "out"
    curate(text_pool, out, fast_config(mix={"rewrite_ratio": 1.0}, localize={"position": "multi_span",
                                                                             "min_sentences": 2}),
           progress=False)
    originals = [r["messages"][0]["content"] for r in text_records(30)]
    rows = read_jsonl(out / "data.jsonl")
    assert all(r["meta"]["rewritten"] for r in rows)
    for r in rows:
        m, text = r["meta"], originals[r["meta"]["line"] - 1]
        spans = m["spans"]
        assert len(spans) == len(r["images"]) == len(m["renderer"]) == len(m["distortion"])
        # the content is the original with each span swapped for a slot
        rebuilt, pos = [], 0
        for s, e in spans:
            rebuilt.append(text[pos:s])
            pos = e
        rebuilt.append(text[pos:])
        assert r["messages"][0]["content"] == "<image>".join(rebuilt)
        assert "".join(text[a:b] for a, b in zip([0] + [x for sp in spans for x in sp],
                                                  [x for sp in spans for x in sp] + [len(text)])) == text
        assert r["messages"][1]["content"] == str(r["meta"]["line"] - 1)  # the target is untouched
        for d in m["distortion"]:
            assert d["op"] in {"none", "rotate", "blur", "shadow", "stain", "wave"}
        for p in r["images"]:
            with Image.open(out / p) as im:
                assert im.format == "PNG" and im.width > 0


def test_interrupted_run_resumes_without_redoing_finished_shards(tmp_path: Path, text_pool: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    cfg = fast_config()
    reference = tmp_path / "ref"
    curate(text_pool, reference, cfg, progress=False)

    out = tmp_path / "out"
    real = run_mod.process_shard
    calls: list[int] = []

    def crash_on_third(task):
        calls.append(task.index)
        if task.index == 2:
            raise KeyboardInterrupt("simulated kill")
        return real(task)

    monkeypatch.setattr(run_mod, "process_shard", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        curate(text_pool, out, cfg, workers=1, progress=False)
    assert not (out / "_SUCCESS").exists()
    work = out / run_mod.WORK
    # a shard killed half way: its records file exists, its stats (the done marker) do not
    (work / "shard-00002.jsonl").write_text('{"id": "text:17", "trunc')
    # a finished shard whose file was torn afterwards (e.g. a machine crash before the disk caught up)
    torn = work / "shard-00001.jsonl"
    torn.write_bytes(torn.read_bytes()[:-10])

    calls.clear()
    monkeypatch.setattr(run_mod, "process_shard", lambda t: (calls.append(t.index), real(t))[1])
    s = curate(text_pool, out, cfg, workers=1, progress=False)
    assert calls == [1, 2, 3]  # only shard 0 was done intact; 30 records / 8 per shard = 4 shards
    assert not s.cached and (out / "_SUCCESS").exists() and not (out / run_mod.WORK).exists()
    assert curated_tree(out) == curated_tree(reference)


def test_finished_run_is_found_by_hash_and_not_redone(tmp_path: Path, text_pool: Path):
    out = tmp_path / "out"
    first = curate(text_pool, out, fast_config(), progress=False)
    before = (out / "data.jsonl").stat().st_mtime_ns
    again = curate(text_pool, out, fast_config(workers=2), progress=False)  # workers do not change the key
    assert again.cached and again.config_hash == first.config_hash and again.counts == first.counts
    assert (out / "data.jsonl").stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="config_hash"):
        curate(text_pool, out, fast_config(), seed=1, progress=False)
    third = curate(text_pool, out, fast_config(), seed=1, progress=False, overwrite=True)
    assert not third.cached and third.config_hash != first.config_hash


def test_an_unfinished_run_of_another_config_is_not_resumed(tmp_path: Path, text_pool: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    """Curation resumes only the shards of the same config (its manifest's config_hash): a folder killed
    half-way through seed 0 and re-run with seed 1 starts over, and equals a clean seed-1 run."""
    real = run_mod.process_shard

    def crash_on_second(task):
        if task.index == 1:
            raise KeyboardInterrupt("simulated kill")
        return real(task)

    monkeypatch.setattr(run_mod, "process_shard", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        curate(text_pool, tmp_path / "out", fast_config(), seed=0, workers=1, progress=False)
    monkeypatch.setattr(run_mod, "process_shard", real)
    s = curate(text_pool, tmp_path / "out", fast_config(), seed=1, workers=1, progress=False)
    clean = curate(text_pool, tmp_path / "clean", fast_config(), seed=1, workers=1, progress=False)
    assert s.config_hash == clean.config_hash and curated_tree(tmp_path / "out") == curated_tree(tmp_path / "clean")


def test_missing_input_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope.jsonl")):
        curate(tmp_path / "nope.jsonl", tmp_path / "out", fast_config(), progress=False)


@pytest.mark.parametrize("ratio", [0.0, 0.25, 1.0])
def test_mix_original_counts(tmp_path: Path, mm_pool: Path, ratio: float):
    src = write_jsonl(tmp_path / "t.jsonl", text_records(40))
    s = curate(src, tmp_path / "o", fast_config(mix={"rewrite_ratio": ratio, "scale": 26}),
               multimodal_input=mm_pool, progress=False)
    by = s.counts["by_source"]
    assert s.counts["written"] == 26
    assert by["text"]["written"] == 20 and by["multimodal"]["written"] == 6  # 40:12 proportions of 26
    rewritten = by["text"].get("rewritten", 0)
    if ratio in (0.0, 1.0):
        assert rewritten == ratio * 20
    else:
        assert 0 < rewritten < 20


def test_matched_mix_resamples_to_one_to_one(tmp_path: Path, mm_pool: Path):
    src = write_jsonl(tmp_path / "t.jsonl", text_records(200))
    curate(src, tmp_path / "o", fast_config(mix={"rewrite_ratio": 0.2, "scale": 120, "image_text_ratio": "1:1"},
                                                shard_size=64),
               multimodal_input=mm_pool, progress=False)
    rows = read_jsonl(tmp_path / "o" / "data.jsonl")
    assert len(rows) == 120
    image_bearing = sum(1 for r in rows if r["images"])
    mm = [r for r in rows if r["meta"]["source"] == "multimodal"]
    # matched control: keep the original mix's rewritten count R = 0.2 * 120 * 200/212, fill up to 60
    # image-bearing with multimodal instances (the 12-record pool upsampled)
    R = 0.2 * round(120 * 200 / 212)
    assert len(mm) == round(60 - R)
    assert len({r["id"] for r in rows}) == 120  # upsampled copies get their own ids
    assert abs(image_bearing / 120 - 0.5) < 0.1
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["mix"]["expected_image_fraction"] == pytest.approx(0.5, abs=0.01)
    assert manifest["mix"]["realised_image_fraction"] == pytest.approx(image_bearing / 120)


def test_gallery_shows_the_layout(tmp_path: Path, text_pool: Path):
    out = tmp_path / "out"
    curate(text_pool, out, fast_config(gallery=True, gallery_samples=4, mix={"rewrite_ratio": 1.0}), progress=False)
    with Image.open(out / "gallery.png") as im:
        assert im.format == "PNG"
        assert im.width > 1000 and im.height > 200  # two columns of panels, two rows
        # the sheet is not blank: it holds dark text pixels and the pasted span images
        lo, hi = im.convert("L").getextrema()
        assert lo < 60 and hi > 200


def test_outputs_never_clobber_a_foreign_folder(tmp_path: Path, text_pool: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not a curation output"):
        curate(text_pool, out, fast_config(), progress=False)
    assert (out / "notes.txt").read_text() == "precious"
    assert os.listdir(out) == ["notes.txt"]


PIECES = ["The value is large. ", "We compute it! ", "Is it right? ", "$x^2+1$", "$$\\sum_i i.$$ ", "\\frac{1}{2} ",
          "costs $5 and $10. ", "<image> ", "tab\there. ", "\\begin{align} a&=b \\end{align} ", "数学。", "$"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions=st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join),
                          min_size=1, max_size=10),
       position=st.sampled_from(["prefix", "middle", "suffix", "multi_span", "full"]))
def test_curated_records_reconstruct_their_source_text(tmp_path_factory, questions: list[str], position: str):
    tmp = tmp_path_factory.mktemp("prop")
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "A"}]} for q in questions]
    src = write_jsonl(tmp / "t.jsonl", rows)
    s = curate(src, tmp / "out", fast_config(mix={"rewrite_ratio": 1.0}, localize={"position": position}),
               progress=False)
    assert s.counts["read"] == s.counts["written"] + s.counts["rejected_total"] == len(questions)
    for r in read_jsonl(tmp / "out" / "data.jsonl"):
        original = questions[r["meta"]["line"] - 1]
        assert r["meta"]["rewritten"]
        spans = r["meta"]["spans"]
        bounds = [0] + [x for sp in spans for x in sp] + [len(original)]
        parts = [original[a:b] for a, b in zip(bounds, bounds[1:])]  # text, span, text, span, ..., text
        assert "".join(parts) == original and all(p.strip() for p in parts[1::2])
        expected = "<image>".join(p.replace("<image>", "< image>") for p in parts[0::2])
        assert r["messages"][0]["content"] == expected
        assert r["messages"][0]["content"].count("<image>") == len(r["images"]) == len(spans)
        assert r["messages"][1]["content"] == "A"


@pytest.mark.tex
def test_the_manifest_reports_the_runs_tex_time(tmp_path, need_tex):
    """Issue 17: TeX time of a run is capped per worker and reported (manifest.json "tex")."""
    src = tmp_path / "m.jsonl"
    src.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"Solve ${i}x^2 + \\frac{{1}}{{{i + 1}}} = 0$ now. Then check it. Then answer."},
        {"role": "assistant", "content": "x"}]}) + "\n" for i in range(4)))
    cfg = CurateConfig.from_dict({"render": {"math_renderer": "tex"}, "localize": {"position": "full"}})
    curate(src, tmp_path / "o", cfg, progress=False, workers=1)
    tex = json.loads((tmp_path / "o" / "manifest.json").read_text())["tex"]
    assert tex["runs"] >= 1 and tex["seconds"] > 0
    assert tex["run_budget_s_per_worker"] == cfg.render.tex_run_budget_s
