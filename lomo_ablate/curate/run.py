"""The curation run: plan → shards (parallel, resumable) → one self-contained output directory.

1. Inputs are fingerprinted; ``manifest.json`` records what a folder holds, summed up as its ``config_hash``
   (config minus ``workers``, seed, input fingerprints, format version). A finished ``OUT`` whose manifest
   has the same ``config_hash`` is returned as it is (``cached``); a finished one of another config is
   refused unless ``overwrite``. Caching *across* folders is not curation's: the pipeline's store gives each
   curation its own folder (``lomo_ablate.pipeline.store``); curation only resumes inside the one it is given.
2. Each pool is indexed in one streaming pass (record count + byte offset of every shard start); the mix
   plan says how many instances each pool gives (:mod:`lomo_ablate.curate.mix`).
3. Shards of ``shard_size`` input records are processed by ``workers`` spawn-started processes. A shard reads
   its lines from its byte offset, parses, rewrites (localize → render in batches → distort → assemble),
   writes its images straight into ``OUT/images/`` and its records into ``OUT/.work/``; its
   ``.stats.json`` is written last and marks it done, so an interrupted run redoes only unfinished shards.
4. Shards are concatenated in order into ``data.jsonl``/``rejected.jsonl``; counts are summed and checked
   (``read == written + rejected``); manifest, dataset_info, optional gallery, then ``_SUCCESS``.

Outputs are byte-identical for any ``workers``: shard boundaries depend on ``shard_size`` only, every
random draw comes from (seed, source, line, copy), and files are concatenated in shard order.

(Over 400 lines on purpose: the per-shard worker, the shard files' done markers and the run that
resumes and concatenates them share one file layout; kept together, the byte-identity argument above is
checkable in one place.)
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import platform
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lomo_ablate.curate.assemble import assemble_content, check_slots, escape_placeholders, split_to_fit
from lomo_ablate.curate.config import CurateConfig, available_cpus
from lomo_ablate.curate.io import (DATASET_INFO, Rejection, Sample, as_jsonl, dumps_record, fingerprint,
                                   index_jsonl, parse_record, read_lines)
from lomo_ablate.curate.localize import locate_spans
from lomo_ablate.curate.mix import copies, plan_mix, should_rewrite, unit_hash
from lomo_ablate import contracts as C
from lomo_ablate.utils import atomic_write_json, atomic_write_text, stable_hash

log = logging.getLogger(__name__)

#: Bumped when the output format or the per-record procedure changes, so old caches are not reused.
CURATE_FORMAT_VERSION = 1
TEXT, MULTIMODAL = "text", "multimodal"
RENDER_CHUNK = 64
#: The folder inside ``OUT`` that holds the shards of an unfinished run (removed when it finishes).
WORK = ".work"
#: In ``.work``: the config hash of the run rank 0 has prepared (a multi-rank curation's go signal).
READY = "ready"
#: What a curation output folder may hold (anything else: a foreign folder, never cleared).
_OURS = (C.DATA, C.REJECTED, C.MANIFEST, C.DATASET_INFO, C.SUCCESS, C.IMAGES_DIR, C.GALLERY)


@dataclass
class CurateSummary:
    """What a run produced. ``counts`` is the manifest's ``counts``; ``cached`` is True on a cache hit."""

    output_dir: Path
    config_hash: str
    cached: bool
    counts: dict[str, Any]
    wall_seconds: float
    warnings: list[str] = field(default_factory=list)
    mix: dict[str, Any] = field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return self.output_dir / C.DATA

    @property
    def manifest_path(self) -> Path:
        return self.output_dir / C.MANIFEST


@dataclass
class ShardTask:
    """One unit of work: ``count`` input records of pool ``source`` starting at byte ``offset``."""

    index: int
    source: str
    path: str
    base_dir: str
    offset: int
    first_line: int
    first_ordinal: int
    count: int
    pool_size: int
    selected: int
    out_dir: str
    work_dir: str
    seed: int
    cfg: CurateConfig

    @property
    def stem(self) -> str:
        return f"shard-{self.index:05d}"


# --- per-shard work (top-level so that spawn-started workers can import it) --------------------------------

_TOOLS: dict[str, tuple[Any, Any]] = {}


