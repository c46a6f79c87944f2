"""One injected sample: inject, take a candidate ephemeris, measure, build the inputs;
and stacking samples into :class:`~exoguard.ml.multibranch.arrays.SampleArrays`.

Each sample

1. injects the signal of its kind (:mod:`exoguard.ml.multibranch.injections`), with one
   or two events only or a second signal when asked (see
   :mod:`exoguard.ml.multibranch.scenarios`);
2. takes a candidate ephemeris: the injected one with search-like errors
   (``t0_error_durations``, ``duration_error_fraction``) for eclipsing signals, the
   highest peak of a coarse BLS search otherwise (the false alarm a search would report,
   or the alias it reports for one or two events);
3. measures the diagnostics (``exoguard.core.diagnostics.diagnose_transit``, the
   search's own code, which refines t0 and the duration) and builds the inputs with
   :func:`exoguard.ml.multibranch.inputs.candidate_inputs`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from exoguard.core.diagnostics import TransitDiagnostics, diagnose_transit
from exoguard.core.inject import (
    transit_mask,
)
from exoguard.core.lightcurve import LightCurve
from exoguard.errors import ValidationError
from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.configs import (
    SIGNAL_KINDS,
    SIGNAL_LABELS,
    InjectionConfig,
)
from exoguard.ml.multibranch.hosts import Host
from exoguard.ml.multibranch.injections import (
    Injection,
    draw_from_range,
    inject_binary,
    inject_outliers,
    inject_planet,
    inject_systematic,
    inject_variability,
    redetrend,
)
from exoguard.ml.multibranch.inputs import (
    CandidateInputs,
    StarRow,
    candidate_inputs,
    default_scalar_features,
    scalar_matrix,
)
from exoguard.ml.multibranch.scenarios import (
    FEW_EVENT_KINDS,
    Ephemeris,
    commensurate,
    epochs_in_span,
    events_in_span,
    inject_dips,
    lands_on_event,
)

logger = logging.getLogger(__name__)


def coarse_search(flat: LightCurve, *, star: StarRow) -> tuple[float, float, float]:
    """Highest BLS peak on a coarse grid: ``(period_days, t0_bjd, duration_days)``."""
    from exoguard.core.search import bls_periodogram, make_grid

    sp = star.params()
    grid = make_grid(
        flat.time_bjd,
        oversampling=1.0,
        n_durations=5,
        star_radius_rsun=sp.effective_radius_rsun,
        star_mass_msun=sp.effective_mass_msun,
    )
    pg = bls_periodogram(flat.time_bjd, flat.flux, flat.flux_err, grid=grid, n_chunks=1)
    return float(pg.period_days), float(pg.t0), float(pg.duration)


@dataclass(frozen=True)
class Sample:
    """One generated row before stacking."""

    inputs: Any  # CandidateInputs
    label: int
    kind: str
    host: str
    star: str
    injection: Injection


def _few_dips(
    host: Host, inj: InjectionConfig, rng: np.random.Generator, n_events: int
) -> tuple[LightCurve, Injection, np.ndarray]:
    raw, times, depth_ppm, width_h = inject_dips(
        host.raw, n_events=n_events, snr=draw_from_range(rng, inj.snr), noise=host.noise, rng=rng
    )
    truth = Injection(kind="systematic", depth_ppm=depth_ppm, duration_hours=width_h)
    return redetrend(host, raw), truth, times


def _event_times(truth: Injection, span: tuple[float, float]) -> np.ndarray:
    """Mid-times of the injected eclipsing events in ``span`` (primary and secondary)."""
    period = truth.period_days * (2 if truth.half_period else 1)
    times = [epochs_in_span(period, truth.t0_bjd, span)]
    if truth.kind in ("eb", "beb"):
        times.append(epochs_in_span(period, truth.t0_bjd + period / 2, span))
    return np.concatenate(times)


def generate_sample(
    host: Host,
    kind: str,
    rng: np.random.Generator,
    *,
    inj: InjectionConfig,
    n_bins: int,
    image_shape: tuple[int, int],
    few_events: int = 0,
    multi: bool = False,
) -> Sample | None:
    """One injected sample of ``kind`` on ``host`` (None when this draw is unusable).

    ``few_events`` (0, 1 or 2): a planet, binary or systematic with only that many events
    in the span; ``multi``: a second signal on the star (see
    :mod:`exoguard.ml.multibranch.scenarios`).
    """
    if few_events and kind not in FEW_EVENT_KINDS:
        raise ValueError(f"few_events applies to {FEW_EVENT_KINDS}, not {kind!r}")
    res, dip_times = _inject(host, kind, rng, inj=inj, few_events=few_events)
    if res is None:
        return None
    flat, truth = res
    span = (float(flat.time_bjd[0]), float(flat.time_bjd[-1]))
    eclipsing = kind in ("planet", "eb", "beb")
    companion: Ephemeris | None = None
    if multi and kind != "eb":
        # a second transiting planet on the star (an eclipsing binary's second signal is
        # its secondary eclipse, decided from the diagnostics below)
        comp = inject_planet(host, inj, rng, base=flat)
        if comp is None:
            return None
        flat, ctruth = comp
        companion = Ephemeris(ctruth.period_days, ctruth.t0_bjd, ctruth.duration_hours)
    if eclipsing and not few_events:
        period, t0, dur_days = _known_ephemeris(truth, flat, rng, inj=inj)
    else:
        period, t0, dur_days = coarse_search(_without(flat, companion), star=host.star_row)
        if few_events:
            events = dip_times if dip_times is not None else _event_times(truth, span)
            cand = Ephemeris(period, t0, dur_days * 24.0)
            if not lands_on_event(cand, events, span=span):
                return None  # the search reported something else than the injected events
    if companion is not None and commensurate(period, companion.period_days):
        return None  # the two signals would read as one
    found = _candidate(
        host, flat, (period, t0, dur_days), companion, inj=inj,
        n_bins=n_bins, image_shape=image_shape,
    )  # fmt: skip
    if found is None:
        return None
    diag, inputs = found
    extra = _truth_extras(
        kind, truth, flat, diag, companion, dip_times,
        few_events=few_events, multi=multi, period=period, inj=inj,
    )  # fmt: skip
    return Sample(
        inputs=inputs,
        label=SIGNAL_LABELS[kind],
        kind=kind,
        host=host.name,
        star=host.star,
        injection=dataclasses.replace(truth, **extra),
    )


def _inject(
    host: Host, kind: str, rng: np.random.Generator, *, inj: InjectionConfig, few_events: int
) -> tuple[tuple[LightCurve, Injection] | None, np.ndarray | None]:
    """The injected light curve and truth of ``kind`` (None: unusable draw), and dip times
    when ``few_events`` systematics were drawn."""
    res: tuple[LightCurve, Injection] | None
    dip_times: np.ndarray | None = None
    if kind == "planet":
        res = inject_planet(host, inj, rng, few_events=few_events)
    elif kind in ("eb", "beb"):
        res = inject_binary(host, inj, rng, background=kind == "beb", few_events=few_events)
    elif kind == "variability":
        res = inject_variability(host, inj, rng)
    elif kind == "systematic" and few_events:
        flat_d, truth_d, dip_times = _few_dips(host, inj, rng, few_events)
        res = flat_d, truth_d
    elif kind == "systematic":
        res = inject_systematic(host, inj, rng)
    elif kind == "outlier":
        res = inject_outliers(host, inj, rng)
    elif kind == "noise":
        res = host.flat, Injection(kind="noise")
    else:
        raise ValueError(f"kind {kind!r} is not one of {SIGNAL_KINDS}")
    return res, dip_times


def _known_ephemeris(
    truth: Injection, flat: LightCurve, rng: np.random.Generator, *, inj: InjectionConfig
) -> tuple[float, float, float]:
    """The injected period, mid-time and duration (days) with search-like errors."""
    dur_days = truth.duration_hours / 24.0
    n_tr = max(1.0, flat.baseline_days / truth.period_days)
    period = truth.period_days + rng.normal(0, 0.1 * dur_days / n_tr)
    t0 = truth.t0_bjd + rng.normal(0, inj.t0_error_durations * dur_days)
    dur_days *= math.exp(rng.normal(0, inj.duration_error_fraction))
    dur_days = float(np.clip(dur_days, 0.3 / 24, 0.3 * period))
    return period, t0, dur_days


def _without(flat: LightCurve, companion: Ephemeris | None) -> LightCurve:
    """The light curve the search sees: the companion's transits masked when there is one."""
    if companion is None:
        return flat
    # the multi-planet search found the companion first and masked it
    cut = transit_mask(
        flat.time_bjd,
        period_days=companion.period_days,
        t0_bjd=companion.t0_bjd,
        duration_hours=companion.duration_hours,
        factor=2.0,
    )
    return flat.select(~cut)


