"""Phase-folded views: shapes, AstroNet normalisation, NaN-free, fast == slow binning."""

from __future__ import annotations

import time

import numpy as np
import pytest

from exoguard.core.binning import (
    bin_median,
    bin_median_overlapping,
    bin_median_slow,
    fill_empty,
)
from exoguard.core.inject import inject_eclipsing_binary, inject_transit
from exoguard.core.lightcurve import LightCurve
from exoguard.core.views import (
    ViewSet,
    global_view,
    local_views,
    make_views,
    phase_transit_image,
    time_series_view,
)
from exoguard.errors import ValidationError

P, T0, DUR_H = 3.7, 2455001.3, 3.0


def noisy_lc(
    n: int = 6000, cadence_s: float = 1765.5, noise: float = 2e-4, seed: int = 0
) -> LightCurve:
    t = 2455000.0 + np.arange(n) * cadence_s / 86400.0
    f = 1.0 + np.random.default_rng(seed).normal(0, noise, n)
    return LightCurve.from_arrays(t, f, np.full(n, noise), cadence_s=cadence_s, target_id="KIC 9")


@pytest.fixture(scope="module")
def planet() -> LightCurve:
    # rp 0.05 -> ~2,500 ppm; a_rs 10 and b 0.2 -> T14 ~ 2.9 h at P 3.7 d
    return inject_transit(
        noisy_lc(), period_days=P, t0_bjd=T0, rp_rs=0.05, a_rs=10.0, impact=0.2, u=(0.4, 0.25)
    )


def test_bin_median_matches_slow_reference() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 5000)
    y = rng.normal(size=5000)
    y[::97] = np.nan
    fast, cf = bin_median(x, y, lo=-1, hi=1, n_bins=137)
    slow, cs = bin_median_slow(x, y, lo=-1, hi=1, n_bins=137)
    np.testing.assert_array_equal(cf, cs)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    # constant values, and a light curve with one huge outlier (the sort key's resolution
    # is (max - min) * 2**-40): the medians still agree with the reference
    flat = np.ones(400)
    assert np.all(bin_median(x[:400], flat, lo=-1, hi=1, n_bins=16)[0] == 1.0)
    flux = 1 + 1e-4 * rng.normal(size=5000)
    flux[123] = 1e3
    np.testing.assert_allclose(
        bin_median(x, flux, lo=-1, hi=1, n_bins=2001)[0],
        bin_median_slow(x, flux, lo=-1, hi=1, n_bins=2001)[0],
        rtol=0,
        atol=1e-9,
    )
    # overlapping bins of the same width as the spacing equal the plain bins
    over, co = bin_median_overlapping(x, y, lo=-1, hi=1, n_bins=137, bin_width=2 / 137 * 0.999999)
    np.testing.assert_allclose(over[co > 0], fast[co > 0], atol=1e-12)


def test_fill_empty() -> None:
    np.testing.assert_allclose(fill_empty([np.nan, 1.0, np.nan, 3.0, np.nan]), [1, 1, 2, 3, 3])
    assert fill_empty([np.nan, np.nan]).tolist() == [0.0, 0.0]


def test_viewset_shapes_and_normalisation(planet: LightCurve) -> None:
    v = make_views(planet, period_days=P, t0_bjd=T0, duration_hours=DUR_H)
    assert isinstance(v, ViewSet)
    assert v.global_view.shape == (2001,)
    assert v.local_view.shape == v.odd_view.shape == v.even_view.shape == (201,)
    assert v.secondary_view.shape == (201,)
    assert v.phase_transit_image.shape == (32, 64)
    for arr in (
        v.global_view,
        v.local_view,
        v.odd_view,
        v.even_view,
        v.secondary_view,
        v.phase_transit_image,
    ):
        assert np.all(np.isfinite(arr))
    for arr in (v.global_view, v.local_view):
        assert np.median(arr) == pytest.approx(0.0, abs=1e-12)
        assert arr.min() == pytest.approx(-1.0)
    assert np.argmin(v.local_view) == pytest.approx(100, abs=15)  # transit centred
    assert np.argmin(v.global_view) == pytest.approx(1000, abs=5)
    # depth scale ~ the injected depth (~2,500 ppm; the local view's minimum is noisy)
    assert v.depth_scale * 1e6 == pytest.approx(2900, rel=0.15)
    # one planet: odd and even views equal within noise, no secondary
    assert v.odd_view.min() == pytest.approx(v.even_view.min(), abs=0.2)
    assert v.secondary_view.min() > -0.3
    assert v.coverage["local_view"] == 1.0
    d = v.as_dict()
    assert len(d["global_view"]) == 2001 and len(d["phase_transit_image"]) == 32


