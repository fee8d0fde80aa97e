"""Grid expansion (product, zip, baselines) and the zip(...) command-line syntax (pipeline/grid.py)."""
from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import given, strategies as st

from lomo_ablate.pipeline.grid import SweepSpecError, check_unique_names, expand_grid, rewrite_zip_arguments
from lomo_ablate.pipeline.naming import job_name_from_overrides


def parse(*args):
    return OverridesParser.create().parse_overrides(list(args))


def test_product_of_two_axes_with_constants_in_every_job():
    jobs = expand_grid(parse("position=prefix,middle", "rewrite_ratio=0.25,0.5", "trainer.max_steps=2"))
    assert len(jobs) == 4
    assert all("trainer.max_steps=2" in j for j in jobs)
    assert {tuple(sorted(j)) for j in jobs} == {
        tuple(sorted(["trainer.max_steps=2", f"position={p}", f"rewrite_ratio={r}"]))
        for p in ("prefix", "middle") for r in ("0.25", "0.5")}


def test_paired_axes_are_zipped_not_multiplied():
    jobs = expand_grid(parse("method=standard_sft,lomo"),
                       paired={"backbone": {"model": ["tiny", "qwen3_5_9b"], "trainer.lr": [1e-3, 1e-5]}})
    assert len(jobs) == 4  # 2 methods x 2 (model, lr) pairs, not 2 x 2 x 2
    pairs = {(next(o for o in j if o.startswith("model=")), next(o for o in j if o.startswith("trainer.lr=")))
             for j in jobs}
    assert pairs == {("model=tiny", "trainer.lr=0.001"), ("model=qwen3_5_9b", "trainer.lr=1e-05")}


def test_paired_lists_of_different_lengths_are_an_error_naming_the_pairing():
    with pytest.raises(SweepSpecError, match="paired.backbone.*equal lengths"):
        expand_grid([], paired={"backbone": {"model": ["a", "b"], "trainer.lr": [1]}})


def test_baselines_are_added_once_not_multiplied():
    jobs = expand_grid(parse("position=prefix,middle,suffix", "seed=1"), baselines=[["method=standard_sft"]])
    assert len(jobs) == 4
    assert ["method=standard_sft", "seed=1"] in jobs


def test_duplicate_jobs_are_dropped():
    jobs = expand_grid(parse("rewrite_ratio=0,0.5"), baselines=[["rewrite_ratio=0"]])
    assert len(jobs) == 2


def test_zip_command_line_syntax_becomes_a_paired_override():
    out = rewrite_zip_arguments(["-m", "zip(model,trainer.lr)=[tiny,qwen3_5_9b],[1e-3,1e-5]", "seed=1"])
    assert out[0] == "-m" and out[2] == "seed=1"
    o = OverridesParser.create().parse_override(out[1])
    assert o.key_or_group.startswith("hydra.sweeper.paired.")
    assert o.value() == {"model": ["tiny", "qwen3_5_9b"], "trainer.lr": [1e-3, 1e-5]}


def test_malformed_zip_is_rejected_with_the_expected_form():
    with pytest.raises(SweepSpecError, match=r"zip\(k1,k2"):
        rewrite_zip_arguments(["zip(model,trainer.lr)=[tiny,q]"])


def test_swept_axes_come_first_in_job_names_and_long_values_are_hashed():
    jobs = expand_grid(parse("trainer.max_steps=2", "eval.protocols=[standard,rendered,rendered_0.33,x]",
                             "rewrite_ratio=0,0.5"))
    names = [job_name_from_overrides(j) for j in jobs]
    assert [n.split(",")[0] for n in names] == ["rewrite_ratio=0", "rewrite_ratio=0.5"]
    assert all("eval.protocols=~" in n for n in names) and len(set(names)) == 2


@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.integers(1, 4), st.integers(0, 3))
def test_grid_size_is_the_product_times_the_pairing_plus_baselines(sizes, pair_len, n_base):
    """k axes of sizes s1..sk, one pairing of length p and b distinct baselines: s1*...*sk*p + b jobs,
    each with exactly one value per axis."""
    args = [f"a{i}=" + ",".join(f"v{j}" for j in range(n)) for i, n in enumerate(sizes)]
    paired = {"pair": {"x": list(range(pair_len)), "y": [f"y{j}" for j in range(pair_len)]}}
    baselines = [[f"base=b{i}"] for i in range(n_base)]
    jobs = expand_grid(parse(*args) if args else [], paired, baselines)
    product = 1
    for n in sizes:
        product *= n
    assert len(jobs) == product * pair_len + n_base
    for j in jobs[:product * pair_len]:
        keys = [o.split("=")[0] for o in j]
        assert sorted(keys) == sorted([f"a{i}" for i in range(len(sizes))] + ["x", "y"])
        x, y = next(o for o in j if o.startswith("x=")), next(o for o in j if o.startswith("y="))
        assert y == f"y=y{x.split('=')[1]}"  # zipped, never crossed


def test_two_jobs_in_one_folder_are_refused_naming_both():
    with pytest.raises(SweepSpecError, match="same folder 'a=1'"):
        check_unique_names(["a=1", "a=1"], [["a=1"], ["a=1", "logger=none"]])
