"""The two production backbones through the production path, on tiny copies of their real architectures.

Qwen3.5-9B (native ``Qwen3_5ForConditionalGeneration``) and LLaVA-OneVision-1.5-8B (hub remote code, run
unmodified under the pinned transformers): tiny random-init checkpoints built from the real ``config.json``
(dims shrunk, every structural field kept), the real chat templates and processor configs, small BPE
tokenizers with the real special tokens (``$LOMO_SHARED/fixtures/real_models/SOURCES.md``). Nothing is
mocked: load_pretrained -> encode (single-turn, multi-turn, interleaved, multi-image) -> the YAMLs' freeze
patterns -> train -> save -> reload -> generate -> score. Skipped when the shared folder is absent.
"""
from __future__ import annotations

import copy
import inspect
import json
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image, ImageDraw

from lomo_ablate.evaluate.benchmarks.scoring import match_short_answer
from lomo_ablate.models import settings
from lomo_ablate.models import ModelConfig, Prompt, encode, generate, load_pretrained, save_pretrained
from lomo_ablate.models.attention import resolve_attention
from lomo_ablate.models.encoding import IGNORE_INDEX, split_slots
from lomo_ablate.models.load import WeightsNotLoadedError
from lomo_ablate.train.config import TrainerConfig
from lomo_ablate.train.trainer import apply_freeze, train

from shared_paths import REPO

FAMILIES = {"qwen3_5_9b": ("qwen3_5_9b/tiny", "qwen3_5_9b"),
            "llava_ov_1_5_8b": ("llava_ov_1_5_8b/tiny", "llava_onevision_1_5_8b")}
FIXTURE = {"qwen3_5_9b": "qwen", "llava_ov_1_5_8b": "llava"}
END = "<|im_end|>"  # the end-of-turn token of both real templates
#: how each real template writes an assistant content: Qwen3.5's trims it (``|trim``), Qwen2-VL's verbatim
WRITES = {"qwen3_5_9b": str.strip, "llava_ov_1_5_8b": lambda s: s}


def _img(w: int, h: int, text: str) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    ImageDraw.Draw(img).text((4, 4), text, fill="black")
    return img


def conversations() -> dict[str, tuple[list[dict], list[Image.Image]]]:
    return {
        "single_turn": ([{"role": "user", "content": "What is 6 x 9? <image>"},
                         {"role": "assistant", "content": "54"}], [_img(64, 64, "6x9")]),
        "multi_turn": ([{"role": "user", "content": "<image>What is 6 x 9?"},
                        {"role": "assistant", "content": "54"},
                        {"role": "user", "content": "And 7 x 8?"},
                        {"role": "assistant", "content": " It is 56. "}], [_img(64, 64, "6x9 7x8")]),
        "interleaved": ([{"role": "user", "content": "Read the line <image> and then answer: which number?"},
                         {"role": "assistant", "content": "The number is 12."}], [_img(128, 48, "12")]),
        "multi_image": ([{"role": "user", "content": "<image><image> left vs <image>: which is largest?"},
                         {"role": "assistant", "content": "the third"},
                         {"role": "user", "content": "Why?"},
                         {"role": "assistant", "content": "It has the most dots."}],
                        [_img(32, 32, "."), _img(64, 32, ".."), _img(96, 48, "...")]),
    }


def model_cfg(root: Path, family: str, **over) -> ModelConfig:
    """The family's conf/model YAML (flash_attention_2 included: SDPA on CPU), pointed at the tiny fixture,
    in float32."""
    folder, yaml = FAMILIES[family]
    d = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "model" / f"{yaml}.yaml"))
    d.update(name_or_path=str(root / folder), dtype="float32", **over)
    return ModelConfig.from_dict(d)


def load(root: Path, family: str, **kwargs):
    cfg = model_cfg(root, family)
    return load_pretrained(cfg.name_or_path, dtype=cfg.dtype, trust_remote_code=cfg.trust_remote_code,
                           attn_implementation=resolve_attention(cfg.attn_implementation, None, "cpu")[0],
                           chat_template_kwargs=kwargs.get("chat_template_kwargs", cfg.chat_template_kwargs),
                           strip_reasoning=cfg.strip_reasoning)


@pytest.fixture(scope="module")
def qwen(real_models):
    return load(real_models, "qwen3_5_9b")


@pytest.fixture(scope="module")
def llava(real_models):
    return load(real_models, "llava_ov_1_5_8b")


