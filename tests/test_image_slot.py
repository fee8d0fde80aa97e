"""The dataset's image slot is defined once: lomo_ablate.contracts.IMAGE_SLOT / ESCAPED_SLOT."""
from __future__ import annotations

import ast
from pathlib import Path

from lomo_ablate.contracts import ESCAPED_SLOT, IMAGE_SLOT

PACKAGE = Path(__file__).resolve().parents[1] / "lomo_ablate"


def test_the_image_slot_literal_appears_only_in_contracts():
    """A second ``"<image>"`` (or ``"< image>"``) string would drift from the one every stage counts."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "contracts.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in (IMAGE_SLOT, ESCAPED_SLOT):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, f"define the slot in lomo_ablate/contracts.py only; found {found}"


def test_the_model_side_image_token_is_not_the_slot():
    from lomo_ablate.models.tokenizer import IMAGE_PAD_TOKEN

    assert IMAGE_PAD_TOKEN == "<|image_pad|>" != IMAGE_SLOT
