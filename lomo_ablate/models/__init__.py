"""Models: tiny builder, locally trained tokenizer, image-only processor, the one loader, encode.

    from lomo_ablate.models import build_tiny, load_pretrained, encode, TinyModelConfig
    path = build_tiny(TinyModelConfig(), ["some text to train the tokenizer on"], "out/tiny")
    model, processor = load_pretrained(path)
    batch = encode(processor, [{"role": "user", "content": "Read <image>"},
                               {"role": "assistant", "content": "ok"}], [pil_image])
"""
from lomo_ablate.models.config import ConfigError, ModelConfig, TinyModelConfig, config_from_dict

# The heavy parts (torch, transformers) load on first use, so validating a config (a dry run of a
# 100-job sweep) does not pay for importing them.
_LAZY = {
    "IGNORE_INDEX": "encoding", "EncodeError": "encoding", "encode": "encoding", "image_token_mask": "encoding",
    "load_pretrained": "load", "load_processor": "load", "resolve_dtype": "load",
    "ImageTextProcessor": "processor", "set_pixel_limits": "processor", "build_tiny": "tiny",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"lomo_ablate.models.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lomo_ablate.models' has no attribute {name!r}")


__all__ = ["ConfigError", "ModelConfig", "TinyModelConfig", "config_from_dict", *_LAZY]