def _label_runs(labels: torch.Tensor) -> list[list[int]]:
    runs: list[list[int]] = []
    for i, v in enumerate(labels.tolist()):
        if v == IGNORE_INDEX:
            continue
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def check_against_template(processor, messages, images, enc, template_kwargs, writes) -> None:
    """Token by token against the real template's own rendering of the same conversation: the real
    processors render, expand each image placeholder to its image's token count, and tokenize."""
    tok = processor.tokenizer
    structured, _ = split_slots(messages)
    rendered = tok.apply_chat_template(structured, tokenize=False, **template_kwargs)
    merge = processor.image_processor.merge_size ** 2
    counts = [int(g.prod()) // merge for g in enc["image_grid_thw"]] if images else []
    pieces = rendered.split(processor.image_token)
    assert len(pieces) == len(images) + 1
    expanded = pieces[0] + "".join(processor.image_token * n + p for n, p in zip(counts, pieces[1:]))
    assert enc["input_ids"].tolist() == tok(expanded, add_special_tokens=False)["input_ids"]
    labelled = enc["labels"] != IGNORE_INDEX
    assert torch.equal(enc["labels"][labelled], enc["input_ids"][labelled])
    runs = [tok.decode(enc["input_ids"][r].tolist(), skip_special_tokens=False) for r in _label_runs(enc["labels"])]
    assert runs == [writes(m["content"]) + END for m in messages if m["role"] == "assistant"]
    # the last turn is trained after exactly the prompt generation will give the model
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    gen = encode(processor, messages[:last], images, add_generation_prompt=True)["input_ids"]
    first_label = _label_runs(enc["labels"])[-1][0]
    assert enc["input_ids"][:first_label].tolist() == gen.tolist()


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("kind", list(conversations()))
def test_encode_labels_match_the_real_template_token_by_token(family, kind, request):
    model, processor = request.getfixturevalue(FIXTURE[family])
    messages, images = conversations()[kind]
    enc = encode(processor, messages, images)
    check_against_template(processor, messages, images, enc, {"enable_thinking": False}, WRITES[family])
    out = model(**{k: (v[None] if k in ("input_ids", "attention_mask", "labels", "mm_token_type_ids") else v)
                   for k, v in enc.items()})
    assert torch.isfinite(out.loss)


def test_qwen35_multi_turn_trains_every_turn_although_the_template_drops_think_blocks(qwen):
    """The real Qwen3.5 template is not prefix-wise (earlier turns lose their think block); with thinking
    on (its default) the generation prompt ends in an open <think>, so the trained prefix and the
    generation prompt disagree — hence model.chat_template_kwargs defaults to enable_thinking: false."""
    _, processor = qwen
    messages, images = conversations()["multi_turn"]
    structured, _ = split_slots(messages)
    tmpl = processor.tokenizer.apply_chat_template
    through_first = tmpl(structured[:2], tokenize=False)
    assert not tmpl(structured, tokenize=False).startswith(through_first)  # not prefix-wise
    enc = encode(processor, messages, images)
    runs = [processor.tokenizer.decode(enc["input_ids"][r].tolist()) for r in _label_runs(enc["labels"])]
    assert runs == ["54" + END, "It is 56." + END]
    assert "<think>" not in "".join(runs)
    assert processor.tokenizer.decode(
        encode(processor, messages[:1], images, add_generation_prompt=True)["input_ids"][-12:]
    ).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    thinking = copy.copy(processor)
    settings.attach(thinking, settings.TextSettings(chat_template_kwargs={}))  # the template's default
    gen = encode(thinking, messages[:3], images, add_generation_prompt=True)["input_ids"]
    assert thinking.tokenizer.decode(gen[-8:]).endswith("assistant\n<think>\n")
    full = encode(thinking, messages, images)
    first_label = _label_runs(full["labels"])[-1][0]
    # thinking on: the rest of the empty think block sits between the prompt and the labels, so the
    # model would have to produce "</think>" untrained (and an answer decoding to "</think>\n\n56")
    assert thinking.tokenizer.decode(full["input_ids"][len(gen):first_label]) == "\n</think>\n\n"


def test_llava_forward_takes_no_mm_token_type_ids_so_encode_leaves_them_out(qwen, llava):
    messages, images = conversations()["single_turn"]
    assert "mm_token_type_ids" in encode(qwen[1], messages, images)
    enc = encode(llava[1], messages, images)
    assert "mm_token_type_ids" not in enc
    assert set(enc) <= set(inspect.signature(llava[0].forward).parameters)


def test_yaml_freeze_patterns_match_the_real_parameter_names(qwen, llava):
    for (model, _), family in ((qwen, "qwen3_5_9b"), (llava, "llava_ov_1_5_8b")):
        cfg = model_cfg(Path("/"), family)
        n_train, n_total = apply_freeze(model, cfg.frozen, cfg.trainable)
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        visual = {n for n, _ in model.named_parameters() if n.startswith("model.visual.")}
        merger = {n for n in visual if n.startswith("model.visual.merger.")}
        assert merger and frozen == visual - merger, family
        assert 0 < n_train < n_total
        for p in model.parameters():
            p.requires_grad_(True)


def test_llava_remote_code_mends_are_each_in_effect(real_models, llava):
    """Each transformers-5 incompatibility of the hub remote code, as handled by models.compat."""
    from transformers import AutoConfig, AutoModelForImageTextToText
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    folder = str(real_models / FAMILIES["llava_ov_1_5_8b"][0])
    model, _ = llava
    assert type(model).__module__.startswith("transformers_modules")  # the hub code itself
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    with pytest.raises(ValueError, match="Unrecognized configuration class"):  # auto_map lacks the entry
        AutoModelForImageTextToText.from_pretrained(folder, config=config, trust_remote_code=True)
    assert "AutoModelForImageTextToText" not in config.auto_map
    assert not hasattr(config.text_config, "pad_token_id")  # what the remote code reads
    assert model.config.text_config.pad_token_id is None
    assert model.model.language_model.embed_tokens.padding_idx is None
    assert "default" not in ROPE_INIT_FUNCTIONS  # the global table is untouched ...
    rotary = model.model.language_model.rotary_emb
    tc = model.config.text_config
    dim = tc.head_dim
    expected = 1.0 / (tc.rope_theta ** (torch.arange(0, dim, 2).float() / dim))
    assert torch.allclose(rotary.inv_freq, expected)  # ... the remote module got transformers 4's default
    assert torch.allclose(rotary.original_inv_freq, expected)
    vision = model.model.visual.rotary_pos_emb  # non-persistent buffers are rebuilt, not left uninitialised
    vdim = 2 * vision.inv_freq.numel()
    assert torch.allclose(vision.inv_freq, 1.0 / (10000.0 ** (torch.arange(0, vdim, 2).float() / vdim)))
    assert model._tied_weights_keys == {"lm_head.weight": "model.language_model.embed_tokens.weight"}
    assert model.lm_head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()  # not tied (config)


def _rewrite_checkpoint(src: Path, dst: Path, rename) -> None:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    dst.chmod(0o755)
    for f in dst.iterdir():
        f.chmod(0o644)
    state = load_file(str(src / "model.safetensors"))
    save_file({rename(k): v for k, v in state.items() if rename(k)}, str(dst / "model.safetensors"),
              metadata={"format": "pt"})


def test_llava_4x_layout_checkpoint_loads_into_the_right_weights(real_models, llava, tmp_path):
    """transformers 5 ignores the remote _checkpoint_conversion_mapping: without the mend a 4.x-layout
    checkpoint loads with the whole language model random; with it every weight is the checkpoint's."""
    src = real_models / FAMILIES["llava_ov_1_5_8b"][0]

    def to_4x(k: str) -> str:
        return k.replace("model.language_model.", "model.", 1).replace("model.visual.", "visual.", 1)

    _rewrite_checkpoint(src, tmp_path / "v4", to_4x)
    model, _ = load_pretrained(tmp_path / "v4", trust_remote_code=True)
    ref = llava[0].state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, ref[k]), k


