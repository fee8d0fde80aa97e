"""Tiny model build/load round trip, tokenizer, and encode (slots, labels, native-size images).

Everything is real: a BPE tokenizer trained here, a random-init Qwen3.5 VLM built from config, saved with
save_pretrained and loaded back through load_pretrained (the production loading path), Pillow images.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from lomo_ablate.models import (
    ConfigError, EncodeError, ModelConfig, TinyModelConfig, build_tiny, encode, image_token_mask, load_pretrained,
    set_pixel_limits,
)
from lomo_ablate.models.tokenizer import train_tokenizer

CORPUS = ["Solve x + 2 = 4 for x. The answer is 2.", "What is shown in the picture? A cat.",
          "Compute 3 * 7 please. The product is 21."] * 5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    build_tiny(TinyModelConfig(), CORPUS, out)
    model, processor = load_pretrained(out)
    return out, model, processor


def _img(w: int, h: int, text: str = "x+2") -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    ImageDraw.Draw(img).text((2, 2), text, fill="black")
    return img


def _decode(processor, ids) -> str:
    return processor.tokenizer.decode(ids, skip_special_tokens=False)


def test_tiny_round_trip_is_production_class_and_bitwise_equal(tiny):
    out, model, processor = tiny
    assert type(model).__name__ == "Qwen3_5ForConditionalGeneration"  # the Qwen3.5-9B class
    again, processor2 = load_pretrained(out)
    for (n, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), n
    text = "Solve x + 2 = 4, then add ∑ 漢字"
    assert processor.tokenizer(text)["input_ids"] == processor2.tokenizer(text)["input_ids"]
    assert len(processor.tokenizer) <= TinyModelConfig().vocab_size
    assert (out / "config.json").is_file() and (out / "lomo_processor.json").is_file()


def test_tiny_builds_deterministically_from_seed(tmp_path):
    a = build_tiny(TinyModelConfig(seed=3), CORPUS, tmp_path / "a")
    b = build_tiny(TinyModelConfig(seed=3), CORPUS, tmp_path / "b")
    ma, _ = load_pretrained(a)
    mb, _ = load_pretrained(b)
    assert all(torch.equal(x, y) for x, y in zip(ma.state_dict().values(), mb.state_dict().values()))


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60))
def test_byte_level_tokenizer_round_trips_any_text(text):
    tok = _TOK
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


_TOK = train_tokenizer(CORPUS, 300)


def test_encode_places_image_tokens_at_the_slot_and_labels_only_the_answer(tiny):
    _, _, processor = tiny
    img = _img(64, 32)
    messages = [{"role": "user", "content": "Solve <image> for x."}, {"role": "assistant", "content": "x = 2"}]
    enc = encode(processor, messages, [img])
    ids = enc["input_ids"]
    mask = image_token_mask(processor, ids)
    grid = enc["image_grid_thw"][0]
    assert int(mask.sum()) == int(grid.prod()) // processor.image_processor.merge_size ** 2
    first = int(mask.nonzero()[0])
    assert _decode(processor, ids[:first]).endswith("user\nSolve <|vision_start|>")
    last = int(mask.nonzero()[-1])
    assert _decode(processor, ids[last + 1:]).startswith("<|vision_end|> for x.")
    assert _decode(processor, ids[enc["labels"] != -100]) == "x = 2<|im_end|>"  # content + end token
    assert torch.equal(enc["mm_token_type_ids"].bool(), mask)
    out = tiny[1](**{k: (v[None] if v.ndim == 1 else v) for k, v in enc.items()})
    assert torch.isfinite(out.loss)


def test_two_slots_interleave_in_order_and_multi_turn_labels(tiny):
    _, _, processor = tiny
    a, b = _img(32, 32, "A"), _img(96, 32, "B")
    messages = [{"role": "user", "content": "first <image> then <image> end"},
                {"role": "assistant", "content": "one"},
                {"role": "user", "content": "again?"},
                {"role": "assistant", "content": "two"}]
    enc = encode(processor, messages, [a, b])
    mask = image_token_mask(processor, enc["input_ids"]).tolist()
    runs = [len(r) for r in "".join("1" if m else "0" for m in mask).split("0") if r]
    merge = processor.image_processor.merge_size ** 2
    assert runs == [int(g.prod()) // merge for g in enc["image_grid_thw"]]  # A's tokens, then B's
    assert runs[1] > runs[0]  # native size: the wider image gets more tokens
    assert _decode(processor, enc["input_ids"][enc["labels"] != -100]) == "one<|im_end|>two<|im_end|>"


def test_pixel_cap_limits_image_tokens(tiny, tmp_path):
    out, _, _ = tiny
    _, processor = load_pretrained(out)
    big = _img(512, 128)
    msgs = [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "ok"}]
    before = int(image_token_mask(processor, encode(processor, msgs, [big])["input_ids"]).sum())
    set_pixel_limits(processor, max_pixels=128 * 64)
    enc = encode(processor, msgs, [big])
    after = int(image_token_mask(processor, enc["input_ids"]).sum())
    assert after == int(enc["image_grid_thw"].prod()) // processor.image_processor.merge_size ** 2  # pixels agree
    assert after < before
    assert after * (processor.image_processor.patch_size * processor.image_processor.merge_size) ** 2 <= 128 * 64


def test_generation_prompt_has_no_labels_and_ends_with_assistant_turn(tiny):
    _, _, processor = tiny
    enc = encode(processor, [{"role": "user", "content": "Solve <image>"}], [_img(32, 32)], add_generation_prompt=True)
    assert "labels" not in enc
    assert _decode(processor, enc["input_ids"]).endswith("<|im_start|>assistant\n")


def test_encode_refuses_mismatch_and_overlong_instead_of_mis_training(tiny):
    _, _, processor = tiny
    msgs = [{"role": "user", "content": "<image> and <image>"}, {"role": "assistant", "content": "x"}]
    with pytest.raises(EncodeError, match="2 <image> slot"):
        encode(processor, msgs, [_img(16, 16)])
    with pytest.raises(EncodeError, match="max_length 10"):
        encode(processor, [{"role": "user", "content": "a long question " * 5},
                           {"role": "assistant", "content": "y"}], [], max_length=10)
    with pytest.raises(EncodeError, match="image placeholders"):  # a literal image token in text is no slot
        encode(processor, [{"role": "user", "content": "hi <|image_pad|>"}, {"role": "assistant", "content": "y"}], [])


def test_model_config_from_dict_rejects_unknown_keys_by_name():
    cfg = ModelConfig.from_dict({"name_or_path": "tiny", "tiny": {"patch_size": 16, "hidden_size": 64}})
    assert cfg.tiny.patch_size == 16 and cfg.tiny.hidden_size == 64
    with pytest.raises(ConfigError, match=r"unknown key\(s\) '[\w.]*freeze'.*allowed:.*frozen"):
        ModelConfig.from_dict({"freeze": ["model.visual.*"]})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'model\.tiny\.patch'"):
        ModelConfig.from_dict({"tiny": {"patch": 8}})


def test_patch_size_16_builds_and_runs(tmp_path):
    out = build_tiny(TinyModelConfig(patch_size=16, num_position_embeddings=64), CORPUS, tmp_path / "p16")
    model, processor = load_pretrained(out)
    enc = encode(processor, [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "ok"}],
                 [_img(64, 32)])
    assert int(image_token_mask(processor, enc["input_ids"]).sum()) == (64 // 32) * (32 // 32)
    loss = model(**{k: (v[None] if v.ndim == 1 else v) for k, v in enc.items()}).loss
    assert torch.isfinite(loss)
