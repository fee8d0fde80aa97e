"""RunLogger with real W&B offline runs (wandb 0.31): the files a user syncs, and the local mirror the
report reads. The .wandb file is decoded with lomo_ablate.report.wandb_log.read_wandb_records."""
import json
import re
import warnings
from pathlib import Path

import pytest
import yaml
from PIL import Image

from lomo_ablate.report.wandb_log import (LoggerConfig, RunLogger, flatten_config, read_metrics_jsonl,
                                          read_wandb_records, tag_list, wandb_run_id)

CONF = Path(__file__).resolve().parents[2] / "conf" / "logger"
SECRET = "sk-THIS-MUST-NOT-LEAK-42"
CONFIG = {"seed": 0, "curate": {"localize": {"position": "middle"}, "mix": {"rewrite_ratio": 0.5}},
          "logger": {"mode": "offline", "api_key": SECRET}, "model": {"hf_token": SECRET, "name": "tiny"},
          "cluster": {"db_password": SECRET}}


def records_of(job_dir: Path) -> dict[str, list]:
    (wb,) = sorted(job_dir.glob("wandb/offline-run-*/run-*.wandb"))
    out: dict[str, list] = {}
    for r in read_wandb_records(wb):
        out.setdefault(r.WhichOneof("record_type"), []).append(r)
    return out


def test_offline_run_is_written_under_the_job_with_config_tags_curves_summary_and_tables(tmp_path):
    job = tmp_path / "multirun" / "position" / "position=middle"
    logger = RunLogger.create({"mode": "offline"}, job, "position/position=middle", group="position",
                              tags={"position": "middle", "seed": 0}, config=CONFIG)
    for step, loss in enumerate([2.0, 1.5, 1.25]):
        logger.log(step, {"train/loss": loss, "train/lr": 1e-3})
    logger.summary({"scores": {"probe": {"standard": 0.5, "rendered": 0.25}}, "mir": {"mean": 1.5}})
    logger.table("scores", ["benchmark", "protocol", "accuracy"], [["probe", "standard", 0.5], ["probe", "rendered", 0.25]])
    logger.images("samples", [(Image.new("RGB", (64, 16), "white"), "text <image> text"),
                              (Image.new("RGB", (32, 32), "gray"), "second")])
    logger.finish()

    run_id = wandb_run_id("position/position=middle")
    (offline,) = logger.offline_dirs
    assert offline.name.endswith(run_id) and (offline / f"run-{run_id}.wandb").exists()
    recs = records_of(job)
    run = recs["run"][0].run
    assert run.run_id == run_id and run.run_group == "position"
    assert sorted(run.tags) == ["position=middle", "seed=0"]
    config = {u.key: json.loads(u.value_json) for u in run.config.update}
    assert config["curate.localize.position"] == "middle" and config["curate.mix.rewrite_ratio"] == 0.5
    history = [{("/".join(i.nested_key) or i.key): json.loads(i.value_json) for i in r.history.item}
               for r in recs["history"]]
    assert [h["train/loss"] for h in history if "train/loss" in h] == [2.0, 1.5, 1.25]
    summary = {("/".join(u.nested_key) or u.key): json.loads(u.value_json) for r in recs["summary"]
               for u in r.summary.update}
    assert summary["scores/probe/standard"] == 0.5 and summary["mir/mean"] == 1.5
    # both tables went to W&B as table files, the samples with their images
    media = {p.name.split("_")[0] for p in offline.glob("files/media/table/*.table.json")}
    assert media == {"scores", "samples"}
    # the two sample images are run media inside the run folder; nothing is staged outside it by absolute path
    pngs = sorted(offline.glob("files/media/images/samples/*.png"))
    assert len(pngs) == 2
    assert not recs.get("artifact"), "a table became an artifact staged outside the run folder"
    # the job folder moved (local scratch -> shared disk): every media file W&B recorded still resolves
    moved = tmp_path / "shared" / "job"
    moved.parent.mkdir()
    job.rename(moved)
    (moved_run,) = sorted((moved / "wandb").glob("offline-run-*"))
    recorded = [f.path for r in records_of(moved)["files"] for f in r.files.files]
    media = [p for p in recorded if p.startswith("media/")]
    assert len(media) >= 4 and all(not Path(p).is_absolute() and (moved_run / "files" / p).is_file() for p in media)

    # the local mirror: what the report and tests read without W&B
    assert read_metrics_jsonl(moved / "metrics.jsonl")[2] == {"train/loss": 1.25, "train/lr": 1e-3}
    assert json.loads((moved / "summary.json").read_text())["scores/probe/rendered"] == 0.25
    samples = json.loads((moved / "tables" / "samples.json").read_text())
    assert [r[1] for r in samples["rows"]] == ["text <image> text", "second"]
    assert all((moved / Path(r[0]).relative_to(job)).exists() for r in samples["rows"])


