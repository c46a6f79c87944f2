"""Period and duration grids: Ofir sampling, durations tied to the stellar density, limits."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.core.search.grid import (
    SearchGrid,
    autoperiod_periods,
    central_duration_days,
    make_grid,
    ofir_periods,
)
from exoguard.errors import ValidationError


def test_central_duration_of_the_earth_is_13_hours() -> None:
    # Earth transiting the Sun: 13.0 h (P / pi * R_sun / 1 AU).
    hours = float(central_duration_days(365.25)) * 24
    assert hours == pytest.approx(13.0, abs=0.1)


def test_central_duration_scales_with_density() -> None:
    sun = float(central_duration_days(10.0))
    # T ~ R* / M*^(1/3) at fixed period (for a >> R*).
    big = float(central_duration_days(10.0, star_radius_rsun=2.0, star_mass_msun=1.0))
    heavy = float(central_duration_days(10.0, star_radius_rsun=1.0, star_mass_msun=8.0))
    assert big / sun == pytest.approx(2.0, rel=0.01)
    assert heavy / sun == pytest.approx(0.5, rel=0.01)


def test_ofir_grid_is_uniform_in_cube_root_of_frequency() -> None:
    periods = ofir_periods(27.0, min_period_days=0.5, max_period_days=13.5, oversampling=3)
    assert periods[0] == pytest.approx(0.5, rel=1e-9)
    assert periods[-1] == pytest.approx(13.5, rel=1e-9)
    assert np.all(np.diff(periods) > 0)
    u = (1.0 / periods) ** (1 / 3)
    steps = np.diff(u)
    assert np.allclose(steps, steps[0], rtol=1e-6)


def test_ofir_grid_size_follows_baseline_and_oversampling() -> None:
    # N ~ 3 * OS * T * (f_max^(1/3) - f_min^(1/3)) * const: linear in T and in OS.
    n1 = ofir_periods(30.0, min_period_days=0.5, max_period_days=10.0, oversampling=3).size
    n2 = ofir_periods(60.0, min_period_days=0.5, max_period_days=10.0, oversampling=3).size
    n3 = ofir_periods(30.0, min_period_days=0.5, max_period_days=10.0, oversampling=6).size
    assert n2 / n1 == pytest.approx(2.0, rel=0.01)
    assert n3 / n1 == pytest.approx(2.0, rel=0.01)
    # A denser star (shorter transits) needs more trial periods.
    dense = ofir_periods(
        30.0, min_period_days=0.5, max_period_days=10.0, star_radius_rsun=0.5, star_mass_msun=0.5
    ).size
    assert dense > n1


def test_autoperiod_grid_matches_astropy() -> None:
    from astropy.timeseries import BoxLeastSquares

    t = np.linspace(0, 27.0, 2000)
    bls = BoxLeastSquares(t, np.ones_like(t))
    ref = np.sort(
        np.asarray(
            bls.autoperiod(0.05, minimum_period=0.5, maximum_period=13.5, frequency_factor=1.0)
        )
    )
    ours = autoperiod_periods(
        27.0, min_period_days=0.5, max_period_days=13.5, min_duration_days=0.05
    )
    # Same uniform frequency step (astropy's df = factor * min(duration) / baseline**2).
    df_ref = np.median(np.abs(np.diff(1 / ref)))
    df_ours = np.median(np.abs(np.diff(1 / ours)))
    assert df_ours == pytest.approx(df_ref, rel=1e-6)
    assert ours.size == pytest.approx(ref.size, rel=0.01)


def test_defaults_half_baseline_and_half_day() -> None:
    t = np.linspace(2458000.0, 2458027.0, 500)
    grid = make_grid(t)
    assert grid.periods_days[0] == pytest.approx(0.5)
    assert grid.periods_days[-1] == pytest.approx(13.5)
    assert grid.kind == "ofir"


def test_short_baseline_is_a_validation_error() -> None:
    t = np.linspace(0.0, 0.9, 100)
    with pytest.raises(ValidationError, match="two minimum periods"):
        make_grid(t)
    # Allowed with a shorter minimum period.
    assert make_grid(t, min_period_days=0.2).n_periods > 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "linear"}, "ofir"),
        ({"min_period_days": -1.0}, "min_period_days"),
        ({"max_period_days": 0.3}, "must exceed"),
        ({"oversampling": 0.0}, "oversampling"),
        ({"min_duration_factor": 2.0, "max_duration_factor": 1.0}, "duration_factor"),
        ({"max_duration_hours": 0.0}, "max_duration_hours"),
    ],
)
def test_bad_parameters_name_the_problem(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_grid(baseline_days=30.0, **kwargs)  # type: ignore[arg-type]


def test_durations_are_tied_to_the_period() -> None:
    grid = make_grid(baseline_days=100.0, max_duration_hours=100.0)
    bins = grid.duration_bins()
    assert bins[0] == grid.phase_oversample
    assert np.all(np.diff(bins) > 0)
    for index in (0, grid.n_periods // 2, grid.n_periods - 1):
        durations = grid.durations_days(index)
        central = grid.central_durations_days[index]
        ratios = durations / central
        assert ratios[0] == pytest.approx(0.3, rel=0.02)
        assert ratios.max() <= 2.5 * 1.02
        assert durations.max() <= grid.max_duty_cycle * grid.periods_days[index] + 1e-12


def test_max_duration_caps_the_longest_box() -> None:
    grid = make_grid(baseline_days=1400.0, max_duration_hours=10.0)
    longest = grid.durations_days(grid.n_periods - 1).max()
    assert longest <= 10.0 / 24.0 + 1e-9
    assert grid.longest_duration_days <= 10.0 / 24.0 + 1e-9


def test_grid_validates_its_arrays() -> None:
    with pytest.raises(ValueError, match="periods_days"):
        SearchGrid(periods_days=np.array([]), duration_factors=np.array([1.0]), baseline_days=10)
    with pytest.raises(ValueError, match="increasing"):
        SearchGrid(
            periods_days=np.array([1.0, 2.0]),
            duration_factors=np.array([1.0, 0.5]),
            baseline_days=10,
        )
