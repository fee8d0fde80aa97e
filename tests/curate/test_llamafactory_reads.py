"""LLaMA-Factory's own parser and converter, and ``datasets``, read every curated folder: every written record
converts (no "abnormal example" dropped), its images resolve inside the folder and their count equals its
``<image>`` slots.

LLaMA-Factory 0.9.5 pins transformers<=5.6 and datasets<=4.0, so it cannot share our environment
(FACTS.md); its ``data.parser``/``data.converter`` modules import on their own (with peft, trl and tyro
beside them) once its package ``__init__`` files, which pull in torchaudio and the trainers, are bypassed.
scripts/install.sh --llamafactory-check installs them with ``--no-deps``; without them this test skips,
naming what is missing."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import pytest
from PIL import Image

from lomo_ablate import contracts as C
from lomo_ablate.curate import curate
from curate_helpers import fast_config, read_jsonl, text_records, write_jsonl
from test_layouts import conv, ov_rows, write_parquet


def _llamafactory():
    spec = importlib.util.find_spec("llamafactory")
    if spec is None:
        pytest.skip("llamafactory is not installed (scripts/install.sh --llamafactory-check)")
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")  # its pins are for its trainer, not for these readers
    base = list(spec.submodule_search_locations)[0]
    for name, path in (("llamafactory", base), ("llamafactory.data", os.path.join(base, "data"))):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [path]
            sys.modules[name] = m
    try:
        import llamafactory.data.converter as converter
        import llamafactory.data.parser as parser
        from llamafactory.hparams import DataArguments  # noqa: F401 - checked importable
    except ImportError as e:
        pytest.skip(f"llamafactory's data.parser/data.converter do not import here: {e}")
    return parser, converter


def _folders(tmp_path: Path) -> list[Path]:
    """Curated folders of the layouts that matter: text pool + OneVision parquet, tools, videos, rewrites."""
    outs = []
    src = write_parquet(tmp_path / "ov" / "train-00000-of-00001.parquet", ov_rows(3) + ov_rows(2, 10, False))
    t = write_jsonl(tmp_path / "t.jsonl", text_records(12))
    out = tmp_path / "o-ov"
    curate(t, out, fast_config(mix={"rewrite_ratio": 0.5}), multimodal_input=src, progress=False)
    outs.append(out)
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    Image.new("RGB", (8, 8)).save(tmp_path / "p.png")
    special = [
        {"system": "Use tools.", "tools": [{"name": "add"}],
         "messages": [{"role": "user", "content": "Add 2 and 3."},
                      {"role": "function_call", "content": '{"name": "add", "arguments": {}}'},
                      {"role": "observation", "content": "5"}, {"role": "assistant", "content": "5"}]},
        {"messages": [{"role": "user", "content": "<video>What happens?"},
                      {"role": "assistant", "content": "x"}], "videos": ["clip.mp4"]},
        {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]},
                      {"role": "assistant", "content": "A square."}], "images": ["p.png"]},
        {"image": "p.png", "conversations": conv("<image>\nAgain?")},
    ]
    mm = write_jsonl(tmp_path / "special.jsonl", special)
    out = tmp_path / "o-special"
    curate(t, out, fast_config(mix={"rewrite_ratio": 1.0, "scale": 20}), multimodal_input=mm, progress=False)
    outs.append(out)
    return outs


def test_llamafactory_parser_and_converter_accept_every_curated_record(tmp_path: Path):
    parser, converter = _llamafactory()
    datasets = pytest.importorskip("datasets")
    from llamafactory.hparams import DataArguments

    for out in _folders(tmp_path):
        (attr,) = parser.get_dataset_list(["lomo"], str(out))
        args = DataArguments(dataset="lomo", dataset_dir=str(out), media_dir=str(out))
        conv_fn = converter.get_dataset_converter(attr.formatting, attr, args)
        written = read_jsonl(out / C.DATA)
        ds = datasets.load_dataset("json", data_dir=str(out), cache_dir=str(tmp_path / "hf"))["train"]
        assert ds.num_rows == len(written)
        for example in ds:
            got = conv_fn(example)
            assert got["_prompt"] and got["_response"], example["id"]  # not dropped as abnormal
            text = json.dumps(got["_prompt"] + got["_response"])
            images = got["_images"] or []
            assert text.count(C.IMAGE_SLOT) == len(images)
            assert text.count(C.VIDEO_SLOT) == len(got["_videos"] or [])
            for p in images + (got["_videos"] or []):
                assert Path(p).is_file() and Path(p).resolve().is_relative_to(out.resolve())
        tools = [json.loads(r["tools"]) for r in written if r.get("tools")]
        assert all(isinstance(t, list) for t in tools)