def test_no_secret_reaches_any_file(tmp_path):
    job = tmp_path / "job"
    with RunLogger.create({}, job, "r1", group="g", tags={"token": SECRET, "m": "x"}, config=CONFIG) as logger:
        logger.log(0, {"loss": 1.0, "api_key": SECRET})
        print(f"a library dumping its environment: WANDB_API_KEY={SECRET}")  # console is not captured
        logger.summary({"acc": 0.5, "auth": {"password": SECRET}})
    files = [p for p in job.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in files)
    leaked = [p for p in files if SECRET.encode() in p.read_bytes()]
    assert leaked == []
    assert json.loads((job / "summary.json").read_text()) == {"acc": 0.5}


def test_requeued_job_continues_the_same_run_id_and_local_curve(tmp_path):
    """A Slurm requeue re-creates the logger with the same run id; steps logged again replace the old ones."""
    job = tmp_path / "job"
    first = RunLogger.create({}, job, "sweep/job=1", group="sweep", config={"seed": 0})
    first.log(0, {"loss": 3.0})
    first.log(1, {"loss": 2.0})
    first.finish(exit_code=1)  # preempted
    again = RunLogger.create({}, job, "sweep/job=1", group="sweep", config={"seed": 0})
    again.log(1, {"loss": 1.9})
    again.log(2, {"loss": 1.0})
    again.finish()
    run_id = wandb_run_id("sweep/job=1")
    dirs = sorted((job / "wandb").glob("offline-run-*"))
    assert len(dirs) == 2 and all(re.fullmatch(rf"offline-run-\d+_\d+-{run_id}(-\d+)?", d.name) for d in dirs)
    assert {records_of_dir(d) for d in dirs} == {run_id}
    assert {s: v["loss"] for s, v in read_metrics_jsonl(job / "metrics.jsonl").items()} == {0: 3.0, 1: 1.9, 2: 1.0}


def records_of_dir(offline: Path) -> str:
    (wb,) = offline.glob("run-*.wandb")
    return next(r.run.run_id for r in read_wandb_records(wb) if r.WhichOneof("record_type") == "run")


def test_logger_none_writes_only_local_files(tmp_path):
    job = tmp_path / "job"
    with RunLogger.create({"mode": "none"}, job, "r", config=CONFIG) as logger:
        logger.log(0, {"loss": 1.0})
        logger.summary({"acc": 0.75})
        logger.table("scores", ["a"], [[1]])
    assert not (job / "wandb").exists()
    assert read_metrics_jsonl(job / "metrics.jsonl") == {0: {"loss": 1.0}}
    assert json.loads((job / "summary.json").read_text()) == {"acc": 0.75}


def test_online_without_a_key_warns_and_stays_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    empty = tmp_path / "netrc"
    empty.write_text("")
    monkeypatch.setenv("NETRC", str(empty))
    with pytest.warns(RuntimeWarning, match="no W&B API key"):
        logger = RunLogger.create({"mode": "online"}, tmp_path / "job", "r", config={})
    logger.log(0, {"loss": 1.0})
    logger.finish()
    assert len(logger.offline_dirs) == 1