def _candidate(
    host: Host,
    flat: LightCurve,
    ephemeris: tuple[float, float, float],
    companion: Ephemeris | None,
    *,
    inj: InjectionConfig,
    n_bins: int,
    image_shape: tuple[int, int],
) -> tuple[TransitDiagnostics, CandidateInputs] | None:
    """Diagnostics and model inputs of the candidate at ``(period, t0, duration)`` in days,
    or None when the search would miss it."""
    period, t0, dur_days = ephemeris
    sp = host.star_row.params()
    cadence = flat.cadence_s / 86400.0 if math.isfinite(flat.cadence_s) else None
    try:
        own = flat
        if companion is not None:
            from exoguard.ml.multibranch.classify import other_transits

            cut = other_transits(
                flat.time_bjd, [Ephemeris(period, t0, dur_days * 24.0), companion], 0
            )
            own = flat.select(~cut) if cut.any() else flat
        diag = diagnose_transit(
            own.time_bjd,
            own.flux,
            own.flux_err,
            period_days=period,
            t0_bjd=t0,
            duration_days=dur_days,
            star_radius_rsun=sp.effective_radius_rsun,
            star_mass_msun=sp.effective_mass_msun,
            cadence_days=cadence,
            refine=False,
        )
        if diag.n_transits < 1 or not math.isfinite(diag.depth_ppm):
            return None
        if not diag.snr >= inj.min_candidate_snr:
            return None  # the search would not report it
        inputs = candidate_inputs(
            own,
            diag,
            star=host.star_row,
            n_bins=n_bins,
            image_shape=image_shape,
            host_id=host.star,
        )
    except (ValidationError, ValueError, FloatingPointError) as exc:
        logger.debug("sample on %s dropped: %s", host.name, exc)
        return None
    return diag, inputs


