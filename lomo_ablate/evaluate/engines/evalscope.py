"""``eval.engine=evalscope``: EvalScope 1.14.1 (the paper's evaluator) loads and scores, our protocols and
our batched generation answer.

How it runs (docs/evaluate.md "The EvalScope engine"):

1. **Load** (every rank): each benchmark EvalScope has (:data:`BENCHMARKS`) is loaded by EvalScope's own
   adapter from the local hub-layout copy at the spec's ``path`` (``dataset_args={name: {'dataset_id':
   path}}``), offline (``HF_HUB_OFFLINE=1``, ``HF_DATASETS_OFFLINE=1``) with a fresh ``datasets`` cache per
   folder (a cached copy of another folder of the same name is never reused). Its samples — EvalScope's
   prompt templates applied, chat messages with text and image parts — become our items
   (:class:`EvalScopeAdapter`): text parts joined with an ``<image>`` slot where each image was.
2. **Generate** (every rank, sharded and resumable exactly as the native engine: ``engines/shards.py``): our
   protocols (standard, rendered, graded ``rendered_<f>``) turn each item into a prompt and the job's model
   answers in batches (``models.generation.generate``). For rendering protocols the rendered image is
   written under ``evalscope/rendered/<protocol>/`` and named in the row. Rows are not scored yet (NaN in
   the shard files).
3. **Review** (rank 0, after gathering, :func:`review`): one EvalScope run per (benchmark, protocol) with an
   in-process :class:`ReplayModel` (a ``ModelAPI`` subclass) that returns our prediction for each of
   EvalScope's samples, so EvalScope writes its own per-sample ``predictions``/``reviews`` and ``reports``
   under ``<out>/evalscope/<protocol>/``; the per-item scores of ``predictions.jsonl`` are its reviews'
   main metric (``calculate_metrics``, EvalScope's own rule for the benchmark).

Benchmarks EvalScope lacks (WeMath, MM-IFEval, MMLongBench-Doc, CC-OCR v1, CountBench, the probe suite) and
those it scores only with an LLM judge (ZeroBench, SimpleVQA) run through our adapters — the latter judged by
``eval.judge`` when it is set (our judge client and each benchmark's grading prompt: one definition of the
judge), else by their documented rule; ``metrics.engines`` says which engine scored each benchmark, how
(``scored_by``) and why.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from PIL import Image

from lomo_ablate.contracts import ESCAPED_SLOT, IMAGE_SLOT, TEXT_ONLY_GROUP
from lomo_ablate.evaluate.benchmarks.base import Adapter

log = logging.getLogger("lomo_ablate.evaluate.evalscope")

__all__ = ["BENCHMARKS", "EVALSCOPE_DIR", "EsBenchmark", "EvalScopeAdapter", "ReplayModel", "input_key",
           "native_reason", "review", "RenderedRecorder"]

EVALSCOPE_DIR = "evalscope"  # under the evaluate stage folder
MODEL_ID = "lomo"


@dataclass(frozen=True)
class EsBenchmark:
    """How one of our benchmark names runs under EvalScope: its EvalScope name, its paper group (used
    when our registry does not list the benchmark), default ``dataset_args`` and, when it cannot run
    through EvalScope here, why (it then runs through our adapter)."""

    evalscope: str
    category: str
    dataset_args: dict = field(default_factory=dict)
    native_because: str | None = None
    runs_code: bool = False  # EvalScope executes the model's code to score it (eval.evalscope.execute_code)


#: why a benchmark EvalScope scores with an LLM judge only runs through our adapter: the judge (``eval.judge``)
#: is then called by our adapter with the benchmark's grading prompt, through lomo_ablate.evaluate.judge (one
#: client, one prompt per benchmark, one parser), not by EvalScope's judge (a second client and copy of the prompts)
JUDGE_ONLY = "EvalScope scores it with an LLM judge only; our adapter scores it ({how})"
JUDGED = "judged by eval.judge with the benchmark's grading prompt"
RULED = "without eval.judge: by its documented rule"

#: our benchmark name -> EvalScope 1.14.1 (names checked in the installed package's registry)
BENCHMARKS: dict[str, EsBenchmark] = {
    "mmmu": EsBenchmark("mmmu", "Reasoning"),
    # MMMU-Pro as the paper reports it: "standard (10 options)" (EvalScope defaults to 4 options) and "vision"
    # (the question inside the image), both EvalScope's mmmu_pro with its extra parameter dataset_format
    "mmmu_pro": EsBenchmark("mmmu_pro", "Reasoning", {"extra_params": {"dataset_format": "standard (10 options)"}}),
    "mmmu_pro_vision": EsBenchmark("mmmu_pro", "Reasoning", {"extra_params": {"dataset_format": "vision"}}),
    "mathvista": EsBenchmark("math_vista", "Math"),
    "zerobench": EsBenchmark("zerobench", "Math", native_because=JUDGE_ONLY),
    "simplevqa": EsBenchmark("simple_vqa", "Factuality", native_because=JUDGE_ONLY),
    "hallusionbench": EsBenchmark("hallusion_bench", "Factuality"),
    "docvqa": EsBenchmark("docvqa", "Document & OCR"),
    "vstar": EsBenchmark("vstar_bench", "Visual perception"),
    "mmlu_pro": EsBenchmark("mmlu_pro", TEXT_ONLY_GROUP),
    "humaneval": EsBenchmark("humaneval", TEXT_ONLY_GROUP, runs_code=True),
    "livecodebench": EsBenchmark("live_code_bench", TEXT_ONLY_GROUP, {"subset_list": ["release_v6"]}, runs_code=True),
    "gsm8k": EsBenchmark("gsm8k", TEXT_ONLY_GROUP),
    "ifeval": EsBenchmark("ifeval", TEXT_ONLY_GROUP),
}
LACKS = {"wemath": "WeMath", "mm_ifeval": "MM-IFEval", "mmlongbench_doc": "MMLongBench-Doc",
         "cc_ocr": "CC-OCR v1 (EvalScope has CC-OCR-V2, another benchmark)", "countbench": "CountBench (count_qa "
         "is CountQA)", "probe": "the probe suite (ours)"}


def native_reason(name: str, scored_by: str = "rule") -> str | None:
    """None when ``name`` runs through EvalScope, else why it runs through our adapter (``scored_by``: how that
    adapter scores, "rule" or "judge")."""
    entry = BENCHMARKS.get(name)
    if entry is None:
        return f"EvalScope 1.14.1 lacks {LACKS.get(name, name)}; scored by our adapter"
    if entry.native_because is None:
        return None
    return entry.native_because.format(how=JUDGED if scored_by == "judge" else RULED)


def uses_evalscope(name: str) -> bool:
    return native_reason(name) is None


# --------------------------------------------------------------------------------------- offline setup
def _import_evalscope() -> Any:
    """Import EvalScope with the hub offline (the variables are read at import time by huggingface_hub and
    datasets, so they are set first), or a clear error when it is not installed."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    try:
        import datasets
        import evalscope
    except ImportError as exc:
        raise RuntimeError(f"eval.engine=evalscope needs EvalScope 1.14.1 installed ({exc}); see docs/evaluate.md "
                           "\"The EvalScope engine\" for the install (two steps: it pins antlr4 4.13, Hydra 4.9)") from None
    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True
    return evalscope


