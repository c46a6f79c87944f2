"""`exoguard train / evaluate / predict / models` end to end on SQLite: a database the registry
migrates on first use (``fresh``) and one migrated beforehand (``database``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from exoguard.config import get_settings

KOI = get_settings().catalogs_dir / "koi_cumulative_2026-06-22.csv.gz"
pytestmark = pytest.mark.skipif(not KOI.exists(), reason="bundled NASA catalogs not found")

FAST = ["--config", "small", "--param", "n_estimators=20", "--param", "train_missions=kepler"]
#: Training without the named evaluation sets (tests/unit/ml/test_eval_sets.py covers those).
TRAIN_FAST = [*FAST, "--no-evaluation"]


@pytest.fixture(params=["fresh", "database"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    from exoguard.ml import service

    data_dir = get_settings().data_dir
    monkeypatch.setenv("EXOGUARD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EXOGUARD_VAR_DIR", str(tmp_path / "var"))
    url = f"sqlite:///{(tmp_path / 'db.sqlite3').as_posix()}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    service.clear_cache()
    if request.param == "database":
        from exoguard.store.migrate import upgrade

        upgrade(url)
    yield request.param
    get_settings.cache_clear()
    service.clear_cache()


def _run(*args: str) -> str:
    from exoguard.cli import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_train_list_activate_predict(env: str, tmp_path: Path) -> None:
    out = json.loads(_run("train", "--model", "gbm", *TRAIN_FAST, "--json"))
    assert out["trained"] is True
    v1 = out["version"]
    assert v1["id"] == "gbm-0001" and v1["status"] == "active"
    directory = get_settings().models_path / "gbm-0001"
    for name in (
        "config.json",
        "metrics.json",
        "data_hash.txt",
        "ensemble.json",
        "member_00.txt",
        "importance.json",
        "manifest.json",
    ):
        assert (directory / name).exists(), name
    assert len(v1["data_hash"]) == 64
    assert v1["metrics"]["oof"]["all"]["roc_auc"] > 0.9

    # --if-missing does nothing when a model is active
    again = json.loads(_run("train", "--model", "gbm", *TRAIN_FAST, "--if-missing", "--json"))
    assert again["trained"] is False and again["active"]["id"] == "gbm-0001"

    v2 = json.loads(_run("train", "--model", "gbm", *TRAIN_FAST, "--param", "seed=5", "--json"))
    assert v2["version"]["id"] == "gbm-0002" and v2["version"]["status"] == "registered"
    listed = json.loads(_run("models", "list", "--json"))
    assert [(r["id"], r["status"]) for r in listed] in (
        [("gbm-0002", "registered"), ("gbm-0001", "active")],
    )
    _run("models", "activate", "gbm-0002")
    statuses = {r["id"]: r["status"] for r in json.loads(_run("models", "list", "--json"))}
    assert statuses == {"gbm-0001": "registered", "gbm-0002": "active"}

    # predict on 40 KOI rows in the archive format (gzip, '#' header)
    with gzip.open(KOI, "rt") as fh:
        lines = fh.read().splitlines()
    header_end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    sample = tmp_path / "koi_sample.csv"
    sample.write_text("\n".join(lines[: header_end + 41]) + "\n")
    out_csv = tmp_path / "out" / "pred.csv"
    summary = json.loads(
        _run("predict", "--input", str(sample), "--output", str(out_csv), "--json")
    )
    assert summary["n_rows"] == 40 and summary["model_version"] == "gbm-0002"
    pred = pd.read_csv(out_csv)
    assert {"object_id", "probability", "uncertainty", "label", "archive_label"} <= set(
        pred.columns
    )
    assert pred["probability"].between(0, 1).all() and (pred["uncertainty"] >= 0).all()
    assert set(pred["label"]) <= {"planet", "false_positive"}


def test_service_predict_and_explain(env: str) -> None:
    from exoguard.catalogs import read_catalog
    from exoguard.errors import ModelNotReadyError
    from exoguard.ml import service
    from exoguard.store.model_registry import settings_registry

    registry = settings_registry(get_settings())
    with pytest.raises(ModelNotReadyError):
        service.predict_frame(pd.DataFrame({"period_days": [1.0]}), registry=registry)
    _run("train", "--model", "gbm", *TRAIN_FAST)
    frame = read_catalog(KOI).frame.iloc[:30]
    pred = service.predict_frame(frame, registry=registry)
    assert list(pred.columns) == ["probability", "uncertainty", "label", "model_version", "basis"]
    assert pred.index.equals(frame.index)
    # KOI rows give impact and SNR with the transit: the catalog model scores them
    assert {b["pattern"] for b in pred["basis"]} <= {"complete", "table_no_snr", "manual", "period"}
    assert pred["basis"].iloc[0]["pattern"] == "complete"
    contrib = service.explain_frame(frame, registry=registry)
    assert contrib.shape == (30, len(service.get_model(registry=registry).ensemble.features) + 1)
    rec = service.explain_records(frame.iloc[:2], top=3, registry=registry)
    assert len(rec) == 2 and len(rec[0]["top"]) == 3
    assert service.global_importance(registry=registry)[0]["mean_abs_shap"] > 0
    # a hand-typed candidate with its own multiplicity column
    one = pd.DataFrame(
        {
            "period_days": [3.5],
            "depth_ppm": [900.0],
            "duration_hours": [2.4],
            "planet_radius_rearth": [2.5],
            "star_radius_rsun": [0.9],
            "star_logg_cgs": [4.5],
            "n_candidates_on_host": [3],
        }
    )
    assert service.predict_frame(one, registry=registry)["probability"].between(0, 1).all()


def test_evaluate_json_has_every_section(env: str) -> None:
    if env == "database":
        pytest.skip("the store does not change evaluation; run once")
    report = json.loads(_run("evaluate", *FAST, "--json"))
    assert report["features"]
    for key in (
        "roc_auc",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "brier",
        "ece",
        "confusion_matrix",
    ):
        assert key in report["kepler_cv"]
        assert key in report["cross_mission"]["tess"]
        assert key in report["cross_mission"]["k2"]
    assert report["kepler_cv"]["roc_auc"] > 0.95
    assert report["cross_mission"]["tess"]["n"] == 1323 + 1344
    assert report["cross_mission"]["trained_on"]["mission"] == "kepler"
    assert {d["source"] for d in report["data_files"]} == {
        "koi_cumulative_2026-06-22.csv.gz",
        "toi_2026-06-22.csv.gz",
        "k2pandc_2025-10-04.csv.gz",
    }


def test_versions_of_a_json_registry_move_into_the_database(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions recorded in the JSON file of earlier releases (``registry.json``) are imported
    with their status the first time the registry opens the database."""
    if env == "database":
        pytest.skip("starts from an empty, unmigrated database")
    from exoguard.store.model_registry import open_registry

    _run("train", "--model", "gbm", *TRAIN_FAST)
    models = get_settings().models_path
    (models / "registry.json").write_text(json.dumps({"gbm-0001": {"status": "active"}}))
    url = f"sqlite:///{(tmp_path / 'new.sqlite3').as_posix()}"
    registry = open_registry(database_url=url, models_path=models)
    assert [(r.id, r.status) for r in registry.list()] == [("gbm-0001", "active")]