def test_load_refuses_a_checkpoint_that_lacks_trainable_weights(real_models, tmp_path):
    src = real_models / FAMILIES["qwen3_5_9b"][0]
    _rewrite_checkpoint(src, tmp_path / "partial", lambda k: None if ".merger." in k else k)
    with pytest.raises(WeightsNotLoadedError, match=r"missing.*model\.visual\.merger\."):
        load_pretrained(tmp_path / "partial")
    _rewrite_checkpoint(src, tmp_path / "extra", lambda k: k.replace("model.visual.", "model.vision.", 1))
    with pytest.raises(WeightsNotLoadedError, match=r"missing.*unexpected.*model\.vision\."):
        load_pretrained(tmp_path / "extra")


def write_dataset(root: Path, answer: str, n: int = 8) -> Path:
    """n records of the four shapes (single-turn, multi-turn, interleaved, multi-image), the single-turn
    one asking for ``answer``."""
    (root / "images").mkdir(parents=True)
    lines = []
    convs = conversations()
    convs["single_turn"][0][1]["content"] = answer
    kinds = list(convs)
    for i in range(n):
        messages, images = convs[kinds[i % len(kinds)] if i % 2 else "single_turn"]
        rels = []
        for j, im in enumerate(images):
            rels.append(f"images/{i}_{j}.png")
            im.save(root / rels[-1])
        lines.append(json.dumps({"id": f"r{i}", "messages": messages, "images": rels}))
    (root / "data.jsonl").write_text("\n".join(lines) + "\n")
    (root / "_SUCCESS").write_text("")
    return root


