"""Models: tiny builder, locally trained tokenizer, image-only processor, the one loader, encode, generate.

    from lomo_ablate.models import build_tiny, load_pretrained, encode, TinyModelConfig
    path = build_tiny(TinyModelConfig(), ["some text to train the tokenizer on"], "out/tiny")
    model, processor = load_pretrained(path)
    batch = encode(processor, [{"role": "user", "content": "Read <image>"},
                               {"role": "assistant", "content": "ok"}], [pil_image])
    answers = generate(model, processor, [Prompt([{"role": "user", "content": "Read <image>"}], [pil_image])])
"""
from lomo_ablate.models.config import ConfigError, ModelConfig, ReadingConfig, TinyModelConfig, config_from_dict
from lomo_ablate.utils.lazy import lazy_exports

# The heavy parts (torch, transformers) load on first use, so validating a config (a dry run of a
# 100-job sweep) does not pay for importing them.
_LAZY = {
    "IGNORE_INDEX": "encoding", "EncodeError": "encoding", "encode": "encoding", "image_token_mask": "encoding",
    "load_pretrained": "load", "load_processor": "load", "resolve_dtype": "load", "save_pretrained": "load",
    "compose_processor": "load", "WeightsNotLoadedError": "load", "strip_reasoning": "generation",
    "ImageTextProcessor": "processor", "set_pixel_limits": "processor", "build_tiny": "tiny",
    "Prompt": "generation", "generate": "generation", "encode_prompts": "generation", "left_pad_batch": "generation",
}

__getattr__ = lazy_exports(__name__, _LAZY, globals())

__all__ = ["ConfigError", "ModelConfig", "ReadingConfig", "TinyModelConfig", "config_from_dict", *_LAZY]
