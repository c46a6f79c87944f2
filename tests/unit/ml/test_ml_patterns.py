"""One model per missingness pattern: masking, absent fields, out-of-range inputs, artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from exoguard.catalogs import read_catalog
from exoguard.config import get_settings
from exoguard.ml.configs import apply_overrides, get_config
from exoguard.ml.dataset import labelled_data
from exoguard.ml.explain import shap_contributions
from exoguard.ml.gbm import fit_ensemble
from exoguard.ml.missing import mask_to_pattern, pattern_features
from exoguard.ml.paths import FlagRule, path_metrics
from exoguard.ml.patterns import OOD_UNCERTAINTY, PatternSet, fit_pattern_set, pattern_matrix

KOI = get_settings().catalogs_dir / "koi_cumulative_2026-06-22.csv.gz"
pytestmark = pytest.mark.skipif(not KOI.exists(), reason="bundled NASA catalogs not found")

CFG = apply_overrides(get_config("small"), ["n_estimators=40", "train_missions=kepler"])


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    d = labelled_data([read_catalog(KOI)], features=CFG.feature_names, missions=["kepler"])
    rng = np.random.default_rng(0)
    stars = rng.permutation(np.unique(d.groups))
    train = np.isin(d.groups, stars[:2500])
    test = np.isin(d.groups, stars[2500:3500])
    return d.subset(train), d.subset(test)


@pytest.fixture(scope="module")
def patterns(split) -> PatternSet:  # type: ignore[no-untyped-def]
    train, _ = split
    complete = fit_ensemble(train.X, train.y, train.groups, config=CFG).model
    return fit_pattern_set(
        train.frame,
        train.y,
        train.groups,
        config=CFG,
        complete=complete,
        complete_X=train.X,
        n_candidates_on_host=train.X["n_candidates_on_host"].to_numpy(dtype=float),
        patterns=("complete", "tce", "manual", "period"),
    )


def test_each_pattern_model_uses_only_its_fields(patterns: PatternSet) -> None:
    assert patterns.patterns == ("complete", "tce", "manual", "period")
    assert patterns.models["manual"].features == pattern_features("manual", CFG.feature_names)
    assert not any(f.startswith("star_") for f in patterns.models["manual"].features)


def test_three_field_rows_are_scored_as_three_field_rows(patterns: PatternSet, split) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    masked = mask_to_pattern(test.frame, "manual")
    counts = test.X["n_candidates_on_host"].to_numpy(dtype=float)
    scores = patterns.predict(masked, n_candidates_on_host=counts)
    has_transit = masked[["period_days", "duration_hours", "depth_ppm"]].notna().all(axis=1)
    assert set(scores.pattern[has_transit.to_numpy()]) == {"manual"}
    # the catalog model reads the absent star as "false positive" (a KOI without stellar
    # parameters usually is one): the three-field model does not
    complete = patterns.models["complete"]
    complete_p, _ = complete.ensemble.predict(
        pattern_matrix(masked, "complete", complete.features, n_candidates_on_host=counts)
    )
    planets = test.y == 1
    assert scores.probability[planets].mean() > 0.5
    assert complete_p[planets].mean() < scores.probability[planets].mean() - 0.2
    # and it still ranks: ROC AUC on 1,000 held-out stars' masked rows
    ok = has_transit.to_numpy()
    auc = roc_auc_score(test.y[ok], scores.probability[ok])
    assert auc > 0.85, auc


def test_absent_fields_contribute_nothing(patterns: PatternSet) -> None:
    row = pd.DataFrame([dict(period_days=9.488, duration_hours=2.96, depth_ppm=615.8)])
    ((name, _, X),) = patterns.matrices(row)
    assert name == "manual"
    contrib = shap_contributions(patterns.models["manual"].ensemble, X)
    assert "star_teff_k" not in contrib.columns and "transit_snr" not in contrib.columns


def test_inputs_off_the_training_range_raise_the_uncertainty(patterns: PatternSet) -> None:
    base = dict(
        period_days=9.488,
        duration_hours=2.96,
        depth_ppm=615.8,
        transit_snr=30.0,
        star_teff_k=5455.0,
        star_logg_cgs=4.467,
        star_radius_rsun=0.927,
    )
    frame = pd.DataFrame([{**base, "star_mag": 15.3}, {**base, "star_mag": 1.5}])
    scores = patterns.predict(frame)
    assert scores.pattern.tolist() == ["tce", "tce"]
    assert scores.out_of_range[0] == []
    assert [o["feature"] for o in scores.out_of_range[1]] == ["star_mag"]
    assert scores.uncertainty[1] >= OOD_UNCERTAINTY
    assert scores.uncertainty[1] > FlagRule().uncertainty_threshold  # type: ignore[operator]


def test_saved_and_loaded_patterns_predict_the_same(
    patterns: PatternSet, split, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    patterns.save(tmp_path)
    loaded = PatternSet.load(tmp_path, patterns.models["complete"].ensemble)
    assert loaded is not None and loaded.patterns == patterns.patterns
    frame = mask_to_pattern(test.frame.iloc[:200], "tce")
    a, b = patterns.predict(frame), loaded.predict(frame)
    np.testing.assert_allclose(a.probability, b.probability, rtol=1e-12)
    np.testing.assert_allclose(a.uncertainty, b.uncertainty, rtol=1e-12)
    assert PatternSet.load(tmp_path / "none", patterns.models["complete"].ensemble) is None


def test_path_metrics_count_confident_errors_only() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.1, 0.5, 0.05, 0.95])
    u = np.array([0.01, 0.01, 0.01, 0.3, 0.01])
    m = path_metrics(y, p, u, rule=FlagRule(uncertainty_threshold=0.15, ambiguous_band=(0.2, 0.8)))
    # flagged: p=0.5 (band) and u=0.3; confident: 0.9 (right), 0.1 (wrong), 0.95 (right)
    assert m["flagged_share"] == pytest.approx(2 / 5)
    assert m["confident_and_wrong"] == pytest.approx(1 / 3)


def test_a_mission_the_model_never_saw_is_out_of_distribution(patterns: PatternSet) -> None:
    assert patterns.missions.get("kepler", 0) > 1000 and "tess" not in patterns.missions
    row = dict(period_days=9.488, duration_hours=2.96, depth_ppm=615.8)
    frame = pd.DataFrame([{**row, "mission": "kepler"}, {**row, "mission": "tess"}])
    scores = patterns.predict(frame)
    assert scores.out_of_range[0] == []
    assert scores.out_of_range[1] == [{"feature": "mission", "value": "tess", "training_rows": 0}]
    assert scores.uncertainty[1] >= OOD_UNCERTAINTY > scores.uncertainty[0]
    np.testing.assert_allclose(scores.probability[0], scores.probability[1])
