"""Invalid values are rejected with a message naming the key and the allowed values."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st
from omegaconf import OmegaConf

from lomo_ablate.curate import POSITIONS
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config


def job(**over):
    cfg = {"seed": 0, "rewrite_ratio": 0.5, "data": {"text": "builtin", "multimodal": "builtin",
                                                     "text_size": 10, "multimodal_size": 5},
           "curate": {"localize": {"position": "middle"}}, "cluster": {"kind": "local"}}
    for dotted, value in over.items():
        node = cfg
        *head, last = dotted.split("__")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = value
    return OmegaConf.create(cfg)


def problems(cfg) -> dict[str, str]:
    with pytest.raises(ConfigValidationError) as e:
        validate_config(cfg, check_stages=False)
    return dict(e.value.problems)


def test_a_valid_job_passes():
    validate_config(job(), check_stages=False)


def test_ratio_out_of_range_names_the_key_and_the_allowed_range():
    msg = problems(job(rewrite_ratio=1.5))["rewrite_ratio"]
    assert "1.5" in msg and "[0, 1]" in msg


def test_non_numeric_ratio_is_rejected():
    assert "not a number" in problems(job(rewrite_ratio="half"))["rewrite_ratio"]


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_in_0_1_is_accepted_and_nothing_else(r):
    cfg = job(rewrite_ratio=r)
    if not math.isnan(r) and 0.0 <= r <= 1.0:
        validate_config(cfg, check_stages=False)
    else:
        assert "rewrite_ratio" in problems(cfg)


def problems_with_stages(cfg) -> dict[str, str]:
    with pytest.raises(ConfigValidationError) as e:
        validate_config(cfg)
    return dict(e.value.problems)


def test_unknown_position_lists_the_allowed_positions():
    """The position is LocalizeConfig's own check (one list of positions: curate.localize.POSITIONS)."""
    msg = problems_with_stages(job(curate__localize__position="diagonal"))["curate.localize.position"]
    assert "'diagonal'" in msg
    for p in POSITIONS:
        assert p in msg


def test_missing_input_file_is_named(tmp_path):
    missing = tmp_path / "nope.jsonl"
    msg = problems(job(data__text=str(missing)))["data.text"]
    assert str(missing) in msg and "not found" in msg and "builtin" in msg


def test_existing_input_file_is_accepted(tmp_path):
    f = tmp_path / "pool.jsonl"
    f.write_text("{}\n")
    validate_config(job(data__text=str(f), data__multimodal=None), check_stages=False)


def test_slurm_cluster_without_partition_is_rejected_before_submission():
    msg = problems(job(cluster={"kind": "slurm", "partition": None}))["cluster.partition"]
    assert "partition" in msg and "cluster.partition=" in msg
    validate_config(job(cluster={"kind": "slurm", "partition": "gpu"}), check_stages=False)


def test_all_problems_are_reported_at_once():
    found = problems_with_stages(job(rewrite_ratio=-1, seed=-3, curate__localize__position="nowhere"))
    assert {"rewrite_ratio", "seed", "curate.localize.position"} <= set(found)


def test_stage_config_errors_name_the_stage_key():
    """The stage's own typed config (CurateConfig.from_dict) rejects an unknown key; the error names it."""
    pytest.importorskip("lomo_ablate.curate")
    cfg = job(curate={"localize": {"position": "middle"}, "colour": "red"})
    with pytest.raises(ConfigValidationError) as e:
        validate_config(cfg)
    assert "colour" in str(e.value) and "curate" in dict(e.value.problems)


def test_unknown_top_level_key_is_named_with_the_allowed_ones():
    """A typo in a sweep file (`rewrite_ration`) is not silently ignored."""
    cfg = job()
    cfg.rewrite_ration = 0.3
    msg = problems(cfg)["config"]
    assert "'rewrite_ration'" in msg and "rewrite_ratio" in msg and "curate" in msg


def test_unknown_data_key_is_named():
    msg = problems(job(data__txt="x.jsonl"))["data"]
    assert "'data.txt'" in msg and "text_size" in msg


def test_pipeline_keys_are_typed_dataclasses_built_by_the_one_config_builder():
    """PipelineConfig/DataConfig (lomo_ablate.pipeline.config): types and ranges named by their key."""
    from lomo_ablate.pipeline.config import DataConfig, PipelineConfig
    from lomo_ablate.utils.config import ConfigError

    cfg = PipelineConfig.from_dict({"seed": 3, "data": {"text": "builtin", "text_size": 7}, "curate": {"x": 1}})
    assert cfg.seed == 3 and isinstance(cfg.data, DataConfig) and cfg.data.text_size == 7
    with pytest.raises(ConfigError, match="data.text_size: 0: allowed: a positive integer"):
        PipelineConfig.from_dict({"data": {"text_size": 0}})
    with pytest.raises(ConfigError, match="^seed: expected an integer"):
        PipelineConfig.from_dict({"seed": "zero"})
    assert "data.multimodal_size" in problems(job(data__multimodal_size=-1))


def test_a_pool_may_be_a_folder_of_shards_a_glob_or_a_list(tmp_path):
    """data.text/data.multimodal take what curation reads (curate.readers.expand_pool), not only one file."""
    shards = tmp_path / "subset"
    shards.mkdir()
    for i in range(2):
        (shards / f"train-{i:05d}-of-00002.jsonl").write_text("{}\n")
    other = tmp_path / "extra.jsonl"
    other.write_text("{}\n")
    for value in (str(shards), str(shards / "train-*.jsonl"), [str(shards), str(other)]):
        validate_config(job(data__text=value, data__multimodal=None), check_stages=False)
    msg = problems(job(data__text=str(tmp_path / "nothing-*.jsonl")))["data.text"]
    assert "nothing-*.jsonl" in msg and "glob" in msg
