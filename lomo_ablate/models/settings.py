"""The text-side model settings that travel with a saved model: chat-template variables and reasoning stripping.

``train`` takes them from ``model.chat_template_kwargs`` / ``model.strip_reasoning`` and writes them into
``final/`` (:data:`lomo_ablate.contracts.MODEL_SETTINGS`), so evaluation renders prompts and post-processes
answers exactly as training rendered its data, whatever protocol it runs. ``load_pretrained`` attaches them
to the processor (``processor.lomo_settings``); ``encode`` and ``generate`` read them from there. It also
records the input names the model's forward takes (``forward_inputs``), so encode emits nothing else.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from lomo_ablate import contracts as C

ATTR = "lomo_settings"


@dataclasses.dataclass
class TextSettings:
    chat_template_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    strip_reasoning: bool = False
    forward_inputs: frozenset[str] | None = None  # None: the forward takes **kwargs (not saved)

    def to_json(self) -> dict[str, Any]:
        return {"chat_template_kwargs": dict(self.chat_template_kwargs), "strip_reasoning": self.strip_reasoning}


def of(processor: Any) -> TextSettings:
    """The settings attached to ``processor`` (defaults when none were)."""
    return getattr(processor, ATTR, None) or TextSettings()


def attach(processor: Any, settings: TextSettings) -> None:
    setattr(processor, ATTR, settings)


def read(folder: str | Path) -> dict[str, Any] | None:
    """The saved settings of a local model folder, or None when it has none (a hub id, a foreign folder)."""
    path = Path(folder) / C.MODEL_SETTINGS
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable model settings ({e})") from e
    unknown = set(data) - {"chat_template_kwargs", "strip_reasoning"}
    if unknown or not isinstance(data.get("chat_template_kwargs", {}), dict):
        raise ValueError(f"{path}: unexpected keys {sorted(unknown)} or a non-mapping chat_template_kwargs")
    return data


def write(folder: str | Path, settings: TextSettings) -> None:
    (Path(folder) / C.MODEL_SETTINGS).write_text(json.dumps(settings.to_json(), indent=2, sort_keys=True) + "\n")
