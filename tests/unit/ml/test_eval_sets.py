"""Every model version is scored on the same named evaluation sets, however it was trained,
and the versions table, the API and the charts show the same figure for the same set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exoguard.config import get_settings
from exoguard.ml import evalsets

KOI = get_settings().catalogs_dir / "koi_cumulative_2026-06-22.csv.gz"
FAST = ["n_estimators=20", "train_missions=kepler"]


def test_set_names_are_checked_with_the_allowed_values() -> None:
    assert evalsets.check_set_name("koi-grouped-cv-5fold") == "koi-grouped-cv-5fold"
    with pytest.raises(ValueError, match="allowed: koi-grouped-cv-5fold, toi-cross-mission"):
        evalsets.check_set_name("kepler_cv")


def test_a_legacy_evaluation_counts_only_when_its_folds_were_the_named_ones() -> None:
    block = {"roc_auc": 0.984, "ece": 0.006, "folds": 5, "n_planet": 3, "n_false_positive": 4}
    metrics = {"evaluation": {"kepler_cv": block}, "oof": {"all": {"roc_auc": 0.977}}}
    assert evalsets.headline("gbm", metrics, config={"seed": 42}) == (
        "koi-grouped-cv-5fold",
        {"n": 7, "roc_auc": 0.984, "ece": 0.006},
    )
    # other folds (seed 7 → fold seed 8, or 3 folds): not the named set
    assert evalsets.headline("gbm", metrics, config={"seed": 7})[1] == {}
    three = {"evaluation": {"kepler_cv": block | {"folds": 3}}}
    assert evalsets.headline("gbm", three, config={"seed": 42})[1] == {}


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from exoguard.ml import service

    monkeypatch.setenv("EXOGUARD_DATA_DIR", str(get_settings().data_dir))
    monkeypatch.setenv("EXOGUARD_VAR_DIR", str(tmp_path / "var"))
    url = f"sqlite:///{(tmp_path / 'db.sqlite3').as_posix()}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    service.clear_cache()
    from exoguard.store.migrate import upgrade

    upgrade(url)
    yield tmp_path
    get_settings.cache_clear()
    service.clear_cache()


@pytest.mark.skipif(not KOI.exists(), reason="bundled NASA catalogs not found")
def test_cli_and_web_job_training_score_the_same_named_sets(
    var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from exoguard.cli import app
    from exoguard.ml import evaluate as evaluate_module
    from exoguard.services import models
    from exoguard.services.training import train as train_job
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.model_registry import settings_registry
    from exoguard.store.repositories import ModelVersionRepository
    from exoguard.web.pages import _figures

    seen: list[tuple[int, int]] = []
    real_folds = evaluate_module.group_folds

    def spy(y: Any, groups: Any, *, n_splits: int, seed: int) -> Any:
        seen.append((n_splits, seed))
        return real_folds(y, groups, n_splits=n_splits, seed=seed)

    monkeypatch.setattr(evaluate_module, "group_folds", spy)
    args = ["train", "--model", "gbm", "--config", "small"]
    for item in FAST:
        args += ["--param", item]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "koi-grouped-cv-5fold: ROC AUC" in result.output
    # the web job with other folds and seed in its config: the evaluation folds do not move
    params = {"config": "small", "n_estimators": 20, "train_missions": ["kepler"]}
    web = train_job(
        get_settings(),
        model="gbm",
        params={**params, "seed": 5, "cv_folds": 3},
        progress=lambda fraction, message: None,
    )
    assert seen == [(5, 43), (5, 43)]
    registry = settings_registry(get_settings())
    cli_rec, web_rec = registry.get("gbm-0001"), registry.get(web["version"])
    for rec in (cli_rec, web_rec):
        sets = evalsets.named_sets("gbm", rec.metrics, config=rec.config)
        assert list(sets) == ["koi-grouped-cv-5fold", "toi-cross-mission", "k2-cross-mission"]
        assert sets["koi-grouped-cv-5fold"]["n"] == cli_rec.metrics["evaluation"]["kepler_cv"]["n"]
        assert sets["toi-cross-mission"]["n"] == 1323 + 1344
    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            version = ModelVersionRepository(session).require(web_rec.id)
            view = models.version_view(version)
            figures, _ = _figures.model_figures(
                version.metrics, None, kind="gbm", config=version.config
            )
    finally:
        engine.dispose()
    # the table/API figure and the chart legend: the same set, the same number
    assert view["summary_set"] == "koi-grouped-cv-5fold"
    cv = web_rec.metrics["evaluation"]["kepler_cv"]
    assert view["summary"]["roc_auc"] == pytest.approx(cv["roc_auc"], abs=0)
    assert figures["roc"]["data"][0]["name"] == f"koi-grouped-cv-5fold (AUC {cv['roc_auc']:.3f})"
    assert view["sets"]["toi-cross-mission"]["roc_auc"] == pytest.approx(
        web_rec.metrics["evaluation"]["cross_mission"]["tess"]["roc_auc"], abs=0
    )
    # the calibration step's out-of-fold figure is a different number and is not shown
    assert view["summary"]["roc_auc"] != web_rec.metrics["oof"]["all"]["roc_auc"]