def test_a_broken_wandb_never_breaks_the_job(tmp_path, monkeypatch):
    """W&B failing at init (what an unreachable server looks like) is simulated by making wandb.init
    raise: the only part mocked, since no network failure can be staged here."""
    import wandb

    def broken(*args, **kwargs):
        raise ConnectionError("api.wandb.ai unreachable")

    monkeypatch.setattr(wandb, "init", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger = RunLogger.create({"mode": "offline"}, tmp_path / "job", "r", config={})
        logger.log(0, {"loss": 1.0})
        logger.summary({"acc": 1.0})
        logger.finish()
    assert any("unreachable" in str(w.message) for w in caught)
    assert json.loads((tmp_path / "job" / "summary.json").read_text()) == {"acc": 1.0}


def test_logger_group_files_load_into_the_typed_config_and_unknown_keys_are_named():
    modes = {p.stem: LoggerConfig.from_dict(yaml.safe_load(p.read_text())).mode for p in CONF.glob("*.yaml")}
    assert modes == {"wandb_offline": "offline", "wandb_online": "online", "none": "none"}
    with pytest.raises(ValueError, match=r"'logger.projekt'.*allowed:.*project"):
        LoggerConfig.from_dict({"projekt": "x"})
    with pytest.raises(ValueError, match=r"mode.*'disabled'"):
        LoggerConfig.from_dict({"mode": "disabled"})


def test_config_is_flattened_and_tags_are_axis_values():
    flat = flatten_config(CONFIG)
    assert flat["curate.localize.position"] == "middle" and flat["model.name"] == "tiny"
    assert not any("api_key" in k or "token" in k or "password" in k for k in flat)
    assert tag_list({"position": "middle", "rewrite_ratio": 0.3}) == ["position=middle", "rewrite_ratio=0.3"]
    assert len(tag_list(["x" * 100])[0]) == 64
    assert wandb_run_id("a/b c") == wandb_run_id("a/b c") != wandb_run_id("a/b d")


def test_scores_and_curated_samples_become_tables(tmp_path):
    """A curated folder written to the curate → train contract (data.jsonl + images/) and an evaluate
    metrics dict: the job gets a scores table and a captioned image table of what the model saw."""
    cur = tmp_path / "curated"
    (cur / "images" / "00").mkdir(parents=True)
    records = []
    for i in range(5):
        rec = {"id": f"text:{i}", "messages": [{"role": "user", "content": f"Solve <image> for x{i}."},
                                               {"role": "assistant", "content": "x = 2"}],
               "images": [], "meta": {"distortion": [{"op": "blur", "params": {"sigma": 1.0}}] if i % 2 else []}}
        if i != 2:  # an untouched text-only record is skipped
            Image.new("RGB", (40, 12), "white").save(cur / "images" / "00" / f"t-{i}.png")
            rec["images"] = [f"images/00/t-{i}.png"]
        records.append(rec)
    (cur / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    metrics = {"scores": {"probe": {"standard": 0.5, "rendered": 0.25}}, "categories": {"arith": {"standard": 0.4}},
               "overall": {"standard": 0.5, "rendered": 0.25}, "mir": {"per_layer": [1.0, 2.0], "mean": 1.5},
               "paired_distance": 0.3, "carrier_bins": []}
    job = tmp_path / "job"
    with RunLogger.create({"mode": "none"}, job, "r") as logger:
        assert logger.log_curated_samples(cur, limit=3) == 3
        logger.log_scores(metrics)
    rows = json.loads((job / "tables" / "curated_samples.json").read_text())["rows"]
    assert [r[1].split(" | ")[0] for r in rows] == ["text:0", "text:1", "text:3"]
    assert "distortion: blur" in rows[1][1] and "Solve <image> for x1." in rows[1][1]
    assert all(Path(r[0]).is_file() for r in rows)
    scores = json.loads((job / "tables" / "scores.json").read_text())
    assert sorted(map(tuple, scores["rows"])) == [("probe", "rendered", 0.25), ("probe", "standard", 0.5)]
    summary = json.loads((job / "summary.json").read_text())
    assert summary["overall/rendered"] == 0.25 and summary["mir/mean"] == 1.5 and "mir/per_layer" not in summary