@contextlib.contextmanager
def fresh_datasets_cache(folder: str | Path, cache_root: Path) -> Iterator[Path]:
    """``datasets``' cache pointed at a folder of its own for this benchmark folder (keyed by its resolved
    path and the files' sizes and times), so a stale cache of another folder of the same name is never read."""
    import datasets

    folder = Path(folder).resolve()
    stat = sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else [str(folder)]
    key = hashlib.sha256(json.dumps([str(folder), stat]).encode()).hexdigest()[:16]
    cache = cache_root / f"{folder.name}-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    before = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = cache
    try:
        yield cache
    finally:
        datasets.config.HF_DATASETS_CACHE = before


def _check_nltk(es_name: str) -> None:
    """IFEval's checks split sentences with NLTK's ``punkt_tab``; without it EvalScope drops samples from the
    denominator with a log line only. Refuse instead, saying what is missing."""
    if es_name != "ifeval":
        return
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError:
        raise RuntimeError("eval.engine=evalscope: IFEval needs NLTK's 'punkt_tab' data on disk (offline): "
                           "python -m nltk.downloader -d <dir> punkt_tab on a machine with internet, then "
                           "NLTK_DATA=<dir>; without it EvalScope silently scores fewer samples") from None


# ------------------------------------------------------------------------------------------- items
@dataclass
class EsItem:
    """One EvalScope sample as an item of ours (``id``: ``<subset>:<sample id>``)."""

    id: str
    answer: Any
    metadata: dict
    sample: Any
    subset: str


