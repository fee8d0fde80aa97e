"""The shipped reader: the embedded default's reading stage, made once by this command and shipped as package
data, so a first run does not spend minutes teaching the same tiny model to read.

The reading stage (``read`` in the store) depends on neither the job seed nor the method: every user of the
embedded default computes the same reader. ``python -m lomo_ablate.pipeline.shipped_reader build`` runs that
stage through the store exactly as a job does (Hydra composes ``conf/config.yaml`` with the given overrides)
and copies what the SFT and the report read — ``train/final/`` (the reader) and ``reading.json`` (its
transcription check) — into ``lomo_ablate/data/reader/``, beside ``shipped.json``: the command, the store key,
the key's inputs and the transcription score.

A job whose planned read key equals the shipped key starts from it: the read stage (:func:`lomo_ablate.pipeline.
stages.run_read`) calls :func:`lomo_ablate.data.reading.seed_reader`, which copies the shipped reader
into ``<store>/read/<key>/`` (logged) instead of computing it. Any change to what the
stage computes (the tiny model, the renderer, the reading budget, the trainer's device settings, the code salt)
changes the key, so the shipped reader is simply not used and the stage runs as before; ``tests/pipeline/
test_shipped_reader.py`` fails until the package data is rebuilt with the command recorded in ``shipped.json``.

    python -m lomo_ablate.pipeline.shipped_reader build            # rebuild the package data (~7 min, 2 cores)
    python -m lomo_ablate.pipeline.shipped_reader check            # shipped key == the key conf/ computes?
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig

from lomo_ablate import contracts as C
from lomo_ablate.data.reading import SHIPPED_READER, SHIPPED_RECORD, shipped_reader_record, transcription_score
from lomo_ablate.pipeline.store import Store
from lomo_ablate.utils.fs import atomic_dir, atomic_write_json

log = logging.getLogger("lomo_ablate.pipeline")
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
READ = "read"
#: The command recorded in shipped.json (what rebuilds the package data).
COMMAND = "python -m lomo_ablate.pipeline.shipped_reader build"


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The main app's config (``conf/config.yaml``) with ``overrides``, as ``python -m lomo_ablate`` composes it."""
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lomo_ablate.pipeline.naming import register_resolvers
    from lomo_ablate.pipeline.schema import register_schemas

    register_resolvers()
    register_schemas()
    was = GlobalHydra.instance().is_initialized()
    if was:
        return hydra_compose(config_name="config", overrides=list(overrides))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def read_plan(cfg: DictConfig) -> Any:
    """The read stage's :class:`~lomo_ablate.pipeline.registry.StagePlan` of the job ``cfg`` (None: no reader)."""
    from lomo_ablate.pipeline.stages import plan

    return next((p for p in plan(cfg) if p.name == READ), None)


def build(overrides: Sequence[str] = (), out: Path = SHIPPED_READER, store_dir: Path | None = None) -> dict:
    """Runs the read stage of the config ``overrides`` compose to through a store (``store_dir``, default
    ``<cfg.store_dir>``) and writes the shipped copy into ``out``. Returns the record written to shipped.json."""
    from lomo_ablate.pipeline import stages as st
    from lomo_ablate.pipeline.registry import StageContext

    cfg = compose(overrides)
    p = read_plan(cfg)
    if p is None:
        raise SystemExit("the composed config has no reading stage (model.tiny.reading.steps is 0?)")
    store = Store(store_dir or cfg.store_dir)
    t0 = time.perf_counter()
    res = store.get_or_compute(READ, p.inputs, lambda o: st.compute_read(StageContext(cfg=cfg, out=o, inputs={})),
                               resumable=True)
    seconds = time.perf_counter() - t0
    if (res.path / SHIPPED_RECORD).is_file():
        raise SystemExit(f"{res.path} was seeded from the shipped reader, not computed: build into an empty "
                         "store (--store-dir)")
    reading = json.loads((res.path / C.READING).read_text())
    record = {"command": COMMAND + "".join(f" {o}" for o in overrides), "key": p.key, "inputs": p.inputs,
              "reading": reading, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seconds": None if res.cached else round(seconds, 1)}
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        shutil.copytree(st.reader_dir(res.path), tmp / "train" / C.FINAL)
        shutil.copy2(res.path / C.READING, tmp / C.READING)
        atomic_write_json(tmp / SHIPPED_RECORD, record)
    return record


def check(overrides: Sequence[str] = (), source: Path = SHIPPED_READER) -> tuple[bool, str]:
    """(shipped key == the key the composed config computes, a sentence saying so)."""
    record = shipped_reader_record(source)
    p = read_plan(compose(overrides))
    if p is None:
        return False, "the composed config has no reading stage"
    if record is None:
        return False, f"no shipped reader in {source}; make it with `{COMMAND}`"
    if record["key"] != p.key:
        return False, (f"the shipped reader ({source}, key {record['key']}) is not the reader conf/ computes "
                       f"(key {p.key}): rebuild it with `{record.get('command') or COMMAND}`")
    return True, f"the shipped reader {source} has the key conf/ computes ({p.key})"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lomo_ablate.pipeline.shipped_reader", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["build", "check"])
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of conf/config.yaml (default: none)")
    ap.add_argument("--out", type=Path, default=SHIPPED_READER, help="where the shipped copy goes")
    ap.add_argument("--store-dir", type=Path, default=None, help="the store the stage runs in")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.action == "check":
        ok, msg = check(args.overrides, args.out)
        print(msg)
        return 0 if ok else 1
    record = build(args.overrides, args.out, args.store_dir)
    print(json.dumps({k: record[k] for k in ("command", "key", "seconds")}),
          f"transcription: {transcription_score(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
