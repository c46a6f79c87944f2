"""Injection: requested depths, supersampling, binaries, other signals, masks."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.config import get_settings
from exoguard.core.inject import (
    draw_ephemeris,
    inject_background_binary,
    inject_eclipsing_binary,
    inject_outlier,
    inject_sinusoid,
    inject_step,
    inject_transit,
    log_uniform,
    mask_transits,
)
from exoguard.core.lightcurve import LightCurve, fold_phase_days
from exoguard.core.signal_models import (
    a_rs_from_density,
    eclipsing_binary_model,
    transit_duration_hours,
    u_from_q,
)
from exoguard.io import read_lightcurve

LC_DIR = get_settings().lightcurves_dir


def flat_lc(n: int = 20_000, cadence_s: float = 120.0) -> LightCurve:
    t = 2458300.0 + np.arange(n) * cadence_s / 86400.0
    return LightCurve.from_arrays(
        t, np.ones(n), np.full(n, 1e-4), cadence_s=cadence_s, mission="tess", target_id="TIC 1"
    )


def test_uniform_disk_depth_is_rp_squared() -> None:
    lc = flat_lc()
    out = inject_transit(
        lc, period_days=3.0, t0_bjd=2458301.0, rp_rs=0.1, a_rs=9.0, impact=0.0, u=(0.0, 0.0)
    )
    assert 1 - out.flux.min() == pytest.approx(0.01, rel=0.01)
    assert out.n_points == lc.n_points and np.array_equal(out.time_bjd, lc.time_bjd)
    assert "injected transit" in out.notes[-1]
    assert np.all(out.flux <= 1.0)


def test_limb_darkened_centre_depth() -> None:
    u1, u2 = 0.4, 0.25
    out = inject_transit(
        flat_lc(), period_days=3.0, t0_bjd=2458301.0, rp_rs=0.1, a_rs=9.0, impact=0.0, u=(u1, u2)
    )
    expected = 0.01 / (1 - u1 / 3 - u2 / 6)  # small-planet centre depth, quadratic law
    assert 1 - out.flux.min() == pytest.approx(expected, rel=0.03)


@pytest.mark.skipif(not (LC_DIR / "tess").exists(), reason="bundled light curves not present")
def test_injection_into_real_light_curve_changes_flux_by_depth() -> None:
    # TIC 270501383: not a TOI, no known signal
    name = "tess2018206045859-s0001-0000000270501383-0120-s_lc.fits"
    lc = read_lightcurve(LC_DIR / "tess" / name)
    t0 = float(lc.time_bjd[0]) + 2.1
    out = inject_transit(
        lc, period_days=4.3, t0_bjd=t0, rp_rs=0.08, a_rs=11.0, impact=0.0, u=(0.0, 0.0)
    )
    ratio = out.flux / lc.flux
    phase = fold_phase_days(lc.time_bjd, period_days=4.3, t0_bjd=t0)
    t14_h = transit_duration_hours(period_days=4.3, a_rs=11.0, rp_rs=0.08, impact=0.0)
    bottom = np.abs(phase) < 0.25 * t14_h / 24  # full-transit part
    assert bottom.sum() > 50
    assert 1 - np.median(ratio[bottom]) == pytest.approx(0.08**2, rel=0.05)
    assert np.all(ratio[np.abs(phase) > 0.6 * t14_h / 24] == 1.0)
    np.testing.assert_allclose(out.flux_err / lc.flux_err, ratio)


def test_long_cadence_is_supersampled() -> None:
    lc = flat_lc(n=3000, cadence_s=1765.5)
    kw = {"period_days": 5.0, "t0_bjd": 2458301.0, "rp_rs": 0.1, "impact": 0.0, "u": (0.0, 0.0)}
    # a_rs 150: a 17-min transit, shorter than the 29.4-min exposure, is smeared out
    assert transit_duration_hours(period_days=5.0, a_rs=150.0, rp_rs=0.1, impact=0.0) < 0.3
    smeared = inject_transit(lc, a_rs=150.0, **kw)
    assert 1 - smeared.flux.min() < 0.8 * 0.01
    instantaneous = inject_transit(lc.replace(cadence_s=60.0), a_rs=150.0, **kw)
    assert 1 - instantaneous.flux.min() > 1 - smeared.flux.min()


def test_impact_or_inclination() -> None:
    lc = flat_lc(n=5000)
    kw = {"period_days": 3.0, "t0_bjd": 2458301.0, "rp_rs": 0.1, "a_rs": 9.0, "u": (0.3, 0.2)}
    by_b = inject_transit(lc, impact=0.5, **kw)
    by_i = inject_transit(lc, inc_deg=float(np.degrees(np.arccos(0.5 / 9.0))), **kw)
    np.testing.assert_allclose(by_b.flux, by_i.flux, atol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        inject_transit(lc, impact=0.5, inc_deg=88.0, **kw)
    a = inject_transit(lc, rng=np.random.default_rng(7), **kw)
    b = inject_transit(lc, rng=np.random.default_rng(7), **kw)
    np.testing.assert_array_equal(a.flux, b.flux)


def test_geometry_helpers() -> None:
    assert u_from_q(0.0, 0.5) == (0.0, 0.0)
    assert u_from_q(1.0, 0.5) == pytest.approx((1.0, 0.0))
    assert a_rs_from_density(365.25) == pytest.approx(215.0, rel=0.01)  # the Earth
    # Earth transit of the Sun: ~13 h
    assert transit_duration_hours(
        period_days=365.25, a_rs=215.0, rp_rs=0.009, impact=0.0
    ) == pytest.approx(13.0, rel=0.03)
    with pytest.raises(ValueError, match="q1"):
        u_from_q(1.5, 0.1)
    # an impact beyond the orbit is a clear error, not a math domain error
    with pytest.raises(ValueError, match="impact <= a_rs"):
        transit_duration_hours(period_days=0.6, a_rs=1.2, rp_rs=0.8, impact=1.5)


def test_eclipsing_binary_primary_secondary_and_dilution() -> None:
    lc = flat_lc(n=10_000)
    kw = {
        "period_days": 4.0,
        "t0_bjd": 2458301.0,
        "radius_ratio": 0.5,
        "a_rs": 10.0,
        "impact": 0.0,
        "surface_brightness_ratio": 0.5,
        "u": (0.0, 0.0),
    }
    eb = inject_eclipsing_binary(lc, **kw)
    phase = fold_phase_days(lc.time_bjd, period_days=4.0, t0_bjd=2458301.0)
    lum2 = 0.5 * 0.25
    primary = 1 - eb.flux[np.abs(phase) < 0.01].min()
    secondary = 1 - eb.flux[np.abs(np.abs(phase) - 2.0) < 0.01].min()
    assert primary == pytest.approx(0.25 / (1 + lum2), rel=0.01)  # k^2 of the primary's light
    assert secondary == pytest.approx(lum2 / (1 + lum2), rel=0.01)  # the companion fully hidden
    beb = inject_background_binary(lc, dilution=0.02, **{k: v for k, v in kw.items() if k != "u"})
    assert 1 - beb.flux.min() == pytest.approx(
        0.02
        * (
            1
            - eclipsing_binary_model(lc.time_bjd, **{k: v for k, v in kw.items() if k != "u"}).min()
        ),
        rel=1e-6,
    )
    with pytest.raises(ValueError, match="dilution"):
        inject_background_binary(lc, dilution=1.0, **{k: v for k, v in kw.items() if k != "u"})


def test_grazing_binary_is_v_shaped() -> None:
    lc = flat_lc(n=10_000, cadence_s=60.0)
    eb = inject_eclipsing_binary(
        lc,
        period_days=4.0,
        t0_bjd=2458301.0,
        radius_ratio=0.8,
        a_rs=10.0,
        impact=1.1,
        surface_brightness_ratio=0.3,
    )
    phase = fold_phase_days(lc.time_bjd, period_days=4.0, t0_bjd=2458301.0)
    depth = 1 - eb.flux
    in_ecl = depth > 0.0
    # V shape: the deepest point is a narrow minimum, not a flat bottom
    flat_bottom = np.sum(depth[in_ecl] > 0.9 * depth.max()) / np.sum(in_ecl)
    assert flat_bottom < 0.25
    assert np.abs(phase[np.argmax(depth)]) < 0.01


def test_other_signals() -> None:
    lc = flat_lc(n=5000)
    sin = inject_sinusoid(lc, period_days=2.0, amplitude_ppm=1000.0, phase_rad=0.0)
    assert sin.flux.max() - 1 == pytest.approx(1e-3, rel=0.01)
    step = inject_step(lc, size_ppm=500.0, time_bjd=float(lc.time_bjd[2500]))
    assert np.all(step.flux[:2500] == 1.0)
    assert np.allclose(step.flux[2500:], 1 - 5e-4)
    rec = inject_step(lc, size_ppm=500.0, time_bjd=float(lc.time_bjd[2500]), recovery_days=0.5)
    assert 1 - rec.flux[-1] < 1e-6 and rec.flux[2500] == pytest.approx(1 - 5e-4)
    out = inject_outlier(lc, depth_ppm=3000.0, n_points=2, rng=np.random.default_rng(1))
    assert np.sum(out.flux < 1) == 2 and out.flux.min() == pytest.approx(0.997)


def test_mask_transits() -> None:
    lc = flat_lc(n=10_000)
    m = mask_transits(lc, period_days=2.0, t0_bjd=2458301.0, duration_hours=2.4)
    assert m.shape == (lc.n_points,) and m.dtype == bool
    phase = fold_phase_days(lc.time_bjd, period_days=2.0, t0_bjd=2458301.0)
    np.testing.assert_array_equal(m, np.abs(phase) < 0.5 * 1.5 * 0.1)
    wide = mask_transits(lc, period_days=2.0, t0_bjd=2458301.0, duration_hours=2.4, factor=3.0)
    assert wide.sum() == pytest.approx(2 * m.sum(), rel=0.02)
    with pytest.raises(ValueError, match="duration_hours"):
        mask_transits(lc, period_days=2.0, t0_bjd=0.0, duration_hours=0.0)


def test_the_shared_draws_are_seeded_and_in_range() -> None:
    a = [log_uniform(np.random.default_rng(4), 2.0, 50.0) for _ in range(2)]
    assert a[0] == a[1] and 2.0 <= a[0] <= 50.0
    period, t0 = draw_ephemeris(
        np.random.default_rng(4), t_first_bjd=10.0, min_period_days=2.0, max_period_days=50.0
    )
    assert period == a[0]  # the period is the first draw: samplers keep their sequences
    assert 10.0 <= t0 < 10.0 + period