def _parts(message: Any) -> list[tuple[str, str]]:
    """``[("text", t) | ("image", data)]`` of one chat message (a plain string is one text part)."""
    content = message.content
    if isinstance(content, str):
        return [("text", content)]
    out = []
    for part in content:
        kind = getattr(part, "type", None)
        if kind == "text":
            out.append(("text", part.text))
        elif kind == "image":
            out.append(("image", part.image))
        else:
            raise ValueError(f"EvalScope message part of type {kind!r} is not supported (text and image only)")
    return out


def input_key(messages: Sequence[Any]) -> str:
    """A content hash of a sample's chat input (roles, texts, images; message ids are random and left out):
    how the replaying model finds our prediction for the sample EvalScope hands it."""
    h = hashlib.sha256()
    for m in messages:
        h.update(f"\0{m.role}\0".encode())
        for kind, data in _parts(m):
            h.update(f"{kind}\0".encode())
            h.update(data.encode() if kind == "text" else hashlib.sha256(data.encode()).digest())
    return h.hexdigest()


def _open_image(data: str) -> Image.Image:
    if data.startswith("data:"):
        data = data.split(",", 1)[1]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    if os.path.exists(data):
        return Image.open(data).convert("RGB")
    raise ValueError(f"EvalScope image is neither a data URI nor a local file: {data[:80]!r}")


def _target(t: Any) -> Any:
    if isinstance(t, (str, int, float, bool)) or t is None:
        return t
    if isinstance(t, (list, tuple)):
        return [_target(x) for x in t]
    return str(t)


