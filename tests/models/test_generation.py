"""Greedy batched generation (lomo_ablate.models.generation) on a real tiny random Qwen3.5-family VLM built
from config (no weights downloaded; nothing mocked)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lomo_ablate.contracts import IMAGE_SLOT
from lomo_ablate.data import probe_items
from lomo_ablate.models import Prompt, generate
from lomo_ablate.models.generation import left_pad_batch


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from lomo_ablate.models import TinyModelConfig, build_tiny, load_pretrained

    corpus = [f"{it.question} {it.answer}" for _, it in probe_items(120, 0)]
    return load_pretrained(build_tiny(TinyModelConfig(), corpus, tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def prompts():
    """The probe suite's questions as one user turn each (image first where the task has one)."""
    out = []
    for _, it in probe_items(10, 3):
        images = [it.image.convert("RGB")] if it.image is not None else []
        out.append(Prompt([{"role": "user", "content": (IMAGE_SLOT + "\n") * len(images) + it.question}], images))
    return out


def test_greedy_generation_is_deterministic_and_batch_invariant(loaded, prompts):
    model, processor = loaded
    batched = generate(model, processor, prompts, batch_size=5, max_new_tokens=4, progress=False)
    again = generate(model, processor, prompts, batch_size=5, max_new_tokens=4, progress=False)
    single = [generate(model, processor, [p], batch_size=1, max_new_tokens=4, progress=False)[0]
              for p in prompts[:7]]
    assert batched == again
    assert batched[:7] == single  # left padding does not change any answer
    assert len(batched) == len(prompts)


def test_left_padding_puts_every_prompt_flush_right():
    a = {"input_ids": torch.tensor([5, 6, 7]), "attention_mask": torch.ones(3, dtype=torch.long),
         "pixel_values": torch.zeros(4, 2)}
    b = {"input_ids": torch.tensor([8]), "attention_mask": torch.ones(1, dtype=torch.long)}
    batch = left_pad_batch([a, b], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["pixel_values"].shape == (4, 2)  # per-image tensors are concatenated, not padded


def test_bad_batch_size_is_refused(loaded, prompts):
    model, processor = loaded
    with pytest.raises(ValueError, match="batch_size and max_new_tokens must be >= 1"):
        generate(model, processor, prompts[:1], batch_size=0, progress=False)


def test_building_prompts_loads_no_torch():
    """Prompt (and evaluation's protocols and configs) import without torch: a sweep's dry run stays cheap."""
    code = ("import sys; from lomo_ablate.models import Prompt; import lomo_ablate.evaluate as e; "
            "import lomo_ablate.evaluate.protocols; e.EvalConfig.from_dict({'protocols': ['rendered_0.33']}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
