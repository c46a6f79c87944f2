"""One evaluation of the paths users take, with the plain baseline beside every figure.

Paths (catalog side; the light-curve path (e) runs the web preprocessing code and lives
with it):

``a_koi_complete``
    Labelled KOI rows as they are, grouped 5-fold cross-validation by star.
``b_<pattern>``
    The same rows and folds, each test row masked to a missingness pattern of
    :mod:`exoguard.ml.missing` (``tce``, ``table_no_snr``, ``lightcurve``, ``manual``).
``c_dr24_tce``
    Kepler DR24 TCEs (``av_training_set`` PC against AFP and NTP), stellar fields joined
    from the KOI table where it knows the star; stars split into the same number of folds,
    each fold scored by models trained on the KOIs of the *other* folds' stars only.
``d_tess_toi`` / ``d_k2``
    Labelled TOI and K2 rows scored by models trained on all labelled KOIs (Kepler only).

For every path: n, ROC AUC, ECE, the share of verdicts flagged uncertain and the
**confident-and-wrong rate** (errors among verdicts not flagged), and the same for the
baseline: a plain LightGBM on eight raw fields (period, duration, depth, planet radius,
Teff, logg, R*, magnitude) trained on the same KOI rows, given the same (masked, derived)
inputs. A star never appears in both the training and the test rows of a path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from exoguard.catalogs import CatalogTable
from exoguard.catalogs.tce import DR24_FILE
from exoguard.ml.calibration import expected_calibration_error
from exoguard.ml.configs import GBMConfig
from exoguard.ml.dataset import LabelledData, dr24_rows, labelled_data
from exoguard.ml.flagging import FlagRule
from exoguard.ml.gbm import group_folds
from exoguard.ml.missing import derive_missing, mask_to_pattern
from exoguard.ml.patterns import PatternSet, Rows, fit_catalog_models

logger = logging.getLogger(__name__)

#: The eight raw fields of the plain baseline.
BASELINE_FIELDS: Final[tuple[str, ...]] = (
    "period_days",
    "duration_hours",
    "depth_ppm",
    "planet_radius_rearth",
    "star_teff_k",
    "star_logg_cgs",
    "star_radius_rsun",
    "star_mag",
)
#: Patterns of path (b).
MASKED_PATTERNS: Final[tuple[str, ...]] = ("tce", "table_no_snr", "lightcurve", "manual")


def path_metrics(
    y: np.ndarray, p: np.ndarray, u: np.ndarray, *, rule: FlagRule, threshold: float = 0.5
) -> dict[str, Any]:
    """n, ROC AUC, ECE, accuracy, flagged share and confident-and-wrong rate."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    flag = rule.flagged(p, np.asarray(u, dtype=float))
    wrong = (p >= threshold).astype(int) != y
    confident = ~flag
    return {
        "n": int(len(y)),
        "n_planet": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None,
        "ece": expected_calibration_error(y, p),
        "accuracy": float((~wrong).mean()) if len(y) else None,
        "flagged_share": float(flag.mean()) if len(y) else None,
        "confident_and_wrong": float(wrong[confident].mean()) if confident.any() else 0.0,
    }


# ----------------------------------------------------------------------------- baseline
def _baseline_matrix(frame: pd.DataFrame) -> np.ndarray:
    derived, _ = derive_missing(frame)
    cols = [pd.to_numeric(derived.get(c), errors="coerce") for c in BASELINE_FIELDS]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols])


def fit_baseline(frame: pd.DataFrame, y: np.ndarray, *, seed: int) -> lgb.Booster:
    """The plain eight-field LightGBM (LightGBM defaults, 200 rounds), on the rows as given."""
    ds = lgb.Dataset(_baseline_matrix(frame), label=y, feature_name=list(BASELINE_FIELDS))
    params = {"objective": "binary", "verbosity": -1, "seed": seed, "deterministic": True}
    params.update({"num_threads": 1, "force_row_wise": True})
    return lgb.train(params, ds, num_boost_round=200)


def baseline_predict(model: lgb.Booster, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict(_baseline_matrix(frame), num_threads=1), dtype=float)


# ----------------------------------------------------------------------------- models
@dataclass(frozen=True)
class _Fitted:
    patterns: PatternSet
    baseline: lgb.Booster


