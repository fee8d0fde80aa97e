"""The reading stage's check: how well a model transcribes held-out rendered texts (greedy decoding).

Two sets of ``n`` texts, from their own seed namespace (never the training texts'): ``questions`` = whole
probe-suite questions (what the rendered protocol shows), ``random`` = random strings of numbers, words and
formulas. Per set: ``exact`` (share transcribed exactly), ``similarity`` (mean difflib ratio) and three
``examples``.

    from lomo_ablate.evaluate.transcription import transcription_metrics
    m = transcription_metrics("store/read/<key>/train/final", ReadingConfig(), render={"layout": "grid"})
"""
from __future__ import annotations

import difflib
import random
from pathlib import Path
from typing import Any

import numpy as np

#: Seeds of the held-out transcription checks (never the training texts' namespace).
EVAL_SEED, EVAL_NS = 1234, "reading-eval"


def transcription_metrics(model_dir: str | Path, cfg: Any, render: Any, n: int | None = None,
                          device: str = "cpu", batch_size: int = 16) -> dict[str, Any]:
    """Transcription of ``n`` (default ``cfg.eval_n``) held-out texts per set by the model at ``model_dir``;
    ``cfg`` is the ReadingConfig the reader was trained with (its prompt), ``render`` its renderer settings."""
    from lomo_ablate.render import Renderer
    from lomo_ablate.data.builtin import probe_items, random_string
    from lomo_ablate.data.reading import reading_prompt
    from lomo_ablate.models.generation import Prompt, generate
    from lomo_ablate.models import load_pretrained

    n = cfg.eval_n if n is None else n
    model, processor = load_pretrained(model_dir, device=device)
    model.eval()
    renderer = Renderer(render)
    rng = random.Random(f"{EVAL_NS}:{EVAL_SEED}")
    sets = {"questions": [it.question.strip() for _, it in probe_items(n, EVAL_SEED)],
            "random": [random_string(rng) for _ in range(n)]}
    out: dict[str, Any] = {"n": n}
    for name, texts in sets.items():
        prompts = [Prompt(messages=[{"role": "user", "content": reading_prompt(cfg)}], images=[r.image])
                   for r in renderer.render_many(texts)]
        preds = generate(model, processor, prompts, batch_size=batch_size, max_new_tokens=96, progress=False)
        out[name] = {
            "exact": float(np.mean([p.strip() == t for p, t in zip(preds, texts)])),
            "similarity": float(np.mean([difflib.SequenceMatcher(None, p.strip(), t).ratio()
                                         for p, t in zip(preds, texts)])),
            "examples": [{"text": t, "read": p} for p, t in list(zip(preds, texts))[:3]],
        }
    return out
