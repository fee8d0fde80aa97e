"""Real training-data layouts, built here as small faithful replicas (issue 13): the LLaVA-OneVision parquet
subsets with HF Image structs, folders of shards, globs, datasets folders, webdataset tars, LLaVA JSON with a
separate image folder, every conversation shape, tool calls, videos, and hostile or corrupt images. Each
record is asserted: written with the right images and slots, or rejected with the named reason; and
read == written + rejected."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from lomo_ablate import contracts as C
from lomo_ablate.curate import curate
from curate_helpers import fast_config, read_jsonl, text_records, write_jsonl


def png_bytes(colour=(200, 30, 30), size=(12, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(colour=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="JPEG")
    return buf.getvalue()


def conv(q: str, a: str = "ok") -> list[dict]:
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


def ov_rows(n: int, offset: int = 0, with_image: bool = True) -> list[dict]:
    """LLaVA-OneVision(-1.5) parquet rows: id, image = {bytes, path} (or null), conversations, data_source."""
    rows = []
    for i in range(offset, offset + n):
        img = {"bytes": png_bytes((i * 40 % 256, 10, 10)), "path": f"{i}.png"} if with_image else None
        q = f"<image>\nWhat is shown in picture {i}?" if with_image else f"Say the number {i}. Just it. Thanks."
        rows.append({"id": i, "image": img, "conversations": conv(q, str(i)), "data_source": "replica"})
    return rows


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def check_accounting(out: Path, summary) -> tuple[list[dict], list[dict]]:
    rows, rejected = read_jsonl(out / C.DATA), read_jsonl(out / C.REJECTED)
    c = summary.counts
    assert c["read"] == c["written"] + c["rejected_total"] == len(rows) + len(rejected)
    for r in rows:  # every written record: slots == images, every image a real file inside OUT
        slots = sum(m["content"].count(C.IMAGE_SLOT) for m in r["messages"])
        assert slots == len(r["images"]), r
        for p in r["images"]:
            assert (out / p).is_file()
            assert (out / p).is_symlink() or os.path.realpath(out / p).startswith(str(out.resolve()))
    return rows, rejected


def test_onevision_parquet_with_image_bytes_is_written_with_its_images(tmp_path: Path):
    """HF Image structs: bytes written as files in their own format, named by content (duplicates once)."""
    rows = ov_rows(4) + ov_rows(2, offset=10, with_image=False)
    rows[3]["image"] = dict(rows[0]["image"])  # the same picture twice
    rows.append({"id": 99, "image": {"bytes": jpeg_bytes(), "path": None},
                 "conversations": conv("<image>\nA jpeg?"), "data_source": "replica"})
    src = write_parquet(tmp_path / "subset" / "train-00000-of-00001.parquet", rows)
    out = tmp_path / "out"
    s = curate(src, out, fast_config(), multimodal_input=src, progress=False)
    written, rejected = check_accounting(out, s)
    assert rejected == []
    mm = {r["meta"]["input_id"]: r for r in written if r["meta"]["source"] == "multimodal"}
    assert set(mm) == {"0", "1", "2", "3", "10", "11", "99"}  # ids: one type (str) across rows
    for i in ("0", "1", "2"):
        (img,) = mm[i]["images"]
        assert (out / img).read_bytes() == rows[int(i)]["image"]["bytes"]  # no re-encoding
        assert img.endswith(".png") and hashlib.sha256(rows[int(i)]["image"]["bytes"]).hexdigest()[:32] in img
    assert mm["3"]["images"] == mm["0"]["images"]
    assert mm["99"]["images"][0].endswith(".jpg")
    assert mm["10"]["images"] == [] and "<image>" not in json.dumps(mm["10"]["messages"])
    assert len(list((out / C.IMAGES_DIR).rglob("*.*"))) == 4  # 3 distinct PNGs + 1 JPEG
    assert {r["meta"]["file"] for r in written} == {"train-00000-of-00001.parquet"}


def test_folder_of_shards_glob_list_and_corpus_root_are_one_pool(tmp_path: Path):
    root = tmp_path / "LLaVA-OneVision-1.5-Instruct-Data"
    write_parquet(root / "subset_a" / "train-00000-of-00002.parquet", ov_rows(2))
    write_parquet(root / "subset_a" / "train-00001-of-00002.parquet", ov_rows(2, offset=2))
    write_parquet(root / "subset_b" / "train-00000-of-00001.parquet", ov_rows(3, offset=4, with_image=False))
    write_jsonl(root / "subset_c" / "part.jsonl", text_records(2))
    (root / ".cache").mkdir()
    (root / ".cache" / "junk.jsonl").write_text("not json\n")  # hidden: skipped
    ids = {}
    t = write_jsonl(tmp_path / "t.jsonl", text_records(1))
    for name, spec in {"root": root, "folder": root / "subset_a",
                       "glob": str(root / "subset_a" / "train-*.parquet"),
                       "list": [root / "subset_a", str(root / "subset_b" / "*.parquet")]}.items():
        out = tmp_path / f"out-{name}"
        s = curate(t, out, fast_config(), multimodal_input=spec, progress=False)
        written, rejected = check_accounting(out, s)
        assert rejected == []
        ids[name] = sorted(r["meta"].get("input_id", r["meta"]["file"]) for r in written
                           if r["meta"]["source"] == "multimodal")
        lines = {(r["meta"]["file"], r["meta"]["file_line"]) for r in written if r["meta"]["source"] == "multimodal"}
        assert all(line >= 1 for _, line in lines)
    assert ids["folder"] == ids["glob"] == ["0", "1", "2", "3"]
    assert ids["list"] == ["0", "1", "2", "3", "4", "5", "6"]
    assert len(ids["root"]) == 9  # 4 + 3 + the 2 jsonl records, none of the hidden junk


def test_save_to_disk_folder_and_datasetdict_with_split(tmp_path: Path):
    table = pa.Table.from_pylist(ov_rows(3))

    def save(folder: Path) -> None:
        folder.mkdir(parents=True)
        with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as f, \
                pa.ipc.new_stream(f, table.schema) as w:
            w.write_table(table)
        (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
        (folder / "dataset_info.json").write_text("{}")

    save(tmp_path / "ds")
    save(tmp_path / "dd" / "train")
    save(tmp_path / "dd" / "test")
    (tmp_path / "dd" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    t = write_jsonl(tmp_path / "t.jsonl", text_records(1))
    s = curate(t, tmp_path / "o1", fast_config(), multimodal_input=tmp_path / "ds", progress=False)
    assert check_accounting(tmp_path / "o1", s)[0][-1]["images"]
    with pytest.raises(ValueError, match="choose one with split"):
        curate(t, tmp_path / "o2", fast_config(), multimodal_input=tmp_path / "dd", progress=False)
    s = curate(t, tmp_path / "o3", fast_config(), multimodal_input=tmp_path / "dd", split="test", progress=False)
    written, rejected = check_accounting(tmp_path / "o3", s)
    assert len(written) == 4 and not rejected


def test_webdataset_tar_shards(tmp_path: Path):
    tar_path = tmp_path / "shard-000000.tar"
    with tarfile.open(tar_path, "w") as tf:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        for i in range(3):
            add(f"s{i:04d}.json", json.dumps({"conversations": conv("<image>\nDescribe it.", str(i))}).encode())
            add(f"s{i:04d}.jpg", jpeg_bytes((i * 60, 0, 0)))
        add("s0003.json", json.dumps({"conversations": conv("No picture here. Plain text. Ok.")}).encode())
        add("s0004.txt", b"caption without a record")
    t = write_jsonl(tmp_path / "t.jsonl", text_records(1))
    out = tmp_path / "out"
    s = curate(t, out, fast_config(), multimodal_input=tar_path, progress=False)
    written, rejected = check_accounting(out, s)
    mm = [r for r in written if r["meta"]["source"] == "multimodal"]
    assert [len(r["images"]) for r in mm] == [1, 1, 1, 0]
    assert all(p.endswith(".jpg") for r in mm for p in r["images"])
    assert [(r["reason"], r["file_line"]) for r in rejected] == [("unknown_format", 5)]


def test_llava_json_with_separate_image_folder(tmp_path: Path):
    """The --image_folder layout (mllm_mix.json + images/ elsewhere): image_dir= is the root."""
    imgs = tmp_path / "images" / "coco"
    imgs.mkdir(parents=True)
    (imgs / "a.png").write_bytes(png_bytes())
    data = [{"id": 1, "image": "coco/a.png", "conversations": conv("<image>\nWhat is it?")},
            {"id": 2, "image": "coco/missing.png", "conversations": conv("<image>\nAnd this?")}]
    ann = tmp_path / "ann" / "mllm_mix.json"
    ann.parent.mkdir()
    ann.write_text("[\n" + ",\n".join(json.dumps(d) for d in data) + "\n]\n")
    t = write_jsonl(tmp_path / "t.jsonl", text_records(1))
    without = curate(t, tmp_path / "o1", fast_config(), multimodal_input=ann, progress=False)
    assert without.counts["rejected"] == {"missing_image": 2}
    s = curate(t, tmp_path / "o2", fast_config(), multimodal_input=ann, multimodal_image_dir=tmp_path / "images",
               progress=False)
    written, rejected = check_accounting(tmp_path / "o2", s)
    assert [(r["reason"], r["file_line"]) for r in rejected] == [("missing_image", 3)]  # the line it starts on
    (rec,) = [r for r in written if r["meta"]["source"] == "multimodal"]
    assert (tmp_path / "o2" / rec["images"][0]).read_bytes() == (imgs / "a.png").read_bytes()


def test_conversation_shapes_tools_videos_and_role_order(tmp_path: Path):
    img = tmp_path / "p.png"
    img.write_bytes(png_bytes())
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not decoded")
    tools = [{"name": "add", "parameters": {"a": "int"}}]
    records = [
        {"conversations": [{"role": "user", "content": "Role content form. Two. Three."},
                           {"role": "assistant", "content": "a"}]},                                    # 1
        {"conversations": [{"from": "human", "value": "Four keys. Data in from/value. Ok.", "role": None,
                            "content": None},
                           {"from": "gpt", "value": "a", "role": None, "content": None}]},             # 2
        {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]},
                      {"role": "assistant", "content": [{"type": "text", "text": "A square."}]}],
         "images": ["p.png"]},                                                                         # 3
        {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "p.png"}}, {"type": "text", "text": " Colour?"}]},
            {"role": "assistant", "content": "red"}]},                                                 # 4
        {"system": "Use tools.", "tools": tools,
         "messages": [{"role": "user", "content": "Add 2 and 3."},
                      {"role": "function_call", "content": '{"name": "add", "arguments": {"a": 2}}'},
                      {"role": "observation", "content": "5"},
                      {"role": "assistant", "content": "5"}]},                                         # 5
        {"messages": [{"role": "user", "content": "<video>What happens?"},
                      {"role": "assistant", "content": "x"}], "videos": ["clip.mp4"]},                 # 6
        {"messages": [{"role": "user", "content": "Two videos?"},
                      {"role": "assistant", "content": "x"}], "videos": ["clip.mp4"]},                 # 7
        {"images": None, "image": "p.png", "conversations": conv("<image>\nNull images beside image.")},  # 8
        {"messages": [{"role": "assistant", "content": "I start."},
                      {"role": "user", "content": "Then me."}, {"role": "assistant", "content": "x"}]},  # 9
        {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"},
                      {"role": "user", "content": "dangling"}]},                                       # 10
        {"messages": [{"role": "user", "content": "Q. R. S."}, {"role": "assistant", "content": "A"},
                      {"role": "user", "content": "Again"}, {"role": "assistant", "content": "B"}]},   # 11
        {"messages": [{"role": "user", "content": [{"type": "audio"}]},
                      {"role": "assistant", "content": "x"}]},                                         # 12
    ]
    src = write_jsonl(tmp_path / "mm.jsonl", records)
    t = write_jsonl(tmp_path / "t.jsonl", text_records(1))
    out = tmp_path / "out"
    s = curate(t, out, fast_config(), multimodal_input=src, progress=False)
    written, rejected = check_accounting(out, s)
    got = {r["file_line"]: r["reason"] for r in rejected if r["source"] == "multimodal"}
    assert got == {7: "video_slot_mismatch", 9: "bad_role_order", 10: "bad_role_order", 12: "bad_turn"}
    mm = {r["meta"]["file_line"]: r for r in written if r["meta"]["source"] == "multimodal"}
    assert set(mm) == {1, 2, 3, 4, 5, 6, 8, 11}
    assert mm[2]["messages"][0] == {"role": "user", "content": "Four keys. Data in from/value. Ok."}
    assert mm[3]["messages"][0]["content"] == "<image>What?" and len(mm[3]["images"]) == 1
    assert mm[4]["messages"][0]["content"] == "<image> Colour?" and len(mm[4]["images"]) == 1
    assert [m["role"] for m in mm[5]["messages"]] == ["system", "user", "function_call", "observation",
                                                       "assistant"]
    assert json.loads(mm[5]["tools"]) == tools
    assert mm[6]["videos"] and (out / mm[6]["videos"][0]).read_bytes() == (tmp_path / "clip.mp4").read_bytes()
    assert mm[6]["messages"][0]["content"].count("<video>") == 1
    assert len(mm[8]["images"]) == 1  # the image is kept, not dropped to text-only
    info = json.loads((out / C.DATASET_INFO).read_text())["lomo"]
    assert info["columns"]["tools"] == "tools" and info["tags"]["function_tag"] == "function_call"


def test_hostile_and_corrupt_images_are_rejected_and_never_read(tmp_path: Path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "ok.png").write_bytes(png_bytes())
    (root / "empty.jpg").write_bytes(b"")
    (root / "page.jpg").write_bytes(b"<!DOCTYPE html><html><body>404</body></html>")
    (root / "cut.jpg").write_bytes(jpeg_bytes()[:300])
    (root / "bad.png").write_bytes(png_bytes()[:40])
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes((1, 2, 3)))  # a real image, but outside the root
    (root / "link.png").symlink_to(secret)
    (root / "inner.png").symlink_to(root / "ok.png")  # a symlink that stays inside: fine
    paths = ["ok.png", "/etc/passwd", "/proc/self/environ", "../secret.png", str(secret), "link.png",
             "sub/../../secret.png", "empty.jpg", "page.jpg", "cut.jpg", "bad.png", "inner.png",
             "data:image/png;base64,bm90IGFuIGltYWdl"]
    rows = [{"image": p, "conversations": conv("<image>\nWhat is it?")} for p in paths]
    src = write_jsonl(root / "mm.jsonl", rows)
    # the text pool may carry images too: the same rules apply
    t = write_jsonl(root / "t.jsonl", [{"images": ["/etc/hostname"], "messages": [
        {"role": "user", "content": "<image> x"}, {"role": "assistant", "content": "y"}]}])
    for mode in ("copy", "symlink"):
        out = tmp_path / f"out-{mode}"
        s = curate(t, out, fast_config(image_mode=mode), multimodal_input=src, progress=False)
        written, rejected = check_accounting(out, s)
        got = {(r["source"], r["file_line"]): r["reason"] for r in rejected}
        outside = {2, 3, 4, 5, 6, 7}
        bad = {8, 9, 10, 11, 13}
        assert got == {("text", 1): "image_outside_root",
                       **{("multimodal", n): "image_outside_root" for n in outside},
                       **{("multimodal", n): "bad_image_file" for n in bad}}
        assert sorted(r["meta"]["file_line"] for r in written if r["meta"]["source"] == "multimodal") == [1, 12]
        for f in (out / C.IMAGES_DIR).rglob("*"):
            if f.is_symlink():
                assert os.path.realpath(f).startswith(str(root.resolve()))
            if f.is_file():
                assert f.read_bytes() == (root / "ok.png").read_bytes()


def test_hostile_records_are_rejected_with_file_and_line_and_the_run_finishes(tmp_path: Path):
    """Deep nesting, a 5,000-digit integer, NaN, wrong types: one rejection each; other shards survive
    (workers=2, one record per shard)."""
    good = text_records(1)[0]
    lines = [
        json.dumps(good),
        '{"messages": [{"role": "user", "content": "x"}], "meta": ' + "[" * 990 + "]" * 990 + "}",
        '{"id": ' + "9" * 5000 + ', "messages": []}',
        '{"id": NaN, "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}',
        json.dumps({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "A"}]}),
        json.dumps({"messages": [{"role": ["user"], "content": "x"}]}),
        json.dumps({**good, "images": 7}),
        json.dumps({**good, "id": 12, "meta": {"k": [1, {"a": None}]}}),
    ]
    src = tmp_path / "hostile.jsonl"
    src.write_text("\n".join(lines) + "\n")
    arr = tmp_path / "hostile.json"  # the same records as a JSON array (one element per line)
    arr.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    for inp in (src, arr):
        out = tmp_path / f"out-{inp.suffix}"
        s = curate(inp, out, fast_config(shard_size=1, mix={"rewrite_ratio": 0.0}), workers=2, progress=False)
        written, rejected = check_accounting(out, s)
        got = {r["file_line"]: r["reason"] for r in rejected}
        base = 0 if inp == src else 1
        assert got == {base + 2: "too_deeply_nested", base + 3: "malformed_json", base + 4: "non_finite_number",
                       base + 5: "bad_turn", base + 6: "bad_turn", base + 7: "bad_images"}
        assert all(r["file"] == inp.name and r["detail"] for r in rejected)
        assert len(written) == 2
        last = written[-1]["meta"]
        assert last["input_id"] == "12" and json.loads(last["input_meta"]) == {"k": [1, {"a": None}]}
        for line in (out / C.DATA).read_text().splitlines():
            json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def test_cjk_prompts_are_cut_at_full_width_sentence_ends(tmp_path: Path):
    q = "小明有三个苹果。他又买了两个。现在他一共有几个苹果？请写出计算过程。"
    src = write_jsonl(tmp_path / "cn.jsonl", [{"messages": [{"role": "user", "content": q},
                                                            {"role": "assistant", "content": "5"}]}])
    out = tmp_path / "out"
    curate(src, out, fast_config(mix={"rewrite_ratio": 1.0}), progress=False)
    (row,) = read_jsonl(out / C.DATA)
    content = row["messages"][0]["content"]
    assert content.count("<image>") == 1 and content != "<image>"  # middle, not the whole prompt
    s, e = row["meta"]["spans"][0]
    assert content == q[:s] + "<image>" + q[e:] and q[s - 1] == "。"


def test_referenced_image_changes_change_the_key(tmp_path: Path):
    from lomo_ablate.curate.readers import expand_pool, pool_fingerprint

    (tmp_path / "a.png").write_bytes(png_bytes())
    src = write_jsonl(tmp_path / "mm.jsonl", [{"image": "a.png", "conversations": conv("<image>\nQ")}])
    before = pool_fingerprint(expand_pool(src))
    os.utime(tmp_path / "a.png", ns=(1, 1))
    (tmp_path / "a.png").write_bytes(png_bytes((0, 0, 0)))
    assert pool_fingerprint(expand_pool(src)) != before
    # an edit in the middle of a big file changes the fingerprint (the whole file is read)
    big = write_jsonl(tmp_path / "big.jsonl", text_records(60000))
    fp = pool_fingerprint(expand_pool(big))
    data = bytearray(big.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4] = b"ZZZZ" if data[mid:mid + 4] != b"ZZZZ" else b"YYYY"
    big.write_bytes(bytes(data))
    assert big.stat().st_size > 4 << 20 and pool_fingerprint(expand_pool(big)) != fp


def test_curated_folder_follows_the_umask_and_loads_with_datasets(tmp_path: Path):
    """Files 0666 and folders 0777 minus the umask (not 0600/0700); ``load_dataset("json", data_dir=OUT)``
    reads exactly the written records (side files, images and _SUCCESS are not picked up)."""
    old = os.umask(0o022)
    try:
        (tmp_path / "a.png").write_bytes(png_bytes())
        mm = write_jsonl(tmp_path / "mm.jsonl", [{"id": 5, "image": "a.png", "conversations": conv("<image>\nQ")}])
        t = write_jsonl(tmp_path / "t.jsonl", [{**r, "id": f"s{i}"} for i, r in enumerate(text_records(6))])
        out = tmp_path / "out"
        curate(t, out, fast_config(mix={"rewrite_ratio": 0.5}), multimodal_input=mm, progress=False)
    finally:
        os.umask(old)
    for name in (C.MANIFEST, C.DATASET_INFO, C.SUCCESS, C.DATA):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    assert (out / C.DATA_SPLIT_LINK).resolve() == (out / C.DATA).resolve()
    datasets = pytest.importorskip("datasets")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    ds = datasets.load_dataset("json", data_dir=str(out), cache_dir=str(tmp_path / "hf"))["train"]
    assert ds.num_rows == len(read_jsonl(out / C.DATA)) == 7
    assert sorted(ds["id"]) == sorted(r["id"] for r in read_jsonl(out / C.DATA))


def test_workers_die_with_their_parent(tmp_path: Path):
    """kill -9 of the curating process: its spawn-started workers get SIGKILL from the kernel
    (PR_SET_PDEATHSIG) instead of writing on into a folder whose lock died with the parent."""
    import signal
    import subprocess
    import sys
    import time

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    src = write_jsonl(tmp_path / "t.jsonl", text_records(4000))
    script = ("import sys; sys.path.insert(0, sys.argv[3]); from lomo_ablate.curate import curate; "
              "from curate_helpers import fast_config; "
              "curate(sys.argv[1], sys.argv[2], fast_config(shard_size=2000, mix={'rewrite_ratio': 1.0}), "
              "workers=2, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(src), str(tmp_path / "out"),
                             str(Path(__file__).parent)], env={**os.environ})
    children: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(children) < 2:
        time.sleep(0.5)
        try:
            children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        except OSError:
            children = []
        # the spawn start-up passes through a resource tracker too: keep only the pool workers
        children = [c for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(
            errors="replace") and "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes().decode(
            errors="replace")] if children else []
    assert len(children) >= 2, "the workers did not start"
    while time.monotonic() < deadline and not any((tmp_path / "out" / C.IMAGES_DIR).rglob("*.png")):
        time.sleep(0.2)  # the workers are past their start-up and rendering
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5  # a shard of 2,000 rewrites takes far longer than this
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [c for c in alive if Path(f"/proc/{c}").exists()
                 and Path(f"/proc/{c}/stat").read_text().split()[2] != "Z"]
    assert not alive, f"workers {alive} outlived their parent"
