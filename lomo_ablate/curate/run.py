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

import dataclasses
import json
import logging
import multiprocessing as mp
import os
import platform
import shutil
import sys
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lomo_ablate.curate.assemble import assemble_content, check_slots, escape_placeholders, split_to_fit
from lomo_ablate.curate.config import CurateConfig, available_cpus
from lomo_ablate.curate.io import (Rejection, dataset_info, Sample, dumps_record, index_jsonl, parse_record,
                                   read_lines)
from lomo_ablate.curate.media import MediaProblem, place
from lomo_ablate.curate.readers import Segment, expand_pool, locate, materialize, pool_fingerprint
from lomo_ablate.curate.localize import locate_spans
from lomo_ablate.curate.mix import copies, estimate_image_fraction, plan_mix, should_rewrite, unit_hash
from lomo_ablate import contracts as C
from lomo_ablate.utils import atomic_write_json, atomic_write_text, locked, stable_hash

log = logging.getLogger(__name__)

#: Bumped when the output format or the per-record procedure changes, so old caches are not reused.
CURATE_FORMAT_VERSION = 3
TEXT, MULTIMODAL = "text", "multimodal"
RENDER_CHUNK = 64
#: The folder inside ``OUT`` that holds the shards of an unfinished run (removed when it finishes).
WORK = ".work"
#: In ``.work``: the config hash of the run rank 0 has prepared (a multi-rank curation's go signal).
READY = "ready"
#: What a curation output folder may hold (anything else: a foreign folder, never cleared).
_OURS = (C.DATA, C.DATA_SPLIT_LINK, C.REJECTED, C.MANIFEST, C.DATASET_INFO, C.SUCCESS, C.IMAGES_DIR,
         C.VIDEOS_DIR, C.GALLERY)


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
    segments: list[Segment]
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
    rewrite_ratio: float = 0.5

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


