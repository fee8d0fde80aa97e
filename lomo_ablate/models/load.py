"""The one loading path for production models (hub id or folder) and saved tiny models alike, and the one
saving path (``save_pretrained``: model + processor + the text settings that travel with them).

Loading checks what transformers only warns about: a trainable weight that the checkpoint did not provide
(missing, unexpected or mis-shaped keys beyond the tied ones) is an error naming the keys. Remote code
written for older transformers is mended at load time by :mod:`lomo_ablate.models.compat`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from lomo_ablate.models import compat
from lomo_ablate.models import settings as S
from lomo_ablate.models.processor import MARKER_FILE, ImageTextProcessor

log = logging.getLogger(__name__)


class WeightsNotLoadedError(ValueError):
    """The checkpoint does not provide every weight of the model (it would train from random values)."""


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | str | None:
    """``"bfloat16"``/``"bf16"``/``"float32"``/``"auto"``/None/torch.dtype -> what from_pretrained takes."""
    if dtype is None or isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    aliases = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16"}
    name = aliases.get(dtype, dtype)
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use bfloat16, float16, float32 or auto")
    return value


# ------------------------------------------------------------------------------------------- processor
def _folder_file(path_or_hub_id: str | Path, name: str) -> Path | None:
    from transformers.utils import cached_file

    found = cached_file(str(path_or_hub_id), name, _raise_exceptions_for_missing_entries=False,
                        _raise_exceptions_for_connection_errors=False)
    return Path(found) if found else None


def _folder_chat_template(path_or_hub_id: str | Path, tokenizer: Any) -> str:
    """The processor's chat template as AutoProcessor finds it (chat_template.jinja, chat_template.json,
    processor_config.json), else the tokenizer's."""
    jinja = _folder_file(path_or_hub_id, "chat_template.jinja")
    if jinja is not None:
        return jinja.read_text()
    for name in ("chat_template.json", "processor_config.json"):
        f = _folder_file(path_or_hub_id, name)
        if f is not None:
            template = json.loads(f.read_text()).get("chat_template")
            if template:
                return template
    if tokenizer.chat_template:
        return tokenizer.chat_template
    raise ValueError(f"{path_or_hub_id}: no chat template (chat_template.jinja/.json, processor_config.json or "
                     "the tokenizer's)")


def _image_token(path_or_hub_id: str | Path, tokenizer: Any, config: Any) -> str:
    """The image placeholder: the tokenizer's ``image_token``, else the token of the config's
    ``image_token_id`` (they must agree when both exist)."""
    named = getattr(tokenizer, "image_token", None)
    if config is not None:
        token_id = getattr(config, "image_token_id", None)
    else:  # the folder's config.json as written (no remote code needed to read one id)
        found = _folder_file(path_or_hub_id, "config.json")
        token_id = json.loads(found.read_text()).get("image_token_id") if found is not None else None
    by_id = tokenizer.convert_ids_to_tokens(int(token_id)) if token_id is not None else None
    if named and by_id and named != by_id:
        raise ValueError(f"{path_or_hub_id}: the tokenizer's image_token {named!r} is not the config's "
                         f"image_token_id {token_id} ({by_id!r})")
    if not (named or by_id):
        raise ValueError(f"{path_or_hub_id}: neither the tokenizer nor the config names the image token")
    return named or by_id


def compose_processor(path_or_hub_id: str | Path, config: Any = None, trust_remote_code: bool = False) -> ImageTextProcessor:
    """What ``AutoProcessor`` composes for a Qwen-family folder, minus the video processor: the folder's own
    image processor (Pillow version without torchvision), tokenizer and chat template."""
    from transformers import AutoImageProcessor, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path_or_hub_id), trust_remote_code=trust_remote_code)
    image_processor = AutoImageProcessor.from_pretrained(str(path_or_hub_id), trust_remote_code=trust_remote_code)
    tokenizer.chat_template = _folder_chat_template(path_or_hub_id, tokenizer)
    processor = ImageTextProcessor(tokenizer, image_processor, _image_token(path_or_hub_id, tokenizer, config))
    log.info("%s: torchvision is not importable, so AutoProcessor cannot build the video processor; composed %r "
             "from the folder's image processor, tokenizer and chat template", path_or_hub_id, processor)
    return processor


