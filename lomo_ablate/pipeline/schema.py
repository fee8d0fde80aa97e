"""The Hydra schemas of both apps, made from the package's typed config dataclasses (the one schema).

``register_schemas()`` stores two structured configs in Hydra's ConfigStore, each the first entry of its
app's defaults list:

* ``lomo_schema`` (conf/config.yaml, ``python -m lomo_ablate``): the pipeline's own keys
  (:class:`PipelineConfig`, ``data`` = :class:`DataConfig`) and one section per stage config
  (:data:`SECTIONS`: ``curate`` = CurateConfig with its render/distort/localize/mix configs, ``model``,
  ``trainer``, ``eval``, ``logger``, ``cluster``);
* ``curate_app_schema`` (conf/curate_app.yaml, ``python -m lomo_ablate.curate``): :class:`CurateAppConfig`
  (and ``data``, which the shared scale group sets).

So an unknown key (``trainer.lrr=1``) or a value of the wrong type (``trainer.lr=abc``) fails while Hydra
composes, before anything runs, with the full dotted key and the expected type in the message; and a key
that no YAML file sets takes its dataclass default, so conf/*.yaml carry only values that differ from the
defaults. Ranges, choices and cross-field checks stay in each dataclass's ``validate()``, which
``validate_config`` runs (through ``config_from_dict``) on the composed config before any job starts; it
also rejects a key added on purpose with Hydra's ``+key=value`` (Hydra opens the schema for that).

The schema classes are generated from the dataclasses by :func:`structured` (introspection, not copied
fields: a field added to a config class is in the schema at once). OmegaConf 2.3 takes most annotations in
use as they are (``int``/``float``/``str``/``bool``, ``X | None``, unions of those, ``list[str]``,
``dict``, ``Any``, nested dataclasses, ``list[BenchmarkSpec]``); the
adapter changes only what it cannot take, without touching the dataclasses:

* ``Literal[...]`` (unsupported) becomes the type of its values (``str``); ``validate()`` checks the values;
* ``tuple[float, float]`` / ``tuple[str, ...]`` become ``list[float]`` / ``list[str]`` (OmegaConf keeps
  tuples as lists anyway; ``config_from_dict`` checks the length and builds the tuple);
* a union with a container or a dataclass in it, and any other annotation, becomes ``Any``;
* a nested config that defaults to null (``trainer.deepspeed: DeepSpeedSettings | None = None``) becomes
  ``Any``: OmegaConf 2.3 cannot merge a command-line mapping into a null structured node
  (``trainer.deepspeed={stage:2}`` fails, and ``trainer.deepspeed={}`` silently stays null). Its keys are
  still closed (Hydra's struct mode) and checked with their types by ``validate_config``.

Free-form sections stay open: ``estimate`` (a ``dict``) and Hydra's own ``hydra`` node.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from typing import Any, Mapping

from hydra.core.config_store import ConfigStore

from lomo_ablate.curate.config import CurateAppConfig, CurateConfig
from lomo_ablate.evaluate.config import EvalConfig
from lomo_ablate.models.config import ModelConfig
from lomo_ablate.pipeline.submit import ClusterConfig
from lomo_ablate.pipeline.config import DataConfig, PipelineConfig
from lomo_ablate.report.wandb_log import LoggerConfig
from lomo_ablate.train.config import TrainerConfig

__all__ = ["SECTIONS", "MAIN_SCHEMA", "CURATE_APP_SCHEMA", "CLUSTER_SCHEMA", "structured", "main_schema", "curate_app_schema",
           "register_schemas"]

#: The stage sections of the main config and their typed configs (``PipelineConfig.SECTIONS`` minus hydra).
SECTIONS: dict[str, type] = {"curate": CurateConfig, "model": ModelConfig, "trainer": TrainerConfig,
                             "eval": EvalConfig, "logger": LoggerConfig, "cluster": ClusterConfig}
MAIN_SCHEMA = "lomo_schema"
CURATE_APP_SCHEMA = "curate_app_schema"
#: The ``cluster`` section alone, for a small app that borrows conf/cluster/ (tests/slurm/app): the cluster
#: files carry only what differs from :class:`ClusterConfig`'s defaults, so they need this schema beneath.
CLUSTER_SCHEMA = "lomo_cluster_schema"
_PRIMITIVES = (int, float, str, bool, bytes)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def annotation(hint: Any) -> Any:
    """The OmegaConf 2.3 annotation closest to the dataclass annotation ``hint`` (see the module doc)."""
    if hint is Any or hint in _PRIMITIVES:
        return hint
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return structured(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        return kinds.pop() if len(kinds) == 1 and next(iter(kinds)) in _PRIMITIVES else Any
    if _is_union(hint):
        inner = [a for a in args if a is not type(None)]
        optional = len(inner) < len(args)
        if len(inner) == 1:
            mapped = annotation(inner[0])
            return typing.Optional[mapped] if optional and mapped is not Any else mapped
        if all(a in _PRIMITIVES for a in inner):
            return hint
        return Any
    if hint in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        items = [a for a in args if a is not Ellipsis]
        item = items[0] if items and all(a == items[0] for a in items) else Any
        return list[annotation(item)]
    if hint in (dict, Mapping) or origin in (dict, Mapping):
        if len(args) == 2 and args[0] in (str, int):
            return dict[args[0], annotation(args[1])]
        return dict
    return Any


def _schema_value(value: Any) -> Any:
    """A dataclass default as the schema class holds it: nested config instances as schema instances."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return structured(type(value))(**{f.name: _schema_value(getattr(value, f.name))
                                          for f in dataclasses.fields(value)})
    if isinstance(value, (list, tuple)):
        return [_schema_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _schema_value(v) for k, v in value.items()}
    return value


