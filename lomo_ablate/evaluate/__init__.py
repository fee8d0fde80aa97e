"""Evaluation: benchmarks × protocols, plus MIR and paired cross-modal distance.

    from lomo_ablate.evaluate import EvalConfig, evaluate
    metrics = evaluate("store/train/<key>", "out/eval", EvalConfig.from_dict({"protocols": ["standard", "rendered"]}))

Writes ``out_dir/predictions.jsonl`` (one row per item and protocol) and ``out_dir/metrics.json`` as
docs/DESIGN.md "Evaluation output" says, plus ``protocols.png`` (accuracy by the fraction of the question
given as pixels), ``protocol_examples.png`` (what the model saw under each protocol), ``paired.jsonl``
(per-item paired distance and correctness) and ``rejected.jsonl`` when a benchmark set rows aside.
See docs/evaluate.md.
"""
from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from lomo_ablate.evaluate.protocols import EvalItem, Protocol, from_adapter, parse_protocol, prompts_for, renderer_fn
from lomo_ablate.utils.config import reject_unknown_keys

__all__ = ["EvalConfig", "BenchmarkSpec", "MIRConfig", "PairedConfig", "ItemRef", "evaluate", "load_items",
           "materialize", "aggregate"]

DEFAULT_PROTOCOLS = ["standard", "rendered_0.33", "rendered_0.67", "rendered"]


def _from_dict(cls, d: Any, where: str):
    """Dataclass from a mapping; an unknown key raises naming it and the allowed keys."""
    if isinstance(d, cls):
        return d
    if d is None:
        return cls()
    if not hasattr(d, "keys"):
        raise ValueError(f"{where}: expected a mapping, got {type(d).__name__}")
    reject_unknown_keys(cls, d, where)
    return cls(**dict(d))


