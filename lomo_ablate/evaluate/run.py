"""evaluate(): benchmarks × protocols on one checkpoint, plus MIR and the paired cross-modal distance.

    from lomo_ablate.evaluate import EvalConfig, evaluate
    metrics = evaluate("store/train/<key>/final", "out/eval", EvalConfig.from_dict({"protocols": ["standard"]}))

Writes ``out_dir/predictions.jsonl`` (one row per item and protocol) and ``out_dir/metrics.json`` as
docs/DESIGN.md "Evaluation output" says, plus ``protocols.png`` (accuracy by the fraction of the question
given as pixels), ``protocol_examples.png`` (what the model saw under each protocol), ``paired.jsonl``
(per-item paired distance and correctness) and ``rejected.jsonl`` when a benchmark set rows aside.
Torch loads inside :func:`evaluate` only. See docs/evaluate.md.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from lomo_ablate.contracts import EXAMPLES_PLOT, METRICS, PAIRED, PREDICTIONS, PROTOCOLS_PLOT, REJECTED
from lomo_ablate.distributed import DistributedEnvironment
from lomo_ablate.evaluate.config import BenchmarkSpec, EvalConfig
from lomo_ablate.evaluate.engines import shards
from lomo_ablate.evaluate.metrics import aggregate
from lomo_ablate.evaluate.plots import plot_examples, plot_protocols
from lomo_ablate.evaluate.protocols import EvalItem, Protocol, from_adapter, parse_protocol, prompts_for, renderer_fn
from lomo_ablate.utils import atomic_write_json, write_jsonl

log = logging.getLogger("lomo_ablate.evaluate")

__all__ = ["ItemRef", "evaluate", "load_items", "make_adapter", "materialize"]


# ----------------------------------------------------------------------------------------- items
def make_adapter(spec: BenchmarkSpec) -> Any:
    """The Adapter for one benchmark spec (any registered benchmark, the probe suite included)."""
    from lomo_ablate.evaluate.benchmarks.registry import get_adapter

    return get_adapter(spec.name, spec.adapter_options())


@dataclass
class ItemRef:
    """A benchmark item not yet turned into prompts (its images are opened only when needed)."""

    benchmark: str
    item: Any


def load_items(specs: Sequence[BenchmarkSpec], cfg: EvalConfig | None = None,
               out_dir: Path | None = None) -> tuple[list[ItemRef], dict[str, Any], list[dict]]:
    """All items of all benchmarks (in spec order), the adapters by name, and set-aside rows. With
    ``cfg.engine == "evalscope"`` the benchmarks EvalScope has are loaded by EvalScope (its work folder
    under ``out_dir``), the others by our adapters."""
    refs: list[ItemRef] = []
    adapters: dict[str, Any] = {}
    rejected: list[dict] = []
    for i, spec in enumerate(specs):
        spec.validate(f"eval.benchmarks[{i}]")  # a known name, and a path where the benchmark reads files
        if cfg is not None and cfg.engine == "evalscope":
            from lomo_ablate.evaluate.engines.evalscope import make_adapter as evalscope_adapter

            adapter = evalscope_adapter(spec, cfg, Path(out_dir or "."))
        else:
            adapter = make_adapter(spec)
        raw = adapter.load(spec.path) if spec.path else adapter.load()
        adapters[spec.name] = adapter
        for r in getattr(adapter, "rejected", []):
            rejected.append({"benchmark": spec.name, **r})
        refs.extend(ItemRef(spec.name, it) for it in raw)
    return refs, adapters, rejected


def materialize(refs: Sequence[ItemRef], adapters: dict[str, Any]) -> list[EvalItem]:
    """EvalItems (images opened) for ``refs``."""
    return [from_adapter(adapters[r.benchmark], r.item, r.benchmark) for r in refs]


class _PromptWindow(Sequence):
    """The prompts of ``refs`` under ``protocol``, built one window of ``window`` items at a time (items opened,
    pieces batch-rendered): MIR and the paired distance read their prompts in order, so at most one window's
    images are open, not all ``mir.n`` items' (a document item can hold ~1 GB). ``info[i]``: item i's
    (benchmark, item_id, category), known once it was built."""

    def __init__(self, refs: Sequence[ItemRef], adapters: dict[str, Any], protocol: Protocol, render: Any,
                 window: int) -> None:
        self.refs, self.adapters, self.protocol, self.render, self.window = refs, adapters, protocol, render, window
        self.info: dict[int, tuple[str, str, str]] = {}
        self._at, self._prompts = -1, []

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i):  # noqa: ANN001 (Sequence's signature)
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        w = i // self.window
        if w != self._at:
            start = w * self.window
            items = materialize(self.refs[start:start + self.window], self.adapters)
            self._prompts = prompts_for(items, self.protocol, self.render)
            self.info.update({start + k: (it.benchmark, it.item_id, it.category) for k, it in enumerate(items)})
            self._at = w
        return self._prompts[i - w * self.window]


@dataclass
class _Open:
    """A unit's item with its images opened, and its companions' (key, item) — see ``Item.companions``."""

    unit: shards.Unit
    item: EvalItem
    companions: list[tuple[str, EvalItem]]


def _image_bytes(items: Sequence[EvalItem]) -> int:
    from lomo_ablate.evaluate.benchmarks.records import decoded_bytes

    return sum(decoded_bytes(im) for it in items for im in it.images)


def _open_chunks(units: Sequence[shards.Unit], refs: Sequence[ItemRef], adapters: dict[str, Any], size: int,
                 max_bytes: int) -> Iterator[list[_Open]]:
    """``units``' items opened one at a time and grouped into chunks of at most ``size`` items whose decoded
    images (as Pillow holds them, companions' included) stay within ``max_bytes`` — an item over it alone is a chunk of its own."""
    chunk: list[_Open] = []
    held = 0
    for u in units:
        ref = refs[u[2]]
        adapter = adapters[ref.benchmark]
        it = from_adapter(adapter, ref.item, ref.benchmark)
        comps = [(k, from_adapter(adapter, c, ref.benchmark)) for k, c in getattr(ref.item, "companions", {}).items()]
        n = _image_bytes([it, *(c for _, c in comps)])
        if chunk and (len(chunk) >= size or held + n > max_bytes):
            yield chunk
            chunk, held = [], 0
        chunk.append(_Open(u, it, comps))
        held += n
    if chunk:
        yield chunk


# ------------------------------------------------------------------------------------------ evaluate
def _device(name: str, env: DistributedEnvironment) -> str:
    """``auto``: this rank's GPU (``cuda:<local rank>``) when CUDA is there, else the CPU."""
    if name != "auto":
        return name
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{env.local_rank % torch.cuda.device_count()}"


def _make_render(cfg: EvalConfig) -> Any:
    from lomo_ablate.render import RenderConfig, Renderer

    return renderer_fn(Renderer(RenderConfig.from_dict(cfg.render)))


def evaluate(model_dir: str | Path, out_dir: str | Path, cfg: EvalConfig | dict | None = None,
             env: DistributedEnvironment | None = None) -> dict:
    """Evaluate the checkpoint in ``model_dir``; write predictions.jsonl and metrics.json in ``out_dir``;
    return the metrics dict. Every item appears once per protocol in predictions.jsonl.

    Every rank of ``env`` (default: detected) generates its share of the (protocol, item) units into
    ``out_dir/parts/`` (resumable: what an interrupted run finished is kept, :mod:`.engines.shards`); rank 0
    waits for the others, gathers, and computes metrics, MIR, the paired distance and the plots. Ranks > 0
    return ``{"rank": r, "generated": n}``."""
    from lomo_ablate.models import load_pretrained

    cfg = EvalConfig.from_dict(cfg)
    env = env or DistributedEnvironment.detect()
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs, adapters, rejected = load_items(cfg.benchmarks, cfg, out_dir)
    if not refs:
        raise ValueError(f"eval: no items in benchmarks {[b.name for b in cfg.benchmarks]}")
    protocols = [parse_protocol(p) for p in cfg.protocols]
    needs_render = any(p.renders for p in protocols) or cfg.paired.enabled
    render = _make_render(cfg) if needs_render else None
    ids = [_item_id(r) for r in refs]
    all_units = shards.units(cfg.protocols, len(refs))
    groups = [getattr(adapters[r.benchmark], "shard_group", lambda _: None)(r.item) for r in refs]
    todo = shards.pending(all_units, shards.done_units(out_dir, ids), env.rank, env.world_size, groups)
    model = processor = None
    if todo or env.is_main:
        model, processor = load_pretrained(model_dir, dtype=cfg.dtype, device=_device(cfg.device, env))
    _generate_units(model, processor, refs, adapters, protocols, todo, render, cfg, out_dir, env)
    shards.mark_done(out_dir, env.rank, env.world_size, len(todo))
    if not env.is_main:
        return {"rank": env.rank, "generated": len(todo)}
    shards.wait_for_ranks(out_dir, env.world_size)
    rows = shards.gather(out_dir, all_units, ids)
    engines = {b: {"engine": "native"} for b in adapters}
    if cfg.engine == "evalscope":  # EvalScope's own reviews and reports; the row scores come from them
        from lomo_ablate.evaluate.engines import evalscope

        engines = evalscope.review_and_describe(rows, adapters, cfg.protocols, out_dir)
    write_jsonl(out_dir / PREDICTIONS, rows)
    correct = {p: [r["score"] for r in rows if r["protocol"] == p] for p in cfg.protocols}

    metrics = aggregate(rows, cfg.protocols)
    metrics.update(_benchmark_metrics(rows, refs, adapters, cfg.protocols))
    metrics["n_items"] = {b: sum(1 for r in refs if r.benchmark == b) for b in adapters}
    metrics["rejected"] = {b: sum(1 for r in rejected if r["benchmark"] == b) for b in adapters}
    metrics["engine"] = cfg.engine
    metrics["engines"] = engines
    if rejected:
        write_jsonl(out_dir / REJECTED, rejected)
    mir_refs = refs if cfg.mir.n is None else refs[: cfg.mir.n]
    metrics["mir"] = _mir(model, processor, mir_refs, adapters, render, cfg) if cfg.mir.enabled else None
    metrics.update(_paired(model, processor, refs[: cfg.paired.n], adapters, render, cfg, correct, out_dir))
    metrics["seconds"] = round(time.time() - t0, 3)
    atomic_write_json(out_dir / METRICS, metrics)
    plot_protocols(metrics["overall"], out_dir / PROTOCOLS_PLOT)
    plot_examples(materialize(_one_per_category(refs, adapters), adapters), protocols, render,
                  out_dir / EXAMPLES_PLOT)
    return metrics


def _item_id(ref: ItemRef) -> str:
    return str(ref.item.id)


def _generate_units(model: Any, processor: Any, refs: Sequence[ItemRef], adapters: dict[str, Any],
                    protocols: Sequence[Protocol], todo: Sequence[shards.Unit], render: Any, cfg: EvalConfig,
                    out_dir: Path, env: DistributedEnvironment) -> None:
    """Generate and score this rank's pending units, appending each batch's rows as it finishes. Images
    are opened one chunk (``chunk_size`` items, ``chunk_mb`` of decoded images) at a time, so memory stays
    bounded. An item's companions (``Item.companions``) are generated in its batch under the same protocol
    and reach its scorer as ``replies``; they have no row of their own."""
    from lomo_ablate.models import generate

    by_name = {p.name: p for p in protocols}
    writer = shards.ShardWriter(out_dir, env.rank)
    record = None
    if cfg.engine == "evalscope":  # the rendered image of each rendered item, named in its row
        from lomo_ablate.evaluate.engines.evalscope import RenderedRecorder

        record = RenderedRecorder(out_dir)
    for proto in protocols:
        mine = [u for u in todo if u[1] == proto.name]
        done = 0
        for chunk in _open_chunks(mine, refs, adapters, cfg.chunk_size, cfg.chunk_mb * 2**20):
            items = [o.item for o in chunk]
            prompts = prompts_for(items, by_name[proto.name], render)
            for start in range(0, len(items), cfg.batch_size):
                batch = slice(start, start + cfg.batch_size)
                comps = [(j, key, c) for j, o in enumerate(chunk[batch]) for key, c in o.companions]
                preds = generate(model, processor, prompts[batch] + prompts_for([c for _, _, c in comps],
                                                                                by_name[proto.name], render),
                                 cfg.batch_size, cfg.max_new_tokens, progress=False)
                n = len(items[batch])
                replies: list[dict[str, str]] = [{} for _ in range(n)]
                for (j, key, _), reply in zip(comps, preds[n:], strict=True):
                    replies[j][key] = reply
                writer.append({**_row(adapters, o.item, proto.name, o.unit[2], pred, rep),
                               **(record(o.item.benchmark, proto.name, o.item.item_id, pr) if record else {})}
                              for o, pred, pr, rep in zip(chunk[batch], preds[:n], prompts[batch], replies, strict=True))
                done += n
                if cfg.progress:
                    log.info("evaluate [%s] rank %d: %d/%d", proto.name, env.rank, done, len(mine))
            if render is not None:
                render.clear()


def _row(adapters: dict[str, Any], it: EvalItem, protocol: str, index: int, pred: str,
         replies: dict[str, str] | None = None) -> dict:
    adapter = adapters[it.benchmark]
    source = replace(it.source, replies=replies) if replies else it.source
    row = {"benchmark": it.benchmark, "protocol": protocol, "item_id": it.item_id, "category": it.category,
           "prediction": pred, "answer": it.answer, "score": float(adapter.score(pred, source)), "index": index}
    if replies:  # the companions' replies (kept for re-scoring; never scored on their own)
        row["companions"] = replies
    detail = adapter.detail(pred, source)
    if detail is not None:  # what the benchmark-level metrics need (IFEval's per-instruction flags, ...)
        row["detail"] = detail
    return row


def _benchmark_metrics(rows: Sequence[dict], refs: Sequence[ItemRef], adapters: dict[str, Any],
                       protocols: Sequence[str]) -> dict:
    """``benchmark_metrics`` {bench: {protocol: the adapter's aggregate}} (the benchmark's own metrics, e.g.
    IFEval's four accuracies, WeMath's IK/IG/CM/RM), ``scored_by`` {bench: "rule" | "judge"} and
    ``categories_scored_by`` {category: "rule" | "judge" | "mixed"}."""
    items = {(r.benchmark, str(r.item.id)): r.item for r in refs}
    out: dict[str, dict] = {}
    for bench, adapter in adapters.items():
        for proto in protocols:
            mine = [r for r in rows if r["benchmark"] == bench and r["protocol"] == proto]
            if mine:
                out.setdefault(bench, {})[proto] = adapter.aggregate(
                    [items[(bench, str(r["item_id"]))] for r in mine], [r["score"] for r in mine],
                    [r.get("detail") for r in mine])
    scored_by = {b: getattr(a, "scored_by", "rule") for b, a in adapters.items()}
    by_cat: dict[str, set[str]] = {}
    for r in rows:  # a category average over judged and rule-scored benchmarks is marked "mixed"
        by_cat.setdefault(r["category"], set()).add(scored_by[r["benchmark"]])
    return {"benchmark_metrics": out, "scored_by": scored_by,
            "categories_scored_by": {c: (v.pop() if len(v) == 1 else "mixed") for c, v in sorted(by_cat.items())}}


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


def _mir(model: Any, processor: Any, refs: Sequence[ItemRef], adapters: dict[str, Any], render: Any,
         cfg: EvalConfig) -> dict | None:
    """MIR on the standard protocol's inputs (the rendered protocol's when no item has an image); items are
    opened a window at a time (:class:`_PromptWindow`), encoded inputs kept up to ``chunk_mb``."""
    from lomo_ablate.evaluate.alignment import mir
    from lomo_ablate.evaluate.hidden import modality_states

    has_images = any(materialize([r], adapters)[0].images for r in refs)  # stops at the first item with one
    proto = parse_protocol("standard" if has_images or render is None else "rendered")
    prompts = _PromptWindow(refs, adapters, proto, render, cfg.batch_size)
    vis, txt = modality_states(model, processor, prompts, cfg.batch_size, cfg.mir.max_tokens, cfg.mir.seed,
                               cfg.progress, keep_bytes=cfg.chunk_mb * 2**20)
    out = mir(vis, txt).to_dict()
    out.update({"protocol": proto.name, "n_visual_tokens": int(vis[0].shape[0]), "n_text_tokens": int(txt[0].shape[0])})
    return out


def _paired(model: Any, processor: Any, refs: Sequence[ItemRef], adapters: dict[str, Any], render: Any,
            cfg: EvalConfig, correct: dict[str, list[float]], out_dir: Path) -> dict:
    """paired_distance (mean first-layer cosine distance text vs rendered), and carrier_bins when both
    the standard and the rendered protocol were scored."""
    if not cfg.paired.enabled:
        return {"paired_distance": None, "carrier_bins": None}
    from lomo_ablate.evaluate.alignment import carrier_bins, paired_cosine_distance
    from lomo_ablate.evaluate.hidden import paired_first_layer
    from lomo_ablate.utils import write_jsonl

    text = _PromptWindow(refs, adapters, Protocol("standard", 0.0), render, cfg.batch_size)
    rendered = _PromptWindow(refs, adapters, Protocol("rendered", 1.0), render, cfg.batch_size)
    tv, iv, kept = paired_first_layer(model, processor, text, rendered, cfg.batch_size, cfg.progress,
                                      keep_bytes=cfg.chunk_mb * 2**20)
    if not kept:
        return {"paired_distance": None, "carrier_bins": None, "paired_n": 0, "paired_skipped": len(refs)}
    mean, per_item = paired_cosine_distance(tv, iv)
    bins = None
    both = "standard" in correct and "rendered" in correct
    if both:
        bins = carrier_bins(per_item, [correct["standard"][i] for i in kept],
                            [correct["rendered"][i] for i in kept], cfg.carrier_bins)
    rows = [{"benchmark": text.info[i][0], "item_id": text.info[i][1], "category": text.info[i][2],
             "distance": float(d), "standard": correct["standard"][i] if both else None,
             "rendered": correct["rendered"][i] if both else None} for i, d in zip(kept, per_item)]
    write_jsonl(out_dir / PAIRED, rows)
    return {"paired_distance": mean, "carrier_bins": bins, "paired_n": len(kept),
            "paired_skipped": len(refs) - len(kept)}
