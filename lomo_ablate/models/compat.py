"""Load-time compatibility with what the pinned transformers (5.23) no longer does for older code.

Everything here is applied to objects in this process only: nothing in the user's hub cache (or a model
folder) is edited, and each mend is logged once per model class. Each case has a test on the real
LLaVA-OneVision-1.5 fixture (tests/models/test_real_backbones.py).

1. ``check_torchvision``: a torchvision that is installed but does not import (a CUDA wheel next to a CPU
   torch: ``operator torchvision::nms does not exist``) makes transformers fail to import even
   ``Qwen3_5ForConditionalGeneration``; this names the build to install before transformers trips over it.
2. Remote code written for transformers 4.5x (LLaVA-OneVision-1.5's hub code), mended by
   :func:`prepare_remote_class` / :func:`prepare_config` / :func:`after_load`:
   - ``auto_map`` without an image-text-to-text entry: :func:`resolve_model_class` takes the first
     auto_map class (``AutoModelForImageTextToText``, ``AutoModelForVision2Seq``, ``AutoModelForCausalLM``,
     ``AutoModel``) whose forward takes ``pixel_values`` and which can generate;
   - ``text_config`` without ``pad_token_id`` (transformers 4 configs implied ``None``): set to ``None``;
   - ``ROPE_INIT_FUNCTIONS["default"]`` gone: the remote module's own binding gets a copy of the dict with
     transformers 4's default RoPE initialisation added (the global dict is left alone);
   - a list-valued ``_tied_weights_keys`` (transformers 5 wants ``{target: source}``; ``save_pretrained``
     crashes on a list): turned into the dict transformers 4 meant (each key tied to the input embedding);
   - ``_checkpoint_conversion_mapping`` (ignored by transformers 5): passed as ``key_mapping`` so a
     checkpoint in the transformers-4.x key layout loads into the right parameters;
   - non-persistent buffers (RoPE ``inv_freq`` of the text and vision towers) left uninitialised: transformers 5
     builds the model on the meta device and only its own ``_init_weights`` refills such buffers, which
     the remote ``_init_weights`` overrides; the remote module classes record their constructor arguments
     and :func:`after_load` rebuilds every parameter-free module that owns such buffers on the CPU and
     copies them in (without it the model runs on garbage rotary frequencies);
   - a forward that takes no ``mm_token_type_ids``: :func:`forward_input_names` lists what the forward takes,
     and encode/generate emit only those inputs.
"""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
from typing import Any

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------ torchvision


class TorchvisionBuildError(ImportError):
    """torchvision is installed but cannot be imported next to this torch build."""


def _torchvision_advice(torch_version: str) -> str:
    m = re.match(r"(\d+)\.(\d+)\.(\d+)(?:\+(\w+))?", torch_version)
    if not m:
        return "install the torchvision build that matches your torch, or `pip uninstall torchvision`"
    major, minor, _, local = m.groups()
    # torchvision 0.(N+15) pairs with torch 2.N (0.15 <-> 2.0, ..., 0.28 <-> 2.13)
    tv = f"0.{int(minor) + 15}" if major == "2" else None
    variant = local or "cpu"
    pin = f"torchvision=={tv}.*" if tv else "torchvision"
    return (f"install the {variant} build that matches torch {torch_version}: "
            f"`pip install '{pin}' --index-url https://download.pytorch.org/whl/{variant}`, "
            "or remove it (`pip uninstall torchvision`): without torchvision the image processors use Pillow "
            "and lomo_ablate composes Qwen-family processors without their video part")


@functools.lru_cache(maxsize=1)
def torchvision_available() -> bool:
    """True when torchvision imports; False when it is not installed. Raises :class:`TorchvisionBuildError`
    (with the build to install) when it is installed but broken — call this before importing transformers'
    model classes, which otherwise fail with an unrelated-looking error."""
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        import torchvision  # noqa: F401
    except Exception as e:  # a broken C extension raises RuntimeError, not ImportError
        import torch

        try:
            tv_version = importlib.metadata.version("torchvision")
        except importlib.metadata.PackageNotFoundError:
            tv_version = "?"
        raise TorchvisionBuildError(
            f"torchvision {tv_version} is installed but cannot be imported next to torch {torch.__version__} "
            f"({type(e).__name__}: {e}); transformers would then fail to import the model classes. "
            + _torchvision_advice(torch.__version__)) from e
    return True


