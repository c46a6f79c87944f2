"""Per-point errors of a detrended light curve as the vetting diagnostics use them.

The pipeline ``flux_err`` is scaled up to the robust out-of-transit scatter when that is larger
(:func:`noise_scale`), then multiplied by the red-noise factor ``beta >= 1`` of Pont, Zucker &
Queloz (2006) / Winn et al. (2008) (:func:`red_noise_factor`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from exoguard.core.lightcurve import FloatArray

__all__ = ["noise_scale", "red_noise_factor"]


def noise_scale(flux: FloatArray, flux_err: FloatArray, out: NDArray[np.bool_]) -> FloatArray:
    """``flux_err`` scaled up to the robust scatter of the out-of-transit flux where larger."""
    err = np.asarray(flux_err, dtype=np.float64)
    ok = np.isfinite(err) & (err > 0)
    f_out = flux[out]
    if f_out.size >= 10:
        scatter = 1.4826 * float(np.median(np.abs(f_out - np.median(f_out))))
    else:
        scatter = float(np.std(flux))
    if not ok.any():
        return np.full(flux.shape, scatter if scatter > 0 else 1.0)
    err = np.where(ok, err, np.median(err[ok]))
    ratio = scatter / float(np.median(err[out])) if out.any() else 1.0
    return err * max(1.0, ratio if np.isfinite(ratio) else 1.0)


def red_noise_factor(
    time_bjd: FloatArray,
    flux: FloatArray,
    sigma: FloatArray,
    out: NDArray[np.bool_],
    *,
    duration_days: float,
) -> float:
    """Red-noise factor ``beta`` on the transit-duration time scale (>= 1).

    The out-of-transit flux is averaged in bins one duration long; ``beta`` is the robust scatter
    of the bin means over the scatter that the per-point errors predict for them.

    Parameters
    ----------
    time_bjd, flux, sigma : ndarray of shape (n,)
        Times (days), detrended flux, 1-sigma errors.
    out : ndarray of shape (n,), bool
        Out-of-transit points.
    duration_days : float
        Bin length.

    Returns
    -------
    float
        ``beta`` (1 when it cannot be measured: fewer than 5 well-filled bins).
    """
    if out.sum() < 20 or not duration_days > 0:
        return 1.0
    t_out, y_out, s_out = time_bjd[out], flux[out], sigma[out]
    idx = np.floor((t_out - t_out[0]) / duration_days).astype(np.int64)
    counts = np.bincount(idx)
    filled = counts > 0
    if filled.sum() < 5:
        return 1.0
    full = counts >= max(2, int(0.5 * np.median(counts[filled])))
    if full.sum() < 5:
        return 1.0
    w = 1.0 / s_out**2
    sw = np.bincount(idx, weights=w)
    means = np.bincount(idx, weights=w * y_out)[full] / sw[full]
    predicted = np.sqrt(1.0 / sw[full])
    pulls = (means - np.median(means)) / predicted
    beta = 1.4826 * float(np.median(np.abs(pulls - np.median(pulls))))
    return max(1.0, beta) if np.isfinite(beta) else 1.0