def _field(name: str, hint: Any, f: dataclasses.Field) -> tuple[str, Any, dataclasses.Field]:
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return name, annotation(hint), dataclasses.field()  # required: "???" in the schema
    value, ann = _schema_value(default), annotation(hint)
    if value is None and any(dataclasses.is_dataclass(a) for a in typing.get_args(ann)):
        ann = Any  # a nested config that defaults to null: see the module doc
    if isinstance(value, (list, dict)) or dataclasses.is_dataclass(value):
        return name, ann, dataclasses.field(default_factory=lambda v=value: copy.deepcopy(v))
    return name, ann, dataclasses.field(default=value)


_GENERATED: dict[str, type] = {}  # qualname -> schema class (module __getattr__ finds them: picklable)


def _make(name: str, qualname: str, fields: list, doc: str) -> type:
    schema = dataclasses.make_dataclass(name, fields)
    schema.__module__, schema.__qualname__, schema.__doc__ = __name__, qualname, doc
    _GENERATED[qualname] = schema
    return schema


def _fields_of(cls: type) -> list:
    hints = typing.get_type_hints(cls)
    return [_field(f.name, hints[f.name], f) for f in dataclasses.fields(cls) if f.init]


@functools.lru_cache(maxsize=None)
def structured(cls: type) -> type:
    """A dataclass OmegaConf can use as a structured config, with the fields, defaults and (adapted)
    annotations of the config dataclass ``cls`` and its name (errors say ``object_type=TrainerConfig``)."""
    qualname = "schema_" + f"{cls.__module__}.{cls.__qualname__}".replace(".", "_")
    return _make(cls.__name__, qualname, _fields_of(cls), f"Hydra schema of {cls.__module__}.{cls.__qualname__}.")


def _top_level(name: str, own: type, sections: Mapping[str, type]) -> type:
    fields = _fields_of(own) + [(key, structured(cls), dataclasses.field(default_factory=structured(cls)))
                                for key, cls in sections.items()]
    return _make(name, f"schema_{name}", fields, f"Hydra schema: {own.__qualname__}'s keys and {', '.join(sections)}.")


def __getattr__(name: str) -> type:
    """Generated schema classes by qualname, so that pickle (submitit, cloudpickle) finds them by reference."""
    if name.startswith("schema_"):
        main_schema(), curate_app_schema()
        if name in _GENERATED:
            return _GENERATED[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=None)
def main_schema() -> type:
    """The main app's schema: PipelineConfig's fields and one typed section per :data:`SECTIONS` entry."""
    return _top_level("LomoConfig", PipelineConfig, SECTIONS)


@functools.lru_cache(maxsize=None)
def curate_app_schema() -> type:
    """The curation app's schema: :class:`CurateAppConfig` (whose ``curate`` is a CurateConfig) and
    ``data`` (:class:`DataConfig`), which the shared scale group also sets (the main app's built-in pool
    sizes; the curation app reads its pools from ``input``/``multimodal_input`` and ignores it)."""
    return _top_level("CurateAppConfig", CurateAppConfig, {"data": DataConfig})


def register_schemas() -> None:
    """Stores both schemas in Hydra's ConfigStore (idempotent); call before Hydra composes a config."""
    store = ConfigStore.instance()
    store.store(name=MAIN_SCHEMA, node=main_schema())
    store.store(name=CURATE_APP_SCHEMA, node=curate_app_schema())
    store.store(name=CLUSTER_SCHEMA, node={"cluster": structured(ClusterConfig)})
