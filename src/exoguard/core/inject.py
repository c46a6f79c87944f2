"""Injected signals for injection-recovery tests and the neural training set.

* ``inject_transit``: a limb-darkened planetary transit
  (:func:`exoguard.core.signal_models.transit_model`);
* ``inject_eclipsing_binary``: primary + secondary eclipses of two luminous stars
  (V-shaped when grazing, odd/even depth difference when folded at half the period),
  optionally diluted: ``inject_background_binary``;
* non-transiting signals: ``inject_sinusoid`` (stellar variability), ``inject_step``
  (a sudden drop with optional exponential recovery, like a sudden pixel sensitivity
  dropout), ``inject_outlier`` (a few low points);
* ``log_uniform`` and ``draw_ephemeris``: the random draws of the one injection sampler,
  the neural training set's (:mod:`exoguard.ml.multibranch.injections`, whose kinds and
  priors come from its config);
* ``mask_transits``: the boolean in-transit mask used by detrending and the search.

Every injection multiplies the flux by a model normalised to 1 out of transit, so
depths are relative to the (normalised) stellar flux. Randomness only through an
``rng: np.random.Generator`` argument.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from exoguard.core.lightcurve import FloatArray, LightCurve, fold_phase_days
from exoguard.core.signal_models import (
    DEFAULT_U,
    eclipsing_binary_model,
    inclination_deg,
    require_positive,
    transit_model,
)


# ---------------------------------------------------------------------- helpers
def _resolve_impact(
    a_rs: float,
    inc_deg: float | None,
    impact: float | None,
    rng: np.random.Generator | None,
    *,
    max_impact: float = 0.9,
) -> float:
    if inc_deg is not None and impact is not None:
        raise ValueError("give inc_deg or impact, not both")
    if inc_deg is not None:
        return float(a_rs * math.cos(math.radians(inc_deg)))
    if impact is not None:
        return float(impact)
    return float(rng.uniform(0.0, max_impact)) if rng is not None else 0.0


def _apply(lc: LightCurve, model: FloatArray, note: str) -> LightCurve:
    return lc.with_flux(lc.flux * model, lc.flux_err * model, note=note)


# ---------------------------------------------------------------------- injections
def inject_transit(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    rp_rs: float,
    a_rs: float,
    inc_deg: float | None = None,
    impact: float | None = None,
    u: tuple[float, float] = DEFAULT_U,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """Multiply the flux by a planetary transit model.

    Parameters
    ----------
    lc : LightCurve
        Normalised light curve.
    period_days, t0_bjd : float
        Ephemeris (BJD_TDB).
    rp_rs, a_rs : float
        Planet radius and semi-major axis in stellar radii.
    inc_deg, impact : float, optional
        Give one. With neither, the impact is drawn from U(0, 0.9) with ``rng``, or 0
        without ``rng``.
    u : (u1, u2)
        Quadratic limb darkening (see ``u_from_q`` for Kipping's q1, q2).

    Returns
    -------
    LightCurve
        Same points, flux and flux_err multiplied by the model; a note records it.

    Examples
    --------
    >>> import numpy as np
    >>> from exoguard.core.lightcurve import LightCurve
    >>> t = 2455000 + np.arange(5000) * 0.00139
    >>> lc = LightCurve.from_arrays(t, np.ones(5000), np.full(5000, 1e-4))
    >>> out = inject_transit(lc, period_days=2.0, t0_bjd=2455001.0, rp_rs=0.1, a_rs=8.0,
    ...                      impact=0.0, u=(0.0, 0.0))
    >>> print(round(1 - float(out.flux.min()), 4))
    0.01
    """
    require_positive(period_days=period_days, rp_rs=rp_rs, a_rs=a_rs)
    b = _resolve_impact(a_rs, inc_deg, impact, rng)
    inc = inclination_deg(a_rs=a_rs, impact=b)
    model = transit_model(
        lc.time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        rp_rs=rp_rs,
        a_rs=a_rs,
        inc_deg=inc,
        u=u,
        cadence_s=lc.cadence_s,
    )
    note = (
        f"injected transit: P={period_days:.6g} d, t0={t0_bjd:.6f}, rp_rs={rp_rs:.4g}, "
        f"a_rs={a_rs:.4g}, b={b:.3f}, u=({u[0]:.3f}, {u[1]:.3f})"
    )
    return _apply(lc, model, note)


def inject_eclipsing_binary(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    radius_ratio: float,
    a_rs: float,
    impact: float,
    surface_brightness_ratio: float,
    u: tuple[float, float] = DEFAULT_U,
    dilution: float = 1.0,
) -> LightCurve:
    """Multiply the flux by ``eclipsing_binary_model`` (primary + secondary eclipse).

    ``impact > 1 - radius_ratio`` gives grazing, V-shaped eclipses. Folded at half the
    period, unequal primary and secondary eclipses show as an odd/even difference.
    """
    model = eclipsing_binary_model(
        lc.time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        radius_ratio=radius_ratio,
        a_rs=a_rs,
        impact=impact,
        surface_brightness_ratio=surface_brightness_ratio,
        u=u,
        dilution=dilution,
        cadence_s=lc.cadence_s,
    )
    note = (
        f"injected eclipsing binary: P={period_days:.6g} d, t0={t0_bjd:.6f}, "
        f"k={radius_ratio:.3f}, a_rs={a_rs:.4g}, b={impact:.3f}, "
        f"J={surface_brightness_ratio:.3f}, dilution={dilution:.4g}"
    )
    return _apply(lc, model, note)


def inject_background_binary(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    radius_ratio: float,
    a_rs: float,
    impact: float,
    surface_brightness_ratio: float,
    dilution: float,
    u: tuple[float, float] = DEFAULT_U,
) -> LightCurve:
    """A background eclipsing binary whose light is ``dilution`` of the aperture's.

    Its eclipses are shallow (depth × dilution) and keep the binary's shape.
    """
    if not 0 < dilution < 1:
        raise ValueError(f"dilution of a background binary must be in (0, 1), got {dilution}")
    return inject_eclipsing_binary(
        lc,
        period_days=period_days,
        t0_bjd=t0_bjd,
        radius_ratio=radius_ratio,
        a_rs=a_rs,
        impact=impact,
        surface_brightness_ratio=surface_brightness_ratio,
        u=u,
        dilution=dilution,
    )


def inject_sinusoid(
    lc: LightCurve,
    *,
    period_days: float,
    amplitude_ppm: float,
    phase_rad: float | None = None,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """Multiply by ``1 + A sin(2π t / P + φ)`` (rotational or pulsational variability).

    ``phase_rad`` defaults to a draw from U(0, 2π) with ``rng`` (0 without).
    """
    require_positive(period_days=period_days, amplitude_ppm=amplitude_ppm)
    if phase_rad is None:
        phase_rad = float(rng.uniform(0, 2 * math.pi)) if rng is not None else 0.0
    t = lc.time_bjd - lc.time_bjd[0] if lc.n_points else lc.time_bjd
    model = 1.0 + amplitude_ppm * 1e-6 * np.sin(2 * math.pi * t / period_days + phase_rad)
    note = f"injected sinusoid: P={period_days:.6g} d, A={amplitude_ppm:.4g} ppm"
    return _apply(lc, model, note)


def _pick_time(lc: LightCurve, time_bjd: float | None, rng: np.random.Generator | None) -> float:
    if time_bjd is not None:
        return float(time_bjd)
    if lc.n_points == 0:
        raise ValueError("cannot place a signal in an empty light curve")
    if rng is None:
        return float(lc.time_bjd[lc.n_points // 2])
    return float(lc.time_bjd[int(rng.integers(0, lc.n_points))])


def inject_step(
    lc: LightCurve,
    *,
    size_ppm: float,
    time_bjd: float | None = None,
    recovery_days: float | None = None,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """A sudden drop of ``size_ppm`` at ``time_bjd`` until the end of that segment,
    recovering exponentially with e-folding time ``recovery_days`` when given
    (a sudden pixel sensitivity dropout). The time defaults to a random point (``rng``)
    or the middle point.
    """
    require_positive(size_ppm=size_ppm)
    t_step = _pick_time(lc, time_bjd, rng)
    model = np.ones(lc.n_points)
    seg_at = lc.segment[np.argmin(np.abs(lc.time_bjd - t_step))] if lc.n_points else 0
    after = (lc.time_bjd >= t_step) & (lc.segment == seg_at)
    dt = lc.time_bjd[after] - t_step
    shape = np.ones(dt.size) if recovery_days is None else np.exp(-dt / recovery_days)
    model[after] -= size_ppm * 1e-6 * shape
    note = f"injected step: {size_ppm:.4g} ppm at {t_step:.5f}" + (
        f", recovery {recovery_days:.3g} d" if recovery_days is not None else ""
    )
    return _apply(lc, model, note)


def inject_outlier(
    lc: LightCurve,
    *,
    depth_ppm: float,
    time_bjd: float | None = None,
    n_points: int = 1,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """Lower ``n_points`` consecutive points (from the one nearest ``time_bjd``) by
    ``depth_ppm``: a single-event false alarm. Time: random (``rng``) or middle."""
    require_positive(depth_ppm=depth_ppm)
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    t = _pick_time(lc, time_bjd, rng)
    start = int(np.argmin(np.abs(lc.time_bjd - t)))
    model = np.ones(lc.n_points)
    model[start : start + n_points] -= depth_ppm * 1e-6
    note = f"injected outlier: {depth_ppm:.4g} ppm, {n_points} points at {lc.time_bjd[start]:.5f}"
    return _apply(lc, model, note)


# ---------------------------------------------------------------------- masks
def transit_mask(
    time_bjd: NDArray[np.float64],
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    factor: float = 1.5,
) -> NDArray[np.bool_]:
    """True within ``factor × duration / 2`` of every transit centre.

    Parameters
    ----------
    time_bjd : ndarray, shape (n,)
    factor : float
        Width of the mask in transit durations (1.5: the transit plus a quarter
        duration on each side).
    """
    require_positive(period_days=period_days, duration_hours=duration_hours, factor=factor)
    phase = fold_phase_days(time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    return np.asarray(np.abs(phase) < 0.5 * factor * duration_hours / 24.0, dtype=bool)


def mask_transits(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    factor: float = 1.5,
) -> NDArray[np.bool_]:
    """In-transit mask of ``lc`` (shape ``(lc.n_points,)``); see ``transit_mask``.

    Use it to re-run ``detrend(lc, mask=...)`` or to hide found planets from a search.
    """
    return transit_mask(
        lc.time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        duration_hours=duration_hours,
        factor=factor,
    )


# ---------------------------------------------------------------------- random draws
def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One value log-uniform in ``[lo, hi]`` (one ``rng.uniform`` draw; ``0 < lo <= hi``)."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_ephemeris(
    rng: np.random.Generator, *, t_first_bjd: float, min_period_days: float, max_period_days: float
) -> tuple[float, float]:
    """A random orbit: period log-uniform in ``[min_period_days, max_period_days]``, then
    the first mid-time uniform within one period of ``t_first_bjd``.

    Returns
    -------
    (period_days, t0_bjd)
    """
    period = log_uniform(rng, min_period_days, max_period_days)
    return period, float(t_first_bjd + rng.uniform(0, period))