def test_standalone_views_agree_with_viewset(planet: LightCurve) -> None:
    v = make_views(planet, period_days=P, t0_bjd=T0, duration_hours=DUR_H)
    kw = {"period_days": P, "t0_bjd": T0, "duration_hours": DUR_H}
    local = local_views(planet, **kw)
    np.testing.assert_allclose(local.local, v.local_view)
    np.testing.assert_allclose(global_view(planet, **kw), v.global_view)
    np.testing.assert_allclose(local.odd, v.odd_view)
    np.testing.assert_allclose(local.even, v.even_view)
    np.testing.assert_allclose(local.secondary, v.secondary_view)
    assert (local.depth_scale, local.level) == (v.depth_scale, v.level)
    # a depth given divides every local-type view: half the depth doubles them
    halved = local_views(planet, **kw, depth_scale=0.5 * v.depth_scale)
    np.testing.assert_allclose(halved.odd, 2 * v.odd_view, atol=1e-12)
    image = phase_transit_image(planet, **kw, depth_scale=v.depth_scale, level=v.level)
    np.testing.assert_allclose(image, v.phase_transit_image)
    # on its own, the image is normalised at its own (64-bin) resolution: nearly the same
    own = phase_transit_image(planet, **kw)
    assert np.corrcoef(own.ravel(), image.ravel())[0, 1] > 0.999
    assert local_views(planet, **kw, n_bins=51, bin_width_factor=None).secondary.shape == (51,)


def test_image_rows_and_transit_columns(planet: LightCurve) -> None:
    img = phase_transit_image(planet, period_days=P, t0_bjd=T0, duration_hours=DUR_H)
    n_epochs = int(np.ptp(np.round((planet.time_bjd - T0) / P))) + 1  # ~33 epochs
    rows_with_data = np.flatnonzero(np.abs(img).sum(axis=1) > 0)
    assert rows_with_data.size == min(32, n_epochs)
    centre = img[rows_with_data][:, 28:36].mean()
    edges = img[rows_with_data][:, :8].mean()
    assert centre == pytest.approx(-0.85, abs=0.25) and abs(edges) < 0.15


def test_eclipsing_binary_shows_secondary_and_odd_even() -> None:
    base = noisy_lc(seed=2)
    eb = inject_eclipsing_binary(
        base,
        period_days=2 * P,
        t0_bjd=T0,
        radius_ratio=0.6,
        a_rs=12.0,
        impact=0.3,
        surface_brightness_ratio=0.4,
    )
    at_p = make_views(eb, period_days=2 * P, t0_bjd=T0, duration_hours=4.0)
    assert at_p.secondary_view.min() < -0.2  # secondary eclipse at phase 0.5
    at_half = make_views(eb, period_days=P, t0_bjd=T0, duration_hours=4.0)
    # folded at P/2, primaries are the even epochs and secondaries the odd ones
    assert at_half.even_view.min() < -0.9 and at_half.odd_view.min() > -0.6


def test_no_data_in_window_is_an_error() -> None:
    lc = noisy_lc(n=200)
    far = lc.time_bjd[-1] + 50.0
    with pytest.raises(ValidationError, match="no data"):
        local_views(lc, period_days=1000.0, t0_bjd=far, duration_hours=2.0)
    with pytest.raises(ValidationError, match="no data"):
        make_views(lc, period_days=1000.0, t0_bjd=far, duration_hours=2.0)
    with pytest.raises(ValueError, match="period_days"):
        global_view(lc, period_days=-1.0, t0_bjd=far)


def test_time_series_view() -> None:
    lc = noisy_lc()
    lc = lc.with_mask((lc.time_bjd > 2455030) & (lc.time_bjd < 2455040))  # a gap
    values, valid = time_series_view(lc, n_bins=512)
    assert values.shape == valid.shape == (512,)
    assert 0.8 < valid.mean() < 0.95 and np.all(values[~valid] == 0)
    assert np.all(np.isfinite(values))


def test_views_are_fast() -> None:
    lc = inject_transit(
        noisy_lc(n=70_000, seed=3), period_days=P, t0_bjd=T0, rp_rs=0.03, a_rs=10.0, impact=0.1
    )
    make_views(lc, period_days=P, t0_bjd=T0, duration_hours=DUR_H)  # warm up
    start = time.perf_counter()
    make_views(lc, period_days=P, t0_bjd=T0, duration_hours=DUR_H)
    assert time.perf_counter() - start < 1.0