@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_save_reload_generate_score(family, real_models, tmp_path):
    """The whole production path with the family's YAML: frozen vision tower stays bit-identical, the
    rest trains, final/ reloads with the same weights and settings, and greedy answers score."""
    answer = "54"
    data = write_dataset(tmp_path / "data", answer)
    cfg = model_cfg(real_models, family, strip_reasoning=True)
    result = train(data, tmp_path / "run", cfg,
                   TrainerConfig(lr=1e-2, min_lr=1e-2, warmup_ratio=0.0, max_steps=60 if family.startswith("llava") else 30, per_device_batch_size=4,
                                 epochs=8, device="cpu", progress=False, max_seq_len=2048), seed=0)
    assert result.skipped == 0 and result.num_samples == 8  # every multi-turn record is trained
    runtime = json.loads((tmp_path / "run" / "runtime.json").read_text())  # result.json's metrics.train
    assert runtime["attn_requested"] == "flash_attention_2" and runtime["attn_implementation"] == "sdpa"
    assert "CUDA" in runtime["attn_note"]
    losses = [json.loads(x)["loss"] for x in result.metrics_path.read_text().splitlines()]
    assert losses[-1] < losses[0] / 2
    before, _ = load_pretrained(cfg.name_or_path, trust_remote_code=cfg.trust_remote_code)
    model, processor = load_pretrained(result.final_dir, trust_remote_code=cfg.trust_remote_code)
    assert processor.lomo_settings.strip_reasoning is True
    assert processor.lomo_settings.chat_template_kwargs == {"enable_thinking": False}
    ref = before.state_dict()
    for name, value in model.state_dict().items():
        frozen = name.startswith("model.visual.") and ".merger." not in name
        assert torch.equal(value, ref[name]) == frozen, name
    messages, images = conversations()["single_turn"]
    prompt = [Prompt(messages[:1], images)]
    pred = generate(model, processor, prompt, max_new_tokens=32, progress=False)[0]
    raw = processor.tokenizer.decode(model.generate(**{k: (v[None] if v.ndim == 1 else v) for k, v in encode(
        processor, messages[:1], images, add_generation_prompt=True).items()}, do_sample=False, max_new_tokens=32)[0])
    if family.startswith("qwen"):
        assert pred == "54" and match_short_answer(pred, 54) == 1.0, raw
    else:  # the tiny LLaVA copy learns the answer but not yet to stop after it in 60 CPU steps ("5454...")
        assert pred.startswith("54") and raw.count("<|im_start|>assistant\n54") == 1, raw
    if family.startswith("qwen"):  # thinking on: the answer follows a think block the model must close itself
        thinking = copy.copy(processor)
        settings.attach(thinking, settings.TextSettings(chat_template_kwargs={}, strip_reasoning=True))
        raw_thinking = processor.tokenizer.decode(model.generate(**{k: (v[None] if v.ndim == 1 else v) for k, v in
                                                                    encode(thinking, messages[:1], images,
                                                                           add_generation_prompt=True).items()},
                                                                 do_sample=False, max_new_tokens=32)[0])
        stripped = generate(model, thinking, prompt, max_new_tokens=32, progress=False)[0]
        assert "think>" not in stripped, raw_thinking
    again = save_pretrained(model, processor, tmp_path / "again")
    model2, _ = load_pretrained(again, trust_remote_code=cfg.trust_remote_code)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))
