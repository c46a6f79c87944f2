"""GBM ensemble: deterministic for a seed, calibrated out of fold, uncertainty, SHAP, artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exoguard.catalogs import CatalogTable, read_catalog
from exoguard.config import get_settings
from exoguard.ml.calibration import expected_calibration_error, fit_calibrator
from exoguard.ml.configs import apply_overrides, get_config
from exoguard.ml.dataset import labelled_data
from exoguard.ml.evaluate import binary_metrics
from exoguard.ml.explain import BASE_VALUE, shap_contributions, shap_contributions_reference
from exoguard.ml.gbm import GBMEnsemble, fit_ensemble, group_folds

KOI = get_settings().catalogs_dir / "koi_cumulative_2026-06-22.csv.gz"
pytestmark = pytest.mark.skipif(not KOI.exists(), reason="bundled NASA catalogs not found")

CFG = apply_overrides(get_config("small"), ["n_estimators=40", "train_missions=kepler"])


@pytest.fixture(scope="module")
def koi() -> CatalogTable:
    return read_catalog(KOI)


@pytest.fixture(scope="module")
def data(koi: CatalogTable):  # type: ignore[no-untyped-def]
    d = labelled_data([koi], features=CFG.feature_names, missions=["kepler"])
    # a fixed subset of stars keeps the test fast
    rng = np.random.default_rng(0)
    stars = np.unique(d.groups)
    keep = np.isin(d.groups, rng.choice(stars, size=2500, replace=False))
    return d.subset(keep)


def test_training_twice_gives_identical_predictions(data) -> None:  # type: ignore[no-untyped-def]
    a = fit_ensemble(data.X, data.y, data.groups, config=CFG)
    b = fit_ensemble(data.X, data.y, data.groups, config=CFG)
    pa, ua = a.model.predict(data.X)
    pb, ub = b.model.predict(data.X)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(ua, ub)
    np.testing.assert_array_equal(a.oof_probability, b.oof_probability)
    # a different seed gives a different model
    c = fit_ensemble(data.X, data.y, data.groups, config=apply_overrides(CFG, ["seed=7"]))
    assert not np.array_equal(c.model.predict(data.X)[0], pa)


def test_folds_never_split_a_star(data) -> None:  # type: ignore[no-untyped-def]
    folds = group_folds(data.y, data.groups, n_splits=3, seed=1)
    for train_idx, test_idx in folds:
        assert not set(data.groups[train_idx]) & set(data.groups[test_idx])
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(len(data)))


def test_out_of_fold_calibration_is_calibrated_and_discriminates(data) -> None:  # type: ignore[no-untyped-def]
    fit = fit_ensemble(data.X, data.y, data.groups, config=CFG)
    m = binary_metrics(data.y, fit.oof_probability)
    # out-of-fold figures on ~3,000 labelled KOIs with a tiny model
    assert m["roc_auc"] > 0.95
    assert m["ece"] < 0.05
    prob, unc = fit.model.predict(data.X)
    assert prob.shape == unc.shape == (len(data),)
    assert ((prob >= 0) & (prob <= 1)).all()
    assert (unc >= 0).all() and unc.max() > 0  # members disagree somewhere


def test_isotonic_and_platt_reduce_ece_of_miscalibrated_scores() -> None:
    rng = np.random.default_rng(1)
    true_p = rng.uniform(0, 1, 20000)
    y = (rng.uniform(0, 1, true_p.size) < true_p).astype(int)
    skewed = true_p**3  # systematically under-confident for planets
    before = expected_calibration_error(y, skewed)
    for method in ("isotonic", "platt"):
        cal = fit_calibrator(skewed[:10000], y[:10000], method=method)  # type: ignore[arg-type]
        after = expected_calibration_error(y[10000:], cal(skewed[10000:]))
        assert before > 0.1 and after < 0.03, (method, before, after)


def test_save_load_round_trip_and_shap(tmp_path: Path, data) -> None:  # type: ignore[no-untyped-def]
    fit = fit_ensemble(data.X, data.y, data.groups, config=CFG)
    fit.model.save(tmp_path / "m")
    assert sorted(p.suffix for p in (tmp_path / "m").iterdir()) == [".json"] + [".txt"] * 3
    loaded = GBMEnsemble.load(tmp_path / "m")
    X = data.X.iloc[:200]
    np.testing.assert_allclose(loaded.predict(X)[0], fit.model.predict(X)[0], rtol=0, atol=1e-12)

    contrib = shap_contributions(loaded, X)
    assert list(contrib.columns) == [*loaded.features, BASE_VALUE]
    # contributions + base value = mean member log-odds
    raw = loaded.predict_members_raw(X)
    logodds = np.log(raw / (1 - raw)).mean(axis=1)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), logodds, atol=1e-6)
    # the fast path equals shap.TreeExplainer
    ref = shap_contributions_reference(loaded, X.iloc[:50])
    np.testing.assert_allclose(contrib.iloc[:50].to_numpy(), ref.to_numpy(), atol=1e-6)


def test_binary_metrics_on_a_known_case() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = binary_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["confusion_matrix"] == [[1, 1], [1, 1]]
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert pd.isna(binary_metrics(np.array([1, 1]), np.array([0.2, 0.8]))["roc_auc"])
