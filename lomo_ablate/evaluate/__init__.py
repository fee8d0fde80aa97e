"""Evaluation: benchmarks × protocols, plus MIR and paired cross-modal distance.

    from lomo_ablate.evaluate import EvalConfig, evaluate
    metrics = evaluate("store/train/<key>", "out/eval", EvalConfig.from_dict({"protocols": ["standard", "rendered"]}))

Modules: ``config`` (EvalConfig and its parts), ``run`` (evaluate, load_items, materialize, MIR and paired
helpers), ``metrics`` (aggregate), ``plots`` (protocols.png, protocol_examples.png), ``protocols`` (how a
question reaches the model), ``benchmarks`` (one module per benchmark, a registry), ``alignment`` and
``hidden`` (MIR, paired distance). Greedy decoding and the Prompt type are ``lomo_ablate.models.generation``.
The configs load eagerly and cheaply; everything that needs torch or matplotlib loads on first use.
See docs/evaluate.md.
"""
from lomo_ablate.evaluate.config import DEFAULT_PROTOCOLS, BenchmarkSpec, EvalConfig, MIRConfig, PairedConfig
from lomo_ablate.utils.lazy import lazy_exports

_LAZY = {"ItemRef": "run", "evaluate": "run", "load_items": "run", "materialize": "run", "make_adapter": "run",
         "aggregate": "metrics", "plot_protocols": "plots", "plot_examples": "plots"}

__getattr__ = lazy_exports(__name__, _LAZY, globals())

__all__ = ["EvalConfig", "BenchmarkSpec", "MIRConfig", "PairedConfig", "DEFAULT_PROTOCOLS", *_LAZY]
