"""Readers for both record forms and every input type, and bad input: each bad record is rejected with its
line and reason, the rest are written, and read == written + rejected."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lomo_ablate.curate import curate
from curate_helpers import fast_config, read_jsonl, text_records, write_jsonl

GOOD = {"messages": [{"role": "user", "content": "Fine question. It has three. Sentences here."},
                     {"role": "assistant", "content": "ok"}]}


def test_both_record_forms_and_multimodal_images_are_copied(tmp_path: Path, text_pool: Path, mm_pool: Path):
    out = tmp_path / "out"
    s = curate(text_pool, out, fast_config(mix={"rewrite_ratio": 1.0}), multimodal_input=mm_pool, progress=False)
    assert s.counts["read"] == 30 + 12 and s.counts["rejected_total"] == 0
    rows = read_jsonl(out / "data.jsonl")
    mm = [r for r in rows if r["meta"]["source"] == "multimodal"]
    assert len(mm) == 12
    for r in rows:
        roles = [m["role"] for m in r["messages"]]
        assert roles == ["user", "assistant"]
        slots = sum(m["content"].count("<image>") for m in r["messages"])
        assert slots == len(r["images"])
        for p in r["images"]:
            assert not Path(p).is_absolute() and (out / p).is_file()  # OUT is self-contained
    # LLaVA human/gpt became user/assistant, and the picture is a byte copy of the source image
    first = mm[0]
    assert first["messages"][0]["content"].startswith("<image>\nWhat colour")
    src = mm_pool.parent / "imgs" / f"{first['meta']['line'] - 1}.png"
    assert (out / first["images"][0]).read_bytes() == src.read_bytes()
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["lomo"]["formatting"] == "sharegpt" and info["lomo"]["file_name"] == "data.jsonl"


def test_json_array_parquet_and_arrow_inputs_match_jsonl(tmp_path: Path):
    rows = text_records(10)
    outs = {}
    (tmp_path / "a.json").write_text(json.dumps(rows))
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "a.parquet")
    arrow_dir = tmp_path / "ds"
    arrow_dir.mkdir()
    with pa.OSFile(str(arrow_dir / "data-00000-of-00001.arrow"), "wb") as f, pa.ipc.new_stream(f, table.schema) as w:
        w.write_table(table)
    write_jsonl(tmp_path / "a.jsonl", rows)
    for name in ("a.jsonl", "a.json", "a.parquet", "ds"):
        out = tmp_path / f"out-{name}"
        curate(tmp_path / name, out, fast_config(), progress=False)
        rows_out = read_jsonl(out / "data.jsonl")
        for r in rows_out:  # the input file's name and its own line numbering differ by design
            assert r["meta"].pop("file") == (name if name != "ds" else "data-00000-of-00001.arrow")
            r["meta"].pop("file_line")
        outs[name] = rows_out
    assert outs["a.json"] == outs["a.jsonl"] == outs["a.parquet"] == outs["ds"]


def test_bad_records_are_rejected_with_line_and_reason(tmp_path: Path):
    long_text = "Word. " * 5000
    lines = [
        GOOD,                                                                     # 1 ok
        "{not json",                                                              # 2 malformed_json
        "[1, 2]",                                                                 # 3 not_an_object
        {"text": "no messages"},                                                  # 4 unknown_format
        {"messages": [{"role": "assistant", "content": "hi"}]},                   # 5 missing_user_turn
        {"messages": [{"role": "user", "content": "hi"}]},                        # 6 missing_assistant_turn
        {"messages": [{"role": "user", "content": "   \n"},
                      {"role": "assistant", "content": "x"}]},                     # 7 empty_text
        {"messages": [{"role": "user", "content": long_text},
                      {"role": "assistant", "content": "x"}]},                     # 8 too_long
        '{"messages": [{"role": "user", "content": "bad \\ud800 surrogate"}, '
        '{"role": "assistant", "content": "x"}]}',                                # 9 invalid_unicode
        {"messages": [{"role": "robot", "content": "hi"}]},                       # 10 unknown_role
        {"messages": [{"role": "user", "content": "Tabs\tand a bell\x07 here. Second. Third one."},
                      {"role": "assistant", "content": "x"}]},                     # 11 ok, \x07 stripped
        {"messages": [{"role": "user", "content": "Broken $\\frac{1}{$ math. Costs $5 and $10. Why?"},
                      {"role": "assistant", "content": "x"}]},                     # 12 ok (renderer falls back)
        {"messages": [{"role": "user", "content": "<image> Look. No image here. At all."},
                      {"role": "assistant", "content": "x"}]},                     # 13 ok, placeholder escaped
        {"images": ["missing.png"], "messages": [{"role": "user", "content": "<image> hi"},
                                                 {"role": "assistant", "content": "x"}]},  # 14 missing_image
        "",                                                                       # 15 blank line: not a record
        {"messages": "oops"},                                                     # 16 unknown_format
        {"images": ["ok.png"], "messages": [{"role": "user", "content": "no slot for the picture"},
                                            {"role": "assistant", "content": "x"}]},  # 17 placeholder_mismatch
    ]
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    src = write_jsonl(tmp_path / "bad.jsonl", lines)
    out = tmp_path / "out"
    s = curate(src, out, fast_config(max_chars=20000, mix={"rewrite_ratio": 1.0}), progress=False)
    rejected = read_jsonl(out / "rejected.jsonl")
    got = {r["line"]: r["reason"] for r in rejected}
    assert got == {2: "malformed_json", 3: "not_an_object", 4: "unknown_format", 5: "missing_user_turn",
                   6: "missing_assistant_turn", 7: "empty_text", 8: "too_long", 9: "invalid_unicode",
                   10: "unknown_role", 14: "missing_image", 16: "unknown_format",
                   17: "placeholder_mismatch"}
    assert all(r["source"] == "text" and r["detail"] for r in rejected)
    c = s.counts
    assert c["read"] == 16 and c["written"] == 4 and c["rejected_total"] == 12
    assert c["read"] == c["written"] + c["rejected_total"]
    assert c["blank_lines"] == 1 and c["control_chars_stripped"] == 1 and c["placeholders_escaped"] == 1
    written = {r["meta"]["line"]: r for r in read_jsonl(out / "data.jsonl")}
    assert set(written) == {1, 11, 12, 13}
    assert all(r["meta"]["rewritten"] for r in written.values())  # broken LaTeX is never a reason to drop
    assert "\\u0007" not in json.dumps(written[11]) and "\x07" not in json.dumps(written[11], ensure_ascii=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rejected"]["unknown_format"] == 2


def test_multi_turn_rewrites_the_configured_user_turn_only(tmp_path: Path):
    first = "First question here. It has some context. And a final ask?"
    last = "Follow-up question now. With more context. Please answer?"
    rec = {"system": "Be brief.",
           "conversations": [{"from": "human", "value": first}, {"from": "gpt", "value": "a1"},
                             {"from": "human", "value": last}, {"from": "gpt", "value": "a2"}]}
    src = write_jsonl(tmp_path / "mt.jsonl", [rec])
    for turn, expected_index in (("first", 1), ("last", 3)):
        out = tmp_path / f"out-{turn}"
        curate(src, out, fast_config(turn=turn, mix={"rewrite_ratio": 1.0}), progress=False)
        (row,) = read_jsonl(out / "data.jsonl")
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant", "user", "assistant"]
        assert row["meta"]["turn"] == expected_index
        for i, m in enumerate(row["messages"]):
            assert ("<image>" in m["content"]) == (i == expected_index)
        s, e = row["meta"]["spans"][0]
        original = first if turn == "first" else last
        assert row["messages"][expected_index]["content"] == original[:s] + "<image>" + original[e:]