def _tools(cfg: CurateConfig) -> tuple[Any, Any]:
    """A Renderer and a Distorter per process and config (building them can be slow)."""
    key = stable_hash({"render": cfg.to_dict()["render"], "distort": cfg.to_dict()["distort"]})
    if key not in _TOOLS:
        from lomo_ablate.render.distort import Distorter
        from lomo_ablate.render import Renderer

        _TOOLS[key] = (Renderer(cfg.render), Distorter(cfg.distort))
    return _TOOLS[key]


def record_rng(seed: int, source: str, line: int, copy: int):
    """The numpy Generator for one instance: a function of (seed, source, line, copy) only."""
    import numpy as np

    return np.random.default_rng(int(unit_hash("rng", seed, source, line, copy) * 2 ** 63))


def _image_relpath(source: str, line: int, copy: int, j: int, suffix: str = ".png") -> str:
    rid = f"{source}:{line}" + (f"#{copy}" if copy else "")
    tag = f"{source}-{line}" + (f"-c{copy}" if copy else "")
    return f"images/{stable_hash(rid, 2)}/{tag}-{j}{suffix}"


def _render_lazily(renderer: Any, texts: list[str]) -> Iterator[Any]:
    """``render_many`` in chunks of :data:`RENDER_CHUNK`, yielded one by one, so at most one chunk of images is
    in memory; an item whose batch raised is retried alone, and yielded as the exception if it raises again."""
    for k in range(0, len(texts), RENDER_CHUNK):
        chunk = texts[k:k + RENDER_CHUNK]
        try:
            results = list(renderer.render_many(chunk))
        except Exception:  # noqa: BLE001 - one bad text must not sink the batch
            results = []
            for t in chunk:
                try:
                    results.append(renderer.render(t))
                except Exception as e:  # noqa: BLE001
                    results.append(e)
        yield from results
        del results


