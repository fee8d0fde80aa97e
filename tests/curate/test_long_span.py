"""Long spans are never cut silently (issue 17): with ``position=full`` a 600-sentence prompt (17 KB, under
``max_chars``) used to be rendered only up to sentence 154. Now it becomes several images, in order, one
slot each, covering every sentence; a single block too large for any image is rejected with its reason.
Real curation (Pillow text renderer), real files."""
from __future__ import annotations

import json
from pathlib import Path

from lomo_ablate.contracts import DATA, IMAGE_SLOT, REJECTED
from lomo_ablate.curate import CurateConfig, curate

SENTENCES = [f"Fact {i}: item {i} holds {i * 7 % 13}." for i in range(600)]
LONG = " ".join(SENTENCES)


def _run(tmp_path: Path, prompts: list[str]):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"messages": [{"role": "user", "content": p},
                                                    {"role": "assistant", "content": "ok"}]}) + "\n"
                           for p in prompts))
    cfg = CurateConfig.from_dict({"localize": {"position": "full"}, "render": {"math_renderer": "text"},
                                  "mix": {"rewrite_ratio": 1.0, "scale": None}, "workers": 1})
    out = tmp_path / "out"
    curate(src, out, cfg, seed=0, progress=False)
    rows = [json.loads(l) for l in (out / DATA).read_text().splitlines() if l.strip()]
    rejected = [json.loads(l) for l in (out / REJECTED).read_text().splitlines() if l.strip()] \
        if (out / REJECTED).exists() else []
    return rows, rejected


def test_a_600_sentence_full_span_becomes_several_images_covering_every_sentence(tmp_path):
    assert 15_000 < len(LONG) < 20_000
    rows, rejected = _run(tmp_path, [LONG])
    assert rejected == [] and len(rows) == 1
    row = rows[0]
    content = row["messages"][0]["content"]
    n = len(row["images"])
    assert n > 1 and content.count(IMAGE_SLOT) == n
    assert "".join(content.split()) == IMAGE_SLOT * n  # the whole turn is pixels (the spaces between kept)
    spans = row["meta"]["spans"]
    assert len(spans) == n and spans[0][0] == 0 and spans[-1][1] == len(LONG)
    for (a, b), (c, d) in zip(spans, spans[1:]):  # consecutive: only whitespace between two images
        assert b <= c and LONG[b:c].strip() == ""
    covered = "".join(LONG[a:b] for a, b in spans)
    assert all(s in covered for s in (SENTENCES[0], SENTENCES[154], SENTENCES[155], SENTENCES[-1]))
    assert all((tmp_path / "out" / p).is_file() for p in row["images"])


def test_a_block_too_large_for_any_image_is_rejected_with_its_reason(tmp_path):
    formula = "$" + "+".join(f"x_{{{i}}}" for i in range(1500)) + "$"  # one atomic math block, ~12 KB
    rows, rejected = _run(tmp_path, [formula, "A short prompt. It fits. Easily so."])
    assert len(rows) == 1 and rows[0]["messages"][0]["content"].count(IMAGE_SLOT) == 1
    assert [r["reason"] for r in rejected] == ["span_clipped"]
    assert rejected[0]["line"] == 1 and "does not fit" in rejected[0]["detail"]
