"""An image-only image–text processor: tokenizer + image processor, no video processor.

Qwen-family processors cannot be constructed here without torchvision (their video processor needs it,
FACTS.md), and ``AutoProcessor.from_pretrained`` on such a folder silently returns only the tokenizer.
``ImageTextProcessor`` offers the part of the HF processor interface that ``encode`` uses
(``tokenizer``, ``image_processor``, ``image_token``, ``image_token_id``, ``apply_chat_template``,
``_get_num_multimodal_tokens``, ``model_input_names``, ``save_pretrained``/``from_pretrained``), so the
tiny model and production models go through the very same encode path.

A saved folder is marked by ``lomo_processor.json``; ``load_pretrained`` uses this class for such folders
and ``AutoProcessor`` otherwise.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

MARKER_FILE = "lomo_processor.json"


class ImageTextProcessor:
    """Tokenizer + image processor with a named image placeholder token."""

    def __init__(self, tokenizer: Any, image_processor: Any, image_token: str,
                 model_input_names: Sequence[str] = ("input_ids", "attention_mask", "mm_token_type_ids")):
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.image_token = image_token
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise ValueError(f"image token {image_token!r} is not in the tokenizer's vocabulary")
        self.model_input_names = list(model_input_names)
        self.chat_template = tokenizer.chat_template

    def apply_chat_template(self, conversation: list[dict], tokenize: bool = False,
                            add_generation_prompt: bool = False, **kwargs: Any) -> str:
        return self.tokenizer.apply_chat_template(conversation, tokenize=tokenize,
                                                  add_generation_prompt=add_generation_prompt, **kwargs)

    def _get_num_multimodal_tokens(self, image_sizes: Sequence[Sequence[int]] | None = None, **_: Any) -> dict:
        """Number of LM tokens per image of (height, width), the way the HF processors report it."""
        merge = getattr(self.image_processor, "merge_size", 1)
        patches = [self.image_processor.get_number_of_image_patches(h, w, {}) for h, w in (image_sizes or [])]
        return {"num_image_tokens": [p // merge**2 for p in patches], "num_image_patches": patches}

    def save_pretrained(self, save_directory: str | Path) -> None:
        out = Path(save_directory)
        out.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(out)
        self.image_processor.save_pretrained(out)
        (out / MARKER_FILE).write_text(json.dumps(
            {"processor_class": type(self).__name__, "image_token": self.image_token,
             "model_input_names": self.model_input_names}, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: Any) -> "ImageTextProcessor":
        path = Path(path)
        try:
            meta = json.loads((path / MARKER_FILE).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path / MARKER_FILE}: unreadable processor marker ({e})") from e
        from lomo_ablate.models.compat import check_torchvision

        check_torchvision()  # before transformers' image processors import a broken torchvision
        from transformers import AutoImageProcessor, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        image_processor = AutoImageProcessor.from_pretrained(path, **kwargs)
        return cls(tokenizer, image_processor, meta["image_token"],
                   meta.get("model_input_names", ("input_ids", "attention_mask")))

    def __repr__(self) -> str:
        return (f"ImageTextProcessor(image_token={self.image_token!r}, tokenizer={type(self.tokenizer).__name__}, "
                f"image_processor={type(self.image_processor).__name__})")


def set_pixel_limits(processor: Any, max_pixels: int | None = None, min_pixels: int | None = None) -> None:
    """Sets the per-image pixel cap/floor of a native-resolution image processor (``size`` in pixels).

    Raises ValueError when the image processor resizes to a fixed size and so has no pixel cap.
    """
    if max_pixels is None and min_pixels is None:
        return
    ip = processor.image_processor
    size = getattr(ip, "size", None)

    def get(key: str) -> Any:
        return size.get(key) if isinstance(size, dict) else getattr(size, key, None)

    def put(key: str, value: int) -> None:
        if isinstance(size, dict):
            size[key] = value
        else:
            setattr(size, key, value)

    if get("longest_edge") is None or get("shortest_edge") is None:
        raise ValueError(f"{type(ip).__name__} has no pixel cap (size={size}); "
                         "unset model.max_pixels/min_pixels for this model")
    if max_pixels is not None:
        put("longest_edge", int(max_pixels))
    if min_pixels is not None:
        put("shortest_edge", int(min_pixels))
