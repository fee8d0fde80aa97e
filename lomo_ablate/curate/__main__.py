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
from lomo_ablate.contracts import FILES_MANIFEST
from lomo_ablate.utils.config import check_seed
from lomo_ablate.utils.logging import drop_file_handlers
from lomo_ablate.utils.integrity import check_files_manifest, move_aside, write_files_manifest
from lomo_ablate.curate.readers import expand_pool
from lomo_ablate.curate.run import curate
from lomo_ablate.utils import locked
from lomo_ablate.pipeline.schema import register_schemas

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
register_schemas()  # conf/curate_app.yaml's first default (curate_app_schema), before hydra.main composes
log = logging.getLogger("lomo_ablate.curate")


def app_problems(cfg: DictConfig) -> list[str]:
    """What is wrong with the app's own keys (``input``, ``output``, ``seed``), each message naming its key;
    checked before any folder or lock is made."""
    problems = secret_keys_problems(cfg)
    if problems:
        return problems
    for key in ("input", "output"):
        if not cfg.get(key):
            problems.append(f"{key}=... is required (e.g. input=data/text.jsonl output=curated/)")
    try:
        check_seed("seed", cfg.get("seed"))
    except ConfigError as e:
        problems.append(str(e))
    for key in ("input", "multimodal_input"):  # a file, folder, glob, datasets folder or a list of these
        spec = cfg.get(key)
        if not spec:
            continue
        spec = OmegaConf.to_container(spec, resolve=True) if OmegaConf.is_config(spec) else spec
        try:
            expand_pool(spec, cfg.get("split"))
        except (FileNotFoundError, ValueError) as e:
            problems.append(f"{key}={spec}: {e} (cwd {Path.cwd()})")
    if cfg.get("output"):
        out = Path(cfg.output).expanduser().resolve()
        if out.exists() and not out.is_dir():
            problems.append(f"output={cfg.output}: is a file; allowed: a folder (new, or one this app wrote)")
        elif out == out.parent or out == Path.home().resolve():
            problems.append(f"output={cfg.output}: is {'the file-system root' if out == out.parent else 'your home folder'}; "
                            "allowed: a folder of its own (new, or one this app wrote)")
        elif not out.parent.is_dir():
            problems.append(f"output={cfg.output}: its parent folder {out.parent} does not exist")
    return problems


def secret_keys_problems(cfg: DictConfig) -> list[str]:
    from lomo_ablate.utils.secrets import secret_key_problem, secret_keys

    return [f"{k} (a credential): {secret_key_problem(k)}" for k in secret_keys(OmegaConf.to_container(cfg))]


def _check_previous_output(out: Path, overwrite: bool) -> list[str]:
    """A finished output whose files no longer match their manifest (``data.jsonl`` cut, an image deleted or
    truncated) is moved aside (``<output>.corrupt-<time>``), so it is curated again instead of being reported
    "cached"; with ``overwrite`` the old manifest goes (the folder is rewritten)."""
    if not (out / FILES_MANIFEST).is_file():
        return []
    why = check_files_manifest(out)
    if why is not None:
        aside = move_aside(out)
        return [f"{out} was a corrupt curation ({why}): moved to {aside} and curated again"]
    if overwrite:
        (out / FILES_MANIFEST).unlink()
    return []


def run_app(cfg: DictConfig) -> int:
    """Validate the composed config, run curation, print a one-line summary; returns an exit code."""
    problems = app_problems(cfg)
    curate_dict = OmegaConf.to_container(cfg.curate, resolve=True)
    curate_dict["workers"] = cfg.workers
    curate_dict["gallery"] = cfg.gallery
    try:
        ccfg = CurateConfig.from_dict(curate_dict)
    except ConfigError as e:
        problems.append(str(e))
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 2
    notes: list[str] = []
    try:
        # the output folder is this app's: one curation into it at a time (in the pipeline, the store locks)
        with locked(Path(cfg.output).resolve()):
            notes += _check_previous_output(Path(cfg.output), bool(cfg.get("overwrite", False)))

            def pool(v):
                return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v

            summary = curate(pool(cfg.input), cfg.output, ccfg, multimodal_input=pool(cfg.get("multimodal_input")) or None,
                             text_image_dir=cfg.get("image_dir"), multimodal_image_dir=cfg.get("multimodal_image_dir"),
                             split=cfg.get("split"),
                             seed=int(cfg.seed), workers=cfg.workers, progress=True,
                             overwrite=bool(cfg.get("overwrite", False)))
            if not summary.cached or not (Path(cfg.output) / FILES_MANIFEST).is_file():
                write_files_manifest(cfg.output)
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for n in notes:
        print(f"warning: {n}", file=sys.stderr)
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
    if code == 2:
        _remove_hydra_output()
    if code:
        sys.exit(code)


def _remove_hydra_output() -> None:
    """A rejected run leaves nothing: the folder Hydra made for it (``.hydra/`` and an empty log) goes."""
    import shutil

    from hydra.core.hydra_config import HydraConfig

    try:
        hc = HydraConfig.get()
    except ValueError:  # not under Hydra (run_app called directly)
        return
    out = Path(hc.runtime.output_dir)
    drop_file_handlers(out)
    shutil.rmtree(out / str(hc.output_subdir or ".hydra"), ignore_errors=True)
    log_file = out / f"{hc.job.name}.log"
    if log_file.is_file() and log_file.stat().st_size == 0:  # a run whose log has content keeps it
        log_file.unlink()
    for folder in (out, out.parent):  # outputs/curate/<date>/<time>, then <date> when it is empty
        try:
            folder.rmdir()
        except OSError:
            break


if __name__ == "__main__":
    main()