@dataclass
class BenchmarkSpec:
    """One benchmark to run.

    ``name``: ``probe`` (the generated suite) or a name known to ``lomo_ablate.evaluate.benchmarks``.
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
    def from_dict(cls, d: Any) -> "BenchmarkSpec":
        if isinstance(d, str):
            d = {"name": d}
        spec = _from_dict(cls, d, "eval.benchmarks[]")
        spec.options = dict(spec.options or {})
        if spec.tasks is not None:
            spec.tasks = list(spec.tasks)
        return spec


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
        return _from_dict(cls, d, "eval.mir")


@dataclass
class PairedConfig:
    """Paired text/rendered first-layer distance over the first ``n`` items (all benchmarks, in order)."""

    enabled: bool = True
    n: int = 64

    @classmethod
    def from_dict(cls, d: Any) -> "PairedConfig":
        return _from_dict(cls, d, "eval.paired")


@dataclass
class EvalConfig:
    """What to evaluate and how. ``render`` is a curation RenderConfig dict (evaluation font settings)."""

    benchmarks: list[BenchmarkSpec] = field(default_factory=lambda: [BenchmarkSpec()])
    protocols: list[str] = field(default_factory=lambda: list(DEFAULT_PROTOCOLS))
    batch_size: int = 8
    max_new_tokens: int = 8
    mir: MIRConfig = field(default_factory=MIRConfig)
    paired: PairedConfig = field(default_factory=PairedConfig)
    carrier_bins: int = 5
    render: dict = field(default_factory=dict)
    chunk_size: int = 256
    dtype: str | None = None
    device: str = "auto"
    progress: bool = True

    @classmethod
    def from_dict(cls, d: Any) -> "EvalConfig":
        if isinstance(d, cls):
            return d
        d = dict(d or {})
        reject_unknown_keys(cls, d, "eval")
        if "benchmarks" in d:
            d["benchmarks"] = [BenchmarkSpec.from_dict(b) for b in d["benchmarks"]]
        if "mir" in d:
            d["mir"] = MIRConfig.from_dict(d["mir"])
        if "paired" in d:
            d["paired"] = PairedConfig.from_dict(d["paired"])
        if "protocols" in d:
            d["protocols"] = list(d["protocols"])
        if "render" in d:
            d["render"] = dict(d["render"] or {})
        cfg = cls(**d)
        for p in cfg.protocols:
            parse_protocol(p)  # raises naming the bad protocol
        if not cfg.protocols:
            raise ValueError("eval.protocols must not be empty")
        if not cfg.benchmarks:
            raise ValueError("eval.benchmarks must not be empty")
        names = [b.name for b in cfg.benchmarks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"eval.benchmarks: {dup[0]!r} listed twice")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------- items
def make_adapter(spec: BenchmarkSpec) -> Any:
    """The Adapter for one benchmark spec (``probe`` or a registered file benchmark)."""
    if spec.name == "probe":
        from lomo_ablate.evaluate.probes import ProbeAdapter, ProbeConfig

        probe = {"seed": spec.seed, **({"n": spec.n} if spec.n is not None else {}),
                 **({"tasks": spec.tasks} if spec.tasks is not None else {})}
        return ProbeAdapter(ProbeConfig.from_dict(probe), spec.options)
    from lomo_ablate.evaluate.benchmarks import get_adapter

    options = dict(spec.options)
    if spec.n is not None:
        options["limit"] = spec.n
    return get_adapter(spec.name, options)


@dataclass
class ItemRef:
    """A benchmark item not yet turned into prompts (its images are opened only when needed)."""

    benchmark: str
    item: Any


def load_items(specs: Sequence[BenchmarkSpec]) -> tuple[list[ItemRef], dict[str, Any], list[dict]]:
    """All items of all benchmarks (in spec order), the adapters by name, and set-aside rows."""
    refs: list[ItemRef] = []
    adapters: dict[str, Any] = {}
    rejected: list[dict] = []
    for spec in specs:
        adapter = make_adapter(spec)
        if spec.name != "probe" and not spec.path:
            raise ValueError(f"eval.benchmarks: {spec.name!r} needs a path (its local file or folder)")
        raw = adapter.load(spec.path) if spec.path or spec.name != "probe" else adapter.load()
        adapters[spec.name] = adapter
        for r in getattr(adapter, "rejected", []):
            rejected.append({"benchmark": spec.name, **r})
        refs.extend(ItemRef(spec.name, it) for it in raw)
    return refs, adapters, rejected


def materialize(refs: Sequence[ItemRef], adapters: dict[str, Any]) -> list[EvalItem]:
    """EvalItems (images opened) for ``refs``."""
    return [from_adapter(adapters[r.benchmark], r.item, r.benchmark) for r in refs]


def _chunks(seq: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [seq[i:i + size] for i in range(0, len(seq), size)]


# ------------------------------------------------------------------------------------- aggregation
def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else float("nan")


def aggregate(rows: Sequence[dict], protocols: Sequence[str]) -> dict:
    """scores {bench: {protocol: acc}}, categories {cat: {protocol: acc}} (mean over benchmarks of the
    category's per-benchmark accuracy), overall {protocol: mean over benchmarks} (macro average)."""
    by_bench: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_cat: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_bench[r["benchmark"]][r["protocol"]].append(r["score"])
        by_cat[(r["category"], r["benchmark"])][r["protocol"]].append(r["score"])
    scores = {b: {p: _mean(v[p]) for p in protocols if p in v} for b, v in by_bench.items()}
    cats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (cat, _), v in by_cat.items():
        for p in protocols:
            if p in v:
                cats[cat][p].append(_mean(v[p]))
    categories = {c: {p: _mean(v[p]) for p in protocols if p in v} for c, v in sorted(cats.items())}
    overall = {p: _mean([s[p] for s in scores.values() if p in s]) for p in protocols}
    return {"scores": scores, "categories": categories, "overall": overall}


def plot_protocols(overall: dict[str, float], path: Path) -> Path | None:
    """Accuracy against the fraction of the question given as pixels (one point per protocol)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted((parse_protocol(p).fraction, acc) for p, acc in overall.items() if not math.isnan(acc))
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o")
    ax.set_xlabel("fraction of the question rendered as pixels")
    ax.set_ylabel("accuracy (macro over benchmarks)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_examples(items: Sequence[EvalItem], protocols: Sequence[Protocol], render: Any, path: Path,
                  per_category: int = 1, max_rows: int = 6) -> Path | None:
    """What the model saw: one item per category (rows) under each protocol (columns): the last image of
    the prompt (the rendered piece, or the item's own image under ``standard``) and the prompt's text."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen, seen = [], Counter()
    for it in items:
        if seen[it.category] < per_category and len(chosen) < max_rows:
            chosen.append(it)
            seen[it.category] += 1
    if not chosen:
        return None
    fig, axes = plt.subplots(len(chosen), len(protocols), figsize=(3.2 * len(protocols), 2.4 * len(chosen)),
                             squeeze=False)
    for c, proto in enumerate(protocols):
        for r, p in enumerate(prompts_for(chosen, proto, render)):
            ax = axes[r][c]
            ax.axis("off")
            if p.images:
                ax.imshow(p.images[-1])
            caption = textwrap.fill(p.text.replace("\n", " "), 48).replace("$", r"\$")  # no mathtext
            ax.set_title(f"{proto.name} | {chosen[r].category}\n{caption}", fontsize=6, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------ evaluate
def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _make_render(cfg: EvalConfig) -> Any:
    from lomo_ablate.curate.render import RenderConfig, Renderer

    return renderer_fn(Renderer(RenderConfig.from_dict(cfg.render)))


def evaluate(model_dir: str | Path, out_dir: str | Path, cfg: EvalConfig | dict | None = None) -> dict:
    """Evaluate the checkpoint in ``model_dir``; write predictions.jsonl and metrics.json in ``out_dir``;
    return the metrics dict. Every item appears once per protocol in predictions.jsonl."""
    from lomo_ablate.models import generate, load_pretrained
    from lomo_ablate.utils import atomic_write_json, write_jsonl

    cfg = EvalConfig.from_dict(cfg)
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs, adapters, rejected = load_items(cfg.benchmarks)
    if not refs:
        raise ValueError(f"eval: no items in benchmarks {[b.name for b in cfg.benchmarks]}")
    protocols = [parse_protocol(p) for p in cfg.protocols]
    needs_render = any(p.renders for p in protocols) or cfg.paired.enabled
    render = _make_render(cfg) if needs_render else None
    model, processor = load_pretrained(model_dir, dtype=cfg.dtype, device=_device(cfg.device))

    rows: list[dict] = []
    correct: dict[str, list[float]] = {}
    for proto in protocols:
        scores: list[float] = []
        for chunk in _chunks(refs, cfg.chunk_size):  # bounded memory: images live for one chunk
            items = materialize(chunk, adapters)
            preds = generate(model, processor, prompts_for(items, proto, render), cfg.batch_size,
                             cfg.max_new_tokens, cfg.progress, desc=f"generate [{proto.name}]")
            for it, pred in zip(items, preds, strict=True):
                s = float(adapters[it.benchmark].score(pred, it.source))
                scores.append(s)
                rows.append({"benchmark": it.benchmark, "protocol": proto.name, "item_id": it.item_id,
                             "category": it.category, "prediction": pred, "answer": it.answer, "score": s})
            if render is not None:
                render.clear()
        correct[proto.name] = scores
    write_jsonl(out_dir / "predictions.jsonl", rows)

    metrics = aggregate(rows, cfg.protocols)
    metrics["n_items"] = {b: sum(1 for r in refs if r.benchmark == b) for b in adapters}
    metrics["rejected"] = {b: sum(1 for r in rejected if r["benchmark"] == b) for b in adapters}
    if rejected:
        write_jsonl(out_dir / "rejected.jsonl", rejected)
    mir_refs = refs if cfg.mir.n is None else refs[: cfg.mir.n]
    metrics["mir"] = _mir(model, processor, materialize(mir_refs, adapters), render, cfg) if cfg.mir.enabled else None
    paired_items = materialize(refs[: cfg.paired.n], adapters) if cfg.paired.enabled else []
    metrics.update(_paired(model, processor, paired_items, render, cfg, correct, out_dir))
    metrics["seconds"] = round(time.time() - t0, 3)
    atomic_write_json(out_dir / "metrics.json", metrics)
    plot_protocols(metrics["overall"], out_dir / "protocols.png")
    plot_examples(materialize(_one_per_category(refs, adapters), adapters), protocols, render,
                  out_dir / "protocol_examples.png")
    return metrics


def _one_per_category(refs: Sequence[ItemRef], adapters: dict[str, Any], max_rows: int = 6) -> list[ItemRef]:
    """The first item of each category (at most ``max_rows``) — cheap: categories come from metadata."""
    from lomo_ablate.evaluate.benchmarks.categories import category_of

    seen, out = set(), []
    for r in refs:
        meta = getattr(r.item, "metadata", {}) or {}
        cat = meta.get("category") or category_of(r.benchmark)
        if cat not in seen and len(out) < max_rows:
            seen.add(cat)
            out.append(r)
    return out


def _mir(model: Any, processor: Any, items: list[EvalItem], render: Any, cfg: EvalConfig) -> dict | None:
    """MIR on the standard protocol's inputs (the rendered protocol's when no item has an image)."""
    from lomo_ablate.evaluate.alignment import mir
    from lomo_ablate.evaluate.hidden import modality_states

    proto = parse_protocol("standard" if any(it.images for it in items) or render is None else "rendered")
    prompts = prompts_for(items, proto, render)
    vis, txt = modality_states(model, processor, prompts, cfg.batch_size, cfg.mir.max_tokens, cfg.mir.seed,
                               cfg.progress)
    out = mir(vis, txt).to_dict()
    out.update({"protocol": proto.name, "n_visual_tokens": int(vis[0].shape[0]), "n_text_tokens": int(txt[0].shape[0])})
    return out


def _paired(model: Any, processor: Any, items: list[EvalItem], render: Any, cfg: EvalConfig,
            correct: dict[str, list[float]], out_dir: Path) -> dict:
    """paired_distance (mean first-layer cosine distance text vs rendered), and carrier_bins when both
    the standard and the rendered protocol were scored."""
    if not cfg.paired.enabled:
        return {"paired_distance": None, "carrier_bins": None}
    from lomo_ablate.evaluate.alignment import carrier_bins, paired_cosine_distance
    from lomo_ablate.evaluate.hidden import paired_first_layer
    from lomo_ablate.utils import write_jsonl

    text = prompts_for(items, Protocol("standard", 0.0), render)
    rendered = prompts_for(items, Protocol("rendered", 1.0), render)
    tv, iv, kept = paired_first_layer(model, processor, text, rendered, cfg.batch_size, cfg.progress)
    if not kept:
        return {"paired_distance": None, "carrier_bins": None, "paired_n": 0, "paired_skipped": len(items)}
    mean, per_item = paired_cosine_distance(tv, iv)
    bins = None
    both = "standard" in correct and "rendered" in correct
    if both:
        bins = carrier_bins(per_item, [correct["standard"][i] for i in kept],
                            [correct["rendered"][i] for i in kept], cfg.carrier_bins)
    rows = [{"benchmark": items[i].benchmark, "item_id": items[i].item_id, "category": items[i].category,
             "distance": float(d), "standard": correct["standard"][i] if both else None,
             "rendered": correct["rendered"][i] if both else None} for i, d in zip(kept, per_item)]
    write_jsonl(out_dir / "paired.jsonl", rows)
    return {"paired_distance": mean, "carrier_bins": bins, "paired_n": len(kept),
            "paired_skipped": len(items) - len(kept)}
