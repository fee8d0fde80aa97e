"""Attention implementation: FlashAttention where it can run, SDPA on CPU, refusal (or the configured
fallback) on CUDA without flash-attn. flash-attn is really absent here (no GPU build on this machine); the
CUDA case is decided by the device name the trainer passes, no GPU is simulated."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from lomo_ablate.models import ConfigError, ModelConfig
from lomo_ablate.models.attention import FLASH, flash_attn_installed, resolve_attention
from lomo_ablate.pipeline.validate import ConfigValidationError, validate_config

from shared_paths import REPO

pytestmark = pytest.mark.skipif(flash_attn_installed(), reason="flash-attn is installed here")


def test_cpu_runs_flash_attention_configs_with_sdpa_and_says_so():
    impl, note = resolve_attention(FLASH, None, "cpu")
    assert impl == "sdpa" and "CUDA" in note
    assert resolve_attention("eager", None, "cuda") == ("eager", None)


def test_cuda_without_flash_attn_is_refused_with_the_install_command_or_falls_back():
    with pytest.raises(ConfigError, match=r"model\.attn_implementation.*pip install.*\[gpu\].*attn_fallback=sdpa"):
        resolve_attention(FLASH, None, "cuda")
    impl, note = resolve_attention(FLASH, "sdpa", "cuda")
    assert impl == "sdpa" and "not installed" in note
    with pytest.raises(ConfigError, match="attn_fallback"):
        ModelConfig.from_dict({"attn_fallback": "flash"})


def _job(model_yaml: str, **over):
    model = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "model" / f"{model_yaml}.yaml"))
    cfg = {"seed": 0, "rewrite_ratio": 0.5, "data": {"text": "builtin", "multimodal": "builtin"},
           "curate": {"localize": {"position": "middle"}}, "cluster": {"kind": "local"},
           "model": {**model, **over.pop("model", {})}, "trainer": {"device": "cuda", **over.pop("trainer", {})}}
    return OmegaConf.create(cfg)


@pytest.mark.parametrize("yaml", ["qwen3_5_9b", "llava_onevision_1_5_8b"])
def test_validation_refuses_a_cuda_job_of_the_production_yamls_without_flash_attn(yaml):
    with pytest.raises(ConfigValidationError) as e:
        validate_config(_job(yaml), check_stages=False)
    problems = dict(e.value.problems)
    assert "pip install" in problems["model.attn_implementation"]
    validate_config(_job(yaml, model={"attn_fallback": "sdpa"}), check_stages=False)
    validate_config(_job(yaml, trainer={"device": "cpu"}), check_stages=False)