class EvalScopeAdapter:
    """Our adapter interface (``load``, ``build_prompt``, ``score``, ``rejected``) over one EvalScope
    benchmark, so the evaluate stage shards, generates, resumes and gathers it like any other."""

    def __init__(self, name: str, path: str, limit: int | None, dataset_args: dict, work_dir: Path,
                 category: str | None = None, batch_size: int = 8) -> None:
        entry = BENCHMARKS[name]
        self.name = name
        self.entry = entry
        self.path = str(path)
        self.limit = limit
        self.dataset_args = _merge_args(entry.dataset_args, dataset_args or {})
        self.dataset_args["dataset_id"] = str(Path(path).resolve())
        self.work_dir = Path(work_dir)
        self.category = category or entry.category
        self.batch_size = batch_size
        self.rejected: list[dict] = []
        self.items: dict[str, EsItem] = {}
        self.benchmark: Any = None

    def run_dir(self, out_dir: Path, protocol: str) -> Path:
        """Where EvalScope's review run for ``protocol`` writes: ``evalscope/<protocol>/`` in the stage folder
        ``out_dir``, or ``evalscope/<protocol>/<our name>/`` when an earlier name of :data:`BENCHMARKS` runs the
        same EvalScope benchmark (MMMU-Pro vision after MMMU-Pro: their reviews and reports would collide)."""
        work = Path(out_dir) / EVALSCOPE_DIR / protocol
        first = next(n for n, e in BENCHMARKS.items() if e.evalscope == self.entry.evalscope)
        return work if self.name == first else work / self.name

    def task_config(self, model: Any = None, work_dir: Path | None = None) -> Any:
        """EvalScope's TaskConfig for this benchmark (the same for loading and for the review run)."""
        _import_evalscope()
        from evalscope.config import TaskConfig

        es = self.entry.evalscope
        return TaskConfig(model=model if model is not None else "lomo", model_id=MODEL_ID,
                          eval_type=None if model is not None else "mock_llm", datasets=[es],
                          dataset_args={es: dict(self.dataset_args)}, limit=self.limit,
                          work_dir=str(work_dir or self.work_dir), no_timestamp=True,
                          dataset_dir=str(self.work_dir / "cache"), eval_batch_size=self.batch_size,
                          generation_config={"temperature": 0.0})

    def load(self, path: str | None = None) -> list[EsItem]:
        _import_evalscope()
        from evalscope.api.registry import get_benchmark

        if not Path(self.path).exists():
            raise FileNotFoundError(f"eval.benchmarks: {self.name!r}: {self.path} does not exist (a local copy laid "
                                    "out as on the hub: docs/evaluate.md \"The EvalScope engine\")")
        _check_nltk(self.entry.evalscope)
        with fresh_datasets_cache(self.path, self.work_dir / "hf_datasets"):
            self.benchmark = get_benchmark(self.entry.evalscope, self.task_config())
            loaded = self.benchmark.load_dataset()
        items = []
        for subset, dataset in loaded.items():
            for sample in dataset:
                item = EsItem(id=f"{subset}:{sample.id}", answer=_target(sample.target),
                              metadata={"category": self.category, "subset": subset}, sample=sample, subset=subset)
                if item.id in self.items:
                    raise ValueError(f"{self.path}: EvalScope {self.entry.evalscope!r} gave sample id {item.id} twice")
                self.items[item.id] = item
                items.append(item)
        log.info("evalscope %s: %d samples from %s (%d subsets)", self.entry.evalscope, len(items), self.path,
                 len(loaded))
        return items

    def build_prompt(self, item: EsItem) -> tuple[list[dict], list[Image.Image]]:
        """The sample's messages as one user turn: a system prompt first (EvalScope's, e.g. LiveCodeBench's),
        then the user text parts in order with an ``<image>`` slot where each image was."""
        turns: list[str] = []
        images: list[Image.Image] = []
        for m in item.sample.input:
            if m.role not in ("system", "user"):
                raise ValueError(f"{self.name}: item {item.id}: a {m.role!r} message in EvalScope's input (few-shot "
                                 "turns are not supported; set few_shot_num: 0 in eval.evalscope.dataset_args)")
            text = ""
            for kind, data in _parts(m):
                piece = data.replace(IMAGE_SLOT, ESCAPED_SLOT) if kind == "text" else IMAGE_SLOT
                if kind == "image":
                    images.append(_open_image(data))
                if text and (kind == "image" or text.endswith(IMAGE_SLOT)) and not text.endswith(("\n", " ")):
                    text += "\n"
                text += piece
            turns.append(text)
        return [{"role": "user", "content": "\n\n".join(t for t in turns if t)}], images

    #: EvalScope's evaluator applies its benchmark's fixed rule (the benchmarks it scores only with an LLM
    #: judge are not routed here: BENCHMARKS)
    scored_by: str = "rule"

    # nothing beyond the score per row (EvalScope's review under evalscope/<protocol>/reviews holds every metric
    # of the sample); the summary is accuracy over the reviewed rows, as for our adapters
    detail = Adapter.detail
    aggregate = Adapter.aggregate

    def score(self, prediction: str, item: EsItem) -> float:
        """NaN: a row's score is set by EvalScope's review on rank 0 (:func:`review`), not while generating —
        EvalScope's math scorers fork an isolated process per call, so scoring twice would double the
        harness time (benchmarks/README.md)."""
        return float("nan")

    def sample_score(self, prediction: str, item: EsItem) -> tuple[float, dict]:
        """EvalScope's own per-sample scorer for this benchmark: its main metric for ``prediction`` (and
        every metric's value), as its evaluator computes it."""
        from evalscope.api.evaluator import TaskState
        from evalscope.api.messages import ChatMessageAssistant
        from evalscope.api.model import ModelOutput

        output = ModelOutput.from_content(model=MODEL_ID, content=prediction)
        state = TaskState(model=MODEL_ID, sample=item.sample,
                          messages=list(item.sample.input) + [ChatMessageAssistant(content=prediction)],
                          output=output, completed=True)
        sc = self.benchmark.calculate_metrics(task_state=state)
        return _main_value(sc.score.value, sc.score.main_score_name), dict(sc.score.value)


