"""The typed dataclasses are the apps' Hydra schema: a typo or a wrong type on the command line fails while
composing, naming the dotted key (and the expected type); every field of every config is in the schema."""
from __future__ import annotations

import dataclasses
import pickle
import typing
from typing import Any, Literal

import pytest
from hydra import compose
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from lomo_ablate.pipeline.schema import SECTIONS, annotation, main_schema, structured
from lomo_ablate.pipeline.config import PipelineConfig
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config
from lomo_ablate.train.config import TrainerConfig



def compose_error(overrides: list[str], config: str = "config") -> str:
    """The message a user sees (Hydra prints the exception and its causes)."""
    with pytest.raises(ConfigCompositionException) as e:
        compose(config, overrides=overrides)
    parts, err = [], e.value
    while err is not None:
        parts.append(str(err))
        err = err.__cause__
    return "\n".join(parts)


@pytest.mark.parametrize("override,key", [
    ("trainer.lrr=1", "trainer.lrr"), ("curate.localize.positon=middle", "curate.localize.positon"),
    ("model.tiny.reading.stepz=3", "model.tiny.reading.stepz"), ("eval.mir.nn=3", "eval.mir.nn"),
    ("logger.projekt=x", "logger.projekt"), ("cluster.partiton=gpu", "cluster.partiton"),
    ("data.txt=x.jsonl", "data.txt"), ("rewrite_ration=0.3", "rewrite_ration"),
])
def test_an_unknown_key_fails_at_compose_time_naming_the_dotted_key(hydra_conf, override, key):
    msg = compose_error([override])
    assert f"full_key: {key}" in msg and f"Could not override '{key}'" in msg


@pytest.mark.parametrize("override,key,kind", [
    ("trainer.lr=abc", "trainer.lr", "Float"), ("seed=1.5", "seed", "Integer"),
    ("model.tiny.hidden_size=big", "model.tiny.hidden_size", "Integer"),
    ("curate.mix.rewrite_ratio=half", "curate.mix.rewrite_ratio", "Float"),
    ("trainer.bf16=maybe", "trainer.bf16", "bool"), ("eval.mir.n=all", "eval.mir.n", "Integer"),
    ("logger.init_timeout=soon", "logger.init_timeout", "Float"),
])
def test_a_wrong_type_fails_at_compose_time_naming_the_key_and_the_type(hydra_conf, override, key, kind):
    msg = compose_error([override])
    assert f"full_key: {key}" in msg and (f"could not be converted to {kind}" in msg or f"not a valid {kind}" in msg)


def test_the_curation_app_rejects_unknown_keys_and_wrong_types_at_compose_time(hydra_conf):
    assert "full_key: inptu" in compose_error(["inptu=x"], "curate_app")
    assert "full_key: curate.workerz" in compose_error(["curate.workerz=2"], "curate_app")
    assert "could not be converted to Integer" in compose_error(["workers=many"], "curate_app")


def test_a_key_added_with_plus_is_rejected_before_anything_runs(hydra_conf):
    """Hydra's `+key=value` opens the schema on purpose; validate_config (run by the sweeper and by every
    job before its first stage) names the key."""
    with pytest.raises(ConfigValidationError) as e:
        validate_config(compose("config", overrides=["+foo=1"]))
    assert "'foo'" in str(e.value)
    with pytest.raises(ConfigValidationError) as e:
        validate_config(compose("config", overrides=["+trainer.foo=1"]))
    assert "'trainer.foo'" in str(e.value)


def test_a_wrong_type_through_validate_config_names_the_key_and_the_expected_type():
    """A plain (schema-less) job config, e.g. a library call's dict: config_from_dict's message, no TypeError."""
    job = {"seed": 0, "rewrite_ratio": 0.5, "data": {"text": "builtin"}, "trainer": {"lr": "abc"},
           "model": {"tiny": {"hidden_size": "big"}}, "curate": {"mix": {"scale": 1.5}}}
    with pytest.raises(ConfigValidationError) as e:
        validate_config(OmegaConf.create(job))
    problems = dict(e.value.problems)
    # each problem is filed under the dotted key the user must fix
    assert "trainer.lr: expected a float, got 'abc' (str)" in problems["trainer.lr"]
    assert "model.tiny.hidden_size: expected an integer, got 'big' (str)" in problems["model.tiny.hidden_size"]
    assert "1.5" in problems["curate.mix.scale"]


