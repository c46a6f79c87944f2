"""Few-event ephemerides, event matching and isolated dips (the pieces of the one- and
two-event and multi-signal samples), on synthetic time grids."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.core.lightcurve import LightCurve, point_to_point_scatter
from exoguard.ml.multibranch.scenarios import (
    Ephemeris,
    commensurate,
    events_in_span,
    few_event_ephemeris,
    inject_dips,
    lands_on_event,
)

T0 = 2457000.0
K2_TIME = T0 + np.arange(0.0, 71.0, 0.0204)  # a K2 campaign at long cadence


@pytest.mark.parametrize("n_events", [1, 2])
def test_few_event_ephemeris_puts_exactly_that_many_events_in_the_span(n_events: int) -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        period, t0 = few_event_ephemeris(K2_TIME, n_events=n_events, rng=rng)
        n = events_in_span(K2_TIME, period_days=period, t0_bjd=t0, duration_hours=3.0)
        assert n == n_events, (period, t0)
        assert period > (71.0 if n_events == 1 else 35.5) * 0.99


def test_few_event_ephemeris_refuses_other_counts() -> None:
    with pytest.raises(ValueError, match="n_events must be 1 or 2"):
        few_event_ephemeris(K2_TIME, n_events=3, rng=np.random.default_rng(0))


def test_events_in_span_counts_epochs_with_data() -> None:
    gap = K2_TIME[(K2_TIME < T0 + 20) | (K2_TIME > T0 + 30)]
    # epochs at 5, 15, 25 (in the gap), 35, ...: 7 of the 8 in 0..71 have data
    assert events_in_span(K2_TIME, period_days=10.0, t0_bjd=T0 + 5, duration_hours=2) == 7
    assert events_in_span(gap, period_days=10.0, t0_bjd=T0 + 5, duration_hours=2) == 6
    assert events_in_span(K2_TIME, period_days=float("nan"), t0_bjd=T0, duration_hours=2) == 0


def test_lands_on_event_needs_an_epoch_within_half_a_duration() -> None:
    span = (T0, T0 + 71.0)
    events = np.array([T0 + 40.0])
    # an alias at a third of the true 120-d period still lands on the one event
    assert lands_on_event(Ephemeris(40.0 / 3, T0, 4.0), events, span=span)
    assert not lands_on_event(Ephemeris(40.0 / 3, T0 + 0.5, 4.0), events, span=span)
    assert not lands_on_event(Ephemeris(9.0, T0 + 1.0, 4.0), np.array([]), span=span)


def test_commensurate_periods_and_close_pairs_are_refused() -> None:
    assert commensurate(10.0, 10.1)  # ratio below 1.2
    assert commensurate(10.0, 20.1)  # a 2:1 alias within 2 %
    assert commensurate(10.0, 29.7)  # 3:1
    assert not commensurate(10.0, 15.0)
    assert not commensurate(10.0, 26.0)
    assert commensurate(10.0, float("nan"))


@pytest.mark.parametrize("n_events", [1, 2])
def test_inject_dips_gives_that_many_dips_of_the_asked_snr(n_events: int) -> None:
    sigma = 2e-4
    for seed in range(10):
        rng = np.random.default_rng(seed)
        flux = 1 + sigma * rng.standard_normal(K2_TIME.size)
        lc = LightCurve.from_arrays(K2_TIME, flux, np.full(K2_TIME.size, sigma), mission="k2")
        noise = point_to_point_scatter(flux)
        out, times, depth_ppm, width_h = inject_dips(
            lc, n_events=n_events, snr=20.0, noise=noise, rng=rng
        )
        assert times.size == n_events
        assert np.all((times > K2_TIME[0]) & (times < K2_TIME[-1]))
        assert 1.0 <= width_h <= 9.5
        # each dip reaches most of its depth within a cadence of its time (the cadence
        # nearest a sharp drop or a narrow dip's centre sees >= 60 % of it)
        for tc in times:
            near = np.abs(out.time_bjd - tc) < 0.0204
            drop = 1e6 * (1 - float(np.min(out.flux[near] / lc.flux[near])))
            assert 0.55 * depth_ppm <= drop <= 1.0001 * depth_ppm
        # depth follows the SNR: depth * sqrt(points in the dips) / noise ~ 20
        n_in = width_h / (0.0204 * 24) * n_events
        assert depth_ppm * 1e-6 * np.sqrt(n_in) / noise == pytest.approx(20.0, rel=0.3)