def _merge_args(defaults: dict, given: dict) -> dict:
    """``given`` over ``defaults``; ``extra_params`` merged key by key (a user's ``extra_params`` keeps our
    ``dataset_format`` unless it sets that key itself)."""
    out = {**defaults, **given}
    if "extra_params" in defaults or "extra_params" in given:
        out["extra_params"] = {**defaults.get("extra_params", {}), **(given.get("extra_params") or {})}
    return out


def _main_value(values: dict, main: str | None) -> float:
    if main and main in values:
        return float(values[main])
    if len(values) == 1:
        return float(next(iter(values.values())))
    raise ValueError(f"EvalScope score {values} has no main metric")


# ----------------------------------------------------------------------------------- rendered images
class RenderedRecorder:
    """Writes the rendered image of each rendered item (``evalscope/rendered/<protocol>/<bench>/<id>.png``)
    and returns its path relative to the stage folder, for the prediction row."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)

    def __call__(self, benchmark: str, protocol: str, item_id: str, prompt: Any) -> dict:
        if getattr(prompt, "rendered_text", None) is None:
            return {}
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", item_id)
        rel = Path(EVALSCOPE_DIR) / "rendered" / protocol / benchmark / f"{safe}.png"
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            prompt.images[-1].save(path)
        return {"rendered_image": str(rel), "rendered_text": prompt.rendered_text}


# ------------------------------------------------------------------------------------------- review
def _replay_model_class() -> type:
    _import_evalscope()
    from evalscope.api.model import ModelAPI, ModelOutput

    class _Replay(ModelAPI):
        """Answers each sample EvalScope hands it with the prediction our generation made for it."""

        def __init__(self, answers: dict[str, str], name: str) -> None:
            super().__init__(model_name=name)
            self.answers = answers

        def generate(self, input, tools, tool_choice, config):  # noqa: A002 (EvalScope's signature)
            key = input_key(input)
            if key not in self.answers:
                raise KeyError(f"EvalScope gave a sample this evaluation did not generate for (key {key[:12]}): "
                               "the benchmark folder changed between generation and review")
            return ModelOutput.from_content(model=self.model_name, content=self.answers[key])

    return _Replay


def ReplayModel(answers: dict[str, str], name: str = MODEL_ID) -> Any:  # noqa: N802 (a class factory)
    """A ``ModelAPI`` returning ``answers[input_key(messages)]`` (EvalScope is imported on first use)."""
    return _replay_model_class()(answers, name)


def review(rows: list[dict], adapters: dict[str, Any], protocols: Sequence[str], out_dir: Path) -> dict[str, Any]:
    """Rank 0, after gathering: one EvalScope run per (benchmark, protocol) replaying our predictions, so
    EvalScope writes its per-sample reviews and reports under ``<out>/evalscope/<protocol>/``; every row's
    score is set from its review. Returns ``{bench: {protocol: {report, reviews, score, n}}}``."""
    from evalscope.run import run_task

    out: dict[str, Any] = {}
    for name, adapter in adapters.items():
        if not isinstance(adapter, EvalScopeAdapter):
            continue
        for protocol in protocols:
            mine = [r for r in rows if r["benchmark"] == name and r["protocol"] == protocol]
            if not mine:
                continue
            answers = {input_key(adapter.items[r["item_id"]].sample.input): r["prediction"] for r in mine}
            work = adapter.run_dir(out_dir, protocol)
            rel = work.relative_to(Path(out_dir))
            with fresh_datasets_cache(adapter.path, adapter.work_dir / "hf_datasets"):
                result = run_task(adapter.task_config(model=ReplayModel(answers), work_dir=work))
            report = result.get(adapter.entry.evalscope) if isinstance(result, dict) else None
            scores = _read_reviews(work, adapter)
            for r in mine:
                if r["item_id"] not in scores:
                    raise RuntimeError(f"EvalScope review of {name} ({protocol}) has no score for item {r['item_id']} "
                                       f"({work / 'reviews'}): EvalScope dropped it (see its log under {work})")
                r["score"] = scores[r["item_id"]]
            out.setdefault(name, {})[protocol] = {
                "reviews": str(rel / "reviews" / MODEL_ID),
                "report": str(rel / "reports" / MODEL_ID / f"{adapter.entry.evalscope}.json"),
                "score": _report_score(report), "n": len(mine)}
    return out


def _read_reviews(work: Path, adapter: EvalScopeAdapter) -> dict[str, float]:
    """``{item id: main score}`` from EvalScope's review files (one per subset)."""
    scores: dict[str, float] = {}
    for subset in dict.fromkeys(it.subset for it in adapter.items.values()):
        path = work / "reviews" / MODEL_ID / f"{adapter.entry.evalscope}_{subset}.jsonl"
        if not path.is_file():
            raise RuntimeError(f"EvalScope wrote no review file {path} for subset {subset!r}")
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                ss = rec["sample_score"]
                scores[f"{subset}:{ss['sample_id']}"] = _main_value(ss["score"]["value"], ss["score"].get("main_score_name"))
    return scores


