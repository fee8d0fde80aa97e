"""A byte-level BPE tokenizer trained locally (no download) with the Qwen family's special tokens.

Byte-level BPE means every string is encodable (unknown characters fall back to bytes), so a tiny
vocabulary of a few hundred tokens still round-trips any text. The chat template is Qwen-style ChatML;
an ``{"type": "image"}`` content part becomes ``<|vision_start|><|image_pad|><|vision_end|>``.
"""
from __future__ import annotations

from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD_TOKEN = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"
#: The model-side image placeholder the chat template emits per image part (the processor expands it to one
#: token per visual token) — not the dataset's ``<image>`` slot (``lomo_ablate.contracts.IMAGE_SLOT``).
IMAGE_PAD_TOKEN, VIDEO_PAD_TOKEN = "<|image_pad|>", "<|video_pad|>"
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD_TOKEN, VIDEO_PAD_TOKEN]

# transformers trims the newline right after a template tag, hence {{ '\n' }} (FACTS.md).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] }}{{ '\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- else -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "<|im_end|>{{ '\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant{{ '\n' }}{%- endif -%}"
)


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 384) -> PreTrainedTokenizerFast:
    """Trains a byte-level BPE of at most ``vocab_size`` tokens (special tokens included) on ``corpus``."""
    if vocab_size < len(SPECIAL_TOKENS) + 256:
        raise ValueError(f"vocab_size {vocab_size} is below 256 byte tokens + {len(SPECIAL_TOKENS)} special tokens")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator((t for t in corpus if t), trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token=IM_END, pad_token=PAD_TOKEN,
        extra_special_tokens={"image_token": IMAGE_PAD_TOKEN, "video_token": VIDEO_PAD_TOKEN,
                              "vision_start_token": VISION_START, "vision_end_token": VISION_END},
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.padding_side = "right"
    return tok