def _place_image(src: str, dest: Path, mode: str) -> None:
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    if mode == "symlink":
        os.symlink(os.path.abspath(src), tmp)
    elif mode == "hardlink":
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def process_shard(task: ShardTask) -> dict[str, Any]:
    """Curate one shard; returns (and writes, last) its stats. Never raises for a bad record."""
    cfg, out_dir, work_dir = task.cfg, Path(task.out_dir), Path(task.work_dir)
    stats: dict[str, Any] = {"read": 0, "written": 0, "rewritten": 0, "rejected": Counter(), "renderer": Counter(),
                             "math_fallbacks": 0, "distortion": Counter(), "placeholders_escaped": 0,
                             "control_chars_stripped": 0, "images": 0,
                             "by_source": {task.source: Counter()}}
    records: list[dict] = []
    rejected: list[dict] = []
    pending: list[tuple[int, Sample, int, list[tuple[int, int]]]] = []  # (slot, sample, copy, spans)
    image_mode = cfg.image_mode

    def add_reject(r: Rejection) -> None:
        stats["rejected"][r.reason] += 1
        rejected.append(r.to_dict())

    base_dir = Path(task.base_dir)
    for k, (line, raw) in enumerate(read_lines(Path(task.path), task.offset, task.first_line, task.count)):
        n_copies = copies(task.first_ordinal + k, task.pool_size, task.selected)
        if n_copies == 0:
            continue
        parsed = parse_record(raw, task.source, line, base_dir, cfg.turn, cfg.max_chars)
        for c in range(n_copies):
            stats["read"] += 1
            stats["by_source"][task.source]["read"] += 1
            if isinstance(parsed, Rejection):
                add_reject(parsed)
                continue
            sample = parsed
            if c == 0:
                stats["control_chars_stripped"] += sample.control_chars_stripped
            rid = f"{task.source}:{line}" + (f"#{c}" if c else "")
            meta = {"source": task.source, "line": line, "rewritten": False}
            if "id" in sample.extra:
                meta["input_id"] = sample.extra["id"]
            if "meta" in sample.extra:
                meta["input_meta"] = sample.extra["meta"]
            if c:
                meta["copy"] = c
            if sample.images:  # image-bearing record: its slots are real, copy its images into OUT
                messages = [dict(m) for m in sample.messages]
                try:
                    check_slots(messages, sample.images, rid)
                except ValueError as e:
                    add_reject(Rejection(task.source, line, "placeholder_mismatch", str(e)))
                    continue
                rel = [_image_relpath(task.source, line, 0, j, Path(src).suffix.lower() or ".png")
                       for j, src in enumerate(sample.images)]
                try:
                    for src, r in zip(sample.images, rel):
                        _place_image(src, out_dir / r, image_mode)
                except OSError as e:
                    add_reject(Rejection(task.source, line, "processing_error", f"{type(e).__name__}: {e}"))
                    continue
                records.append({"id": rid, "messages": messages, "images": rel, "meta": meta})
                continue
            messages = []
            for m in sample.messages:
                content, n = escape_placeholders(m["content"])
                stats["placeholders_escaped"] += n
                messages.append({"role": m["role"], "content": content})
            record = {"id": rid, "messages": messages, "images": [], "meta": meta}
            records.append(record)
            if task.source == TEXT and should_rewrite(task.seed, task.source, line, c, cfg.mix.rewrite_ratio):
                text = sample.messages[sample.turn]["content"]
                lc = cfg.localize
                try:
                    spans = locate_spans(text, lc.position, lc.min_sentences, lc.multi_span_images,
                                         lc.max_block_chars, lc.latex_commands)
                    # a span longer than one image holds becomes several images, in order (slots = images)
                    spans = split_to_fit(text, spans, _tools(cfg)[0].fits, lc.max_block_chars, lc.latex_commands)
                except Exception as e:  # noqa: BLE001 - a bad record never stops the run
                    records.pop()
                    add_reject(Rejection(task.source, line, "processing_error", f"{type(e).__name__}: {e}"))
                    continue
                if spans:
                    pending.append((len(records) - 1, sample, c, spans))

    if pending:
        renderer, distorter = _tools(cfg)
        texts = [s.messages[s.turn]["content"][a:b] for _, s, _, spans in pending for a, b in spans]
        results = _render_lazily(renderer, texts)
        drop: set[int] = set()
        for slot, sample, c, spans in pending:
            record, line = records[slot], sample.line
            outcome = [next(results) for _ in spans]
            errors = [r for r in outcome if isinstance(r, Exception)]
            if errors:
                add_reject(Rejection(task.source, line, "render_error", f"{type(errors[0]).__name__}: {errors[0]}"))
                drop.add(slot)
                continue
            clipped = [j for j, r in enumerate(outcome) if r.clipped]
            if clipped:  # never a cut image: the record is set aside with its reason
                a, b = spans[clipped[0]]
                add_reject(Rejection(task.source, line, "span_clipped",
                                     f"span {a}:{b} ({b - a} chars) does not fit {cfg.render.max_width}x"
                                     f"{cfg.render.max_height} even at min_font_size={cfg.render.min_font_size}"))
                drop.add(slot)
                continue
            rng = record_rng(task.seed, task.source, line, c)
            text = sample.messages[sample.turn]["content"]
            content, escaped = assemble_content(text, spans)
            try:
                images, infos = [], []
                for j, result in enumerate(outcome):
                    image, info = distorter.apply(result.image, rng)
                    rel = _image_relpath(task.source, line, c, j)
                    dest = out_dir / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dest.with_name(dest.name + ".tmp")
                    image.save(tmp, format="PNG", compress_level=cfg.png_compress_level)
                    os.replace(tmp, dest)
                    images.append(rel)
                    infos.append(info)
            except Exception as e:  # noqa: BLE001 - a bad record never stops the run
                add_reject(Rejection(task.source, line, "processing_error", f"{type(e).__name__}: {e}"))
                drop.add(slot)
                continue
            for result, info in zip(outcome, infos):
                stats["renderer"][result.renderer] += 1
                stats["math_fallbacks"] += result.fallback_reason is not None
                stats["distortion"][info.get("op", "none")] += 1
            # the whole turn's escapes were counted above; a literal <image> inside a span is drawn, not escaped
            stats["placeholders_escaped"] += escaped - escape_placeholders(text)[1]
            record["messages"][sample.turn]["content"] = content
            record["images"] = images
            record["meta"].update({"rewritten": True, "position": cfg.localize.position, "turn": sample.turn,
                                   "spans": [list(sp) for sp in spans],
                                   "renderer": [r.renderer for r in outcome],
                                   "fallback": [r.fallback_reason for r in outcome],
                                   "distortion": infos})
            check_slots(record["messages"], record["images"], record["id"])
        records = [r for i, r in enumerate(records) if i not in drop]

    for r in records:
        stats["written"] += 1
        stats["by_source"][task.source]["written"] += 1
        stats["images"] += len(r["images"])
        if r["meta"]["rewritten"]:
            stats["rewritten"] += 1
            stats["by_source"][task.source]["rewritten"] += 1
    rejected_total = sum(stats["rejected"].values())
    assert stats["read"] == stats["written"] + rejected_total, (task.stem, stats)
    sizes = {
        "jsonl": _write_file(work_dir / f"{task.stem}.jsonl", "".join(dumps_record(r) + "\n" for r in records)),
        "rejected": _write_file(work_dir / f"{task.stem}.rejected.jsonl",
                                "".join(dumps_record(r) + "\n" for r in rejected)),
    }
    stats = json.loads(json.dumps(stats))  # Counters → plain dicts
    _write_file(work_dir / f"{task.stem}.stats.json", json.dumps({"stats": stats, "bytes": sizes}, sort_keys=True))
    return stats


