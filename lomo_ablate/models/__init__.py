"""Models: tiny builder, locally trained tokenizer, image-only processor, the one loader, encode.

    from lomo_ablate.models import build_tiny, load_pretrained, encode, TinyModelConfig
    path = build_tiny(TinyModelConfig(), ["some text to train the tokenizer on"], "out/tiny")
    model, processor = load_pretrained(path)
    batch = encode(processor, [{"role": "user", "content": "Read <image>"},
                               {"role": "assistant", "content": "ok"}], [pil_image])
"""
from lomo_ablate.models.config import ConfigError, ModelConfig, TinyModelConfig, config_from_dict
from lomo_ablate.models.encode import IGNORE_INDEX, EncodeError, encode, image_token_mask
from lomo_ablate.models.load import load_pretrained, load_processor, resolve_dtype
from lomo_ablate.models.processor import ImageTextProcessor, set_pixel_limits
from lomo_ablate.models.tiny import build_tiny

__all__ = ["ConfigError", "ModelConfig", "TinyModelConfig", "config_from_dict", "IGNORE_INDEX", "EncodeError",
           "encode", "image_token_mask", "load_pretrained", "load_processor", "resolve_dtype",
           "ImageTextProcessor", "set_pixel_limits", "build_tiny"]