def _truth_extras(
    kind: str,
    truth: Injection,
    flat: LightCurve,
    diag: TransitDiagnostics,
    companion: Ephemeris | None,
    dip_times: np.ndarray | None,
    *,
    few_events: int,
    multi: bool,
    period: float,
    inj: InjectionConfig,
) -> dict[str, Any]:
    """Fields added to the injection truth: events in the span, the second signal."""
    extra: dict[str, Any] = {"few_events": bool(few_events)}
    if kind in ("planet", "eb", "beb"):
        extra["n_events"] = float(
            events_in_span(
                flat.time_bjd,
                period_days=truth.period_days * (2 if truth.half_period else 1),
                t0_bjd=truth.t0_bjd,
                duration_hours=truth.duration_hours,
            )
        )
    elif dip_times is not None:
        extra["n_events"] = float(len(dip_times))
    if companion is not None:
        extra.update(
            n_signals=2, companion_period_days=companion.period_days, n_candidates_on_host=2
        )
    elif multi and kind == "eb" and not truth.half_period:
        sec = float(getattr(diag, "secondary_sigma", math.nan))
        if math.isfinite(sec) and sec >= inj.min_candidate_snr:
            # the search reports the secondary as a second candidate at the same period,
            # flagged as an alias of the primary: it does not count on the host
            extra.update(n_signals=2, companion_period_days=period, n_candidates_on_host=1)
    return extra


def _sample_rows(samples: Sequence[Sample]) -> tuple[list[dict[str, Any]], list[dict[str, float]]]:
    rows = [dict(s.inputs.harmonised) for s in samples]
    return rows, [dict(s.inputs.lc_features) for s in samples]


def _unique_hosts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # every sample is a star of its own: per-star features (multiplicity, nearest period
    # ratio) must not mix independent samples of one host
    return [{**r, "host_id": f"{r.get('host_id', '')}#{i}"} for i, r in enumerate(rows)]