def _write_file(path: Path, text: str) -> int:
    """Write via a temp file + rename (no fsync: a shard is cheap to redo, and :func:`_shard_done` checks
    sizes, so a file torn by a machine crash is found and redone). Returns the byte size."""
    data = text.encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)


def _shard_done(work_dir: Path, stem: str) -> dict[str, Any] | None:
    """The shard's stats when it finished intact (done marker present, files of the recorded sizes)."""
    try:
        done = json.loads((work_dir / f"{stem}.stats.json").read_text())
        if ((work_dir / f"{stem}.jsonl").stat().st_size == done["bytes"]["jsonl"]
                and (work_dir / f"{stem}.rejected.jsonl").stat().st_size == done["bytes"]["rejected"]):
            return done["stats"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


# --- the run ----------------------------------------------------------------------------------------------

def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    for k, v in part.items():
        if isinstance(v, dict):
            _merge(total.setdefault(k, {}), v)
        else:
            total[k] = total.get(k, 0) + v


def _sorted_counts(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_counts(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "curate_format": str(CURATE_FORMAT_VERSION)}
    for dist in ("lomo-ablate", "Pillow", "numpy", "opencv-python-headless", "matplotlib"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "absent"
    tex = shutil.which("latex")
    out["latex"] = "present" if tex else "absent"
    return out


def _concat(parts: list[Path], dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    with tmp.open("wb") as out:
        for p in parts:
            with p.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    os.replace(tmp, dest)


def _config_hash(cfg: CurateConfig, seed: int, fingerprints: dict[str, str | None]) -> str:
    """The manifest's ``config_hash``: config (minus workers), seed, input fingerprints, format version."""
    c = cfg.to_dict()
    c.pop("workers")
    return C.config_hash({"config": c, "seed": seed, "inputs": fingerprints, "format": CURATE_FORMAT_VERSION})


def _finished_hash(out: Path) -> str | None:
    """The ``config_hash`` of a finished curation in ``out`` (None: not finished)."""
    if not (out / C.SUCCESS).exists():
        return None
    try:
        return json.loads((out / C.MANIFEST).read_text()).get("config_hash")
    except (OSError, ValueError):
        return None


def _clear(out: Path, names: Any) -> None:
    for name in names:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def _prepare_out(out: Path, chash: str, overwrite: bool) -> None:
    """Refuse a foreign folder and (unless ``overwrite``) a finished curation of another config; clear an
    unfinished run of another config; keep an unfinished run of this one (it resumes)."""
    if not out.exists() or not any(out.iterdir()):
        return
    entries = {p.name for p in out.iterdir()}
    works = {n for n in entries if n.startswith(WORK)}
    if (out / C.SUCCESS).exists():
        if not overwrite:
            raise FileExistsError(f"{out} already holds a finished curation with config_hash={_finished_hash(out)}, "
                                  f"not {chash}; pass overwrite=True (CLI: overwrite=true) or choose another output")
        _clear(out, [*_OURS, *works])
        return
    if not works and not entries <= set(_OURS):
        raise FileExistsError(f"{out} is not empty and is not a curation output folder: {sorted(entries)[:5]}")
    try:
        started = (out / WORK / "config_hash").read_text().strip()
    except OSError:
        started = None
    if started != chash:  # an unfinished run of another config (or of an older version): start over
        _clear(out, [*_OURS, *works])


def curate(text_input: str | Path, output_dir: str | Path, cfg: CurateConfig | None = None,
           multimodal_input: str | Path | None = None, seed: int = 0, workers: int | None = None,
           progress: bool = True, overwrite: bool = False, rank: int = 0, world_size: int = 1,
           wait_timeout_s: float = 24 * 3600) -> CurateSummary:
    """Curate ``text_input`` (and ``multimodal_input``) into ``output_dir`` (see the module doc).

    ``workers`` defaults to ``cfg.workers``; ``None`` there too: :func:`available_cpus`. Raises
    FileNotFoundError naming a missing input and FileExistsError when ``output_dir`` holds something else; bad
    records never raise (rejected.jsonl).

    ``rank``/``world_size``: the ranks of a multi-task job curate into the same ``output_dir`` together, rank
    ``r`` taking the shards ``i % world_size == r`` (with its own ``workers``). Rank 0 prepares the folder
    (``.work/ready`` says the plan is there), does its share, waits (up to ``wait_timeout_s``) for the other
    ranks' shards and concatenates: the output is byte-identical to one process. A rank > 0 returns once its
    own shards are done (its summary counts only them; ``cached`` False): the finished folder is rank 0's.
    """
    t0 = time.perf_counter()
    cfg = cfg or CurateConfig()
    workers = cfg.workers if workers is None else int(workers)
    if workers is None:
        workers = available_cpus()
    if workers < 1:
        raise ValueError(f"workers={workers} must be >= 1")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank} with world_size={world_size}: expected 0 <= rank < world_size")
    out = Path(output_dir).resolve()
    inputs = {TEXT: Path(text_input).resolve()}
    if multimodal_input is not None:
        inputs[MULTIMODAL] = Path(multimodal_input).resolve()
    for name, p in inputs.items():
        if not p.exists():
            raise FileNotFoundError(f"{name} input not found: {p}")
    fps = {name: fingerprint(p) for name, p in inputs.items()}
    chash = _config_hash(cfg, seed, {TEXT: fps[TEXT], MULTIMODAL: fps.get(MULTIMODAL)})
    manifest_path = out / C.MANIFEST
    work = out / WORK
    if rank > 0 and not _wait_ready(out, chash, wait_timeout_s):
        return CurateSummary(out, chash, True, {}, 0.0)  # rank 0 found it finished: nothing to do here
    if _finished_hash(out) == chash:
        manifest = json.loads(manifest_path.read_text())
        log.info("curate: %s is already done (config_hash=%s)", out, chash)
        return CurateSummary(out, chash, True, manifest["counts"], manifest.get("wall_seconds", 0.0),
                             manifest.get("warnings", []), manifest.get("mix", {}))
    if rank == 0:
        _prepare_out(out, chash, overwrite)
        work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(work / "config_hash", chash + "\n")
    jsonl = {name: as_jsonl(p, work, name) for name, p in inputs.items()}
    if rank == 0 and world_size > 1:
        atomic_write_text(work / READY, chash + "\n")  # the other ranks start their shares now
    index = {name: index_jsonl(p, cfg.shard_size) for name, p in jsonl.items()}
    plan = plan_mix(index[TEXT].records, index[MULTIMODAL].records if MULTIMODAL in index else 0, cfg.mix)
    warnings = [plan.warning] if plan.warning else []
    for w in warnings:
        log.warning("curate: %s", w)
    selected = {TEXT: plan.text_selected, MULTIMODAL: plan.multimodal_selected}
    tasks: list[ShardTask] = []
    for name in (TEXT, MULTIMODAL):
        if name not in index:
            continue
        idx = index[name]
        for offset, line, ordinal in idx.shard_starts:
            tasks.append(ShardTask(len(tasks), name, str(jsonl[name]), str(inputs[name].parent if
                                   inputs[name].is_file() else inputs[name]), offset, line, ordinal,
                                   min(cfg.shard_size, idx.records - ordinal), idx.records, selected[name],
                                   str(out), str(work), seed, cfg))
    mine = shard_share(tasks, rank, world_size)
    done = {t.index: _shard_done(work, t.stem) for t in mine}
    todo = [t for t in mine if done[t.index] is None]
    if len(todo) < len(mine):
        log.info("curate: resuming, %d of %d shards already done", len(mine) - len(todo), len(mine))
    _run_tasks(todo, workers, progress, total=sum(_selected_in(t) for t in mine),
               done_records=sum(s["read"] for s in done.values() if s is not None))
    if rank > 0:
        counts_mine: dict[str, Any] = {}
        for t in mine:
            _merge(counts_mine, _shard_done(work, t.stem) or {})
        return CurateSummary(out, chash, False, _sorted_counts(counts_mine), round(time.perf_counter() - t0, 3),
                             warnings, plan.to_dict())
    if world_size > 1:
        _wait_for_shards(work, tasks, wait_timeout_s)

    counts: dict[str, Any] = {}
    for t in tasks:
        stats = _shard_done(work, t.stem)
        if stats is None:
            raise RuntimeError(f"curate: shard {t.stem} in {work} did not finish intact")
        _merge(counts, stats)
    counts["rejected_total"] = sum(counts.get("rejected", {}).values())
    counts["blank_lines"] = sum(i.blank_lines for i in index.values())
    counts = _sorted_counts(counts)
    if counts["read"] != counts["written"] + counts["rejected_total"]:
        raise AssertionError(f"curate accounting broken: read={counts['read']} written={counts['written']} "
                             f"rejected={counts['rejected_total']}")
    _concat([work / f"{t.stem}.jsonl" for t in tasks], out / C.DATA)
    _concat([work / f"{t.stem}.rejected.jsonl" for t in tasks], out / C.REJECTED)
    (out / C.IMAGES_DIR).mkdir(exist_ok=True)
    atomic_write_json(out / C.DATASET_INFO, DATASET_INFO)
    if cfg.gallery:
        from lomo_ablate.curate.gallery import write_gallery

        write_gallery(out, n=cfg.gallery_samples)
    wall = round(time.perf_counter() - t0, 3)
    manifest = {
        "config_hash": chash,
        "config": {**cfg.to_dict(), "workers": None},
        "seed": seed,
        "inputs": {name: {"path": str(p), "fingerprint": fps[name], "records": index[name].records}
                   for name, p in inputs.items()},
        "mix": plan.to_dict(),
        "counts": counts,
        "warnings": warnings,
        "versions": _versions(),
        "wall_seconds": wall,
    }
    atomic_write_json(manifest_path, manifest)
    atomic_write_text(out / C.SUCCESS, chash + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return CurateSummary(out, chash, False, counts, wall, warnings, plan.to_dict())


def shard_share(tasks: list[ShardTask], rank: int, world_size: int) -> list[ShardTask]:
    """The shards rank ``rank`` of ``world_size`` curates: every ``world_size``-th, from ``rank`` (shards are
    of equal size, so the shares are within one shard of each other)."""
    return [t for t in tasks if t.index % world_size == rank]


def _selected_in(task: ShardTask) -> int:
    """About how many instances a shard yields (for the progress bar only)."""
    return round(task.count * task.selected / task.pool_size) if task.pool_size else 0


def _wait_ready(out: Path, chash: str, timeout_s: float, poll_s: float = 0.5) -> bool:
    """A rank > 0: waits until rank 0 has prepared ``out`` for ``chash`` (True) or finished it (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if (out / WORK / READY).read_text().strip() == chash:
                return True
        except OSError:
            pass
        if _finished_hash(out) == chash:
            return False
        if time.monotonic() > deadline:
            raise TimeoutError(f"curate: rank 0 did not prepare {out} within {timeout_s} s")
        time.sleep(poll_s)


def _wait_for_shards(work: Path, tasks: list[ShardTask], timeout_s: float, poll_s: float = 0.5) -> None:
    """Rank 0: waits until every shard (the other ranks' shares too) is done intact."""
    deadline = time.monotonic() + timeout_s
    pending = [t for t in tasks if _shard_done(work, t.stem) is None]
    if pending:
        log.info("curate: waiting for %d shard(s) of the other ranks", len(pending))
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"curate: {len(pending)} shard(s) in {work} not done after {timeout_s} s "
                               f"(first: {pending[0].stem}); did a rank fail?")
        time.sleep(poll_s)
        pending = [t for t in pending if _shard_done(work, t.stem) is None]


def _worker_init() -> None:
    """One thread per worker process: the workers already use the cores, nested thread pools only contend."""
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a dependency
        pass


def _run_tasks(tasks: list[ShardTask], workers: int, progress: bool, total: int, done_records: int) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=done_records, unit="rec", desc="curate", disable=not progress,
               file=sys.stderr)
    try:
        if workers == 1 or len(tasks) <= 1:
            for t in tasks:
                bar.update(process_shard(t)["read"])
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(min(workers, len(tasks)), initializer=_worker_init) as pool:
                for stats in pool.imap_unordered(process_shard, tasks):
                    bar.update(stats["read"])
    finally:
        bar.close()


__all__ = ["CurateSummary", "ShardTask", "curate", "process_shard", "record_rng", "shard_share"]