def _fit(data: LabelledData, counts: np.ndarray, config: GBMConfig, extra: Rows | None) -> _Fitted:
    _, patterns = fit_catalog_models(
        data.frame,
        data.X,
        data.y,
        data.groups,
        config=config,
        n_candidates_on_host=counts,
        extra=extra,
    )
    return _Fitted(patterns, fit_baseline(data.frame, data.y, seed=config.seed))


def _score(
    fitted: _Fitted, frame: pd.DataFrame, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scores = fitted.patterns.predict(frame, n_candidates_on_host=counts)
    return (
        scores.probability,
        scores.uncertainty,
        scores.pattern,
        baseline_predict(fitted.baseline, frame),
    )


def _summary(
    name: str,
    y: np.ndarray,
    p: np.ndarray,
    u: np.ndarray,
    routes: np.ndarray,
    p_base: np.ndarray,
    *,
    rule: FlagRule,
    note: str,
) -> dict[str, Any]:
    out = path_metrics(y, p, u, rule=rule)
    base = path_metrics(y, p_base, np.zeros(len(p_base)), rule=rule)
    values, counts = np.unique(routes.astype(str), return_counts=True)
    out.update(
        {
            "path": name,
            "note": note,
            "scored_by_pattern": {str(v): int(c) for v, c in zip(values, counts, strict=True)},
            "baseline": base,
            "roc_auc_minus_baseline": (
                None
                if out["roc_auc"] is None or base["roc_auc"] is None
                else out["roc_auc"] - base["roc_auc"]
            ),
        }
    )
    return out


def _kepler(tables: Sequence[CatalogTable], config: GBMConfig) -> tuple[LabelledData, np.ndarray]:
    data = labelled_data(tables, features=config.feature_names, missions=["kepler"])
    counts = data.X["n_candidates_on_host"].to_numpy(dtype=float)
    return data, counts


# ----------------------------------------------------------------------------- paths a, b
def koi_paths(
    tables: Sequence[CatalogTable],
    *,
    config: GBMConfig,
    rule: FlagRule,
    tces: Rows | None = None,
    patterns: Sequence[str] = MASKED_PATTERNS,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Paths (a) and (b): grouped CV on labelled KOIs, complete and masked.

    ``tces`` (labelled TCE rows) join the reduced patterns' training, minus the test stars.
    """
    data, counts = _kepler(tables, config)
    n = len(data)
    p = {k: np.full(n, np.nan) for k in ("a", *patterns)}
    u = {k: np.full(n, np.nan) for k in p}
    r = {k: np.empty(n, dtype=object) for k in p}
    b = {k: np.full(n, np.nan) for k in p}
    folds = group_folds(data.y, data.groups, n_splits=config.cv_folds, seed=config.seed + 1)
    for i, (train_idx, test_idx) in enumerate(folds):
        assert not set(data.groups[train_idx]) & set(data.groups[test_idx])
        extra = None
        if tces is not None:
            extra = tces.subset(~np.isin(tces.groups, data.groups[test_idx]))
        fitted = _fit(data.subset(_mask(n, train_idx)), counts[train_idx], config, extra)
        test = data.frame.iloc[test_idx]
        for key in p:
            frame = test if key == "a" else mask_to_pattern(test, key)
            p[key][test_idx], u[key][test_idx], r[key][test_idx], b[key][test_idx] = _score(
                fitted, frame, counts[test_idx]
            )
        if log:
            log(f"paths a/b: fold {i + 1} of {len(folds)} done")
    out = [
        _summary(
            "a_koi_complete",
            data.y,
            p["a"],
            u["a"],
            r["a"],
            b["a"],
            rule=rule,
            note=f"labelled KOIs as given; {config.cv_folds}-fold CV grouped by star",
        )
    ]
    for key in patterns:
        out.append(
            _summary(
                f"b_{key}",
                data.y,
                p[key],
                u[key],
                r[key],
                b[key],
                rule=rule,
                note=f"the same KOI rows and folds, test rows masked to pattern {key!r}",
            )
        )
    return out


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


# ----------------------------------------------------------------------------- path c
def tce_rows(catalogs_dir: Path, tables: Sequence[CatalogTable]) -> Rows:
    """The labelled DR24 TCEs as training/test rows, stars joined from the KOI table."""
    rows = dr24_rows(catalogs_dir / DR24_FILE, tables)
    if rows is None:
        raise ValueError(f"no DR24 TCE table ({DR24_FILE}) in {catalogs_dir} or no Kepler table")
    return rows


def dr24_path(
    tables: Sequence[CatalogTable],
    *,
    config: GBMConfig,
    rule: FlagRule,
    catalogs_dir: Path,
    tces: Rows | None = None,
    train_on_tces: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Path (c): DR24 TCEs, each fold of stars scored by models trained on the other folds'
    stars only (their KOIs, and with ``train_on_tces`` their TCEs too)."""
    data, counts = _kepler(tables, config)
    tces = tce_rows(catalogs_dir, tables) if tces is None else tces
    tce, tce_counts, y = tces.frame, tces.n_candidates_on_host, tces.y
    stars = np.array(sorted(set(data.groups) | set(tces.groups)))
    rng = np.random.default_rng(config.seed + 2)
    fold_of = dict(zip(stars, rng.integers(0, config.cv_folds, len(stars)), strict=True))
    koi_fold = np.array([fold_of[g] for g in data.groups])
    tce_fold = np.array([fold_of[g] for g in tces.groups])
    p, u, b = np.full(len(tce), np.nan), np.full(len(tce), np.nan), np.full(len(tce), np.nan)
    r = np.empty(len(tce), dtype=object)
    for k in range(config.cv_folds):
        train = koi_fold != k
        test = np.flatnonzero(tce_fold == k)
        extra = tces.subset(tce_fold != k) if train_on_tces else None
        fitted = _fit(data.subset(train), counts[train], config, extra)
        assert not set(data.groups[train]) & set(tces.groups[test])
        p[test], u[test], r[test], b[test] = _score(fitted, tce.iloc[test], tce_counts[test])
        if log:
            log(f"path c: fold {k + 1} of {config.cv_folds} done")
    return _summary(
        "c_dr24_tce",
        y,
        p,
        u,
        r,
        b,
        rule=rule,
        note=(
            "Kepler DR24 TCEs, PC vs AFP+NTP; stars from the KOI table where known; "
            f"{config.cv_folds} folds of stars, trained on the other folds' KOIs"
            + (" and TCEs" if train_on_tces else "")
        ),
    )


# ----------------------------------------------------------------------------- path d
def cross_mission_paths(
    tables: Sequence[CatalogTable],
    *,
    config: GBMConfig,
    rule: FlagRule,
    tces: Rows | None = None,
) -> list[dict[str, Any]]:
    """Path (d): labelled TOI and K2 rows scored by models trained on Kepler only."""
    data, counts = _kepler(tables, config)
    fitted = _fit(data, counts, config, tces)
    out = []
    for mission, name in (("tess", "d_tess_toi"), ("k2", "d_k2")):
        try:
            test = labelled_data(tables, features=config.feature_names, missions=[mission])
        except ValueError:
            continue
        test_counts = test.X["n_candidates_on_host"].to_numpy(dtype=float)
        p, u, r, b = _score(fitted, test.frame, test_counts)
        out.append(
            _summary(
                name,
                test.y,
                p,
                u,
                r,
                b,
                rule=rule,
                note=f"labelled {mission} rows; trained on all labelled KOIs (Kepler only)",
            )
        )
    return out


def catalog_paths(
    tables: Sequence[CatalogTable],
    *,
    config: GBMConfig,
    rule: FlagRule,
    catalogs_dir: Path,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Paths (a)–(d) in one list (each entry has ``path``); the DR24 TCEs join the reduced
    patterns' training everywhere, as they do in :func:`exoguard.ml.train.train_gbm`."""
    tces = tce_rows(catalogs_dir, tables)
    out = koi_paths(tables, config=config, rule=rule, tces=tces, log=log)
    out.append(
        dr24_path(tables, config=config, rule=rule, catalogs_dir=catalogs_dir, tces=tces, log=log)
    )
    out.extend(cross_mission_paths(tables, config=config, rule=rule, tces=tces))
    return out


__all__ = [
    "BASELINE_FIELDS",
    "FlagRule",
    "baseline_predict",
    "catalog_paths",
    "cross_mission_paths",
    "tce_rows",
    "dr24_path",
    "fit_baseline",
    "koi_paths",
    "path_metrics",
]
