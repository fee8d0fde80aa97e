"""Every config composes and validates: each option of each group, and each sweep preset with every job
of its grid (lightning-hydra-template style, through Hydra's compose API)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from lomo_ablate.pipeline.compose import compose_jobs
from lomo_ablate.pipeline.grid import expand_grid
from lomo_ablate.pipeline.jobconfig import resolved_job_config
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
SWEEPS = sorted(p.stem for p in (REPO / "sweeps").glob("*.yaml"))
PRIMARY = OmegaConf.load(CONF / "config.yaml")
GROUPS = sorted(next(iter(d)) for d in PRIMARY.defaults
                if OmegaConf.is_dict(d) and not next(iter(d)).startswith(("override", "optional")))
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]


def compose_job(overrides: list[str]):
    return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def validate_allowing_unset_partition(cfg, where: str) -> None:
    """Slurm cluster files leave the partition to the site, and a CUDA job asking for FlashAttention is refused
    where flash-attn is not installed (this machine): those (and only those) must be reported."""
    from lomo_ablate.models.attention import flash_attn_installed

    try:
        validate_config(cfg, where=where)
    except ConfigValidationError as e:
        keys = {k for k, _ in e.problems}
        here = set() if flash_attn_installed() else {"model.attn_implementation"}
        # the launcher's partition is the cluster node's (conf/cluster/slurm.yaml): the same missing value
        assert keys - here in (set(), {"cluster.partition"}, {"cluster.partition", "hydra.launcher.partition"}), str(e)
        OmegaConf.update(cfg, "cluster.partition", "debug", force_add=True)
        OmegaConf.update(cfg, "model.attn_fallback", "sdpa", force_add=True)
        validate_config(cfg, where=where)


def test_every_group_of_the_primary_config_has_options():
    for g in GROUPS:
        assert list((CONF / g).glob("*.yaml")), f"config group {g} has no options in {CONF / g}"


def test_default_config_is_valid_and_is_the_embedded_tiny_job(hydra_conf):
    cfg = compose_job([])
    validate_config(cfg)
    assert cfg.data.text == "builtin" and cfg.dry_run is False
    assert 0 < cfg.rewrite_ratio <= 1


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_group_option_composes_and_validates(hydra_conf, group, option):
    cfg = compose_job([f"{group}={option}"])
    assert cfg.hydra.runtime.choices[group] == option
    validate_allowing_unset_partition(cfg, f"{group}={option}")


def test_methods_give_the_paper_variants(hydra_conf):
    assert compose_job(["method=standard_sft"]).curate.mix.rewrite_ratio == 0
    assert compose_job(["method=full_text"]).curate.localize.position == "full"
    assert compose_job(["method=lomo_no_distortion"]).hydra.runtime.choices.distortion == "off"
    lomo = compose_job(["method=lomo"])
    assert lomo.curate.mix.rewrite_ratio > 0 and lomo.hydra.runtime.choices.distortion == "on"


def test_rewrite_ratio_accepts_any_float_from_the_command_line(hydra_conf):
    cfg = compose_job(["rewrite_ratio=0.3"])
    assert cfg.curate.mix.rewrite_ratio == 0.3
    with pytest.raises(ConfigValidationError, match="rewrite_ratio"):
        validate_config(compose_job(["rewrite_ratio=1.5"]))


def grid_of(sweep: str) -> list[list[str]]:
    cfg = compose_job([f"sweep={sweep}"])
    sw = cfg.hydra.sweeper
    params = OmegaConf.to_container(sw.params) if sw.get("params") else {}
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    return expand_grid(parsed, OmegaConf.to_container(sw.paired), OmegaConf.to_container(sw.baselines))


def sweeper_configs(sweep: str, jobs: list[list[str]]):
    """The job configs exactly as the lomo sweeper composes them before launching (compose_jobs)."""
    from hydra.core.global_hydra import GlobalHydra

    master = compose("config", overrides=[f"sweep={sweep}"], return_hydra_config=True)
    loader = GlobalHydra.instance().config_loader()
    return compose_jobs(loader, master, [[f"sweep={sweep}"] + j for j in jobs], progress=False)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_sweep_preset_composes_and_every_job_validates(hydra_conf, sweep):
    jobs = grid_of(sweep)
    assert len(jobs) >= 2, f"sweeps/{sweep}.yaml expands to {len(jobs)} job(s)"
    ratios = []
    for j, cfg in zip(jobs, sweeper_configs(sweep, jobs)):
        assert cfg.sweep_name == sweep
        validate_allowing_unset_partition(cfg, f"{sweep}: {j}")
        ratios.append(cfg.curate.mix.rewrite_ratio)
    # each experiment carries its baseline: a job with nothing rewritten (standard SFT)
    assert 0 in ratios, f"sweeps/{sweep}.yaml has no standard-SFT baseline job (rewrite_ratio 0)"
    assert any(r > 0 for r in ratios)


def test_sweeper_fast_composition_equals_hydra_full_composition(hydra_conf):
    """compose_jobs composes once per group choice and applies value overrides: same result as Hydra."""
    jobs = [["rewrite_ratio=0.25", "position=suffix", "seed=3"], ["method=full_text", "trainer.lr=0.002"],
            ["++model.tiny.hidden_size=64", "distortion=blur", "data.text_size=7"]]
    fast = sweeper_configs("rewrite_ratio", jobs)
    for j, cfg in zip(jobs, fast):
        full = compose_job(["sweep=rewrite_ratio"] + j)
        assert resolved_job_config(cfg) == resolved_job_config(full), j
        assert dict(cfg.hydra.runtime.choices) == dict(full.hydra.runtime.choices)


def test_sweep_presets_exist_for_every_paper_experiment():
    assert {"main", "components", "rewrite_ratio", "position", "mix", "scale"} <= set(SWEEPS)


def test_the_production_presets_evaluate_on_the_paper_benchmarks(hydra_conf):
    """Every preset that trains a production backbone on H200 (trainer=h200_zero1) evaluates with
    eval=paper, not the offline probe suite (issue 16): its jobs report the paper's benchmarks."""
    paper = compose_job(["eval=paper"]).eval.benchmarks
    production = []
    for sweep in SWEEPS:
        jobs = grid_of(sweep)
        for j, cfg in zip(jobs, sweeper_configs(sweep, jobs)):
            if cfg.hydra.runtime.choices.trainer != "h200_zero1":
                continue
            production.append(sweep)
            assert cfg.hydra.runtime.choices.eval == "paper", f"sweeps/{sweep}.yaml: {j}"
            assert [b.name for b in cfg.eval.benchmarks] == [b.name for b in paper]
    assert {"main", "scale"} <= set(production)


