"""Job folder names (pipeline/naming.py): deterministic, one safe path component, and blind to exactly the
keys that do not change what a job computes (contracts.NOT_IN_JOB, also left out of the config hash)."""
from __future__ import annotations

from hypothesis import example, given, strategies as st

from lomo_ablate.contracts import NOT_IN_JOB
from lomo_ablate.pipeline.naming import MAX_NAME, job_name, job_name_from_overrides


def test_job_names_are_deterministic_and_ignore_where_the_job_runs():
    a = job_name_from_overrides(["position=middle", "rewrite_ratio=0.5", "cluster.partition=gpu", "sweep=x"],
                                exclude=["cluster", "sweep"])
    b = job_name_from_overrides(["position=middle", "rewrite_ratio=0.5"], exclude=["cluster", "sweep"])
    assert a == b == "position=middle,rewrite_ratio=0.5"
    assert job_name_from_overrides([], []) == "default"


@example(".")
@example("..")
@example("a/b")
@example(".hidden")
@given(st.text(min_size=1, max_size=400))
def test_job_name_is_always_one_safe_path_component(s):
    name = job_name(s)
    assert name and "/" not in name and not name.startswith(".") and len(name) <= MAX_NAME
    assert job_name(s) == name


def test_the_keys_left_out_of_folder_names_include_where_a_job_runs_and_logs():
    assert {"cluster", "logger", "store_dir", "sweep"} <= set(NOT_IN_JOB)
    assert job_name_from_overrides(["seed=1", "logger=none", "cluster=slurm", "cluster.partition=gpu"],
                                   NOT_IN_JOB) == "seed=1"
