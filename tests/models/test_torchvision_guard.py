"""torchvision: installed-but-broken is named before transformers trips over it; absent, Qwen-family
processors are composed from the folder's own parts (this machine and CI have no torchvision).

The broken install is a real package on sys.path whose import fails the way the CUDA wheel does beside
the CPU torch (``operator torchvision::nms does not exist``), with its dist-info, in a subprocess."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

from lomo_ablate.models.compat import torchvision_available
from lomo_ablate.models.load import load_processor
from lomo_ablate.models.processor import ImageTextProcessor


def test_a_broken_torchvision_is_named_with_the_build_to_install(tmp_path):
    site = tmp_path / "site"
    (site / "torchvision").mkdir(parents=True)
    (site / "torchvision" / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n')
    meta = site / "torchvision-0.29.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: torchvision\nVersion: 0.29.1\n")
    code = textwrap.dedent("""
        import torch
        from lomo_ablate.models import load_pretrained
        from lomo_ablate.models.compat import TorchvisionBuildError
        try:
            load_pretrained("does-not-matter")
        except TorchvisionBuildError as e:
            print("REFUSED", e, "| torch", torch.__version__)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "REFUSED" in out.stdout, out.stderr[-2000:]
    msg = out.stdout
    assert "torchvision 0.29.1 is installed but cannot be imported" in msg
    assert "torchvision::nms" in msg and "pip uninstall torchvision" in msg
    torch_version = msg.rsplit("| torch", 1)[1].strip()
    minor = int(torch_version.split(".")[1])
    assert f"torchvision==0.{minor + 15}.*" in msg  # 0.28 for torch 2.13
    if "+cpu" in torch_version:
        assert "download.pytorch.org/whl/cpu" in msg


@pytest.mark.skipif(torchvision_available(), reason="torchvision is installed: AutoProcessor is used")
def test_without_torchvision_the_processor_is_composed_from_the_folder(real_models, caplog):
    with caplog.at_level(logging.INFO, logger="lomo_ablate.models.load"):
        qwen = load_processor(real_models / "qwen3_5_9b" / "tiny")
        llava = load_processor(real_models / "llava_ov_1_5_8b" / "tiny")
    assert isinstance(qwen, ImageTextProcessor) and isinstance(llava, ImageTextProcessor)
    assert "composed" in caplog.text and "torchvision" in caplog.text
    assert qwen.image_token == llava.image_token == "<|image_pad|>"  # tokenizer's / config's image_token_id
    assert type(qwen.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    real = (real_models / "qwen3_5_9b" / "tiny" / "chat_template.jinja").read_text()
    assert qwen.tokenizer.chat_template == real
    # LLaVA's template is the processor's (chat_template.json), not the tokenizer's
    assert "You are a helpful assistant." in llava.tokenizer.chat_template
    assert qwen.image_processor.merge_size == 2 and qwen.image_processor.patch_size == 16