def test_one_cli_grammar_and_one_activation_rule(env: str) -> None:
    """`train --model K` takes --if-missing and --activate for every kind; `models activate`
    and `models rollback` follow the lifecycle's rule (events, no retired version); the old
    names are deprecated aliases that say the new one."""
    from exoguard.cli import app
    from exoguard.store.model_registry import settings_registry

    _run("train", "--model", "gbm", *TRAIN_FAST)
    # --if-missing is honoured for the network too (no training: a model is active)
    skipped = json.loads(_run("train", "--model", "multibranch", "--if-missing", "--json"))
    assert skipped == {"trained": False, "active": skipped["active"]}
    assert skipped["active"]["id"] == "gbm-0001"
    out = json.loads(
        _run("train", "--model", "gbm", *TRAIN_FAST, "--param", "seed=3", "--activate", "--json")
    )
    assert out["version"]["id"] == "gbm-0002" and out["status"] == "active"
    events = [
        e["action"] for e in settings_registry(get_settings()).get("gbm-0002").metrics["lifecycle"]
    ]
    assert events == ["promoted"]
    back = json.loads(_run("models", "rollback", "--reason", "test", "--json"))
    assert back["action"] == "rolled_back" and back["active"] == "gbm-0001"
    # gbm-0002 was retired by the rollback: the one rule refuses it, whichever command asks
    for args in (["models", "activate", "gbm-0002"], ["lifecycle", "promote", "gbm-0002"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0
        assert "retired" in result.output
    alias = CliRunner().invoke(app, ["lifecycle", "promote", "gbm-0001"])
    assert alias.exit_code == 0, alias.output
    assert "deprecated; use `exoguard models activate`" in alias.stderr
    bad = CliRunner().invoke(app, ["train", "--model", "forest"])
    assert bad.exit_code != 0 and "gbm, multibranch, ensemble" in str(bad.exception or bad.output)


def test_an_unusable_database_is_an_error_not_a_fallback(env: str) -> None:
    from exoguard.errors import ModelNotReadyError
    from exoguard.store.model_registry import open_registry

    with pytest.raises(ModelNotReadyError, match="not usable"):
        open_registry(
            database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
            models_path=get_settings().models_path,
        )
