"""The reading stage's data (lomo_ablate.data.reading): rendered texts in a curated-dataset folder."""
from __future__ import annotations

import json

from lomo_ablate import contracts as C
from lomo_ablate.data.reading import build_reading_dataset
from lomo_ablate.models.config import ReadingConfig

GRID = {"layout": "grid", "cell_width": 8, "cell_height": 16, "max_width": 256, "max_height": 128, "padding": 0,
        "grid_pad_multiple": 16}


def test_reading_dataset_is_a_curated_folder_with_every_text_accounted_for(tmp_path):
    cfg = ReadingConfig(steps=1, samples=40, p_random=0.5, p_distort=0.5)
    # a canvas of 2 rows x 12 columns: longer texts would be clipped and are set aside, not trained on
    small = {**GRID, "max_width": 96, "max_height": 32}
    out = tmp_path / "read"
    manifest = build_reading_dataset(out, cfg, small, seed=0)
    rows = [json.loads(line) for line in (out / C.DATA).read_text().splitlines()]
    rejected = [json.loads(line) for line in (out / C.REJECTED).read_text().splitlines()]
    assert manifest["read"] == 40 == len(rows) + len(rejected)
    assert json.loads((out / C.MANIFEST).read_text()) == json.loads(json.dumps(manifest))
    assert rejected and all(r["reason"] == "clipped" for r in rejected)
    assert 0 < manifest["distorted"] < len(rows)
    for row in rows:
        user, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        assert user == C.IMAGE_SLOT + "\nWrite out the text in the image." and answer and len(row["images"]) == 1
        assert (out / row["images"][0]).is_file()
    assert (out / C.SUCCESS).is_file()
    # the same seed gives the same data
    again = build_reading_dataset(tmp_path / "again", cfg, small, seed=0)
    assert again == manifest and (tmp_path / "again" / C.DATA).read_bytes() == (out / C.DATA).read_bytes()