def check_torchvision() -> bool:
    """Alias of :func:`torchvision_available` for call sites that only want the check."""
    return torchvision_available()


# ------------------------------------------------------------------------------------- remote code (4.x)
#: auto_map entries tried, in order, when a remote-code config has no image-text-to-text entry
AUTO_MAP_ORDER = ("AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM", "AutoModel")


def forward_input_names(model_or_class: Any) -> frozenset[str] | None:
    """Names the model's ``forward`` takes; None when it takes ``**kwargs`` (anything goes)."""
    sig = inspect.signature(model_or_class.forward)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return frozenset(n for n in sig.parameters if n != "self")


def resolve_model_class(config: Any, path: str, trust_remote_code: bool) -> Any | None:
    """The class to load a remote-code config with (None: a native config, use the Auto class). Picks the
    first ``auto_map`` class in :data:`AUTO_MAP_ORDER` whose forward takes ``pixel_values`` and that can
    generate, so the remote class can be mended before it is instantiated."""
    from transformers import AutoModelForImageTextToText
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    auto_map = getattr(config, "auto_map", None) or {}
    if type(config) in AutoModelForImageTextToText._model_mapping:
        return None
    if not trust_remote_code or not auto_map:
        return None
    tried = []
    for key in AUTO_MAP_ORDER:
        ref = auto_map.get(key)
        if not ref:
            continue
        cls = get_class_from_dynamic_module(ref, path)
        names = forward_input_names(cls)
        if (names is None or "pixel_values" in names) and hasattr(cls, "generate"):
            if getattr(cls, "_auto_class", None) is None:
                cls.register_for_auto_class(key)  # as the Auto class would: save_pretrained copies the code
            if key == AUTO_MAP_ORDER[0]:
                return cls
            log.warning("%s: auto_map has no AutoModelForImageTextToText entry; loading %s through its %s "
                        "entry (lomo_ablate.models.compat)", path, cls.__name__, key)
            return cls
        tried.append(f"{key}={cls.__name__}")
    raise ValueError(f"{path}: config auto_map has no image-text-to-text model (tried {', '.join(tried) or 'none'})")


def _default_rope_init(config: Any, device: Any = None, seq_len: int | None = None, **_: Any) -> tuple[Any, float]:
    """transformers 4's ``_compute_default_rope_parameters`` (plain RoPE, no scaling)."""
    import torch

    rope_parameters = getattr(config, "rope_parameters", None) or {}
    base = getattr(config, "rope_theta", None) or rope_parameters.get("rope_theta")
    partial = getattr(config, "partial_rotary_factor", None) or rope_parameters.get("partial_rotary_factor", 1.0)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    dim = int(head_dim * partial)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim))
    return inv_freq, 1.0


def _mend_once(cls: Any, what: str) -> None:
    log.warning("%s: %s (lomo_ablate.models.compat)", cls.__name__, what)


def prepare_remote_class(cls: Any) -> None:
    """Mends a remote model class (and the module it lives in) in this process; idempotent."""
    if not _is_remote(cls):
        return
    module = sys.modules.get(cls.__module__)
    rope = getattr(module, "ROPE_INIT_FUNCTIONS", None) if module is not None else None
    if isinstance(rope, dict) and "default" not in rope:
        module.ROPE_INIT_FUNCTIONS = {**rope, "default": _default_rope_init}
        _mend_once(cls, 'ROPE_INIT_FUNCTIONS["default"] restored for its remote module')
    if module is not None and not getattr(module, "_lomo_init_recorded", False):
        import torch

        for obj in list(vars(module).values()):
            if (isinstance(obj, type) and issubclass(obj, torch.nn.Module) and obj.__module__ == module.__name__
                    and "__init__" in obj.__dict__):
                obj.__init__ = _recording_init(obj.__init__)
        module._lomo_init_recorded = True
    for klass in cls.__mro__:
        tied = klass.__dict__.get("_tied_weights_keys")
        if isinstance(tied, (list, tuple)):
            klass._tied_weights_keys = _TiedKeys(tied)
            _mend_once(klass, f"list-valued _tied_weights_keys {list(tied)} read as tied to the input embedding")


