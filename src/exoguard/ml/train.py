"""Training a versioned model and loading one back.

The deployed gbm model is trained on every labelled row of ``config.train_missions`` (by
default KOI + labelled TOI + K2: the model that scores TESS candidates in production should
have seen TESS). Evaluation figures never come from this model: ``exoguard evaluate`` refits
the pipeline under grouped cross-validation and a Kepler-only model for the cross-mission test.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from exoguard.catalogs import CatalogTable, load_default_catalogs
from exoguard.errors import ModelNotReadyError
from exoguard.ml.configs import GBMConfig
from exoguard.ml.dataset import labelled_data
from exoguard.ml.evaluate import binary_metrics
from exoguard.ml.explain import global_importance
from exoguard.ml.features import assert_allowed_features
from exoguard.ml.gbm import GBMEnsemble, Progress, data_hash
from exoguard.ml.patterns import PatternSet, Rows, fit_catalog_models
from exoguard.ml.registry import ModelRegistry, VersionRecord

logger = logging.getLogger(__name__)

#: Rows used for the stored global SHAP importance (a fixed, seeded sample).
IMPORTANCE_SAMPLE = 2000


@dataclass(frozen=True)
class LoadedModel:
    """A registered version with its ensemble and config, ready to predict."""

    record: VersionRecord
    config: GBMConfig
    ensemble: GBMEnsemble
    importance: list[dict[str, Any]]
    #: One model per missingness pattern (None: a version trained before patterns).
    patterns: PatternSet | None = None

    @property
    def version(self) -> str:
        return self.record.id


def train_gbm(
    config: GBMConfig,
    *,
    catalogs_dir: Path,
    tables: Sequence[CatalogTable] | None = None,
    registry: ModelRegistry,
    progress: Progress | None = None,
    activate_if_none: bool = True,
    tces: Rows | None = None,
    with_evaluation: bool = True,
    eval_tables: Sequence[CatalogTable] | None = None,
) -> VersionRecord:
    """Train, save and register a gbm version; returns its record.

    Besides the catalog model, one model per missingness pattern is trained
    (:mod:`exoguard.ml.patterns`); ``tces`` (labelled TCE rows, e.g. Kepler DR24) join the
    training of the patterns in :data:`exoguard.ml.patterns.TCE_PATTERNS`.

    Every version is scored on the named evaluation sets (:mod:`exoguard.ml.evalsets`) by
    :func:`exoguard.ml.evaluate.evaluate`, stored as ``metrics["evaluation"]``, whichever
    way it was trained (web job, CLI, ``make run``); ``with_evaluation=False`` (tests that
    only need a model) leaves it out and the pages then say the version was not evaluated.
    ``eval_tables`` are the archive tables the named sets are drawn from: by default the
    bundled catalogs (the ``tables`` themselves when none were given), whatever rows the
    version was trained on, so that every version's sets hold the same rows. Retraining with
    curated labels passes the archive alone.
    ``catalogs_dir`` (``settings.catalogs_dir``) holds the bundled catalogs and DR24 TCEs.
    ``metrics["oof"]`` keeps the out-of-fold figures of the calibration step (training rows
    of all missions) as a training diagnostic, not an evaluation.
    """
    t0 = time.perf_counter()
    given_tables = tables is not None
    tables = list(tables) if tables is not None else load_default_catalogs(catalogs_dir)
    data = labelled_data(tables, features=config.feature_names, missions=config.train_missions)
    fit, patterns = fit_catalog_models(
        data.frame,
        data.X,
        data.y,
        data.groups,
        config=config,
        n_candidates_on_host=_multiplicity(data),
        extra=tces if tces is not None else default_tces(tables, catalogs_dir),
        progress=progress,
    )
    # The evaluation runs before the registry is touched: a registry in the caller's
    # transaction (retraining) holds SQLite's write lock from its first statement, and the
    # job's progress writes during a long evaluation would wait on it.
    evaluation = None
    if with_evaluation:
        named_from = (
            list(eval_tables)
            if eval_tables is not None
            else (load_default_catalogs(catalogs_dir) if given_tables else tables)
        )
        evaluation = _named_evaluation(named_from, config=config, progress=progress)
    version_id = registry.next_version_id("gbm")
    directory = registry.artifact_dir(version_id)
    try:
        digest = _save_artifacts(directory, fit.model, patterns, data, config)
        metrics = _training_metrics(data, fit.oof_probability, config, tables)
        metrics["patterns"] = {name: m.metrics for name, m in patterns.models.items()}
        if evaluation is not None:
            metrics["evaluation"] = {**evaluation, "version": version_id}
        metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
        (directory / "metrics.json").write_text(json.dumps(metrics, indent=2))
        record = registry.register(
            version_id=version_id,
            kind="gbm",
            config=config.model_dump(mode="json"),
            data_hash=digest,
            metrics=metrics,
            activate_if_none=activate_if_none,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    _record_points(registry, version_id, metrics)
    logger.info("trained %s in %.1f s", version_id, metrics["train_seconds"])
    return record


def _named_evaluation(
    named_from: list[CatalogTable], *, config: GBMConfig, progress: Progress | None
) -> dict[str, Any]:
    """The named evaluation sets' report, JSON-safe."""
    from exoguard.jsonsafe import jsonable
    from exoguard.ml.evaluate import evaluate

    result: dict[str, Any] = jsonable(evaluate(named_from, config=config, progress=progress))
    return result


