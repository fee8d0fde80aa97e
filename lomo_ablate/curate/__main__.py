"""Stand-alone curation app (Hydra front door over :func:`lomo_ablate.curate.curate`).

    python -m lomo_ablate.curate input=text.jsonl output=out/ position=middle distortion=on \\
        rewrite_ratio=0.5 seed=0 workers=2 [multimodal_input=mm.jsonl] [gallery=true] \\
        [image_dir=IMGS] [multimodal_image_dir=IMGS] [split=train]

Config: conf/curate_app.yaml with the curate, render, position, distortion, scale and mix groups.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lomo_ablate.curate.config import ConfigError, CurateConfig
from lomo_ablate.curate.run import curate
from lomo_ablate.utils import locked
from lomo_ablate.pipeline.schema import register_schemas

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
register_schemas()  # conf/curate_app.yaml's first default (curate_app_schema), before hydra.main composes
log = logging.getLogger("lomo_ablate.curate")


def run_app(cfg: DictConfig) -> int:
    """Validate the composed config, run curation, print a one-line summary; returns an exit code."""
    for key in ("input", "output"):
        if not cfg.get(key):
            print(f"error: {key}=... is required (e.g. input=data/text.jsonl output=curated/)", file=sys.stderr)
            return 2
    curate_dict = OmegaConf.to_container(cfg.curate, resolve=True)
    curate_dict["workers"] = cfg.workers
    curate_dict["gallery"] = cfg.gallery
    try:
        ccfg = CurateConfig.from_dict(curate_dict)
        # the output folder is this app's: one curation into it at a time (in the pipeline, the store locks)
        with locked(Path(cfg.output).resolve()):
            def pool(v):
                return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v

            summary = curate(pool(cfg.input), cfg.output, ccfg, multimodal_input=pool(cfg.get("multimodal_input")) or None,
                             text_image_dir=cfg.get("image_dir"), multimodal_image_dir=cfg.get("multimodal_image_dir"),
                             split=cfg.get("split"),
                             seed=int(cfg.seed), workers=cfg.workers, progress=True,
                             overwrite=bool(cfg.get("overwrite", False)))
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    c = summary.counts
    print(f"curate: {'cached' if summary.cached else 'done'} → {summary.output_dir} "
          f"(read {c['read']}, written {c['written']}, rewritten {c['rewritten']}, "
          f"rejected {c['rejected_total']}, {summary.wall_seconds:.1f}s, config_hash={summary.config_hash})")
    m = summary.mix
    pool = m.get("text_pool", 0) + m.get("multimodal_pool", 0)
    taken = m.get("text_selected", 0) + m.get("multimodal_selected", 0)
    if taken < pool:
        print(f"note: scale={taken} took {taken} of {pool} input records "
              f"(curate.mix.scale=null keeps every record)", file=sys.stderr)
    for w in summary.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="curate_app")
def main(cfg: DictConfig) -> None:
    code = run_app(cfg)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