def test_free_form_sections_stay_open(hydra_conf):
    cfg = compose("config", overrides=["+estimate.note=x", "cluster=slurm", "cluster.partition=gpu",
                                       "+cluster.additional.constraint=a100"])
    assert cfg.estimate.note == "x" and cfg.cluster.additional.constraint == "a100"


def test_a_nested_config_that_defaults_to_null_can_be_set_from_the_command_line(hydra_conf):
    """trainer.deepspeed (null for trainer=cpu): OmegaConf cannot merge into a null structured node, so the
    schema leaves it untyped; its keys stay closed and validate_config checks them."""
    cfg = compose("config", overrides=["trainer.deepspeed={stage:2}"])
    assert cfg.trainer.deepspeed == {"stage": 2}
    assert compose("config", overrides=["trainer.deepspeed={}"]).trainer.deepspeed == {}
    cfg = compose("config", overrides=["trainer=h200_zero1", "trainer.deepspeed.stage=2"])
    assert cfg.trainer.deepspeed.stage == 2 and cfg.trainer.deepspeed.overlap_comm is True
    assert compose("config", overrides=["trainer=h200_zero1", "trainer.deepspeed=null"]).trainer.deepspeed is None
    assert "full_key: trainer.deepspeed.stag" in compose_error(["trainer=h200_zero1", "trainer.deepspeed.stag=2"])
    with pytest.raises(ConfigValidationError, match=r"trainer\.deepspeed\.stage: expected an integer"):
        validate_config(compose("config", overrides=["trainer=h200_zero1", "trainer.deepspeed.stage=two"]))


def test_every_field_of_every_config_is_in_the_schema():
    """Introspection, not copied fields: a field added to a dataclass is a key of the composed config."""
    assert set(SECTIONS) | {"hydra"} == set(PipelineConfig.SECTIONS)
    root = OmegaConf.structured(main_schema())

    def check(node: Any, cls: type, where: str) -> None:
        assert list(node.keys()) == [f.name for f in dataclasses.fields(cls)], where
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]):
                check(node[f.name], hints[f.name], f"{where}.{f.name}")

    check(OmegaConf.masked_copy(root, [f.name for f in dataclasses.fields(PipelineConfig)]), PipelineConfig, "")
    for key, cls in SECTIONS.items():
        check(root[key], cls, key)
        # and the schema's defaults are the dataclass's
        assert cls.from_dict(OmegaConf.to_container(root[key])) == cls(), key


@dataclasses.dataclass
class Inner:
    a: int = 1


def test_annotations_omegaconf_cannot_take_are_adapted_without_weakening_the_rest():
    assert annotation(Literal["a", "b"]) is str
    assert annotation(tuple[float, float]) == list[float] and annotation(tuple[str, ...]) == list[str]
    assert annotation(int | None) == (int | None) and annotation(int | str) == (int | str)
    assert annotation(list[Inner]) == list[structured(Inner)]
    assert annotation(Inner | None) == typing.Optional[structured(Inner)]
    assert annotation(list[int] | str) is Any and annotation(dict) is dict
    trainer = {f.name: f for f in dataclasses.fields(structured(TrainerConfig))}
    assert trainer["deepspeed"].type is Any and trainer["deepspeed"].default is None  # null nested config
    assert annotation(dict[str, Inner]) == dict[str, structured(Inner)]


def test_composed_configs_pickle_with_their_schema(hydra_conf):
    """submitit and the Slurm launcher pickle composed configs; the generated classes are found by name."""
    cfg = compose("config", overrides=["trainer.lr=0.01"])
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and OmegaConf.get_type(again.trainer).__name__ == "TrainerConfig"