def test_the_paper_evalscope_preset_is_the_paper_list_under_the_evalscope_engine(hydra_conf):
    """eval=paper_evalscope: the same benchmarks as eval=paper, engine evalscope, no adapter
    options on the benchmarks EvalScope scores (refused there), code execution allowed explicitly."""
    from lomo_ablate.evaluate import EvalConfig
    from lomo_ablate.evaluate.engines.evalscope import uses_evalscope

    paper = compose_job(["eval=paper"]).eval
    es = compose_job(["eval=paper_evalscope"]).eval
    cfg = EvalConfig.from_dict(OmegaConf.to_container(es, resolve=True))
    cfg.validate()
    assert cfg.engine == "evalscope" and cfg.evalscope.execute_code is True
    assert sorted(b.name for b in cfg.benchmarks) == sorted(b.name for b in paper.benchmarks)
    assert all(not b.options for b in cfg.benchmarks if uses_evalscope(b.name))
    assert (cfg.max_new_tokens, cfg.batch_size) == (paper.max_new_tokens, paper.batch_size)  # the rest as eval=paper


def test_a_judge_given_on_the_command_line_reaches_the_judged_benchmarks(hydra_conf):
    """The README's `+eval.judge={...}`: composes (eval.judge is a dict, so the override merges) and reaches every
    benchmark whose adapter takes a judge; without it no benchmark has one (rule-scored)."""
    from lomo_ablate.evaluate import EvalConfig

    judge = {"base_url": "http://judge-host:8000/v1", "model": "judge", "api_key_env": "JUDGE_KEY"}
    composed = compose_job(["eval=paper", '+eval.judge={base_url: "http://judge-host:8000/v1", model: judge, '
                                          'api_key_env: JUDGE_KEY}']).eval
    cfg = EvalConfig.from_dict(OmegaConf.to_container(composed, resolve=True))
    cfg.validate()
    judged = {b.name for b in cfg.benchmarks if b.options.get("judge") == judge}
    assert {"simplevqa", "zerobench", "mm_ifeval", "mmlongbench_doc"} <= judged
    plain = EvalConfig.from_dict(OmegaConf.to_container(compose_job(["eval=paper"]).eval, resolve=True))
    assert not any(b.options.get("judge") for b in plain.benchmarks)