def _save_artifacts(
    directory: Path, model: GBMEnsemble, patterns: PatternSet, data: Any, config: GBMConfig
) -> str:
    """Model, pattern models, global importance, config and data hash; return the hash."""
    model.save(directory)
    patterns.save(directory)
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(len(data), size=min(IMPORTANCE_SAMPLE, len(data)), replace=False))
    importance = global_importance(model, data.X.iloc[sample])
    (directory / "importance.json").write_text(json.dumps(importance, indent=2))
    (directory / "config.json").write_text(config.model_dump_json(indent=2))
    digest = data_hash(data.X, data.y)
    (directory / "data_hash.txt").write_text(digest + "\n")
    return digest


def _record_points(registry: ModelRegistry, version_id: str, metrics: dict[str, Any]) -> None:
    """Out-of-fold and evaluation figures as metric points of ``version_id``."""
    oof = metrics.get("oof", {}).get("all") or {}
    registry.record_metric_points(
        version_id,
        {
            f"oof_{k}": oof[k]
            for k in ("roc_auc", "pr_auc", "accuracy", "brier", "ece")
            if oof.get(k) is not None
        },
        labels={"source": "train"},
    )
    if "evaluation" in metrics:
        registry.record_metric_points(
            version_id, evaluation_points(metrics["evaluation"]), labels={"source": "evaluate"}
        )


def evaluation_points(report: dict[str, Any]) -> dict[str, float]:
    """The time-series points of an evaluation report (named as ``exoguard evaluate`` does)."""
    cv = report.get("kepler_cv") or {}
    points = {f"kepler_cv_{k}": cv[k] for k in ("roc_auc", "ece", "brier") if cv.get(k) is not None}
    for m in ("tess", "k2"):
        block = (report.get("cross_mission") or {}).get(m)
        if block and block.get("roc_auc") is not None:
            points[f"{m}_roc_auc"] = block["roc_auc"]
    return points


def n_boosters_to_train(config: GBMConfig, *, with_evaluation: bool = True) -> int:
    """Boosters :func:`train_gbm` fits (the progress total), evaluation included."""
    from exoguard.ml.evaluate import n_boosters_for_evaluation
    from exoguard.ml.gbm import n_boosters_to_fit

    extra = n_boosters_for_evaluation(config) if with_evaluation else 0
    return n_boosters_to_fit(config) + extra


def _multiplicity(data: Any) -> np.ndarray:
    """Signals per star, counted over the whole catalog (before unlabelled rows were dropped)."""
    if "n_candidates_on_host" in data.X.columns:
        return np.asarray(data.X["n_candidates_on_host"].to_numpy(dtype=float))
    from exoguard.ml.features import candidates_per_host

    return candidates_per_host(data.frame)


def default_tces(tables: Sequence[CatalogTable], catalogs_dir: Path) -> Rows | None:
    """The bundled labelled DR24 TCEs of ``catalogs_dir`` (see
    :func:`exoguard.ml.dataset.dr24_rows`)."""
    from exoguard.catalogs.tce import DR24_FILE
    from exoguard.ml.dataset import dr24_rows

    return dr24_rows(catalogs_dir / DR24_FILE, tables)


def _training_metrics(
    data: Any, oof: np.ndarray, config: GBMConfig, tables: Sequence[CatalogTable]
) -> dict[str, Any]:
    missions = data.frame["mission"].to_numpy()
    out: dict[str, Any] = {
        "n_train": len(data),
        "n_train_by_mission": {m: int((missions == m).sum()) for m in np.unique(missions)},
        "features": list(config.feature_names),
        "data_files": [{"source": t.source, "archive_stamp": t.archive_stamp} for t in tables],
    }
    if np.isfinite(oof).all():
        # Curve points (ROC, precision–recall, reliability) feed the researcher's charts.
        out["oof"] = {"all": binary_metrics(data.y, oof, threshold=config.threshold, curves=True)}
        for m in np.unique(missions):
            sel = missions == m
            if len(np.unique(data.y[sel])) == 2:
                out["oof"][str(m)] = binary_metrics(
                    data.y[sel], oof[sel], threshold=config.threshold
                )
    return out


def load_version(version: str | None = None, *, registry: ModelRegistry) -> LoadedModel:
    """Load a version's artifacts (the active one when ``version`` is None).

    Raises
    ------
    ModelNotReadyError
        No active version, or its artifacts are missing/unreadable.
    NotFoundError
        Unknown version id.
    """
    record = registry.require_active() if version is None else registry.get(version)
    directory = Path(record.artifact_path)
    if not directory.is_dir():
        directory = registry.artifact_dir(record.id)
    try:
        ensemble = GBMEnsemble.load(directory)
        config = GBMConfig.model_validate_json((directory / "config.json").read_text())
        imp_path = directory / "importance.json"
        importance = json.loads(imp_path.read_text()) if imp_path.exists() else []
        patterns = PatternSet.load(directory, ensemble)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotReadyError(
            f"cannot load model {record.id!r} from {directory}: {exc}"
        ) from exc
    try:
        assert_allowed_features(config.feature_names)
    except AssertionError as exc:  # an artifact from an older feature set: retrain it
        raise ModelNotReadyError(
            f"model {record.id!r} uses features this version cannot build ({exc}); "
            "train a new version with `exoguard train --model gbm`"
        ) from exc
    return LoadedModel(
        record=record, config=config, ensemble=ensemble, importance=importance, patterns=patterns
    )
