"""Secrets are never taken from config and never written (issue 17).

Keys that name a credential are rejected before anything is written; credential-looking values under
harmless keys are redacted in every file a run writes. The end-to-end test runs the real app (Hydra
multirun with the basic launcher, W&B offline) on a store whose stages are already there (this is about
what is written, not about training), then greps every file under the job, sweep, results and store
folders, binary W&B files included."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lomo_ablate.utils.secrets import REDACTED, is_secret_key, redact, redact_text, secret_keys

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", ["api_key", "logger.api_key", "apiKey", "hf_token", "token", "access_token",
                                 "password", "db_passwd", "client_secret", "credentials", "auth",
                                 "auth_header", "Authorization", "WANDB_API_KEY", "private_key"])
def test_keys_that_name_a_credential(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["tokens_per_s", "max_new_tokens", "num_tokens", "tokens_seen", "tokenizer",
                                 "max_tokens", "author", "authors", "key", "monkey", "secretary_count"])
def test_counts_and_names_are_not_credentials(key):
    assert not is_secret_key(key)


def test_credential_looking_values_are_redacted_and_the_rest_kept():
    text = ("url https://bob:hunter2@example.org/x.jsonl header Bearer abcdEFGH12345678 key sk-abcdefghijklmnop123 "
            "export HF_TOKEN=hf_abcdefghijklmnopqrstuvwx max_new_tokens: 64 plain https://example.org/a")
    out = redact_text(text)
    for secret in ("hunter2", "abcdEFGH12345678", "sk-abcdefghijklmnop123", "hf_abcdefghijklmnopqrstuvwx"):
        assert secret not in out
    assert "https://bob:" + REDACTED + "@example.org/x.jsonl" in out
    assert "max_new_tokens: 64" in out and "https://example.org/a" in out
    nested = redact({"a": {"password": "pw", "n": 3, "u": ["https://u:pw2@h"]}})
    assert nested == {"a": {"password": REDACTED, "n": 3, "u": [f"https://u:{REDACTED}@h"]}}
    assert secret_keys({"logger": {"api_key": "x"}, "eval": {"max_new_tokens": 4}}) == ["logger.api_key"]


def test_wandb_config_keeps_token_counts_and_drops_credentials():
    from lomo_ablate.report.wandb_log import flatten_config

    flat = flatten_config({"trainer": {"tokens_per_s": 1.0, "hf_token": "x"}, "eval": {"max_new_tokens": 8},
                           "num_tokens": 3, "url": "https://u:pw@h/p"})
    assert flat == {"trainer.tokens_per_s": 1.0, "eval.max_new_tokens": 8, "num_tokens": 3,
                    "url": f"https://u:{REDACTED}@h/p"}




@pytest.mark.parametrize("override,env_var", [("+logger.api_key=abcSECRETxyz", "WANDB_API_KEY"),
                                              ("+cluster.api_key=abcSECRETxyz", "environment"),
                                              ("+model.hf_token=abcSECRETxyz", "HF_TOKEN")])
def test_a_credential_key_is_rejected_before_anything_is_written(tmp_path, app, override, env_var):
    code, out, err = app(tmp_path, override, "logger=none")
    assert code == 2
    assert "names a credential" in err and env_var in err and "abcSECRETxyz" not in err + out
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers  # no outputs/runs/<job>/.hydra, no lock, no store
    code, out, err = app(tmp_path, "-m", override, "logger=none", "seed=0,1")
    assert code == 2 and "names a credential" in err and "abcSECRETxyz" not in err + out
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _store_filled(tmp_path: Path, overrides: list[str], seeds: list[int]) -> None:
    """The job's stages put in the store beforehand (a metrics.json for the evaluation)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lomo_ablate.pipeline.stages import plan
    from lomo_ablate.pipeline.store import Store

    metrics = {"overall": {"standard": 0.5}, "scores": {"probe": {"standard": 0.5}}}
    for seed in seeds:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=[*overrides, f"seed={seed}", f"store_dir={tmp_path / '.lomo_store'}"])
        GlobalHydra.instance().clear()
        store = Store(cfg.store_dir)
        for p in plan(cfg):
            store.get_or_compute(p.name, p.inputs, lambda out: (out / "metrics.json").write_text(json.dumps(metrics)))


SECRETS = ("hunter2pass", "abcdEFGH12345678", "hf_abcdefghijklmnopqrstuvwxyz")
HARMLESS_KEYS = ["+estimate.source=https://bob:hunter2pass@example.org/data.jsonl",
                 "+estimate.header='Bearer abcdEFGH12345678'",
                 "cluster.setup=['export HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz']"]


def test_no_secret_in_any_file_of_the_job_sweep_results_or_store(tmp_path, app, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
    _store_filled(tmp_path, HARMLESS_KEYS, [0, 1])
    code, out, err = app(tmp_path, "-m", *HARMLESS_KEYS, "seed=0,1", "logger=wandb_offline")
    assert code == 0, err[-3000:]
    sweep = tmp_path / "multirun" / "adhoc"
    results = sorted(sweep.glob("*/result.json"))
    assert len(results) == 2 and all(json.loads(p.read_text())["status"] == "done" for p in results)
    # what a user checks: each of these files exists ...
    for p in [sweep / "multirun.yaml", sweep / "grid.json", tmp_path / "results" / "adhoc" / "README.md",
              *(r.parent / ".hydra" / n for r in results for n in ("config.yaml", "hydra.yaml", "overrides.yaml")),
              *(r.parent / "logger_config.json" for r in results)]:
        assert p.is_file(), p
    assert list(sweep.glob("*/wandb/offline-run-*/run-*.wandb")), "no W&B offline run"
    # ... and no file anywhere (text or binary) holds any of the secrets; the redaction marker is there
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 20
    for p in files:
        data = p.read_bytes()
        for s in SECRETS:
            assert s.encode() not in data, f"{s} written to {p}"
    assert REDACTED in (sweep / "multirun.yaml").read_text()
    assert REDACTED in json.loads(results[0].read_text())["config"]["estimate"]["source"]
    # the single-run folder too (Hydra's .hydra/ of a RUN)
    code, out, err = app(tmp_path, *HARMLESS_KEYS, "seed=0", "logger=none")
    assert code == 0, err[-3000:]
    for p in (tmp_path / "outputs").rglob("*"):
        if p.is_file():
            assert not any(s.encode() in p.read_bytes() for s in SECRETS), p


def test_tex_gets_a_minimal_environment_and_absolute_binaries(monkeypatch, tmp_path):
    """latex/dvipng see no credential of the caller's environment and are run by absolute path."""
    from lomo_ablate.render import tex

    monkeypatch.setenv("WANDB_API_KEY", "abcSECRETxyz")
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnopqrstuvwxyz")
    env = tex.sandbox_env(tmp_path)
    assert "abcSECRETxyz" not in json.dumps(env) and "HF_TOKEN" not in env and "WANDB_API_KEY" not in env
    assert env["openin_any"] == "p" and env["shell_escape"] == "f" and env["HOME"] == str(tmp_path)
    bins = tex.tex_binaries()
    if bins is not None:
        assert all(Path(p).is_absolute() for p in bins.values())