def load_processor(path_or_hub_id: str | Path, trust_remote_code: bool = False, config: Any = None) -> Any:
    """Image-only ``ImageTextProcessor`` for folders that carry its marker; ``AutoProcessor`` when torchvision
    imports; else the folder's image processor + tokenizer + chat template (:func:`compose_processor`)."""
    path = Path(path_or_hub_id)
    if (path / MARKER_FILE).is_file():
        return ImageTextProcessor.from_pretrained(path)
    if not compat.torchvision_available():
        return compose_processor(path_or_hub_id, config, trust_remote_code)
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(path_or_hub_id), trust_remote_code=trust_remote_code)
    if not hasattr(processor, "image_processor"):
        raise ValueError(f"{path_or_hub_id}: AutoProcessor returned {type(processor).__name__} without an image "
                         "processor; save the model with lomo_ablate's ImageTextProcessor instead")
    return processor


# ----------------------------------------------------------------------------------------------- model
def _check_loaded(path_or_hub_id: str | Path, model: Any, info: dict[str, Any]) -> None:
    tied = set(getattr(model, "all_tied_weights_keys", None) or {})
    buffers = {n for n, _ in model.named_buffers()}
    missing = sorted(set(info.get("missing_keys") or ()) - tied - buffers)
    unexpected = sorted(info.get("unexpected_keys") or ())
    mismatched = sorted(str(m[0] if isinstance(m, (list, tuple)) else m) for m in info.get("mismatched_keys") or ())
    problems = []
    for what, keys in (("missing (would be random)", missing), ("unexpected (not used)", unexpected),
                       ("of the wrong shape (would be random)", mismatched)):
        if keys:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
            problems.append(f"{len(keys)} weight(s) {what}: {shown}")
    if problems:
        raise WeightsNotLoadedError(
            f"{path_or_hub_id}: the checkpoint does not match {type(model).__name__}: " + "; ".join(problems)
            + " — a checkpoint in another key layout (e.g. transformers 4.x remote code) or another model")


def _default_template_kwargs() -> dict[str, Any]:
    from lomo_ablate.models.config import ModelConfig

    return dict(ModelConfig().chat_template_kwargs)


def load_pretrained(path_or_hub_id: str | Path, dtype: str | torch.dtype | None = None, device: str = "cpu",
                    trust_remote_code: bool = False, attn_implementation: str | None = None,
                    chat_template_kwargs: dict[str, Any] | None = None,
                    strip_reasoning: bool | None = None) -> tuple[Any, Any]:
    """Loads ``(model, processor)``: a hub id (e.g. ``Qwen/Qwen3.5-9B``, or remote-code models with
    ``trust_remote_code``), a production folder, and folders written by ``build_tiny``/``train`` alike.

    ``chat_template_kwargs``/``strip_reasoning``: None takes the folder's saved settings
    (:mod:`lomo_ablate.models.settings`), else ``ModelConfig``'s defaults. Raises
    :class:`WeightsNotLoadedError` when a weight was not in the checkpoint.
    """
    compat.check_torchvision()
    from transformers import AutoConfig, AutoModelForImageTextToText

    name = str(path_or_hub_id)
    config = AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code)
    compat.prepare_config(config)
    kwargs: dict[str, Any] = {"config": config, "output_loading_info": True}
    if dtype is not None:
        kwargs["dtype"] = resolve_dtype(dtype)
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    cls = compat.resolve_model_class(config, name, trust_remote_code)
    if cls is None:
        model, info = AutoModelForImageTextToText.from_pretrained(name, trust_remote_code=trust_remote_code,
                                                                  **kwargs)
    else:
        compat.prepare_remote_class(cls)
        mapping = compat.key_mapping(cls)
        if mapping:
            kwargs["key_mapping"] = mapping
        model, info = cls.from_pretrained(name, **kwargs)
    compat.after_load(model)
    _check_loaded(name, model, info)
    model.to(device)
    processor = load_processor(path_or_hub_id, trust_remote_code, config)
    saved = (S.read(path_or_hub_id) if Path(path_or_hub_id).is_dir() else None) or {}
    S.attach(processor, S.TextSettings(
        chat_template_kwargs=dict(chat_template_kwargs if chat_template_kwargs is not None
                                  else saved.get("chat_template_kwargs", _default_template_kwargs())),
        strip_reasoning=bool(strip_reasoning if strip_reasoning is not None else saved.get("strip_reasoning", False)),
        forward_inputs=compat.forward_input_names(model)))
    return model, processor


def save_pretrained(model: Any, processor: Any, out_dir: str | Path) -> Path:
    """Saves model, processor and their text settings so that :func:`load_pretrained` gets all three back."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    S.write(out, S.of(processor))
    return out