def _report_score(report: Any) -> float | None:
    """The score of the report's primary metric (the one EvalScope names as its conclusion: HallusionBench's
    overall aAcc, not the first metric listed, which is a subcategory's), or None when it names none."""
    metric = getattr(report, "primary_metric", None)
    if metric is None:
        return None
    try:
        return float(metric.score)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------- the stage's hooks
def make_adapter(spec: Any, cfg: Any, out_dir: Path) -> Any:
    """The adapter for one ``eval.benchmarks`` entry under ``eval.engine=evalscope``: EvalScope's when it
    has the benchmark (and scores it without a judge), else ours (``native_reason`` says why)."""
    from lomo_ablate.evaluate.benchmarks.registry import benchmarks as registered
    from lomo_ablate.evaluate.benchmarks.registry import get_adapter

    if not uses_evalscope(spec.name):
        return get_adapter(spec.name, spec.adapter_options())
    if spec.options:
        raise ValueError(f"eval.benchmarks: {spec.name!r}: 'options' are our adapters' keys; under "
                         f"eval.engine=evalscope set eval.evalscope.dataset_args.{spec.name} instead")
    if BENCHMARKS[spec.name].runs_code and not cfg.evalscope.execute_code:
        from lomo_ablate.utils.config import ConfigError

        raise ConfigError(f"eval.benchmarks: {spec.name!r} under eval.engine=evalscope: EvalScope scores it by running "
                          "the model's code in a local subprocess (not a security sandbox); set "
                          "eval.evalscope.execute_code=true to allow it")
    entry = registered().get(spec.name)
    return EvalScopeAdapter(spec.name, spec.path, spec.n, dict(cfg.evalscope.dataset_args.get(spec.name) or {}),
                            Path(out_dir) / EVALSCOPE_DIR, category=entry.category if entry else None,
                            batch_size=cfg.batch_size)


def review_and_describe(rows: list[dict], adapters: dict[str, Any], protocols: Sequence[str],
                        out_dir: Path) -> dict[str, Any]:
    """:func:`review`, then ``metrics.engines``: per benchmark the engine that scored it and, for EvalScope,
    its name, dataset_args and per-protocol review/report paths; for ours, why."""
    runs = review(rows, adapters, protocols, out_dir)
    out: dict[str, Any] = {}
    for name, adapter in adapters.items():
        if isinstance(adapter, EvalScopeAdapter):
            out[name] = {"engine": "evalscope", "evalscope": adapter.entry.evalscope,
                         "dataset_args": adapter.dataset_args, "limit_per_subset": adapter.limit,
                         "runs": runs.get(name, {})}
        else:
            scored_by = getattr(adapter, "scored_by", "rule")
            out[name] = {"engine": "native", "reason": native_reason(name, scored_by), "scored_by": scored_by}
    return out
