"""The iterative multi-planet search on synthetic light curves; aliases; result objects."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import exoguard
from exoguard.catalogs.schema import HARMONISED_COLUMNS
from exoguard.core.diagnostics import diagnose_transit
from exoguard.core.lightcurve import LightCurve
from exoguard.core.search import (
    StarParams,
    TransitCandidate,
    flag_aliases,
    search_lightcurve,
    search_transits,
)
from exoguard.errors import ValidationError

T_START = 2458325.0


def _dips(t: np.ndarray, period: float, t0: float, depth: float, half: float) -> np.ndarray:
    dt = (t - t0 + period / 2) % period - period / 2
    return depth * (np.abs(dt) < half)


def _two_planets(seed: int = 1) -> LightCurve:
    rng = np.random.default_rng(seed)
    t = T_START + np.arange(0.0, 27.0, 10 / 1440)
    y = 1 + 3e-4 * rng.standard_normal(t.size) + 2e-3 * np.sin(2 * np.pi * (t - T_START) / 9.0)
    y -= _dips(t, 3.1, T_START + 1.1, 1.5e-3, 0.05)
    y -= _dips(t, 7.7, T_START + 2.3, 1.0e-3, 0.07)
    return LightCurve.from_arrays(
        t, y, np.full(t.size, 3e-4), mission="tess", target_id="TIC 1", sources=("synthetic",)
    )


def test_finds_two_planets_and_stops() -> None:
    lc = _two_planets()
    res = search_lightcurve(lc, max_planets=4)
    periods = [c.period_days for c in res.candidates]
    assert len(periods) == 2, res.stop_reason
    assert periods[0] == pytest.approx(3.1, rel=1e-3)
    assert periods[1] == pytest.approx(7.7, rel=1e-3)
    assert res.stop_reason.startswith("highest peak SDE") or "SNR" in res.stop_reason
    assert len(res.periodograms) == 3
    first, second = res.candidates
    assert first.object_id == "TIC 1.01" and second.object_id == "TIC 1.02"
    assert first.depth_ppm == pytest.approx(1500, rel=0.15)
    assert second.depth_ppm == pytest.approx(1000, rel=0.15)
    assert first.n_transits in (8, 9) and not first.few_transits
    assert second.n_transits in (3, 4)
    assert first.alias_of is None and second.alias_of is None
    # The sinusoid was detrended away: phases of t0 line up with the injected epochs.
    offset = ((first.t0_bjd - (T_START + 1.1)) / 3.1) % 1
    assert min(offset, 1 - offset) * 3.1 < 0.02
    assert first.period_err_days < 1e-3


def test_public_entry_point_and_progress() -> None:
    lc = _two_planets()
    calls: list[tuple[int, int]] = []
    found = exoguard.search_transits(lc, max_planets=1, progress=lambda d, n: calls.append((d, n)))
    assert len(found) == 1
    assert found[0].period_days == pytest.approx(3.1, rel=1e-3)
    assert calls[-1][0] == calls[-1][1]


def test_single_transit_is_flagged() -> None:
    rng = np.random.default_rng(2)
    t = T_START + np.arange(0.0, 27.0, 10 / 1440)
    y = 1 + 2e-4 * rng.standard_normal(t.size)
    y[np.abs(t - (T_START + 12.0)) < 0.1] -= 3e-3
    lc = LightCurve.from_arrays(t, y, np.full(t.size, 2e-4), target_id="TIC 2")
    found = search_transits(lc, max_period_days=26.0, max_planets=1)
    assert len(found) == 1
    assert found[0].single_transit
    assert found[0].few_transits
    assert found[0].n_transits == 1


def test_noise_gives_no_candidate() -> None:
    rng = np.random.default_rng(3)
    t = T_START + np.arange(0.0, 27.0, 10 / 1440)
    lc = LightCurve.from_arrays(t, 1 + 3e-4 * rng.standard_normal(t.size), np.full(t.size, 3e-4))
    res = search_lightcurve(lc, max_planets=2)
    assert res.candidates == ()
    assert "SDE" in res.stop_reason or "SNR" in res.stop_reason


def _candidate(
    object_id: str, period: float, t0: float, duration_hours: float = 2.0
) -> TransitCandidate:
    t = T_START + np.arange(0.0, 20.0, 0.01)
    diag = diagnose_transit(
        t, np.ones_like(t), None, period_days=period, t0_bjd=t0, duration_days=0.1, refine=False
    )
    return TransitCandidate(
        object_id=object_id,
        host_id="X",
        mission="other",
        rank=1,
        period_days=period,
        period_err_days=math.nan,
        t0_bjd=t0,
        duration_hours=duration_hours,
        sde=10.0,
        power=1.0,
        diagnostics=diag,
    )


def test_alias_flags() -> None:
    base = _candidate("X.01", 4.0, T_START + 1.0)
    half = _candidate("X.02", 2.0, T_START + 3.0)  # P/2, transits coincide
    double = _candidate("X.03", 8.0, T_START + 5.0)  # 2P, transits coincide
    other = _candidate("X.04", 5.3, T_START + 0.2)  # unrelated
    flagged = flag_aliases([base, half, double, other])
    assert flagged[0].alias_of is None
    assert (flagged[1].alias_of, flagged[1].alias_ratio) == ("X.01", "1:2")
    assert (flagged[2].alias_of, flagged[2].alias_ratio) == ("X.01", "2:1")
    assert flagged[3].alias_of is None
    # 3P whose transits fall between the stronger one's: not an alias.
    shifted = _candidate("X.05", 12.0, T_START + 3.0)
    assert flag_aliases([base, shifted])[1].alias_of is None
    # 3P in step with it: an alias.
    triple = _candidate("X.06", 12.0, T_START + 9.0)
    assert flag_aliases([base, triple])[1].alias_ratio == "3:1"
    # Same period at another phase (e.g. a secondary eclipse).
    same = _candidate("X.07", 4.0, T_START + 3.0)
    assert flag_aliases([base, same])[1].alias_ratio == "1:1"
    # An alias of an alias points at the original.
    quarter = _candidate("X.08", 1.0, T_START + 2.0)
    assert flag_aliases([base, half, quarter])[2].alias_of == "X.01"


def test_harmonised_row_and_dict() -> None:
    lc = _two_planets()
    star = StarParams(radius_rsun=1.1, mass_msun=1.0, teff_k=5800.0, logg_cgs=4.4, mag=9.0)
    cand = search_transits(lc, max_planets=1, star=star)[0]
    row = cand.to_harmonised()
    assert tuple(row) == HARMONISED_COLUMNS
    assert row["object_id"] == "TIC 1.01" and row["host_id"] == "TIC 1"
    assert row["mission"] == "tess" and row["label"] == "candidate"
    assert math.isnan(row["impact"])
    # R_p = sqrt(depth) R*: 1500 ppm on 1.1 R_sun -> ~4.6 R_earth.
    assert row["planet_radius_rearth"] == pytest.approx(
        math.sqrt(cand.depth_ppm * 1e-6) * 1.1 * 109.076, rel=1e-9
    )
    assert 4.0 < row["planet_radius_rearth"] < 5.2
    assert row["star_teff_k"] == 5800.0 and row["transit_snr"] == pytest.approx(cand.snr)
    assert 500 < row["equilibrium_temp_k"] < 2000
    d = cand.to_dict()
    for key in (
        "period_days", "t0_bjd", "duration_hours", "depth_ppm", "depth_err_ppm", "snr", "sde",
        "n_transits", "odd_even_sigma", "secondary_depth_ppm", "secondary_sigma", "shape",
        "duration_ratio", "alias_of", "single_transit",
    ):  # fmt: skip
        assert key in d
    assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in d.values())
    # Unknown star: no planet radius.
    unknown = dataclasses.replace(cand, star=StarParams()).to_harmonised()
    assert math.isnan(unknown["planet_radius_rearth"]) and math.isnan(unknown["star_teff_k"])


def test_bad_arguments() -> None:
    lc = _two_planets()
    with pytest.raises(ValueError, match="engine must be one of"):
        search_transits(lc, engine="cuda")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period_grid must be one of"):
        search_transits(lc, period_grid="log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_planets"):
        search_transits(lc, max_planets=0)
    with pytest.raises(TypeError, match="LightCurve"):
        search_transits(np.ones(10))  # type: ignore[arg-type]
    short = lc.select(lc.time_bjd < T_START + 0.8)
    with pytest.raises(ValidationError, match="two minimum periods"):
        search_transits(short)
    with pytest.raises(ValidationError, match="50 points"):
        search_transits(lc.select(np.arange(40)))


def test_best_harmonic_prefers_the_period_with_more_power() -> None:
    from exoguard.core.search import BLSPeriodogram, best_harmonic, make_grid

    grid = make_grid(baseline_days=27.0)
    periods = grid.periods_days
    n = periods.size
    power = np.ones(n)
    spectrum = np.zeros(n)
    i_half = int(np.argmin(np.abs(periods - 1.7)))
    i_true = int(np.argmin(np.abs(periods - 3.4)))
    spectrum[i_half], power[i_half] = 9.0, 50.0  # stands out more, less power
    spectrum[i_true], power[i_true] = 8.0, 90.0
    zeros = np.zeros(n)
    pg = BLSPeriodogram(
        periods_days=periods, power=power, depth=zeros, depth_err=zeros + 1, snr=zeros,
        t0_bjd=zeros, duration_days=zeros + 0.1, spectrum=spectrum, sde=9.0,
        best_index=i_half, engine="fast", grid=grid, elapsed_s=0.0, n_points=1000,
    )  # fmt: skip
    assert best_harmonic(pg) == i_true
    power[i_true] = 20.0
    assert best_harmonic(pg) == i_half


def test_star_parameters() -> None:
    sun = StarParams(radius_rsun=1.0, logg_cgs=4.438, teff_k=5772.0)
    assert sun.effective_mass_msun == pytest.approx(1.0, rel=0.01)
    assert sun.semi_major_axis_au(365.25) == pytest.approx(1.0, rel=0.01)
    assert sun.insolation_earth(365.25) == pytest.approx(1.0, rel=0.03)
    assert sun.equilibrium_temp_k(365.25) == pytest.approx(278.0, rel=0.02)
    # 1 % depth on the Sun: 0.1 R_sun = 10.9 R_earth.
    assert sun.planet_radius_rearth(10_000.0) == pytest.approx(10.9, rel=0.01)
    unknown = StarParams()
    assert unknown.effective_radius_rsun == 1.0 and unknown.effective_mass_msun == 1.0
    assert math.isnan(unknown.planet_radius_rearth(1000.0))
    with pytest.raises(ValueError, match="radius_rsun"):
        StarParams(radius_rsun=-1.0)


def test_last_detrended_is_the_curve_with_every_candidate_masked() -> None:
    from exoguard.core.detrend import detrend
    from exoguard.core.transit_measures import transit_mask

    lc = _two_planets()
    res = search_lightcurve(lc, max_planets=4)
    assert len(res.candidates) == 2 and res.last_detrended is not None
    mask = np.zeros(lc.n_points, dtype=bool)
    for c in res.candidates:
        mask |= transit_mask(
            lc.time_bjd,
            period_days=c.period_days,
            t0_bjd=c.t0_bjd,
            duration_days=2.0 * c.duration_hours / 24.0,
        )
    flat, _ = detrend(lc, window_days=res.window_days, mask=mask)
    reused = res.last_detrended.flat_for(lc, window_days=res.window_days, mask=mask)
    assert reused is not None
    np.testing.assert_array_equal(reused.flux, flat.flux)
    np.testing.assert_array_equal(reused.flux_err, flat.flux_err)
    # another window, another mask or another light curve: not that curve
    assert res.last_detrended.flat_for(lc, window_days=res.window_days + 0.1, mask=mask) is None
    assert res.last_detrended.flat_for(lc, window_days=res.window_days, mask=~mask) is None
    assert (
        res.last_detrended.flat_for(_two_planets(), window_days=res.window_days, mask=mask) is None
    )


def test_last_detrended_lacks_the_last_candidate_when_max_planets_stops_the_search() -> None:
    lc = _two_planets()
    res = search_lightcurve(lc, max_planets=1)
    assert len(res.candidates) == 1 and res.last_detrended is not None
    assert not res.last_detrended.mask.any()  # detrended before the first candidate was found
    assert search_lightcurve(lc, max_planets=1, detrend=False).last_detrended is None
