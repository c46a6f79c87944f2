"""The single-event check: one box-shaped dip above the SNR threshold and no second one.

Synthetic light curves (seeded) and two real Kepler quarters that hold one transit of a
catalogued planet each (K00777.01, P = 40.4 d, in Q1's 33 days; Kepler-36 c, P = 16.2 d,
in Q0's 10 days).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exoguard import read_lightcurve
from exoguard.config import get_settings
from exoguard.core.lightcurve import LightCurve
from exoguard.core.search import search_lightcurve
from exoguard.core.search.single import box_means, strongest_single_event
from exoguard.services.preprocessing import found_message, search_message

T_START = 2458325.0
#: BKJD = BJD - 2454833; KOI cumulative table epochs propagated to the quarter.
KEPLER_BJD_OFFSET = 2454833.0
SINGLE_TRANSITS = {
    # file: (KOI, mid-transit in the quarter (BKJD), KOI duration in hours)
    "kepler_lightkurve_exports/kic011818800_lightkurve.fits": ("K00777.01", 133.1452, 3.36),
    "kepler_lightkurve_exports/kic011401755_lightkurve.fits": ("K00277.01", 122.9818, 7.46),
}


def _flat(seed: int, *, days: float = 27.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T_START + np.arange(0.0, days, 10 / 1440)
    return t, 1 + 2e-4 * rng.standard_normal(t.size)


def _event_args() -> dict[str, float]:
    return {"min_duration_days": 0.04, "max_duration_days": 0.6, "snr_threshold": 7.0}


def test_box_means_fast_matches_the_reference() -> None:
    rng = np.random.default_rng(11)
    t = np.sort(rng.uniform(0.0, 5.0, 400))  # irregular sampling, with gaps by chance
    y = rng.standard_normal(400)
    for duration in (0.01, 0.1, 0.7):
        fast, n_fast = box_means(t, y, duration_days=duration)
        slow, n_slow = box_means(t, y, duration_days=duration, method="slow")
        np.testing.assert_array_equal(n_fast, n_slow)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_box_means_refuses_bad_arguments() -> None:
    t = np.arange(10.0)
    with pytest.raises(ValueError, match="'fast' or 'slow'"):
        box_means(t, t, duration_days=1.0, method="numba")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration_days must be > 0"):
        box_means(t, t, duration_days=0.0)


@pytest.mark.parametrize("seed", [2, 5, 8])
@pytest.mark.parametrize("depth", [3e-3, 8e-4])
def test_one_dip_is_a_single_event(seed: int, depth: float) -> None:
    t, y = _flat(seed)
    y[np.abs(t - (T_START + 12.0)) < 0.1] -= depth  # 4.8 h
    event = strongest_single_event(t, y, **_event_args())
    assert event is not None
    assert event.t_mid_bjd == pytest.approx(T_START + 12.0, abs=0.05)
    assert 3.0 <= event.duration_hours <= 7.5
    # a box wider than the dip dilutes it: between 60 % and 115 % of the injected depth
    assert 0.6 * depth * 1e6 <= event.depth_ppm <= 1.15 * depth * 1e6
    assert event.snr >= 7.0 > event.second_snr


@pytest.mark.parametrize("seed", [2, 5])
def test_two_dips_are_not_a_single_event(seed: int) -> None:
    t, y = _flat(seed)
    for centre in (T_START + 6.0, T_START + 19.0):
        y[np.abs(t - centre) < 0.1] -= 2e-3
    assert strongest_single_event(t, y, **_event_args()) is None


@pytest.mark.parametrize("seed", range(5))
def test_noise_is_no_event(seed: int) -> None:
    t, y = _flat(seed)
    assert strongest_single_event(t, y, **_event_args()) is None


def test_search_reports_the_single_event_when_it_finds_no_period() -> None:
    t, y = _flat(2)
    y[np.abs(t - (T_START + 12.0)) < 0.1] -= 1.5e-3
    lc = LightCurve.from_arrays(t, y, np.full(t.size, 2e-4), target_id="TIC 2")
    result = search_lightcurve(lc, max_planets=2)
    assert result.candidates == ()
    assert result.single_event is not None
    assert result.single_event.t_mid_bjd == pytest.approx(T_START + 12.0, abs=0.05)
    # with a candidate found, no single event is looked for
    t2, y2 = _flat(3)
    y2[np.abs(((t2 - T_START - 1.0) + 1.55) % 3.1 - 1.55) < 0.05] -= 1.5e-3
    lc2 = LightCurve.from_arrays(t2, y2, np.full(t2.size, 2e-4), target_id="TIC 3")
    periodic = search_lightcurve(lc2, max_planets=1)
    assert len(periodic.candidates) == 1 and periodic.single_event is None


@pytest.mark.parametrize("rel", sorted(SINGLE_TRANSITS))
def test_real_quarter_with_one_transit(rel: str) -> None:
    path: Path = get_settings().lightcurves_dir / rel
    if not path.exists():
        pytest.skip(f"bundled light curve {path.name} not found")
    koi, mid_bkjd, duration_hours = SINGLE_TRANSITS[rel]
    result = search_lightcurve(read_lightcurve(path), max_planets=1)
    assert result.candidates == (), result.stop_reason
    event = result.single_event
    assert event is not None, f"{koi}'s one transit in this quarter was not reported"
    # within half the catalogued duration of the catalogued mid-transit
    assert event.t_mid_bjd - KEPLER_BJD_OFFSET == pytest.approx(
        mid_bkjd, abs=0.5 * duration_hours / 24
    )


def test_progress_and_outcome_in_words() -> None:
    assert search_message(11_359, 54_095, passes=5) == (
        "searching 10,819 trial periods for another signal (pass 2 of at most 5)"
    )
    assert search_message(100, 54_095, passes=5) == (
        "searching 10,819 trial periods for a repeating transit"
    )
    assert search_message(54_095, 54_095, passes=5) == "period search done"
    assert found_message(0, single_event=True) == (
        "one transit-like event found; a period needs at least two"
    )
    assert found_message(0, single_event=False) == "no transit-like signal found"
    assert found_message(2, single_event=False) == "found 2 candidate signals"


def test_a_weaker_second_dip_above_the_repeat_threshold_is_not_single() -> None:
    t, y = _flat(4)
    strong, weak = np.abs(t - (T_START + 6.0)) < 0.1, np.abs(t - (T_START + 19.0)) < 0.1
    y[strong] -= 2e-3
    args = {"min_duration_days": 0.04, "max_duration_days": 0.6}
    alone = strongest_single_event(t, y, snr_threshold=10.0, **args)
    assert alone is not None and alone.t_mid_bjd == pytest.approx(T_START + 6.0, abs=0.05)
    y[weak] -= 3e-4  # a second dip between the two thresholds
    second = strongest_single_event(t, y, snr_threshold=10.0, repeat_snr_threshold=None, **args)
    assert second is not None and 7.0 <= second.second_snr < 10.0
    assert (
        strongest_single_event(t, y, snr_threshold=10.0, repeat_snr_threshold=7.0, **args) is None
    )