class _TiedKeys(dict):
    """A 4.x tied-keys list as transformers 5 wants it; the source is filled in per instance by after_load."""

    def __init__(self, keys: Any):
        super().__init__()
        self.keys_4x = list(keys)


def _recording_init(init: Any) -> Any:
    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if "_lomo_init_args" not in self.__dict__:
            self.__dict__["_lomo_init_args"] = (args, kwargs)
        init(self, *args, **kwargs)
    return wrapper


def _refill_buffers(model: Any) -> None:
    """Rebuilds parameter-free remote modules with non-persistent buffers on the CPU; copies their tensors."""
    import torch

    refilled = []
    for name, m in model.named_modules():
        recorded = m.__dict__.get("_lomo_init_args")
        if recorded is None or not m._non_persistent_buffers_set or any(True for _ in m.parameters()):
            continue
        with torch.device("cpu"):
            fresh = type(m)(*recorded[0], **recorded[1])
        for key in m._non_persistent_buffers_set:
            old = getattr(m, key)
            m._buffers[key] = getattr(fresh, key).to(device=old.device if old.device.type != "meta" else "cpu",
                                                     dtype=old.dtype)
        for key, value in vars(fresh).items():  # tensor attributes next to the buffers (original_inv_freq)
            if isinstance(value, torch.Tensor) and key not in m._buffers:
                setattr(m, key, m._buffers.get(key, value))
        if hasattr(fresh, "original_inv_freq") and "inv_freq" in m._buffers:
            m.original_inv_freq = m._buffers["inv_freq"]
        refilled.append(name)
    if refilled:
        log.warning("%s: non-persistent buffers rebuilt in %s (lomo_ablate.models.compat)", type(model).__name__,
                    ", ".join(refilled))


def _is_remote(cls: Any) -> bool:
    return cls.__module__.startswith("transformers_modules")


def prepare_config(config: Any) -> None:
    """``text_config.pad_token_id`` missing (transformers 4 implied None): set it to None."""
    text = getattr(config, "text_config", None)
    if text is not None and not hasattr(text, "pad_token_id"):
        text.pad_token_id = None
        log.warning("%s: text_config has no pad_token_id; set to None as transformers 4 implied "
                    "(lomo_ablate.models.compat)", type(config).__name__)


def key_mapping(cls: Any) -> dict[str, str] | None:
    """The remote class's ``_checkpoint_conversion_mapping`` (ignored by transformers 5) as a ``key_mapping``;
    its patterns leave keys already in the new layout unchanged."""
    mapping = getattr(cls, "_checkpoint_conversion_mapping", None)
    return dict(mapping) if _is_remote(cls) and mapping else None


def after_load(model: Any) -> None:
    """Per-instance mends: non-persistent buffers refilled; a 4.x tied-keys list resolved to the input embedding's parameter name (and tied
    when the config asks for it)."""
    if _is_remote(type(model)):
        _refill_buffers(model)
    tied = getattr(type(model), "_tied_weights_keys", None)
    if not isinstance(tied, _TiedKeys):
        return
    emb = model.get_input_embeddings()
    source = next(f"{n}.weight" for n, m in model.named_modules() if m is emb)
    model._tied_weights_keys = {k: source for k in tied.keys_4x}
    model.all_tied_weights_keys = model.get_expanded_tied_weights_keys(all_submodels=False)
    if model.all_tied_weights_keys:
        model.tie_weights()
