"""``python -m lomo_ablate``: one job on the embedded default (curate -> train -> evaluate, CPU, minutes).

    python -m lomo_ablate                                   # one job, tiny model, built-in data
    python -m lomo_ablate rewrite_ratio=0.25 position=suffix
    python -m lomo_ablate -m sweep=position                 # a paper experiment (sweeps/position.yaml)
    python -m lomo_ablate -m sweep=position dry_run=true    # grid, cache state, GPU-hours; runs nothing
    python -m lomo_ablate -m 'zip(model,trainer.lr)=[tiny,qwen3_5_9b],[1e-3,1e-5]'   # paired axes

See docs/pipeline.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lomo_ablate.pipeline.naming import register_resolvers
from lomo_ablate.pipeline.schema import register_schemas

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def _app(cfg: DictConfig) -> None:
    from lomo_ablate.pipeline.app import hydra_task

    hydra_task(cfg)


def main() -> None:
    """Console entry (``lomo-ablate``): rewrites ``zip(...)=...`` arguments, then runs the Hydra app."""
    from lomo_ablate.pipeline.grid import SweepSpecError, rewrite_zip_arguments
    from lomo_ablate.utils.logging import readable_progress

    readable_progress()  # not a terminal (a log, Slurm): progress bars redraw every ~30 s at most
    register_resolvers()
    register_schemas()  # conf/config.yaml's first default: the typed schema
    try:
        sys.argv[1:] = rewrite_zip_arguments(sys.argv[1:])
    except SweepSpecError as e:
        print(f"lomo-ablate: {e}", file=sys.stderr)
        sys.exit(2)
    _app()


if __name__ == "__main__":
    main()
