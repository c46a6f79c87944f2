"""Population stability index and prediction-distribution figures (pure numpy)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from exoguard.ml.monitoring import (
    BinProfile,
    drift_profiles,
    population_stability_index,
    prediction_distribution,
    psi_against_profile,
    psi_per_feature,
    reference_profile,
)


def test_identical_samples_give_zero() -> None:
    x = np.random.default_rng(0).gamma(2.0, size=5000)
    assert population_stability_index(x, x) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(x, x.copy()[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_same_distribution_is_near_zero_and_shift_grows() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=20_000)
    same = population_stability_index(ref, rng.normal(size=20_000))
    assert same < 0.01  # sampling noise only: about (bins - 1) / n
    psis = [
        population_stability_index(ref, rng.normal(loc=shift, size=20_000))
        for shift in (0.1, 0.25, 0.5, 1.0)
    ]
    assert all(a < b for a, b in zip(psis, psis[1:], strict=False)), psis
    # a one-sigma shift is a significant shift on the usual reading (> 0.25); for two normal
    # distributions with equal width the continuous PSI is shift^2 = 1, binning lowers it a bit
    assert 0.7 < psis[-1] < 1.0
    assert psis[0] < 0.1


def test_hand_computed_value() -> None:
    expected = np.array([0.0] * 50 + [1.0] * 50)
    actual = np.array([0.0] * 80 + [1.0] * 20)
    want = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert population_stability_index(expected, actual) == pytest.approx(want, rel=1e-3)


def test_missing_values_have_their_own_bin() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=10_000)
    cur = rng.normal(size=10_000)
    cur[:3000] = np.nan
    # 30 % missing where the training data had none: a large shift, although the finite
    # values follow the same distribution
    assert population_stability_index(ref, cur) > 1.0
    ref_nan = ref.copy()
    ref_nan[:3000] = np.nan
    assert population_stability_index(ref_nan, cur) < 0.01


def test_constant_and_discrete_features() -> None:
    ones = np.full(1000, 5.0)
    assert population_stability_index(ones, ones) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(ones, np.full(1000, 6.0)) > 5.0
    counts = np.random.default_rng(3).integers(1, 4, size=5000).astype(float)
    profile = reference_profile(counts, n_bins=10)
    assert len(profile.edges) < 10  # repeated quantiles are merged
    assert sum(profile.proportions) + profile.missing == pytest.approx(1.0)


def test_profile_round_trip_and_per_feature() -> None:
    rng = np.random.default_rng(4)
    train = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.uniform(size=3000)})
    now = pd.DataFrame({"a": rng.normal(loc=2.0, size=500), "b": rng.uniform(size=500)})
    profiles = drift_profiles(train)
    restored = {k: BinProfile.from_dict(v.to_dict()) for k, v in profiles.items()}
    psi = psi_per_feature(restored, now)
    assert psi["a"] > 1.0 and psi["b"] < 0.1
    assert psi["a"] == pytest.approx(
        population_stability_index(train["a"].to_numpy(), now["a"].to_numpy())
    )
    assert psi_per_feature(restored, now.iloc[:0]) == {}
    with pytest.raises(ValueError, match="proportions"):
        BinProfile.from_dict({"edges": [0.0], "proportions": [1.0], "missing": 0.0, "n": 1})


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_bins"):
        reference_profile(np.ones(3), n_bins=0)
    with pytest.raises(ValueError, match="empty"):
        population_stability_index(np.ones(3), np.array([]))
    with pytest.raises(ValueError, match="eps"):
        psi_against_profile(reference_profile(np.ones(3)), np.ones(3), eps=0.0)


def test_prediction_distribution() -> None:
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0, np.nan])
    out = prediction_distribution(p)
    assert out["prediction_n"] == 5
    assert out["prediction_mean"] == pytest.approx(np.mean([0.05, 0.15, 0.15, 0.95, 1.0]))
    assert out["prediction_planet_share"] == pytest.approx(0.4)
    hist = [out[f"prediction_hist_{i:02d}"] for i in range(10)]
    assert sum(hist) == pytest.approx(1.0)
    assert hist[0] == pytest.approx(0.2) and hist[1] == pytest.approx(0.4)
    assert hist[9] == pytest.approx(0.4)  # the last bin is closed: 1.0 counts
    assert prediction_distribution(np.array([])) == {}
