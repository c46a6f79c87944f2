"""Physical derivations against hand-computed values, missingness patterns and routing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from exoguard.core import physics
from exoguard.ml.features import ALL_FEATURES
from exoguard.ml.missing import (
    PATTERNS,
    derive_missing,
    mask_to_pattern,
    pattern_features,
    route_patterns,
)


# --------------------------------------------------------------------------- physics
def test_sun_earth_by_hand() -> None:
    # The Sun (logg 4.438, 1 R☉, 5772 K) and a 365.25-day orbit: a/R* = 215.0 (1 AU over
    # 1 R☉ = 1.496e13/6.957e10 = 215.03, within the 0.1 % of the rounded constants),
    # S = 1 by construction, Teq = 5772 * sqrt(1/(2*215.03)) * 0.7**0.25 = 254.6 K.
    a_r = physics.a_over_rstar(365.25, 4.438, 1.0)
    assert float(a_r) == pytest.approx(215.03, rel=2e-3)
    assert float(physics.insolation_earth(5772.0, 365.25, 4.438, 1.0)) == pytest.approx(
        1.0, rel=5e-3
    )
    assert float(physics.equilibrium_temp_k(5772.0, 365.25, 4.438, 1.0)) == pytest.approx(
        254.6, rel=2e-3
    )
    # zero albedo: 5772 / sqrt(2 * 215.03) = 278.3 K
    assert float(
        physics.equilibrium_temp_k(5772.0, 365.25, 4.438, 1.0, albedo=0.0)
    ) == pytest.approx(278.3, rel=2e-3)


def test_planet_radius_from_depth_by_hand() -> None:
    # 1 % deep around the Sun: k = 0.1, Rp = 0.1 R☉ = 0.1 * 6.957e10 / 6.371e8 = 10.92 R⊕
    assert float(physics.planet_radius_rearth(10_000.0, 1.0)) == pytest.approx(10.92, rel=1e-3)
    # Kepler-227 b: 615.8 ppm, R* 0.927 → 0.927 * sqrt(615.8e-6) * 109.2 = 2.51 R⊕
    assert float(physics.planet_radius_rearth(615.8, 0.927)) == pytest.approx(2.51, rel=2e-3)
    assert math.isnan(float(physics.planet_radius_rearth(-5.0, 1.0)))
    assert math.isnan(float(physics.planet_radius_rearth(100.0, np.nan)))


def test_kepler_227b_teq_and_insolation_match_the_koi_table() -> None:
    # KOI table: Teq 793 K, insolation 93.59 S⊕ (Teff 5455 K, logg 4.467, R* 0.927, P 9.488 d)
    teq = physics.equilibrium_temp_k(5455.0, 9.488036, 4.467, 0.927)
    s = physics.insolation_earth(5455.0, 9.488036, 4.467, 0.927)
    assert float(teq) == pytest.approx(793.0, rel=0.01)
    assert float(s) == pytest.approx(93.59, rel=0.02)


def test_albedo_outside_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"albedo must be in \[0, 1\)"):
        physics.equilibrium_temp_k(5772.0, 10.0, 4.4, 1.0, albedo=1.0)


# --------------------------------------------------------------------------- derivation
def _row(**values: float) -> pd.DataFrame:
    return pd.DataFrame([values])


def test_derive_fills_only_missing_values_and_says_which() -> None:
    frame = pd.DataFrame(
        {
            "period_days": [9.488036, 9.488036],
            "depth_ppm": [615.8, 615.8],
            "planet_radius_rearth": [2.26, np.nan],
            "equilibrium_temp_k": [np.nan, np.nan],
            "star_teff_k": [5455.0, np.nan],
            "star_logg_cgs": [4.467, 4.467],
            "star_radius_rsun": [0.927, 0.927],
        }
    )
    out, derived = derive_missing(frame)
    assert out["planet_radius_rearth"].iloc[0] == 2.26  # given: kept
    assert out["planet_radius_rearth"].iloc[1] == pytest.approx(2.51, rel=2e-3)
    assert out["equilibrium_temp_k"].iloc[0] == pytest.approx(793.0, rel=0.01)
    assert math.isnan(out["equilibrium_temp_k"].iloc[1])  # no Teff: stays missing
    assert derived["planet_radius_rearth"].tolist() == [False, True]
    assert derived["equilibrium_temp_k"].tolist() == [True, False]
    assert frame["equilibrium_temp_k"].isna().all()  # the input is not changed


def test_mask_to_pattern_drops_fields_outside_it_and_rederives() -> None:
    full = _row(
        period_days=9.488036,
        duration_hours=2.9575,
        depth_ppm=615.8,
        impact=0.146,
        planet_radius_rearth=2.26,
        equilibrium_temp_k=700.0,
        insolation_earth=93.59,
        transit_snr=61.0,
        star_teff_k=5455.0,
        star_logg_cgs=4.467,
        star_radius_rsun=0.927,
        star_mag=15.3,
    )
    tce = mask_to_pattern(full, "tce")
    assert math.isnan(tce["impact"].iloc[0])
    # the catalog values are replaced by the physical derivations
    assert tce["planet_radius_rearth"].iloc[0] == pytest.approx(2.51, rel=2e-3)
    assert tce["equilibrium_temp_k"].iloc[0] == pytest.approx(793.0, rel=0.01)
    manual = mask_to_pattern(full, "manual")
    given = [c for c in PATTERNS["complete"] if np.isfinite(manual[c].iloc[0])]
    assert given == ["period_days", "duration_hours", "depth_ppm"]
    with pytest.raises(ValueError, match="unknown missingness pattern 'nope'; choose one of"):
        mask_to_pattern(full, "nope")


def test_pattern_features_use_only_what_the_pattern_gives() -> None:
    manual = pattern_features("manual", ALL_FEATURES)
    assert "star_teff_k" not in manual and "transit_snr" not in manual
    assert {"period_days", "duration_hours", "depth_ppm", "duration_over_period"} <= set(manual)
    tce = pattern_features("tce", ALL_FEATURES)
    # derivable from the star and the period
    assert {"equilibrium_temp_k", "planet_radius_rearth", "abs_log_duration_ratio"} <= set(tce)
    # depth-vs-fitted-radius checks need a given radius (derived from the depth they are 1)
    assert "depth_ratio" not in tce and "impact" not in tce
    assert pattern_features("complete", ALL_FEATURES) == ALL_FEATURES


def test_routing_takes_the_richest_pattern_a_row_gives() -> None:
    frame = pd.DataFrame(
        [
            # KOI-like: transit + impact + SNR → the catalog model, whatever else is missing
            dict(
                period_days=5.0, duration_hours=2.0, depth_ppm=500.0, impact=0.3, transit_snr=20.0
            ),
            # a search on a catalogued star
            dict(
                period_days=5.0,
                duration_hours=2.0,
                depth_ppm=500.0,
                transit_snr=20.0,
                star_teff_k=5000.0,
                star_logg_cgs=4.5,
                star_radius_rsun=0.8,
                star_mag=12.0,
            ),
            # a TOI row: no SNR
            dict(
                period_days=5.0,
                duration_hours=2.0,
                depth_ppm=500.0,
                star_teff_k=5000.0,
                star_logg_cgs=4.5,
                star_radius_rsun=0.8,
                star_mag=12.0,
            ),
            dict(period_days=5.0, duration_hours=2.0, depth_ppm=500.0, transit_snr=9.0),
            dict(period_days=5.0, duration_hours=2.0, depth_ppm=500.0),
            dict(
                period_days=5.0,
                planet_radius_rearth=2.0,
                star_teff_k=5000.0,
                star_logg_cgs=4.5,
                star_radius_rsun=0.8,
            ),
            dict(period_days=5.0, depth_ppm=500.0),
            dict(depth_ppm=500.0),
        ]
    )
    assert route_patterns(frame).tolist() == [
        "complete",
        "tce",
        "table_no_snr",
        "lightcurve",
        "manual",
        "period_radius_star",
        "period",
        "period",
    ]
    # only the trained patterns are candidates
    assert route_patterns(frame.iloc[[1]], patterns=("complete", "manual", "period")).tolist() == [
        "manual"
    ]


def test_the_basis_is_said_in_words() -> None:
    from exoguard.ml.missing import basis_sentences

    assert basis_sentences(None) == []
    words = basis_sentences(
        {
            "pattern": "tce",
            "light_curve": True,
            "components": {"network": 0.99, "gbm": 0.13},
            "out_of_range": [
                {"feature": "star_mag", "value": 1.5, "training_range": [7.36, 19.3]},
                {"feature": "mission", "value": "tess", "training_rows": 0},
            ],
        }
    )
    assert words[0].startswith("Judged from the transit, its signal-to-noise ratio and the star")
    assert "and the light curve itself" in words[0]
    assert "99 % planet" in words[1] and "13 %" in words[1]
    assert "star_mag 1.5 (trained on 7.36 to 19.3)" in words[2]
    assert "the TESS mission" in words[2]
    # components that agree add no sentence
    calm = basis_sentences({"pattern": "manual", "components": {"network": 0.6, "gbm": 0.5}})
    assert calm == ["Judged from period, duration and depth only; fields not given play no part."]
