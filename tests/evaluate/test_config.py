"""EvalConfig (lomo_ablate.evaluate.config): keys and types named by dotted key, cross-field checks, the
conf/eval presets, and what each benchmark entry hands its adapter."""
from __future__ import annotations

import math
import subprocess
import sys

import pytest

from lomo_ablate.evaluate import BenchmarkSpec, EvalConfig
from lomo_ablate.utils.config import ConfigError

PROTOCOLS = ["standard", "rendered_0.33", "rendered_0.67", "rendered"]


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'eval.protocol' in eval; allowed: benchmarks, protocols"):
        EvalConfig.from_dict({"protocol": ["standard"]})
    with pytest.raises(ValueError, match="rendered_2"):
        EvalConfig.from_dict({"protocols": ["rendered_2"]})
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'eval.mir.layers' in eval.mir"):
        EvalConfig.from_dict({"mir": {"layers": 3}})
    with pytest.raises(ValueError, match="listed twice"):
        EvalConfig.from_dict({"benchmarks": ["probe", "probe"]})
    assert EvalConfig.from_dict({"benchmarks": ["probe"]}).benchmarks[0].name == "probe"
    assert not math.isnan(EvalConfig().carrier_bins)


@pytest.mark.parametrize("name", ["probe", "paper"])
def test_eval_config_group_files_build_an_eval_config(name, monkeypatch):
    """conf/eval/<name>.yaml, with the job's curation render settings, is a valid EvalConfig."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from lomo_ablate.render import RenderConfig

    conf = Path(__file__).resolve().parents[2] / "conf"
    monkeypatch.setenv("LOMO_BENCH_DIR", "/data/bench")
    render = OmegaConf.load(conf / "render" / "default.yaml")
    root = OmegaConf.create({"curate": {"render": render}, "eval": OmegaConf.load(conf / "eval" / f"{name}.yaml")})
    cfg = EvalConfig.from_dict(OmegaConf.to_container(root.eval, resolve=True))
    assert RenderConfig.from_dict(cfg.render) == RenderConfig.from_dict(OmegaConf.to_container(render))
    assert any(b.name == "probe" for b in cfg.benchmarks)
    if name == "paper":
        files = [b for b in cfg.benchmarks if b.name != "probe"]
        assert len(files) >= 10 and all(b.path.startswith("/data/bench/") for b in files)
    else:
        assert [b.name for b in cfg.benchmarks] == ["probe"]
        assert cfg.protocols == PROTOCOLS


def test_bad_values_are_refused_at_config_time_naming_the_key():
    """Caught by a sweep's dry run, not hours later inside the evaluate stage."""
    cases = {r"eval.benchmarks\[0\].name: unknown benchmark 'mmlu'": {"benchmarks": ["mmlu"]},
             r"eval.benchmarks\[1\]: 'gsm8k' needs a path": {"benchmarks": ["probe", {"name": "gsm8k"}]},
             "eval.batch_size must be >= 1": {"batch_size": 0},
             "eval.chunk_size must be >= 1": {"chunk_size": 0},
             "eval.mir.max_tokens must be >= 1": {"mir": {"max_tokens": 0}},
             "eval.paired.n must be >= 1": {"paired": {"n": 0}},
             r"eval.protocols\[1\]: unknown protocol 'rendred'": {"protocols": ["standard", "rendred"]},
             "eval.protocols must not be empty": {"protocols": []},
             r"eval.max_new_tokens: expected an integer, got 'many'": {"max_new_tokens": "many"}}
    for message, d in cases.items():
        with pytest.raises(ConfigError, match=message):
            EvalConfig.from_dict(d)


def test_each_benchmark_gets_its_own_options():
    """The probe suite takes n/seed/tasks itself; a file benchmark's n caps the rows read."""
    probe = BenchmarkSpec.from_dict({"name": "probe", "n": 7, "seed": 3, "options": {"strict": False}})
    assert probe.adapter_options() == {"strict": False, "n": 7, "seed": 3}
    gsm = BenchmarkSpec.from_dict({"name": "gsm8k", "path": "g.jsonl", "n": 5, "options": {"strict": False}})
    assert gsm.adapter_options() == {"strict": False, "limit": 5}


def test_checking_a_config_loads_no_torch():
    code = ("import sys; from lomo_ablate.evaluate import EvalConfig; "
            "EvalConfig.from_dict({'benchmarks': ['probe', {'name': 'mmmu', 'path': 'x'}]}); "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