def sample_scalars(
    rows: list[dict[str, Any]],
    lc_rows: list[dict[str, float]],
    *,
    features: Sequence[str],
    n_candidates_on_host: np.ndarray,
    companion_period_days: np.ndarray,
) -> np.ndarray:
    """Scalar features of injected samples, shape (n, len(features)).

    Each sample is alone on its star except for its second signal: a row with the
    companion's period joins the sample's star so that ``nearest_period_ratio`` sees it;
    ``n_candidates_on_host`` is what the multi-planet search would count.
    """
    own = _unique_hosts(rows)
    comp = np.asarray(companion_period_days, dtype=float)
    extra = [
        {"host_id": r["host_id"], "mission": r.get("mission"), "period_days": float(p)}
        for r, p in zip(own, comp, strict=True)
        if math.isfinite(p) and p > 0
    ]
    counts = np.concatenate([np.asarray(n_candidates_on_host, dtype=float), np.ones(len(extra))])
    out = scalar_matrix(
        own + extra,
        features=features,
        n_candidates_on_host=counts,
        lc_rows=list(lc_rows) + [{} for _ in extra],
    )
    return out[: len(own)]


def stack_samples(
    samples: Sequence[Sample],
    *,
    n_bins: int,
    image_shape: tuple[int, int],
    features: Sequence[str] | None = None,
) -> SampleArrays:
    """Stack samples into arrays (scalar features computed together)."""
    names = tuple(features) if features is not None else default_scalar_features()
    n = len(samples)
    if n == 0:
        z = SampleArrays.empty_lc(0, n_bins=n_bins, image_shape=image_shape, feature_names=names)
        return SampleArrays(
            **z,
            scalar=np.zeros((0, len(names))),
            has_lc=np.zeros(0, bool),
            y=np.zeros(0, np.int8),
            kind=np.zeros(0, str),
            group=np.zeros(0, str),
            weight=np.zeros(0, np.float32),
            feature_names=names,
        )
    rows, lc_rows = _sample_rows(samples)
    scalar = sample_scalars(
        rows,
        lc_rows,
        features=names,
        n_candidates_on_host=np.array([s.injection.n_candidates_on_host for s in samples]),
        companion_period_days=np.array([s.injection.companion_period_days for s in samples]),
    )
    return SampleArrays(
        ts=np.stack([s.inputs.ts for s in samples]).astype(np.float32),
        global_view=np.stack([s.inputs.global_view for s in samples]).astype(np.float32),
        local_view=np.stack([s.inputs.local_view for s in samples]).astype(np.float32),
        image=np.stack([s.inputs.image for s in samples]).astype(np.float32),
        scalar=scalar,
        has_lc=np.ones(n, bool),
        y=np.array([s.label for s in samples], np.int8),
        kind=np.array([s.kind for s in samples], dtype=str),
        group=np.array([s.star for s in samples], dtype=str),
        weight=np.ones(n, np.float32),
        feature_names=names,
    )


def with_features(
    data: SampleArrays, params: pd.DataFrame, features: Sequence[str]
) -> SampleArrays:
    """The same injected rows with the scalar features ``features`` recomputed from the
    harmonised rows and light-curve features stored in ``params`` (``h__*``, ``lc__*``)."""
    names = tuple(features)
    if names == data.feature_names:
        return data
    hcols = [c for c in params.columns if c.startswith("h__")]
    lcols = [c for c in params.columns if c.startswith("lc__")]
    rows = [{c[3:]: r[c] for c in hcols} for _, r in params.iterrows()]
    lc_rows = [{c[4:]: float(r[c]) for c in lcols} for _, r in params.iterrows()]

    def column(name: str, default: float) -> np.ndarray:
        if name not in params.columns:  # a set cached before the column existed
            return np.full(len(rows), default)
        return pd.to_numeric(params[name], errors="coerce").to_numpy(dtype=float)

    scalar = (
        sample_scalars(
            rows,
            lc_rows,
            features=names,
            n_candidates_on_host=column("n_candidates_on_host", 1.0),
            companion_period_days=column("companion_period_days", math.nan),
        )
        if rows
        else np.zeros((0, len(names)))
    )
    kw = {
        f: getattr(data, f)
        for f in data.__dataclass_fields__
        if f not in ("scalar", "feature_names")
    }
    return SampleArrays(**kw, scalar=scalar, feature_names=names)
