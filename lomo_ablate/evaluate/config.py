"""What to evaluate and how: :class:`EvalConfig` and its parts (the ``eval`` section of a job config).

Built with ``lomo_ablate.utils.config.config_from_dict`` (unknown keys and wrong types named by dotted key);
the cross-field checks live in each ``validate()``. Importing this module loads no torch: a dry run of a
sweep checks every job's eval section cheaply.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lomo_ablate.evaluate.protocols import parse_protocol
from lomo_ablate.utils.config import ConfigError, check_range, config_from_dict

__all__ = ["EvalConfig", "EvalScopeConfig", "BenchmarkSpec", "MIRConfig", "PairedConfig", "DEFAULT_PROTOCOLS"]

DEFAULT_PROTOCOLS = ["standard", "rendered_0.33", "rendered_0.67", "rendered"]


@dataclass
class BenchmarkSpec:
    """One benchmark to run.

    ``name``: a benchmark registered in ``lomo_ablate.evaluate.benchmarks`` (``probe``: the generated suite).
    ``path``: the benchmark's local file/folder (file benchmarks; for ``probe`` optional: a written suite).
    ``n``: probe: items to generate; file benchmarks: read at most ``n`` items (null: all).
    ``seed``/``tasks``: probe only. ``options``: the adapter's own options (split, image_root, strict).
    """

    name: str = "probe"
    path: str | None = None
    n: int | None = None
    seed: int = 1234
    tasks: list[str] | None = None
    options: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, where: str = "eval.benchmarks[]") -> "BenchmarkSpec":
        return config_from_dict(cls, {"name": d} if isinstance(d, str) else d, where)

    def validate(self, where: str = "eval.benchmarks[]") -> None:
        from lomo_ablate.evaluate.benchmarks.registry import lookup

        from lomo_ablate.evaluate.engines.evalscope import BENCHMARKS as EVALSCOPE_BENCHMARKS

        try:
            entry = lookup(self.name)
        except KeyError as e:
            if self.name not in EVALSCOPE_BENCHMARKS:
                raise ConfigError(f"{where}.name: {e.args[0]}") from None
            entry = None  # EvalScope's only (EvalConfig checks that the engine is evalscope)
        if (entry is None or entry.needs_path) and not self.path:
            raise ConfigError(f"{where}: {self.name!r} needs a path (its local file or folder)")
        if self.n is not None:
            check_range(f"{where}.n", self.n, 1, integer=True)

    def adapter_options(self) -> dict:
        """The adapter's config: ``options``, plus the keys the benchmark takes from the spec itself (the
        probe suite: ``n``, ``seed``, ``tasks``), else ``n`` as the cap on items read (``limit``)."""
        from lomo_ablate.evaluate.benchmarks.registry import lookup

        entry = lookup(self.name)
        options = dict(self.options)
        for key in entry.spec_keys:
            if getattr(self, key) is not None:
                options[key] = getattr(self, key)
        if "n" not in entry.spec_keys and self.n is not None:
            options["limit"] = self.n
        return options


@dataclass
class MIRConfig:
    """MIR over the standard protocol's inputs of the first ``n`` items (null: all); at most ``max_tokens``
    tokens per modality (seeded)."""

    enabled: bool = True
    n: int | None = 256
    max_tokens: int = 2000
    seed: int = 0

    @classmethod
    def from_dict(cls, d: Any) -> "MIRConfig":
        return config_from_dict(cls, d, "eval.mir")

    def validate(self, where: str = "eval.mir") -> None:
        if self.n is not None:
            check_range(f"{where}.n", self.n, 1, integer=True)
        check_range(f"{where}.max_tokens", self.max_tokens, 1, integer=True)


@dataclass
class PairedConfig:
    """Paired text/rendered first-layer distance over the first ``n`` items (all benchmarks, in order)."""

    enabled: bool = True
    n: int = 64

    @classmethod
    def from_dict(cls, d: Any) -> "PairedConfig":
        return config_from_dict(cls, d, "eval.paired")

    def validate(self, where: str = "eval.paired") -> None:
        check_range(f"{where}.n", self.n, 1, integer=True)


@dataclass
class EvalScopeConfig:
    """``eval.engine=evalscope`` settings. ``dataset_args``: per benchmark (our name, e.g. ``gsm8k``), keys
    merged over the engine's defaults into EvalScope's ``dataset_args`` (``few_shot_num``, ``subset_list``,
    ``eval_split``, …; ``dataset_id`` is always the spec's ``path``). ``execute_code``: EvalScope scores
    HumanEval and LiveCodeBench by running the model's code in a local subprocess (not a security sandbox, as
    our adapters' ``options.execute_code``); those benchmarks are refused unless it is true."""

    dataset_args: dict = field(default_factory=dict)
    execute_code: bool = False

    @classmethod
    def from_dict(cls, d: Any) -> "EvalScopeConfig":
        return config_from_dict(cls, d, "eval.evalscope")

    def validate(self, where: str = "eval.evalscope") -> None:
        for name, args in self.dataset_args.items():
            if not hasattr(args, "items"):
                raise ConfigError(f"{where}.dataset_args.{name}: must be a mapping of EvalScope dataset_args")
            if "dataset_id" in args:
                raise ConfigError(f"{where}.dataset_args.{name}.dataset_id: set the benchmark's path instead")


@dataclass
class EvalConfig:
    """What to evaluate and how. ``render`` is a curation RenderConfig dict (evaluation font settings).
    ``engine``: what generates and scores (:mod:`lomo_ablate.evaluate.engines`: ``native`` or ``evalscope``;
    ``evalscope``: its settings).
    ``device: auto`` is ``cuda:<local rank>`` when CUDA is there (every rank evaluates its shard).
    ``judge``: base_url / model / api_key_env of an OpenAI-compatible LLM judge (empty: rule-scored).
    A chunk of items (prompts built, images decoded, generated, scored) ends at ``chunk_size`` items or once
    its decoded images pass ``chunk_mb`` MiB, whichever comes first (one MMLongBench-Doc item is ~0.9 GB)."""

    benchmarks: list[BenchmarkSpec] = field(default_factory=lambda: [BenchmarkSpec()])
    protocols: list[str] = field(default_factory=lambda: list(DEFAULT_PROTOCOLS))
    batch_size: int = 8
    max_new_tokens: int = 8
    mir: MIRConfig = field(default_factory=MIRConfig)
    paired: PairedConfig = field(default_factory=PairedConfig)
    carrier_bins: int = 5
    render: dict = field(default_factory=dict)
    chunk_size: int = 256
    chunk_mb: int = 2048
    dtype: str | None = None
    device: str = "auto"
    progress: bool = True
    engine: str = "native"
    evalscope: EvalScopeConfig = field(default_factory=EvalScopeConfig)
    judge: dict = field(default_factory=dict)  # {} = none (a dict, so eval.judge.base_url=... composes)

    def __post_init__(self) -> None:
        """``judge`` (an OpenAI-compatible endpoint, :mod:`lomo_ablate.evaluate.judge`) reaches every
        benchmark whose adapter takes a ``judge`` option, unless that benchmark's options set their own."""
        if not self.judge:
            return
        from lomo_ablate.evaluate.benchmarks.registry import lookup

        for b in self.benchmarks:
            try:
                cls = lookup(b.name).factory
            except KeyError:
                continue  # validate() names the unknown benchmark
            fields = getattr(getattr(cls, "config_cls", None), "__dataclass_fields__", {})
            if "judge" in fields and "judge" not in b.options:
                b.options = {**b.options, "judge": dict(self.judge)}

    @classmethod
    def from_dict(cls, d: Any) -> "EvalConfig":
        """From the ``eval`` mapping; a benchmark given as a plain string is its name."""
        if isinstance(d, cls):
            return d
        d = dict(d or {})
        if isinstance(d.get("benchmarks"), (list, tuple)):
            d["benchmarks"] = [{"name": b} if isinstance(b, str) else b for b in d["benchmarks"]]
        return config_from_dict(cls, d, "eval")

    def validate(self, where: str = "eval") -> None:
        if not self.protocols:
            raise ConfigError(f"{where}.protocols must not be empty")
        for i, p in enumerate(self.protocols):
            try:
                parse_protocol(p)
            except ValueError as e:
                raise ConfigError(f"{where}.protocols[{i}]: {e}") from None
        if not self.benchmarks:
            raise ConfigError(f"{where}.benchmarks must not be empty")
        names = [b.name.lower() for b in self.benchmarks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"{where}.benchmarks: {dup[0]!r} listed twice")
        from lomo_ablate.evaluate.engines import check_engine

        check_engine(self.engine, f"{where}.engine")
        if self.judge:
            from lomo_ablate.evaluate.judge import JudgeConfig

            JudgeConfig.from_dict(dict(self.judge), f"{where}.judge")
        if self.engine != "evalscope":
            from lomo_ablate.evaluate.benchmarks.registry import benchmarks as registered

            known = set(registered())
            for i, b in enumerate(self.benchmarks):
                if b.name not in known:
                    raise ConfigError(f"{where}.benchmarks[{i}]: {b.name!r} has no adapter of ours; it runs only "
                                      f"with {where}.engine=evalscope")
        for key in ("batch_size", "max_new_tokens", "carrier_bins", "chunk_size", "chunk_mb"):
            check_range(f"{where}.{key}", getattr(self, key), 1, integer=True)

    def to_dict(self) -> dict:
        return asdict(self)