class _SlotProblem(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _escape_video(text: str) -> tuple[str, int]:
    n = text.count(C.VIDEO_SLOT)
    return (text.replace(C.VIDEO_SLOT, C.ESCAPED_VIDEO_SLOT) if n else text), n


def _record(task: ShardTask, sample: Sample, c: int, out_dir: Path, image_mode: str,
            stats: dict[str, Any]) -> dict[str, Any]:
    """The output record of one instance (not yet rewritten): its images and videos checked and placed in
    ``out_dir``, slots checked against them. Raises MediaProblem/_SlotProblem for the record's rejection."""
    line = sample.line
    rid = f"{task.source}:{line}" + (f"#{c}" if c else "")
    meta: dict[str, Any] = {"source": task.source, "line": line, "file": sample.file,
                            "file_line": sample.file_line, "rewritten": False}
    if "id" in sample.extra:
        meta["input_id"] = sample.extra["id"]
    if "meta" in sample.extra:
        meta["input_meta"] = sample.extra["meta"]
    if c:
        meta["copy"] = c
    if c == 0:
        stats["control_chars_stripped"] += sample.control_chars_stripped
    messages = [dict(m) for m in sample.messages]
    record: dict[str, Any] = {"id": rid, "messages": messages, "images": [], "meta": meta}
    if "tools" in sample.extra:
        record["tools"] = sample.extra["tools"]
    if sample.videos:
        slots = sum(m["content"].count(C.VIDEO_SLOT) for m in messages)
        if slots != len(sample.videos):
            raise _SlotProblem("video_slot_mismatch",
                               f"record {rid}: {slots} <video> slot(s) but {len(sample.videos)} video(s)")
        record["videos"] = [place(v, out_dir, image_mode, kind="video") for v in sample.videos]
    if sample.images:  # image-bearing record: its slots are real, its (checked) images go into OUT
        try:
            check_slots(messages, sample.images, rid)
        except ValueError as e:
            raise _SlotProblem("placeholder_mismatch", str(e)) from None
        record["images"] = [place(ref, out_dir, image_mode) for ref in sample.images]
        return record
    if task.source == MULTIMODAL and any(C.IMAGE_SLOT in m["content"] for m in messages):
        raise _SlotProblem("placeholder_mismatch", f"record {rid}: <image> slot(s) but no image")
    for m in messages:
        m["content"], n = escape_placeholders(m["content"])
        stats["placeholders_escaped"] += n
        if not sample.videos:
            m["content"], _ = _escape_video(m["content"])
    return record


def process_shard(task: ShardTask) -> dict[str, Any]:
    """Curate one shard; returns (and writes, last) its stats. Never raises for a bad record."""
    cfg, out_dir, work_dir = task.cfg, Path(task.out_dir), Path(task.work_dir)
    stats: dict[str, Any] = {"read": 0, "written": 0, "rewritten": 0, "rejected": Counter(), "renderer": Counter(),
                             "math_fallbacks": 0, "distortion": Counter(), "placeholders_escaped": 0,
                             "control_chars_stripped": 0, "images": 0, "image_bearing": 0, "with_tools": 0, "with_videos": 0,
                             "by_source": {task.source: Counter()}}
    records: list[dict] = []
    rejected: list[dict] = []
    pending: list[tuple[int, Sample, int, list[tuple[int, int]]]] = []  # (slot, sample, copy, spans)
    image_mode = cfg.image_mode

    def add_reject(r: Rejection) -> None:
        stats["rejected"][r.reason] += 1
        rejected.append(r.to_dict())

    firsts = [seg.first for seg in task.segments]
    for k, (line, raw) in enumerate(read_lines(Path(task.path), task.offset, task.first_line, task.count)):
        n_copies = copies(task.first_ordinal + k, task.pool_size, task.selected)
        if n_copies == 0:
            continue
        seg, file_line = locate(task.segments, firsts, line)
        parsed = parse_record(raw, task.source, line, Path(seg.root), cfg.turn, cfg.max_chars, seg.file, file_line)
        for c in range(n_copies):
            stats["read"] += 1
            stats["by_source"][task.source]["read"] += 1
            if isinstance(parsed, Rejection):
                add_reject(parsed)
                continue
            try:
                record = _record(task, parsed, c, out_dir, image_mode, stats)
            except MediaProblem as e:
                add_reject(Rejection(task.source, line, e.reason, e.detail[:300], seg.file, file_line))
                continue
            except _SlotProblem as e:
                add_reject(Rejection(task.source, line, e.reason, str(e)[:300], seg.file, file_line))
                continue
            except Exception as e:  # noqa: BLE001 - a bad record never stops the run
                add_reject(Rejection(task.source, line, "processing_error", f"{type(e).__name__}: {e}"[:300],
                                     seg.file, file_line))
                continue
            records.append(record)
            sample = parsed
            if (task.source == TEXT and not record["images"] and not record.get("videos")
                    and should_rewrite(task.seed, task.source, line, c, task.rewrite_ratio)):
                text = sample.messages[sample.turn]["content"]
                lc = cfg.localize
                try:
                    spans = locate_spans(text, lc.position, lc.min_sentences, lc.multi_span_images,
                                         lc.max_block_chars, lc.latex_commands)
                    # a span longer than one image holds becomes several images, in order (slots = images)
                    spans = split_to_fit(text, spans, _tools(cfg)[0].fits, lc.max_block_chars, lc.latex_commands)
                except Exception as e:  # noqa: BLE001 - a bad record never stops the run
                    records.pop()
                    add_reject(Rejection(task.source, line, "processing_error", f"{type(e).__name__}: {e}",
                                         seg.file, file_line))
                    continue
                if spans:
                    pending.append((len(records) - 1, sample, c, spans))

    if pending:
        renderer, distorter = _tools(cfg)
        tex_before = renderer.tex_stats()  # the renderer lives as long as its worker: this shard's share is a delta
        texts = [s.messages[s.turn]["content"][a:b] for _, s, _, spans in pending for a, b in spans]
        results = _render_lazily(renderer, texts)
        drop: set[int] = set()
        for slot, sample, c, spans in pending:
            record, line = records[slot], sample.line
            outcome = [next(results) for _ in spans]
            errors = [r for r in outcome if isinstance(r, Exception)]
            if errors:
                add_reject(Rejection(task.source, line, "render_error", f"{type(errors[0]).__name__}: {errors[0]}",
                                     sample.file, sample.file_line))
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
                add_reject(Rejection(task.source, line, "processing_error", f"{type(e).__name__}: {e}",
                                     sample.file, sample.file_line))
                drop.add(slot)
                continue
            for result, info in zip(outcome, infos):
                stats["renderer"][result.renderer] += 1
                stats["math_fallbacks"] += result.fallback_reason is not None
                stats["distortion"][info.get("op", "none")] += 1
            # the whole turn's escapes were counted above; a literal <image> inside a span is drawn, not escaped
            stats["placeholders_escaped"] += escaped - escape_placeholders(text)[1]
            record["messages"][sample.turn]["content"] = _escape_video(content)[0]
            record["images"] = images
            record["meta"].update({"rewritten": True, "position": cfg.localize.position, "turn": sample.turn,
                                   "spans": [list(sp) for sp in spans],
                                   "renderer": [r.renderer for r in outcome],
                                   "fallback": [r.fallback_reason for r in outcome],
                                   "distortion": [{"op": str(i.get("op", "none")),
                                                   "params": json.dumps(i.get("params", {}), sort_keys=True)}
                                                  for i in infos]})
            check_slots(record["messages"], record["images"], record["id"])
        records = [r for i, r in enumerate(records) if i not in drop]
        stats["tex"] = {k: round(v - tex_before.get(k, 0), 3) for k, v in renderer.tex_stats().items()}

    lines, kept = [], []
    for r in records:
        try:
            lines.append(dumps_record(r) + "\n")
            kept.append(r)
        except (ValueError, TypeError, RecursionError) as e:  # strict JSON: nothing unserializable is written
            m = r["meta"]
            add_reject(Rejection(task.source, m["line"], "processing_error", f"{type(e).__name__}: {e}"[:300],
                                 m["file"], m["file_line"]))
    for r in kept:
        stats["written"] += 1
        stats["by_source"][task.source]["written"] += 1
        stats["images"] += len(r["images"])
        stats["image_bearing"] += bool(r["images"])
        stats["with_tools"] += "tools" in r
        stats["with_videos"] += bool(r.get("videos"))
        if r["meta"]["rewritten"]:
            stats["rewritten"] += 1
            stats["by_source"][task.source]["rewritten"] += 1
    rejected_total = sum(stats["rejected"].values())
    assert stats["read"] == stats["written"] + rejected_total, (task.stem, stats)
    sizes = {
        "jsonl": _write_file(work_dir / f"{task.stem}.jsonl", "".join(lines)),
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


def curate(text_input: Any, output_dir: str | Path, cfg: CurateConfig | None = None,
           multimodal_input: Any = None, seed: int = 0, workers: int | None = None,
           progress: bool = True, overwrite: bool = False, rank: int = 0, world_size: int = 1,
           wait_timeout_s: float = 24 * 3600, share_only: bool = False,
           text_image_dir: str | Path | None = None, multimodal_image_dir: str | Path | None = None,
           split: str | None = None) -> CurateSummary:
    """Curate ``text_input`` (and ``multimodal_input``) into ``output_dir`` (see the module doc).

    A pool is a file, a folder of shards, a glob, a ``datasets`` folder or a list of these
    (:func:`lomo_ablate.curate.readers.expand_pool`; ``split`` picks a DatasetDict split).
    ``text_image_dir``/``multimodal_image_dir``: the root relative image paths of that pool resolve against
    (default: the folder of each input file); nothing outside it is read (:mod:`lomo_ablate.curate.media`).

    ``workers`` defaults to ``cfg.workers``; ``None`` there too: :func:`available_cpus`. Raises
    FileNotFoundError naming a missing input and FileExistsError when ``output_dir`` holds something else; bad
    records never raise (rejected.jsonl).

    ``rank``/``world_size``: the ranks of a multi-task job curate into the same ``output_dir`` together, rank
    ``r`` taking the shards ``i % world_size == r`` (with its own ``workers``). Rank 0 prepares the folder
    (``.work/ready`` says the plan is there), does its share, waits (up to ``wait_timeout_s``) for the other
    ranks' shards and concatenates: the output is byte-identical to one process. A rank > 0 returns once its
    own shards are done (its summary counts only them; ``cached`` False): the finished folder is rank 0's.

    ``share_only``: curate rank ``rank``'s share and return, coordinating with no other rank: the call
    prepares the folder itself (under a lock beside it) and waits for nobody, so the shares may run at any
    time and in any order (the tasks of a Slurm array). A later call without it finds those shards done and
    concatenates (byte-identical to one process).
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
    specs = {TEXT: text_input}
    if multimodal_input is not None:
        specs[MULTIMODAL] = multimodal_input
    roots = {TEXT: text_image_dir, MULTIMODAL: multimodal_image_dir}
    for name, root in roots.items():
        if root is not None and not Path(root).is_dir():
            raise FileNotFoundError(f"{name} image root is not a folder: {Path(root).resolve()}")
    files = {}
    for name, spec in specs.items():
        try:
            files[name] = expand_pool(spec, split)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{name} input: {e}") from None
        if roots[name] is not None:  # one root for the whole pool
            r = str(Path(roots[name]).resolve())
            files[name] = [dataclasses.replace(f, root=r) for f in files[name]]
    fps = {name: pool_fingerprint(fl) for name, fl in files.items()}
    chash = _config_hash(cfg, seed, {TEXT: fps[TEXT], MULTIMODAL: fps.get(MULTIMODAL)})
    manifest_path = out / C.MANIFEST
    work = out / WORK
    if rank > 0 and not share_only and not _wait_ready(out, chash, wait_timeout_s):
        return CurateSummary(out, chash, True, {}, 0.0)  # rank 0 found it finished: nothing to do here
    if _finished_hash(out) == chash:
        manifest = json.loads(manifest_path.read_text())
        log.info("curate: %s is already done (config_hash=%s)", out, chash)
        return CurateSummary(out, chash, True, manifest["counts"], manifest.get("wall_seconds", 0.0),
                             manifest.get("warnings", []), manifest.get("mix", {}))
    with locked(out.parent / f".{out.name}.prepare") if share_only else nullcontext():
        if rank == 0 or share_only:
            _prepare_out(out, chash, overwrite)
            work.mkdir(parents=True, exist_ok=True)
            atomic_write_text(work / "config_hash", chash + "\n")
            for name, fl in files.items():
                materialize(fl, work, name)
    if rank == 0 and world_size > 1 and not share_only:
        atomic_write_text(work / READY, chash + "\n")  # the other ranks start their shares now
    pools = {name: materialize(fl, work, name) for name, fl in files.items()}
    jsonl = {name: p for name, (p, _) in pools.items()}
    index = {name: index_jsonl(p, cfg.shard_size) for name, p in jsonl.items()}
    mm_image_fraction = (estimate_image_fraction(jsonl[MULTIMODAL], index[MULTIMODAL])
                         if MULTIMODAL in index and cfg.mix.image_fraction is not None else None)
    plan = plan_mix(index[TEXT].records, index[MULTIMODAL].records if MULTIMODAL in index else 0, cfg.mix,
                    mm_image_fraction)
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
            tasks.append(ShardTask(len(tasks), name, str(jsonl[name]), pools[name][1], offset, line, ordinal,
                                   min(cfg.shard_size, idx.records - ordinal), idx.records, selected[name],
                                   str(out), str(work), seed, cfg, plan.text_rewrite_ratio))
    mine = shard_share(tasks, rank, world_size)
    done = {t.index: _shard_done(work, t.stem) for t in mine}
    todo = [t for t in mine if done[t.index] is None]
    if len(todo) < len(mine):
        log.info("curate: resuming, %d of %d shards already done", len(mine) - len(todo), len(mine))
    _run_tasks(todo, workers, progress, total=sum(_selected_in(t) for t in mine),
               done_records=sum(s["read"] for s in done.values() if s is not None))
    if rank > 0 or share_only:
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
    # TeX time varies from run to run: the manifest's "tex" (beside wall_seconds), not a count
    tex = {k: round(v, 3) for k, v in sorted(counts.pop("tex", {}).items())}
    counts["rejected_total"] = sum(counts.get("rejected", {}).values())
    counts["blank_lines"] = sum(i.blank_lines for i in index.values())
    counts = _sorted_counts(counts)
    if counts["read"] != counts["written"] + counts["rejected_total"]:
        raise AssertionError(f"curate accounting broken: read={counts['read']} written={counts['written']} "
                             f"rejected={counts['rejected_total']}")
    _concat([work / f"{t.stem}.jsonl" for t in tasks], out / C.DATA)
    _link_split(out)
    _concat([work / f"{t.stem}.rejected.jsonl" for t in tasks], out / C.REJECTED)
    (out / C.IMAGES_DIR).mkdir(exist_ok=True)
    atomic_write_json(out / C.DATASET_INFO, dataset_info(counts))
    if cfg.gallery:
        from lomo_ablate.curate.gallery import write_gallery

        write_gallery(out, n=cfg.gallery_samples)
    wall = round(time.perf_counter() - t0, 3)
    manifest = {
        "config_hash": chash,
        "config": {**cfg.to_dict(), "workers": None},
        "seed": seed,
        "inputs": {name: {"spec": [str(x) for x in (specs[name] if isinstance(specs[name], (list, tuple))
                                                     else [specs[name]])],
                          "files": [f.path for f in files[name]][:1000], "file_count": len(files[name]),
                          "image_root": str(roots[name]) if roots[name] is not None else None,
                          "fingerprint": fps[name], "records": index[name].records}
                   for name in files},
        "mix": {**plan.to_dict(), "realised_image_fraction":
                round(counts.get("image_bearing", 0) / counts["written"], 6) if counts["written"] else None},
        "counts": counts,
        "warnings": warnings,
        "versions": _versions(),
        "tex": {**tex, "run_budget_s_per_worker": cfg.render.tex_run_budget_s},
        "wall_seconds": wall,
    }
    atomic_write_json(manifest_path, manifest)
    atomic_write_text(out / C.SUCCESS, chash + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return CurateSummary(out, chash, False, counts, wall, warnings, manifest["mix"])


def _link_split(out: Path) -> None:
    """``train.jsonl`` → ``data.jsonl`` (relative symlink; a hard link where symlinks fail): see
    :data:`lomo_ablate.contracts.DATA_SPLIT_LINK`."""
    link = out / C.DATA_SPLIT_LINK
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        os.symlink(C.DATA, link)
    except OSError:
        os.link(out / C.DATA, link)


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


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel sends this process SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), so no worker
    keeps writing into a folder whose lock died with the parent. Elsewhere: nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return
    if os.getppid() != parent:  # the parent died before the call took effect
        os._exit(1)


def _worker_init(parent: int | None = None) -> None:
    """One thread per worker process: the workers already use the cores, nested thread pools only contend.
    Workers die with their parent (:func:`_die_with_parent`)."""
    if parent is not None:
        _die_with_parent(parent)
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
            with ctx.Pool(min(workers, len(tasks)), initializer=_worker_init, initargs=(os.getpid(),)) as pool:
                for stats in pool.imap_unordered(process_shard, tasks):
                    bar.update(stats["read"])
    finally:
        bar.close()


__all__ = ["CurateSummary", "ShardTask", "curate", "process_shard", "record_rng", "shard_share"]
