"""From a detrended light curve and one candidate's ephemeris to the network's inputs.

The same functions build the training rows (injected signals) and the rows scored at
serving time (candidates of ``exoguard.search_transits``), so both see identical inputs:

* the binned time series (3 channels, see :func:`binned_series`);
* the views of :func:`exoguard.core.views.make_views` (global; local, odd, even,
  secondary; phase × transit-number image);
* the scalar features: the catalog features of :mod:`exoguard.ml.features` computed from
  the candidate's harmonised row, plus the light-curve diagnostics in
  :data:`LC_FEATURES` (missing, i.e. NaN, for catalog rows).

Pure numpy (no torch).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from exoguard.catalogs.schema import STAR_COLUMNS
from exoguard.core.diagnostics import TransitDiagnostics
from exoguard.core.lightcurve import LightCurve, fold_phase_days
from exoguard.core.search.star import StarParams
from exoguard.core.views import make_views
from exoguard.ml.features import ALL_FEATURES, build_features

logger = logging.getLogger(__name__)

#: Light-curve diagnostics used as scalar features (NaN for catalog rows). Ratios rather
#: than raw depths so that Kepler and TESS compare.
LC_FEATURES: tuple[str, ...] = (
    "red_noise_factor",
    "log10_n_transits",
    "odd_even_sigma",
    "secondary_sigma",
    "secondary_depth_ratio",
    "inner_depth_ratio",
    "local_coverage",
)
#: Scalar features of a new model (see :func:`default_scalar_features`).
SCALAR_FEATURES: tuple[str, ...] = tuple(ALL_FEATURES) + LC_FEATURES

#: Points per time bin below which a bin counts as empty.
_MIN_POINTS_PER_BIN = 1
#: Sub-samples per time bin for the in-transit fraction channel.
_SUBSAMPLES = 8


@dataclass(frozen=True)
class StarRow:
    """Catalog parameters of a host star (NaN where unknown)."""

    teff_k: float = math.nan
    logg_cgs: float = math.nan
    radius_rsun: float = math.nan
    mag: float = math.nan

    def params(self) -> StarParams:
        return StarParams(
            radius_rsun=self.radius_rsun,
            teff_k=self.teff_k,
            logg_cgs=self.logg_cgs,
            mag=self.mag,
        )


def star_lookup(frames: Sequence[pd.DataFrame]) -> dict[str, StarRow]:
    """``host_id`` → :class:`StarRow` from harmonised catalog frames (first row wins)."""
    out: dict[str, StarRow] = {}
    cols = STAR_COLUMNS
    for frame in frames:
        if "host_id" not in frame.columns:
            continue
        sub = frame.dropna(subset=["host_id"])
        for row in sub[["host_id", *[c for c in cols if c in sub.columns]]].itertuples(index=False):
            d = row._asdict()
            key = str(d["host_id"]).strip()
            if key in out:
                continue
            out[key] = StarRow(
                teff_k=_f(d.get("star_teff_k")),
                logg_cgs=_f(d.get("star_logg_cgs")),
                radius_rsun=_f(d.get("star_radius_rsun")),
                mag=_f(d.get("star_mag")),
            )
    return out


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def binned_series(
    lc: LightCurve,
    *,
    n_bins: int,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
) -> np.ndarray:
    """The light curve in ``n_bins`` equal time bins over its baseline, 3 channels.

    Channel 0: dip significance ``(1 - mean flux) / (sigma / sqrt(n))`` per bin (sigma the
    robust point-to-point scatter), compressed as ``asinh(x / 3)``; a mean, not a median,
    so a transit shorter than a bin still shows. Channel 1: the fraction of the bin inside
    a transit window of the candidate. Channel 2: 1 where the bin holds data.

    Returns
    -------
    ndarray, float32, shape (3, n_bins)
    """
    out = np.zeros((3, n_bins), np.float32)
    if lc.n_points == 0:
        return out
    t = lc.time_bjd
    lo = float(t[0])
    span = max(float(t[-1] - lo), 1e-6) * (1 + 1e-9)
    idx = np.minimum(((t - lo) / span * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    resid = lc.flux - 1.0
    ok = np.isfinite(resid)
    sums = np.bincount(idx[ok], weights=resid[ok], minlength=n_bins)
    d = np.diff(lc.flux[ok])
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2) if d.size else 0
    sigma = sigma if sigma > 0 else float(np.std(resid[ok])) or 1.0
    has = counts >= _MIN_POINTS_PER_BIN
    sig = np.zeros(n_bins)
    sig[has] = -(sums[has] / counts[has]) / (sigma / np.sqrt(counts[has]))
    out[0] = np.arcsinh(sig / 3.0)
    centres = lo + (np.arange(n_bins)[:, None] + (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES) * (
        span / n_bins
    )
    phase = fold_phase_days(centres.ravel(), period_days=period_days, t0_bjd=t0_bjd)
    inside = np.abs(phase) < 0.5 * duration_hours / 24.0
    out[1] = inside.reshape(n_bins, _SUBSAMPLES).mean(axis=1)
    out[2] = has.astype(np.float32)
    return out


def lc_features(diag: TransitDiagnostics, *, local_coverage: float) -> dict[str, float]:
    """The :data:`LC_FEATURES` of one candidate from its diagnostics."""
    depth = diag.depth_ppm

    def ratio(a: float, b: float) -> float:
        return float(a / b) if math.isfinite(a) and math.isfinite(b) and b > 0 else math.nan

    return {
        "red_noise_factor": _f(getattr(diag, "red_noise_factor", math.nan)),
        "log10_n_transits": math.log10(max(int(diag.n_transits), 1)),
        "odd_even_sigma": _f(getattr(diag, "odd_even_sigma", math.nan)),
        "secondary_sigma": _f(getattr(diag, "secondary_sigma", math.nan)),
        "secondary_depth_ratio": ratio(getattr(diag, "secondary_depth_ppm", math.nan), depth),
        "inner_depth_ratio": _f(getattr(diag, "inner_depth_ratio", math.nan)),
        "local_coverage": float(local_coverage),
    }


def harmonised_row(
    diag: TransitDiagnostics, *, star: StarRow, mission: str, host_id: str
) -> dict[str, Any]:
    """The harmonised catalog row of a light-curve candidate (as ``to_harmonised``)."""
    sp = star.params()
    return {
        "host_id": host_id,
        "mission": mission,
        "period_days": diag.period_days,
        "duration_hours": diag.duration_hours,
        "depth_ppm": diag.depth_ppm,
        "impact": math.nan,
        "planet_radius_rearth": sp.planet_radius_rearth(diag.depth_ppm),
        "equilibrium_temp_k": sp.equilibrium_temp_k(diag.period_days),
        "insolation_earth": sp.insolation_earth(diag.period_days),
        "transit_snr": diag.snr,
        "star_teff_k": star.teff_k,
        "star_logg_cgs": star.logg_cgs,
        "star_radius_rsun": star.radius_rsun,
        "star_mag": star.mag,
    }


def default_scalar_features() -> tuple[str, ...]:
    """The scalar features a new model trains on: every catalog feature of
    :mod:`exoguard.ml.features` (as it is now) plus :data:`LC_FEATURES`."""
    return tuple(ALL_FEATURES) + LC_FEATURES


def scalar_matrix(
    rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    n_candidates_on_host: Sequence[float] | np.ndarray | None = None,
    lc_rows: Sequence[Mapping[str, float]] | None = None,
) -> np.ndarray:
    """Raw scalar features (NaN where missing), shape (n, len(features)).

    Parameters
    ----------
    rows : sequence of mappings, or DataFrame
        Harmonised rows (``host_id`` groups the candidates of one star).
    features : sequence of str, optional
        Names, in order: catalog features of :mod:`exoguard.ml.features` and
        :data:`LC_FEATURES` (default :func:`default_scalar_features`). A trained model
        passes the list it was trained with.
    n_candidates_on_host : array, shape (n,), optional
        Multiplicity to use instead of counting ``host_id`` in ``rows``.
    lc_rows : sequence of mappings, optional
        Light-curve features of each row (None: catalog rows, all NaN).

    A name that is neither a catalog feature nor a light-curve feature (e.g. one that
    :mod:`exoguard.ml.features` no longer builds) gives a NaN column and a warning.
    """
    names = tuple(features) if features is not None else default_scalar_features()
    unknown = [f for f in names if f not in ALL_FEATURES and f not in LC_FEATURES]
    if unknown:
        # a model trained before exoguard.ml.features dropped a feature: score it with
        # the feature missing rather than not at all
        logger.warning(
            "scalar features %s are no longer computed (known: %s, %s); treated as missing",
            unknown,
            ", ".join(ALL_FEATURES),
            ", ".join(LC_FEATURES),
        )
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    n = len(frame)
    counts = None if n_candidates_on_host is None else np.asarray(n_candidates_on_host, float)
    catalog_names = [f for f in names if f in ALL_FEATURES]
    base = build_features(frame, features=catalog_names, n_candidates_on_host=counts)
    out = np.full((n, len(names)), np.nan)
    for j, name in enumerate(names):
        if name in ALL_FEATURES:
            out[:, j] = base[name].to_numpy(dtype=float)
        elif lc_rows is not None:
            out[:, j] = [_f(r.get(name)) for r in lc_rows]
    return out


@dataclass(frozen=True)
class CandidateInputs:
    """Network inputs of one light-curve candidate (one row of a ``SampleArrays``)."""

    ts: np.ndarray  # (3, n_bins)
    global_view: np.ndarray  # (1, 2001)
    local_view: np.ndarray  # (4, 201)
    image: np.ndarray  # (1, T, P)
    harmonised: dict[str, Any]
    lc_features: dict[str, float]


def candidate_inputs(
    flat: LightCurve,
    diag: TransitDiagnostics,
    *,
    star: StarRow,
    n_bins: int,
    image_shape: tuple[int, int],
    host_id: str | None = None,
) -> CandidateInputs:
    """Inputs of one candidate at its (refined) ephemeris ``diag``.

    Parameters
    ----------
    flat : LightCurve
        Detrended light curve.
    diag : TransitDiagnostics
        The candidate's diagnostics (ephemeris included).
    star : StarRow
    n_bins : int
        Bins of the time series.
    image_shape : (int, int)
        (transits, phase bins) of the phase × transit image.

    Raises
    ------
    exoguard.errors.ValidationError
        No data within the local window of the transits.
    """
    views = make_views(
        flat,
        period_days=diag.period_days,
        t0_bjd=diag.t0_bjd,
        duration_hours=diag.duration_hours,
        n_transits=image_shape[0],
        n_phase_bins=image_shape[1],
        bin_width_factor=None,
    )
    ts = binned_series(
        flat,
        n_bins=n_bins,
        period_days=diag.period_days,
        t0_bjd=diag.t0_bjd,
        duration_hours=diag.duration_hours,
    )
    local = np.stack(
        [views.local_view, views.odd_view, views.even_view, views.secondary_view]
    ).astype(np.float32)
    # depth-normalised views of a candidate with no dip can be large: keep them bounded
    clip = 20.0
    return CandidateInputs(
        ts=ts,
        global_view=np.clip(views.global_view, -clip, clip)[None].astype(np.float32),
        local_view=np.clip(local, -clip, clip),
        image=np.clip(views.phase_transit_image, -clip, clip)[None].astype(np.float32),
        harmonised=harmonised_row(
            diag, star=star, mission=flat.mission, host_id=host_id or flat.target_id
        ),
        lc_features=lc_features(diag, local_coverage=views.coverage.get("local_view", 1.0)),
    )
