"""Re-score saved predictions with the pipeline's own scorers, without generating again.

    python -m lomo_ablate.evaluate.score <benchmark> <predictions.jsonl> [--out scores.json] [--option k=v ...]

Each line of ``predictions.jsonl`` is ``{"record": <the benchmark's row as on the hub>, "prediction": "<reply>"}``.
Images may be missing or placeholders: rows are parsed with the benchmark's adapter (the same object the
evaluate stage uses, :func:`~lomo_ablate.evaluate.benchmarks.get_adapter`) with every image cell replaced by
a 1×1 placeholder and absent ones allowed, since scoring never looks at pixels. Prints (and with ``--out`` writes) JSON:

    {"benchmark": ..., "per_item": [{"line": 1, "item_id": ..., "score": 1.0, "detail": {...}}, ...],
     "aggregate": {...the benchmark's metrics..., "scored_by": "rule"|"judge"}, "rejected": [...]}

``per_item`` has one entry per input line, in order; a line whose record the adapter rejects has
``score: null`` and its reason (and is listed in ``rejected``), never silently dropped. A companion row (one
whose reply another item's score needs: MM-IFEval's ``aux_cmp_gpt`` rows, as on the hub) has ``score: null``,
``companion_of`` (the main item's id) and ``companion`` (its key); its prediction is handed to the main item
as the evaluate stage does (``Item.replies``), and it is counted in no metric. ``--judge-url`` /
``--judge-model`` / ``--judge-key-env`` give an OpenAI-compatible judge for the benchmarks that use one
(``eval.judge`` in a job config). :func:`score_items` is what the evaluate stage calls for its
benchmark-level metrics.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

__all__ = ["score_items", "rescore", "main", "IMAGE_KEYS"]

#: record keys treated as image cells and dropped before parsing (scoring never reads pixels)
IMAGE_KEYS = ("image", "images", "decoded_image", "image_path", "question_images", "question_images_decoded",
              *(f"image_{k}" for k in range(1, 8)))


def score_items(adapter: Any, items: Sequence[Any], predictions: Sequence[str]) -> tuple[list[dict], dict]:
    """(per-item ``{"item_id", "score", "detail"?}``, the benchmark's aggregate) for ``predictions`` of
    ``items`` — exactly ``adapter.score`` / ``adapter.detail`` / ``adapter.aggregate``."""
    per_item, scores, details = [], [], []
    for it, pred in zip(items, predictions, strict=True):
        score, detail = float(adapter.score(pred, it)), adapter.detail(pred, it)
        row = {"item_id": str(it.id), "score": score}
        if detail is not None:
            row["detail"] = detail
        per_item.append(row)
        scores.append(score)
        details.append(detail)
    aggregate = adapter.aggregate(list(items), scores, details)
    aggregate["scored_by"] = getattr(adapter, "scored_by", "rule")
    return per_item, aggregate


#: a 1×1 PNG standing in for every image cell of a re-scored record (scoring never reads pixels)
PLACEHOLDER = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N"
               "70a4AAAAAElFTkSuQmCC")


def _placeholder_images(record: dict, keys: Sequence[str]) -> dict:
    """The record with each non-empty image cell replaced by :data:`PLACEHOLDER` (a list cell by as many)."""
    out = dict(record)
    for k in keys:
        v = out.get(k)
        if v in (None, "", []):
            continue
        out[k] = [PLACEHOLDER] * len(v) if isinstance(v, list) else PLACEHOLDER
    return out


def rescore(benchmark: str, path: str | Path, options: dict | None = None) -> dict:
    """Score every line of ``path`` (see the module docstring) and return the JSON-able result."""
    from lomo_ablate.evaluate.benchmarks import get_adapter
    from lomo_ablate.evaluate.benchmarks.records import DataFileError

    adapter = get_adapter(benchmark, {**dict(options or {}), "strict": False})
    path = Path(path)
    lines: list[tuple[int, dict, str]] = []
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{path}:line {n}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("record"), dict):
                raise DataFileError(f"{path}:line {n}: key 'record': expected the benchmark's row as an object")
            if not isinstance(obj.get("prediction"), str):
                raise DataFileError(f"{path}:line {n}: key 'prediction': expected a string")
            lines.append((n, obj["record"], obj["prediction"]))
    keys = tuple(getattr(adapter, "image_keys", IMAGE_KEYS))
    with tempfile.TemporaryDirectory() as tmp:  # the adapter reads files: one row per line, same order
        rows = Path(tmp) / "records.jsonl"
        rows.write_text("".join(json.dumps(_placeholder_images(r, keys), default=str) + "\n"
                                for _, r, _ in lines), encoding="utf-8")
        adapter.rescoring = True  # an omitted image or a repeated row is not a rejection here
        items = adapter.load(rows)
    rejected = {r["line"]: r for r in adapter.rejected}
    kept = iter(items)
    order, preds = [], []
    replies: dict[str, dict[str, str]] = {}
    for i, (n, _, pred) in enumerate(lines, 1):
        if i in rejected:
            order.append((n, None, None))
            continue
        it = next(kept)
        companion = adapter.companion_of(it)
        order.append((n, it, companion))
        if companion is None:
            preds.append((it, pred))
        else:
            replies.setdefault(companion[0], {})[companion[1]] = pred
    scored, aggregate = score_items(adapter, [replace(it, replies=replies[str(it.id)]) if str(it.id) in replies
                                              else it for it, _ in preds], [p for _, p in preds])
    by_item = iter(scored)
    per_item = []
    for i, (n, it, companion) in enumerate(order, 1):
        if it is None:
            per_item.append({"line": n, "item_id": None, "score": None, "rejected": rejected[i]["reason"],
                             "key": rejected[i]["detail"]})
        elif companion is not None:
            per_item.append({"line": n, "item_id": str(it.id), "score": None, "companion_of": companion[0],
                             "companion": companion[1]})
        else:
            per_item.append({"line": n, **next(by_item)})
    return {"benchmark": benchmark, "source": str(path), "per_item": per_item, "aggregate": aggregate,
            "rejected": [{"line": lines[i - 1][0], "reason": r["reason"], "key": r["detail"]}
                         for i, r in sorted(rejected.items())]}


def _option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--option wants key=value, got {text!r}")
    k, v = text.split("=", 1)
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lomo_ablate.evaluate.score", description=__doc__.split("\n\n")[0])
    ap.add_argument("benchmark", help="a registered benchmark name (mmmu, ifeval, wemath, ...)")
    ap.add_argument("predictions", help='JSONL: {"record": <hub row>, "prediction": "..."} per line')
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--option", action="append", type=_option, default=[],
                    help="adapter option key=value (JSON value), e.g. metric=prompt_loose")
    ap.add_argument("--judge-url", help="OpenAI-compatible base URL (…/v1) of an LLM judge")
    ap.add_argument("--judge-model", help="the judge's model name")
    ap.add_argument("--judge-key-env", default="OPENAI_API_KEY", help="environment variable holding its API key")
    args = ap.parse_args(argv)
    options = dict(args.option)
    if args.judge_url:
        options["judge"] = {"base_url": args.judge_url, "model": args.judge_model or "", "api_key_env":
                            args.judge_key_env}
    from lomo_ablate.evaluate.benchmarks.records import DataFileError
    from lomo_ablate.utils.config import ConfigError

    try:
        result = rescore(args.benchmark, args.predictions, options)
    except (DataFileError, ConfigError, KeyError, FileNotFoundError) as exc:
        print(f"score: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    from lomo_ablate.utils.fs import dumps_json

    text = dumps_json(result, indent=1, default=str)  # strict JSON: an undefined metric (NaN) is null
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
