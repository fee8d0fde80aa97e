"""ZeroBench: short answers given in curly braces (a thin adapter)."""
from __future__ import annotations

from lomo_ablate.evaluate.benchmarks.generic import ShortAnswerAdapter
from lomo_ablate.evaluate.benchmarks.registry import register_thin

register_thin("zerobench", "Reasoning", ShortAnswerAdapter, id_keys=["question_id"], question_key="question_text",
              answer_key="question_answer", image_keys=["question_images_decoded", "question_images"],
              instruction="Give the final answer in curly braces, like {answer}.")
