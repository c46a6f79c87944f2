"""Model features: forbidden columns never get in; derived physics has the right values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exoguard.catalogs.schema import FORBIDDEN_FEATURE_PATTERNS
from exoguard.errors import ConfigError
from exoguard.ml.configs import GBMConfig, apply_overrides, get_config
from exoguard.ml.features import (
    ALL_FEATURES,
    FEATURE_SETS,
    assert_allowed_features,
    build_features,
    forbidden_features,
    resolve_feature_set,
)


@pytest.mark.parametrize(
    "name",
    [
        "koi_score",
        "koi_fpflag_nt",
        "koi_fpflag_co",
        "koi_pdisposition",
        "koi_period_err1",
        "koi_depth_err2",
        "depth_ppm_err",
        "ra",
        "dec",
        "t0_bjd",
        "object_id",
        "host_id",
        "disposition",
    ],
)
def test_forbidden_names_are_refused(name: str) -> None:
    assert forbidden_features([name]) == [name]
    with pytest.raises(AssertionError, match="forbidden"):
        assert_allowed_features(["period_days", name])
    with pytest.raises(AssertionError):
        build_features(pd.DataFrame({"period_days": [1.0]}), features=["period_days", name])


def test_every_built_feature_is_allowed_and_patterns_cover_the_schema_list() -> None:
    assert forbidden_features(ALL_FEATURES) == []
    for name, names in FEATURE_SETS.items():
        assert resolve_feature_set(name) == names
    # every schema pattern is caught by the check (as a name of its own)
    assert forbidden_features([p.strip("_") for p in FORBIDDEN_FEATURE_PATTERNS]) == [
        p.strip("_") for p in FORBIDDEN_FEATURE_PATTERNS
    ]
    # "ra" must not knock out "duration_ratio"
    assert forbidden_features(["duration_ratio", "radius_ratio", "star_radius_rsun"]) == []


def test_configs_refuse_forbidden_or_unknown_features() -> None:
    with pytest.raises(ValueError):
        GBMConfig(features=("period_days", "koi_score"))
    with pytest.raises(ConfigError, match="unknown parameter"):
        apply_overrides(get_config("small"), ["leaves=3"])
    with pytest.raises(ConfigError):
        apply_overrides(get_config("small"), ["features=period_days,koi_fpflag_ss"])
    with pytest.raises(ConfigError, match="default, small"):
        get_config("nope")
    with pytest.raises(ValueError):
        GBMConfig.model_validate({"name": "x", "typo_field": 1})
    cfg = apply_overrides(get_config("small"), ["num_leaves=7", "n_ensemble=2", "seed=3"])
    assert (cfg.params.num_leaves, cfg.n_ensemble, cfg.seed) == (7, 2, 3)
    cfg = apply_overrides(cfg, ["features=period_days,depth_ppm"])
    assert cfg.feature_names == ("period_days", "depth_ppm")


def test_derived_physics_for_an_earth_analogue() -> None:
    # Earth around the Sun: a/R* = 215, central duration 13.0 h, k = 0.00917, depth 84 ppm
    frame = pd.DataFrame(
        {
            "period_days": [365.25],
            "duration_hours": [13.0],
            "depth_ppm": [84.0],
            "planet_radius_rearth": [1.0],
            "star_logg_cgs": [4.438],
            "star_radius_rsun": [1.0],
            "host_id": ["Sun"],
        }
    )
    f = build_features(frame).iloc[0]
    assert f["star_density_solar"] == pytest.approx(1.0, rel=1e-6)
    assert f["a_over_rstar"] == pytest.approx(215.0, rel=0.01)
    assert f["duration_expected_hours"] == pytest.approx(12.97, rel=0.01)
    assert f["duration_ratio"] == pytest.approx(1.0, rel=0.01)
    assert f["radius_ratio"] == pytest.approx(0.00916, rel=0.01)
    assert f["depth_ratio"] == pytest.approx(1.0, rel=0.01)
    assert f["n_candidates_on_host"] == 1
    assert f["transit_snr"] != f["transit_snr"]  # NaN when absent


def test_multiplicity_counts_per_host_and_nan_for_missing_inputs() -> None:
    frame = pd.DataFrame(
        {
            "host_id": ["A", "A", "B", None],
            "period_days": [1.0, 2.0, 3.0, np.nan],
            "star_logg_cgs": [4.4, 4.4, np.nan, 4.0],
            "star_radius_rsun": [1.0, 1.0, 1.0, 0.0],
        }
    )
    f = build_features(frame)
    assert f["n_candidates_on_host"].tolist() == [2, 2, 1, 1]
    assert np.isnan(f.loc[2, "a_over_rstar"])
    assert not np.isinf(f.to_numpy()).any()  # R* = 0 gives NaN, not inf


def test_period_ratio_flags_eclipsing_binary_pairs_and_radius_excess() -> None:
    frame = pd.DataFrame(
        {
            "host_id": ["EB", "EB", "multi", "multi", "multi", "single"],
            "period_days": [2.0, 4.0, 3.0, 4.5, 10.0, 7.0],
            "planet_radius_rearth": [30.0, 30.0, 2.0, 2.5, 22.4, np.nan],
        }
    )
    f = build_features(frame)
    assert f["nearest_period_ratio"].tolist()[:5] == pytest.approx([2.0, 2.0, 1.5, 1.5, 10 / 4.5])
    assert np.isnan(f["nearest_period_ratio"].iloc[5])
    assert f["planet_radius_excess_rearth"].tolist()[:5] == pytest.approx([7.6, 7.6, 0, 0, 0])
    # asking only for other features does not need (or compute) the ratio
    assert list(build_features(frame, features=["period_days"]).columns) == ["period_days"]
