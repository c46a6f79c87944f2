"""Training data of the multi-branch model.

Injected set
------------
Host light curves are the real FITS files of ``settings.lightcurves_dir`` and the DAVE
K2 Campaign 4 text files under it (one host per file; its star is the group). Every
catalog signal known on the host (KOI/TOI/K2 rows of any disposition) is cut out
(``known_transit_mask_durations`` durations wide) and the rest is detrended once (wotan
biweight, the search's default window). A host whose star has a catalog object without
an ephemeris to cut (EPIC 210827030.01, a K2 false positive with no period in the
bundled table) never receives a planet-labelled sample: its own signal stays in, so it
only serves false-positive samples. Stars without catalog parameters (the K2 hosts) use
the ``star_density_solar`` prior. Each sample then:

1. picks a kind from ``injection.mix``, whether it has one or two events only
   (``few_transit_fraction``) and a second signal (``multi_signal_fraction``; see
   :mod:`exoguard.ml.multibranch.scenarios`), and a host (a mission by
   ``host_mission_weights`` when given, a star uniformly, then one of its files) of its
   split (training stars, or the held-out test stars);
2. injects the signal (``exoguard.core.inject``): planets (batman, quadratic limb
   darkening; radius from a target SNR and the host's noise, kept within the realistic
   ``planet_radius_rearth`` range), eclipsing binaries (primary + secondary, grazing
   V shapes possible; folded at half the period when the two eclipses look alike, as a
   search would), background binaries (diluted to a planet-like target SNR), stellar
   variability and systematics (injected before detrending, then detrended with the
   host's window), single outliers, or nothing;
3. takes a candidate ephemeris: the injected one with search-like errors
   (``t0_error_durations``, ``duration_error_fraction``) for eclipsing signals, the
   highest peak of a coarse BLS search otherwise (the false alarm a search would report,
   or the alias it reports for one or two events);
4. measures the diagnostics (``exoguard.core.diagnostics.diagnose_transit``, the
   search's own code, which refines t0 and the duration) and builds the inputs with
   :func:`exoguard.ml.multibranch.inputs.candidate_inputs`.

Sample ``i`` draws from ``np.random.default_rng([seed, split, i])``, so the set does not
depend on the order of generation. The set is cached under
``settings.var_dir / "multibranch"`` as ``.npz`` (no pickle) keyed by the hash of the
injection config, the input shapes and the host files.

Catalog rows
------------
Labelled KOIs are split by star (``catalog_test_fraction`` held out); the rest train the
model with the light-curve branches masked. Labelled TOIs and K2 objects are only scored
(cross-mission figures).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exoguard.core.detrend import detrend
from exoguard.core.diagnostics import diagnose_transit
from exoguard.core.inject import (
    a_rs_from_density,
    inject_eclipsing_binary,
    inject_outlier,
    inject_step,
    inject_transit,
    transit_duration_hours,
    transit_mask,
)
from exoguard.core.lightcurve import LightCurve, point_to_point_scatter
from exoguard.errors import ValidationError
from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.configs import (
    SIGNAL_KINDS,
    SIGNAL_LABELS,
    InjectionConfig,
    MultibranchConfig,
    Range,
)
from exoguard.ml.multibranch.inputs import (
    StarRow,
    candidate_inputs,
    default_scalar_features,
    scalar_matrix,
    star_lookup,
)
from exoguard.ml.multibranch.scenarios import (
    FEW_EVENT_KINDS,
    Ephemeris,
    commensurate,
    epochs_in_span,
    events_in_span,
    few_event_ephemeris,
    inject_dips,
    lands_on_event,
)

logger = logging.getLogger(__name__)

#: Bumped whenever generation changes in a way the config does not capture.
GENERATOR_VERSION = "5"  # 5: few-event samples, second signals, K2 hosts
R_EARTH_PER_R_SUN = 109.076
LOGG_SUN_CGS = 4.438
#: A host whose relative flux is <= 0 on more than this fraction of points is refused.
MAX_NONPOSITIVE_FRACTION = 0.01
#: Attempts to draw a usable sample before giving up on a host.
MAX_TRIES = 40
SPLITS = ("train", "test")

Progress = Callable[[int], None]


# ---------------------------------------------------------------------- hosts
@dataclass(frozen=True, eq=False)
class Host:
    """A real light curve used as noise for injections.

    Attributes
    ----------
    name : str
        File name.
    star : str
        Target id (the group: a star's files always share a split).
    raw : LightCurve
        Cleaned, normalised light curve with the known transits cut out.
    trend : ndarray, shape (raw.n_points,)
        Its biweight trend (``raw.flux / trend`` is flat).
    window_days : float
        The detrending window.
    star_row : StarRow
    planet_ok : bool
        False when the star holds a catalog signal that could not be cut out (no
        ephemeris): no planet-labelled sample is drawn on it.
    """

    name: str
    star: str
    raw: LightCurve
    trend: np.ndarray
    window_days: float
    star_row: StarRow
    planet_ok: bool = True
    noise: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise", point_to_point_scatter(self.raw.flux / self.trend))

    def crop(self, start_bjd: float, end_bjd: float) -> Host:
        """The same host restricted to ``start_bjd <= t < end_bjd``."""
        keep = (self.raw.time_bjd >= start_bjd) & (self.raw.time_bjd < end_bjd)
        return Host(
            self.name,
            self.star,
            self.raw.select(keep),
            self.trend[keep],
            self.window_days,
            self.star_row,
            self.planet_ok,
        )

    @property
    def flat(self) -> LightCurve:
        return self.raw.with_flux(self.raw.flux / self.trend, self.raw.flux_err / self.trend)


def search_window_days(lc: LightCurve) -> float:
    """The biweight window the transit search uses by default for this light curve."""
    from exoguard.core.search.grid import make_grid
    from exoguard.core.search.multi import default_window_days

    return float(default_window_days(make_grid(lc.time_bjd)))


def make_host(
    lc: LightCurve,
    *,
    catalog: pd.DataFrame | None,
    stars: dict[str, StarRow],
    mask_durations: float = 2.5,
) -> Host:
    """Cut the catalog's known signals of ``lc``'s star out and detrend the rest.

    Raises
    ------
    ValidationError
        More than ``MAX_NONPOSITIVE_FRACTION`` of the relative flux is zero or negative (a
        broken reduction, e.g. DAVE's EPIC 210667985): not a noise host.
    """
    nonpositive = float(np.mean(lc.flux <= 0)) if lc.n_points else 0.0
    if nonpositive > MAX_NONPOSITIVE_FRACTION:
        raise ValidationError(
            f"{lc.target_id}: {100 * nonpositive:.0f} % of the relative flux is <= 0 "
            f"(at most {100 * MAX_NONPOSITIVE_FRACTION:.0f} % allowed); not a noise host"
        )
    mask = np.zeros(lc.n_points, dtype=bool)
    planet_ok = True
    if catalog is not None and len(catalog):
        rows = catalog[catalog["host_id"].astype(str).str.strip() == lc.target_id]
        for r in rows.itertuples(index=False):
            p, t0, dur = float(r.period_days), float(r.t0_bjd), float(r.duration_hours)
            if not (math.isfinite(p) and p > 0 and math.isfinite(t0)):
                # a known signal we cannot cut: keep it out of planet-labelled samples
                planet_ok = False
                continue
            dur = dur if math.isfinite(dur) and dur > 0 else 6.0
            mask |= transit_mask(
                lc.time_bjd, period_days=p, t0_bjd=t0, duration_hours=dur, factor=mask_durations
            )
    raw = lc.with_mask(mask, note=f"cut {int(mask.sum())} points of known signals")
    window = search_window_days(raw)
    flat, trend = detrend(raw, window_days=window)
    del flat
    return Host(
        name=(lc.sources[0] if lc.sources else lc.target_id),
        star=lc.target_id,
        raw=raw,
        trend=np.asarray(trend, dtype=float),
        window_days=window,
        star_row=stars.get(lc.target_id, StarRow()),
        planet_ok=planet_ok,
    )


#: File patterns of host light curves: FITS products and DAVE K2 text files.
HOST_PATTERNS = ("*.fits", "ktwo*.dat")


def host_files(lightcurves_dir: Path) -> list[Path]:
    """Every FITS file and DAVE K2 ``ktwo*.dat`` file under ``lightcurves_dir`` (sorted)."""
    return sorted({p for pat in HOST_PATTERNS for p in lightcurves_dir.rglob(pat) if p.is_file()})


def load_hosts(
    files: Sequence[Path],
    *,
    catalog: pd.DataFrame | None,
    stars: dict[str, StarRow],
    mask_durations: float = 2.5,
) -> list[Host]:
    """Read, clean and prepare every file as a host (files that cannot be read are skipped)."""
    from exoguard.io import read_lightcurve

    hosts = []
    for path in files:
        try:
            lc = read_lightcurve(path)
            hosts.append(make_host(lc, catalog=catalog, stars=stars, mask_durations=mask_durations))
        except Exception as exc:  # one bad file must not stop training
            logger.warning("skipping host %s: %s", path.name, exc)
    return hosts


def split_stars(hosts: Sequence[Host], *, test_fraction: float, seed: int) -> dict[str, str]:
    """Star → ``"train"``/``"test"``: per mission, a seeded ``test_fraction`` of the stars
    (at least one when the mission has two or more) is held out."""
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    by_mission: dict[str, list[str]] = {}
    for h in hosts:
        by_mission.setdefault(h.raw.mission, [])
        if h.star not in by_mission[h.raw.mission]:
            by_mission[h.raw.mission].append(h.star)
    for mission in sorted(by_mission):
        stars = sorted(by_mission[mission])
        order = rng.permutation(len(stars))
        n_test = int(round(test_fraction * len(stars)))
        n_test = min(max(n_test, 1), len(stars) - 1) if len(stars) >= 2 else 0
        for rank, i in enumerate(order):
            out[stars[i]] = "test" if rank < n_test else "train"
    return out


# ---------------------------------------------------------------------- sampling
def _draw(rng: np.random.Generator, r: Range) -> float:
    if r.log:
        return float(math.exp(rng.uniform(math.log(r.lo), math.log(r.hi))))
    return float(rng.uniform(r.lo, r.hi))


@dataclass(frozen=True)
class Injection:
    """What one sample holds (ground truth for the record)."""

    kind: str
    period_days: float = math.nan
    t0_bjd: float = math.nan
    duration_hours: float = math.nan
    depth_ppm: float = math.nan
    expected_snr: float = math.nan
    radius_ratio: float = math.nan
    planet_radius_rearth: float = math.nan
    impact: float = math.nan
    dilution: float = math.nan
    surface_brightness_ratio: float = math.nan
    half_period: bool = False
    #: Injected events (transits, eclipses, dips) with data in the span (NaN: none injected).
    n_events: float = math.nan
    #: Drawn as a one- or two-event sample (``few_transit_fraction``).
    few_events: bool = False
    #: Signals on the star: 2 with a second planet or a binary's secondary candidate.
    n_signals: int = 1
    #: Period of the second candidate on the star (NaN when alone).
    companion_period_days: float = math.nan
    #: What the multi-planet search counts on the star (a secondary at the same period
    #: is an alias and does not count).
    n_candidates_on_host: int = 1


PARAM_COLUMNS = tuple(Injection.__dataclass_fields__)


def _period_range(host: Host, inj: InjectionConfig) -> tuple[float, float]:
    hi = min(inj.period_days.hi, host.raw.baseline_days / max(inj.min_transits, 1))
    lo = min(inj.period_days.lo, 0.5 * hi)
    return lo, hi


def _points_in_transit(t: np.ndarray, period: float, t0: float, dur_h: float) -> int:
    return int(
        transit_mask(t, period_days=period, t0_bjd=t0, duration_hours=dur_h, factor=1.0).sum()
    )


def host_density_solar(star: StarRow) -> float:
    """Mean density of the host from its catalog logg and radius (NaN when unknown)."""
    rho = 10.0 ** (star.logg_cgs - LOGG_SUN_CGS) / star.radius_rsun
    return float(rho) if math.isfinite(rho) and rho > 0 else math.nan


def _eclipse_geometry(
    host: Host,
    inj: InjectionConfig,
    rng: np.random.Generator,
    *,
    density_solar: float | None = None,
    few_events: int = 0,
) -> tuple[float, float, float]:
    if few_events:
        period, t0 = few_event_ephemeris(host.raw.time_bjd, n_events=few_events, rng=rng)
    else:
        lo, hi = _period_range(host, inj)
        period = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        t0 = float(host.raw.time_bjd[0] + rng.uniform(0, period))
    rho = _draw(rng, inj.star_density_solar) if density_solar is None else density_solar
    a_rs = a_rs_from_density(period, rho_star_solar=rho)
    return period, t0, a_rs


def _target_density(host: Host, inj: InjectionConfig, rng: np.random.Generator) -> float:
    """The target star's density with the scatter of catalog values; the prior when the
    star is unknown."""
    rho = host_density_solar(host.star_row)
    if not math.isfinite(rho):
        return _draw(rng, inj.star_density_solar)
    return float(rho * math.exp(rng.normal(0.0, inj.density_scatter_dex * math.log(10))))


def _inject_planet(
    host: Host,
    inj: InjectionConfig,
    rng: np.random.Generator,
    *,
    few_events: int = 0,
    base: LightCurve | None = None,
) -> tuple[LightCurve, Injection] | None:
    # a planet orbits the target: its duration follows the target star's density
    period, t0, a_rs = _eclipse_geometry(
        host, inj, rng, density_solar=_target_density(host, inj, rng), few_events=few_events
    )
    b = _draw(rng, inj.impact)
    u = (_draw(rng, inj.limb_u1), _draw(rng, inj.limb_u2))
    snr = _draw(rng, inj.snr)
    t = host.raw.time_bjd
    # duration and points in transit for a small planet; the depth follows from the SNR
    dur = transit_duration_hours(period_days=period, a_rs=a_rs, rp_rs=0.05, impact=b)
    n_in = _points_in_transit(t, period, t0, dur) if dur > 0 else 0
    if n_in < 4:
        return None
    depth = snr * host.noise / math.sqrt(n_in)
    ld = 1.0 - u[0] / 3.0 - u[1] / 6.0  # mean disk brightness over the centre's
    k = math.sqrt(depth * ld)
    r_star = host.star_row.radius_rsun if math.isfinite(host.star_row.radius_rsun) else 1.0
    rp = k * r_star * R_EARTH_PER_R_SUN
    if not (inj.planet_radius_rearth.lo <= rp <= inj.planet_radius_rearth.hi) or k > 0.35:
        return None
    flat = inject_transit(
        host.flat if base is None else base,
        period_days=period,
        t0_bjd=t0,
        rp_rs=k,
        a_rs=a_rs,
        impact=b,
        u=u,
    )
    dur = transit_duration_hours(period_days=period, a_rs=a_rs, rp_rs=k, impact=b)
    return flat, Injection(
        kind="planet",
        period_days=period,
        t0_bjd=t0,
        duration_hours=dur,
        depth_ppm=depth * 1e6,
        expected_snr=snr,
        radius_ratio=k,
        planet_radius_rearth=rp,
        impact=b,
    )


def _inject_binary(
    host: Host,
    inj: InjectionConfig,
    rng: np.random.Generator,
    *,
    background: bool,
    few_events: int = 0,
) -> tuple[LightCurve, Injection] | None:
    # an eclipsing binary on the target: the target's density times (1 + mass ratio); a
    # background binary is another star altogether (the prior)
    rho = None if background else _target_density(host, inj, rng) * (1 + rng.uniform(0.1, 1.0))
    period, t0, a_rs = _eclipse_geometry(host, inj, rng, density_solar=rho, few_events=few_events)
    k = _draw(rng, inj.eb_radius_ratio)
    b = float(rng.uniform(0.0, 1.0 + 0.8 * k))
    sb = _draw(rng, inj.eb_surface_brightness_ratio)
    u = (_draw(rng, inj.limb_u1), _draw(rng, inj.limb_u2))
    if not a_rs > 1.0 + k:  # the two stars would overlap: not a detached binary
        return None
    dur = transit_duration_hours(period_days=period, a_rs=a_rs, rp_rs=k, impact=b)
    if not dur > 0:
        return None
    n_in = _points_in_transit(host.raw.time_bjd, period, t0, dur)
    if n_in < 4:
        return None
    dilution = 1.0
    if background:
        # undiluted eclipse depth, measured on a fine grid around t0
        from exoguard.core.inject import eclipsing_binary_model

        tt = t0 + np.linspace(-0.5, 0.5, 201) * dur / 24.0
        full = 1.0 - float(
            np.min(
                eclipsing_binary_model(
                    tt,
                    period_days=period,
                    t0_bjd=t0,
                    radius_ratio=k,
                    a_rs=a_rs,
                    impact=b,
                    surface_brightness_ratio=sb,
                    u=u,
                )
            )
        )
        if not full > 0:
            return None
        target = _draw(rng, inj.snr) * host.noise / math.sqrt(n_in)
        dilution = target / full
        lo, hi = inj.beb_dilution.lo, max(inj.beb_dilution.hi, 0.5)
        if not lo <= dilution <= hi:
            return None
    flat = inject_eclipsing_binary(
        host.flat,
        period_days=period,
        t0_bjd=t0,
        radius_ratio=k,
        a_rs=a_rs,
        impact=b,
        surface_brightness_ratio=sb,
        u=u,
        dilution=dilution,
    )
    depth = 1.0 - float(np.min(flat.flux / host.flat.flux))
    # a search folds two similar eclipses at half the period
    half = bool(sb > 0.6 and rng.uniform() < 0.5) and not few_events
    return flat, Injection(
        kind="beb" if background else "eb",
        period_days=period / 2 if half else period,
        t0_bjd=t0,
        duration_hours=dur,
        depth_ppm=depth * 1e6,
        expected_snr=depth / host.noise * math.sqrt(n_in),
        radius_ratio=k,
        impact=b,
        dilution=dilution,
        surface_brightness_ratio=sb,
        half_period=half,
    )


def _redetrend(host: Host, raw: LightCurve) -> LightCurve:
    flat, _ = detrend(raw, window_days=host.window_days)
    return flat


def _inject_variability(
    host: Host, inj: InjectionConfig, rng: np.random.Generator
) -> tuple[LightCurve, Injection]:
    period = _draw(rng, inj.variability_period_days)
    amp = _draw(rng, inj.variability_amplitude_ppm) * 1e-6
    t = host.raw.time_bjd - host.raw.time_bjd[0]
    phase = rng.uniform(0, 2 * math.pi, size=3)
    # a spotted star: fundamental plus harmonics, slowly evolving amplitude
    h2, h3 = rng.uniform(0, 0.5), rng.uniform(0, 0.25)
    envelope = 1.0 + 0.3 * np.sin(2 * math.pi * t / (period * rng.uniform(5, 20)) + phase[0])
    model = 1.0 + amp * envelope * (
        np.sin(2 * math.pi * t / period + phase[0])
        + h2 * np.sin(4 * math.pi * t / period + phase[1])
        + h3 * np.sin(6 * math.pi * t / period + phase[2])
    )
    raw = host.raw.with_flux(host.raw.flux * model)
    return _redetrend(host, raw), Injection(
        kind="variability", period_days=period, depth_ppm=amp * 1e6
    )


def _inject_systematic(
    host: Host, inj: InjectionConfig, rng: np.random.Generator
) -> tuple[LightCurve, Injection]:
    raw = host.raw
    n_steps = int(rng.integers(1, 4))
    size = 0.0
    for _ in range(n_steps):
        size = float(math.exp(rng.uniform(math.log(100), math.log(3000))))
        raw = inject_step(raw, size_ppm=size, rng=rng, recovery_days=float(rng.uniform(0.05, 1.0)))
    if rng.uniform() < 0.5:
        # periodic momentum-dump-like glitches: short dips at a fixed cadence
        period = float(rng.uniform(2.0, 4.0))
        t0 = float(raw.time_bjd[0] + rng.uniform(0, period))
        m = transit_mask(
            raw.time_bjd,
            period_days=period,
            t0_bjd=t0,
            duration_hours=float(rng.uniform(0.5, 2.0)),
            factor=1.0,
        )
        glitch = float(math.exp(rng.uniform(math.log(100), math.log(2000)))) * 1e-6
        raw = raw.with_flux(raw.flux * np.where(m, 1.0 - glitch, 1.0))
    return _redetrend(host, raw), Injection(kind="systematic", depth_ppm=size)


def _inject_outliers(
    host: Host, inj: InjectionConfig, rng: np.random.Generator
) -> tuple[LightCurve, Injection]:
    flat = host.flat
    depth = 0.0
    for _ in range(int(rng.integers(1, 4))):
        depth = float(math.exp(rng.uniform(math.log(300), math.log(10_000))))
        flat = inject_outlier(flat, depth_ppm=depth, n_points=int(rng.integers(1, 4)), rng=rng)
    return flat, Injection(kind="outlier", depth_ppm=depth)


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
        host.raw, n_events=n_events, snr=_draw(rng, inj.snr), noise=host.noise, rng=rng
    )
    truth = Injection(kind="systematic", depth_ppm=depth_ppm, duration_hours=width_h)
    return _redetrend(host, raw), truth, times


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
    res: tuple[LightCurve, Injection] | None
    dip_times: np.ndarray | None = None
    if kind == "planet":
        res = _inject_planet(host, inj, rng, few_events=few_events)
    elif kind in ("eb", "beb"):
        res = _inject_binary(host, inj, rng, background=kind == "beb", few_events=few_events)
    elif kind == "variability":
        res = _inject_variability(host, inj, rng)
    elif kind == "systematic" and few_events:
        flat_d, truth_d, dip_times = _few_dips(host, inj, rng, few_events)
        res = flat_d, truth_d
    elif kind == "systematic":
        res = _inject_systematic(host, inj, rng)
    elif kind == "outlier":
        res = _inject_outliers(host, inj, rng)
    elif kind == "noise":
        res = host.flat, Injection(kind="noise")
    else:
        raise ValueError(f"kind {kind!r} is not one of {SIGNAL_KINDS}")
    if res is None:
        return None
    flat, truth = res
    span = (float(flat.time_bjd[0]), float(flat.time_bjd[-1]))
    eclipsing = kind in ("planet", "eb", "beb")
    companion: Ephemeris | None = None
    if multi and kind != "eb":
        # a second transiting planet on the star (an eclipsing binary's second signal is
        # its secondary eclipse, decided from the diagnostics below)
        comp = _inject_planet(host, inj, rng, base=flat)
        if comp is None:
            return None
        flat, ctruth = comp
        companion = Ephemeris(ctruth.period_days, ctruth.t0_bjd, ctruth.duration_hours)
    if eclipsing and not few_events:
        dur_days = truth.duration_hours / 24.0
        n_tr = max(1.0, flat.baseline_days / truth.period_days)
        period = truth.period_days + rng.normal(0, 0.1 * dur_days / n_tr)
        t0 = truth.t0_bjd + rng.normal(0, inj.t0_error_durations * dur_days)
        dur_days *= math.exp(rng.normal(0, inj.duration_error_fraction))
        dur_days = float(np.clip(dur_days, 0.3 / 24, 0.3 * period))
    else:
        searched = flat
        if companion is not None:
            # the multi-planet search found the companion first and masked it
            cut = transit_mask(
                flat.time_bjd,
                period_days=companion.period_days,
                t0_bjd=companion.t0_bjd,
                duration_hours=companion.duration_hours,
                factor=2.0,
            )
            searched = flat.select(~cut)
        period, t0, dur_days = coarse_search(searched, star=host.star_row)
        if few_events:
            events = dip_times if dip_times is not None else _event_times(truth, span)
            cand = Ephemeris(period, t0, dur_days * 24.0)
            if not lands_on_event(cand, events, span=span):
                return None  # the search reported something else than the injected events
    if companion is not None and commensurate(period, companion.period_days):
        return None  # the two signals would read as one
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
    extra: dict[str, Any] = {"few_events": bool(few_events)}
    if eclipsing:
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
    return Sample(
        inputs=inputs,
        label=SIGNAL_LABELS[kind],
        kind=kind,
        host=host.name,
        star=host.star,
        injection=dataclasses.replace(truth, **extra),
    )


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


# ---------------------------------------------------------------------- the whole set
@dataclass(frozen=True, eq=False)
class InjectedSet:
    """Injected samples of the training stars and of the held-out test stars.

    Attributes
    ----------
    train, test : SampleArrays
    train_params, test_params : DataFrame
        The injection of each row (:class:`Injection` fields plus ``host``).
    meta : dict
        Config, host split, counts per kind, generation time, cache key.
    """

    train: SampleArrays
    test: SampleArrays
    train_params: pd.DataFrame
    test_params: pd.DataFrame
    meta: dict[str, Any]


def _maybe_crop(host: Host, inj: InjectionConfig, rng: np.random.Generator) -> Host:
    baseline = host.raw.baseline_days
    if rng.uniform() >= inj.crop_probability or baseline <= inj.min_host_days:
        return host
    length = max(inj.min_host_days, _draw(rng, inj.crop_fraction) * baseline)
    start = float(host.raw.time_bjd[0] + rng.uniform(0.0, max(baseline - length, 0.0)))
    cropped = host.crop(start, start + length)
    return cropped if cropped.raw.n_points >= 100 else host


def _draw_sample(
    hosts: Sequence[Host],
    i: int,
    split_id: int,
    inj: InjectionConfig,
    n_bins: int,
    image_shape: tuple[int, int],
    pool: list[int],
) -> Sample | None:
    rng = _sample_rng(inj, split_id, i)
    kind = _draw_kind(rng, inj)
    few = 0
    if (
        kind in FEW_EVENT_KINDS
        and inj.few_transit_fraction > 0
        and rng.uniform() < inj.few_transit_fraction
    ):
        few = 1 + int(rng.uniform() < 0.5)
    multi = bool(inj.multi_signal_fraction > 0 and rng.uniform() < inj.multi_signal_fraction)
    # a star holding a signal we could not cut out never receives a planet-labelled sample
    usable = [j for j in pool if hosts[j].planet_ok or SIGNAL_LABELS[kind] == 0]
    if not usable:
        return None
    by_mission: dict[str, list[str]] = {}
    for j in usable:
        stars_m = by_mission.setdefault(hosts[j].raw.mission, [])
        if hosts[j].star not in stars_m:
            stars_m.append(hosts[j].star)
    weights = inj.host_mission_weights
    missions = sorted(m for m in by_mission if not weights or weights.get(m, 0) > 0)
    stars = sorted({hosts[j].star for j in usable})
    if weights and missions:
        # the mission is drawn once: a draw that fails (e.g. a planet too large for the
        # noise of a K2 star) is tried again on the same mission, so that the missions
        # keep their weights within each kind
        w = np.array([weights[m] for m in missions], float)
        stars = sorted(by_mission[missions[int(rng.choice(len(missions), p=w / w.sum()))]])
    for _ in range(MAX_TRIES):
        star = stars[int(rng.integers(len(stars)))]
        files = [j for j in usable if hosts[j].star == star]
        host = _maybe_crop(hosts[files[int(rng.integers(len(files)))]], inj, rng)
        sample = generate_sample(
            host,
            kind,
            rng,
            inj=inj,
            n_bins=n_bins,
            image_shape=image_shape,
            few_events=few,
            multi=multi,
        )
        if sample is not None:
            return sample
    # counted and reported once per set by `_report_failures` (not once per sample)
    logger.debug("sample %d (%s) could not be generated in %d tries", i, kind, MAX_TRIES)
    return None


def _sample_rng(inj: InjectionConfig, split_id: int, i: int) -> np.random.Generator:
    """The generator of sample `i` of split `split_id`: the same in any process."""
    return np.random.default_rng([inj.seed, split_id, i])


def _draw_kind(rng: np.random.Generator, inj: InjectionConfig) -> str:
    """A sample's kind, drawn first from its generator with the weights of ``inj.mix``."""
    kinds = list(inj.mix)
    w = np.array([inj.mix[k] for k in kinds], float)
    return kinds[int(rng.choice(len(kinds), p=w / w.sum()))]


def _report_failures(
    jobs: Sequence[tuple[int, int, str]], samples: Sequence[Sample | None], inj: InjectionConfig
) -> None:
    """One warning line for every sample that could not be drawn, counted by kind and split."""
    failed: dict[tuple[str, str], int] = {}
    for (i, sid, split), smp in zip(jobs, samples, strict=True):
        if smp is None:
            key = (split, _draw_kind(_sample_rng(inj, sid, i), inj))
            failed[key] = failed.get(key, 0) + 1
    if failed:
        counts = ", ".join(f"{n} {kind} ({split})" for (split, kind), n in sorted(failed.items()))
        logger.warning(
            "%d of %d samples could not be generated in %d tries each and were left out: %s",
            sum(failed.values()),
            len(jobs),
            MAX_TRIES,
            counts,
        )


#: Samples a worker process draws per task.
_CHUNK = 64
#: Below this many samples one process draws them all (starting workers costs seconds).
_MIN_PARALLEL = 1000
#: What each worker process reads (set by :func:`_init_worker`).
_WORKER_STATE: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _WORKER_STATE.update(state)


def _draw_chunk(chunk: list[tuple[int, int, str]]) -> list[Sample | None]:
    st = _WORKER_STATE
    return [
        _draw_sample(
            st["hosts"], i, sid, st["inj"], st["n_bins"], st["image_shape"], st["pools"][s]
        )
        for i, sid, s in chunk
    ]


def _draw_all(
    hosts: Sequence[Host],
    jobs: list[tuple[int, int, str]],
    pools: dict[str, list[int]],
    inj: InjectionConfig,
    n_bins: int,
    image_shape: tuple[int, int],
    workers: int | None,
    progress: Progress | None,
) -> list[Sample | None]:
    """Every job's sample, in job order; in ``workers`` processes for large sets.

    Workers are spawned, not forked: the parent may already run OpenMP threads (the
    numba search kernel, torch), which a forked child must not inherit.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    def serial() -> list[Sample | None]:
        out: list[Sample | None] = []
        for i, sid, s in jobs:
            out.append(_draw_sample(hosts, i, sid, inj, n_bins, image_shape, pools[s]))
            if progress is not None:
                progress(1)
        return out

    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    # a daemonic process (e.g. a job worker's child) may not start processes of its own
    if n <= 1 or len(jobs) < _MIN_PARALLEL or multiprocessing.current_process().daemon:
        return serial()

    state = {
        "hosts": list(hosts),
        "inj": inj,
        "n_bins": n_bins,
        "image_shape": image_shape,
        "pools": pools,
    }
    chunks = [jobs[k : k + _CHUNK] for k in range(0, len(jobs), _CHUNK)]
    results: list[Sample | None] = []
    try:
        with ProcessPoolExecutor(
            max_workers=n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(state,),
        ) as pool:
            for part in pool.map(_draw_chunk, chunks):
                results.extend(part)
                if progress is not None:
                    progress(len(part))
    except (BrokenProcessPool, OSError) as exc:  # no worker processes here: draw them here
        logger.warning("worker processes failed (%s); drawing the samples in this process", exc)
        return serial()
    return results


def injected_cache_key(config: MultibranchConfig, hosts: Sequence[Host]) -> str:
    """Hash of what determines the injected set."""
    inj = config.data.injection.model_dump(mode="json")
    h = hashlib.sha256()
    h.update(json.dumps(inj, sort_keys=True).encode())
    h.update(
        f"{config.timeseries.n_bins}|{config.views.image_transits}|"
        f"{config.views.image_phase_bins}|{GENERATOR_VERSION}".encode()
    )
    for host in hosts:
        h.update(
            f"{host.name}:{host.raw.n_points}:{host.raw.time_bjd[:1].tobytes().hex()}".encode()
        )
    return h.hexdigest()[:16]


def default_catalog_frames() -> list[pd.DataFrame]:
    """Harmonised frames of the bundled KOI, TOI and K2 tables."""
    from exoguard.catalogs import load_default_catalogs

    return [t.frame for t in load_default_catalogs()]


def default_hosts(
    frames: Sequence[pd.DataFrame] | None = None, *, mask_durations: float = 2.5
) -> list[Host]:
    """Hosts from every FITS and DAVE K2 file of ``settings.lightcurves_dir``
    (:func:`host_files`)."""
    from exoguard.config import get_settings

    frames = list(frames) if frames is not None else default_catalog_frames()
    catalog = pd.concat(frames, ignore_index=True)
    files = host_files(get_settings().lightcurves_dir)
    if not files:
        raise ValidationError(
            f"no light-curve files under {get_settings().lightcurves_dir}; "
            "set EXOGUARD_DATA_DIR to the shared data"
        )
    return load_hosts(
        files, catalog=catalog, stars=star_lookup(frames), mask_durations=mask_durations
    )


def build_injected_set(
    config: MultibranchConfig,
    *,
    hosts: Sequence[Host] | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    features: Sequence[str] | None = None,
    workers: int | None = None,
) -> InjectedSet:
    """Generate (or load from the cache) the injected training and test sets.

    Parameters
    ----------
    config : MultibranchConfig
        ``data.injection`` drives generation; the time-series bins and image shape too.
    hosts : sequence of Host, optional
        Default: every bundled light curve (:func:`default_hosts`).
    cache_dir : Path, optional
        Default ``settings.var_dir / "multibranch"``; None with ``use_cache=False``.
    progress : callable, optional
        Called with 1 after each sample.
    features : sequence of str, optional
        Scalar features (default :func:`default_scalar_features`); the cache stores the
        harmonised rows, so another list needs no new generation.
    workers : int, optional
        Processes drawing samples (default: the CPUs, at most 8). Each sample has its own
        seeded generator, so the set does not depend on the number of workers.
    """
    inj = config.data.injection
    hosts = (
        list(hosts)
        if hosts is not None
        else default_hosts(mask_durations=inj.known_transit_mask_durations)
    )
    if not hosts:
        raise ValidationError("no usable host light curves for injection")
    key = injected_cache_key(config, hosts)
    if cache_dir is None:
        from exoguard.config import get_settings

        cache_dir = get_settings().var_dir / "multibranch"
    path = cache_dir / f"injected-{key}.npz"
    if use_cache and path.exists():
        try:
            return load_injected_set(path, features=features)
        except (OSError, KeyError, ValueError) as exc:
            logger.warning("ignoring unreadable cache %s: %s", path, exc)
    t_start = time.perf_counter()
    split_of = split_stars(hosts, test_fraction=inj.test_host_fraction, seed=inj.seed)
    pools = {s: [j for j, h in enumerate(hosts) if split_of[h.star] == s] for s in SPLITS}
    if not pools["train"] or not pools["test"]:
        raise ValidationError(f"need host stars for both training and test; got split {split_of}")
    n_bins = config.timeseries.n_bins
    image_shape = (config.views.image_transits, config.views.image_phase_bins)
    jobs = [(i, 0, "train") for i in range(inj.n_samples)] + [
        (i, 1, "test") for i in range(inj.n_test)
    ]
    samples = _draw_all(hosts, jobs, pools, inj, n_bins, image_shape, workers, progress)
    _report_failures(jobs, samples, inj)
    parts: dict[str, list[Sample]] = {s: [] for s in SPLITS}
    for (_, _, s), smp in zip(jobs, samples, strict=True):
        if smp is not None:
            parts[s].append(smp)
    names = tuple(features) if features is not None else default_scalar_features()
    arrays = {
        s: stack_samples(parts[s], n_bins=n_bins, image_shape=image_shape, features=names)
        for s in SPLITS
    }
    params = {
        s: pd.DataFrame(
            [
                {
                    **{c: getattr(p.injection, c) for c in PARAM_COLUMNS},
                    "host": p.host,
                    **{f"h__{k}": v for k, v in p.inputs.harmonised.items()},
                    **{f"lc__{k}": v for k, v in p.inputs.lc_features.items()},
                }
                for p in parts[s]
            ]
        )
        for s in SPLITS
    }
    meta = {
        "cache_key": key,
        "generator_version": GENERATOR_VERSION,
        "injection": inj.model_dump(mode="json"),
        "n_bins": n_bins,
        "image_shape": list(image_shape),
        "scalar_features": list(names),
        "host_split": {s: sorted({hosts[j].star for j in pools[s]}) for s in SPLITS},
        "host_files": {s: [hosts[j].name for j in pools[s]] for s in SPLITS},
        "counts": {s: {k: int((arrays[s].kind == k).sum()) for k in SIGNAL_KINDS} for s in SPLITS},
        "groups": {s: sample_group_counts(params[s]) for s in SPLITS},
        "n_dropped": int(sum(x is None for x in samples)),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    out = InjectedSet(arrays["train"], arrays["test"], params["train"], params["test"], meta)
    if use_cache:
        save_injected_set(out, path)
    return out


def sample_groups(params: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of the injected rows by group, each shape (len(params),).

    ``mission:<m>``: hosts of mission ``m`` (``kepler``, ``k2``, ``tess``);
    ``few_events``: one or two injected events with data in the span;
    ``multi_signal``: a second signal on the star.
    """
    n = len(params)

    def col(name: str, default: float) -> np.ndarray:
        if name not in params.columns:
            return np.full(n, default)
        return pd.to_numeric(params[name], errors="coerce").to_numpy(dtype=float)

    mission = (
        params["h__mission"].astype(str).to_numpy()
        if "h__mission" in params.columns
        else np.full(n, "other")
    )
    n_events = col("n_events", math.nan)
    out = {f"mission:{m}": mission == m for m in ("k2", "kepler", "tess")}
    out["few_events"] = np.isin(n_events, (1.0, 2.0))
    out["multi_signal"] = col("n_signals", 1.0) >= 2
    return out


def sample_group_counts(params: pd.DataFrame) -> dict[str, int]:
    """Rows in each of :func:`sample_groups`."""
    return {k: int(v.sum()) for k, v in sample_groups(params).items()}


def save_injected_set(data: InjectedSet, path: Path) -> None:
    """Write the set as one ``.npz`` (arrays, params columns, meta JSON) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, np.ndarray] = {}
    for split, arr, params in (
        ("train", data.train, data.train_params),
        ("test", data.test, data.test_params),
    ):
        for k, v in arr.to_npz_dict().items():
            payload[f"{split}__{k}"] = v
        for col in params.columns:
            values = params[col].to_numpy()
            payload[f"{split}__param__{col}"] = (
                values.astype(str) if values.dtype == object else values.astype(float)
            )
    payload["meta"] = np.asarray(json.dumps(data.meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **payload)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_injected_set(path: Path, *, features: Sequence[str] | None = None) -> InjectedSet:
    """Read a set written by :func:`save_injected_set` (``allow_pickle=False``), with the
    scalar ``features`` (default :func:`default_scalar_features`) recomputed."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        out: dict[str, Any] = {}
        for split in SPLITS:
            prefix = f"{split}__"
            arr = SampleArrays.from_npz(
                {
                    k[len(prefix) :]: z[k]
                    for k in z.files
                    if k.startswith(prefix) and "__param__" not in k
                }
            )
            pcols = {
                k.split("__param__", 1)[1]: z[k]
                for k in z.files
                if k.startswith(f"{split}__param__")
            }
            params = pd.DataFrame(pcols)
            for col in params.columns:
                if col.startswith(("h__", "lc__")) and col not in ("h__host_id", "h__mission"):
                    params[col] = pd.to_numeric(params[col], errors="coerce")
            names = tuple(features) if features is not None else default_scalar_features()
            out[split] = (with_features(arr, params, names), params)
    meta["scalar_features"] = list(out["train"][0].feature_names)
    return InjectedSet(out["train"][0], out["test"][0], out["train"][1], out["test"][1], meta)


# ---------------------------------------------------------------------- catalog rows
@dataclass(frozen=True, eq=False)
class CatalogSets:
    """Catalog rows as model inputs (light-curve branches absent).

    Attributes
    ----------
    train : SampleArrays
        Labelled KOIs of the training stars (+ other ``catalog_train_missions``).
    kepler_test : SampleArrays
        Labelled KOIs of the held-out stars.
    cross_mission : dict of str to SampleArrays
        Labelled rows of the missions not trained on (``tess``, ``k2``).
    """

    train: SampleArrays
    kepler_test: SampleArrays
    cross_mission: dict[str, SampleArrays]
    meta: dict[str, Any]


def catalog_arrays(
    frame: pd.DataFrame,
    *,
    n_bins: int,
    image_shape: tuple[int, int],
    weight: float = 1.0,
    features: Sequence[str] | None = None,
) -> SampleArrays:
    """Rows of a harmonised frame as model inputs (labels: planet 1, false_positive 0,
    else -1). ``n_candidates_on_host`` counts every row of the star in ``frame``."""
    from exoguard.ml.features import candidates_per_host

    n = len(frame)
    names = tuple(features) if features is not None else default_scalar_features()
    counts = candidates_per_host(frame)
    if "n_candidates_on_host" in frame.columns:  # e.g. one candidate typed in by hand
        given = pd.to_numeric(frame["n_candidates_on_host"], errors="coerce")
        if given.notna().all():
            counts = given.to_numpy(dtype=float)
    scalar = scalar_matrix(
        frame.reset_index(drop=True), features=names, n_candidates_on_host=counts
    )
    label = (
        frame["label"].astype(str).to_numpy()
        if "label" in frame.columns
        else np.full(n, "candidate")
    )
    y = np.where(label == "planet", 1, np.where(label == "false_positive", 0, -1))
    host = (
        frame["host_id"].astype(str) if "host_id" in frame.columns else pd.Series(["unknown"] * n)
    )
    mission = (
        frame["mission"].astype(str) if "mission" in frame.columns else pd.Series(["other"] * n)
    )
    group = (mission.to_numpy() + ":" + host.to_numpy()).astype(str)
    return SampleArrays(
        **SampleArrays.empty_lc(n, n_bins=n_bins, image_shape=image_shape, feature_names=names),
        scalar=scalar,
        has_lc=np.zeros(n, bool),
        y=y.astype(np.int8),
        kind=np.full(n, "catalog"),
        group=group,
        weight=np.full(n, weight, np.float32),
        feature_names=names,
    )


def build_catalog_sets(
    config: MultibranchConfig,
    *,
    frames: Sequence[pd.DataFrame] | None = None,
    features: Sequence[str] | None = None,
) -> CatalogSets:
    """Split labelled catalog rows by star into training and held-out sets."""
    frames = list(frames) if frames is not None else default_catalog_frames()
    dc = config.data
    n_bins = config.timeseries.n_bins
    image_shape = (config.views.image_transits, config.views.image_phase_bins)
    all_rows = pd.concat(frames, ignore_index=True)
    # multiplicity is counted over every row of a star before filtering by label
    arr = catalog_arrays(
        all_rows,
        n_bins=n_bins,
        image_shape=image_shape,
        weight=dc.catalog_weight,
        features=features,
    )
    mission = all_rows["mission"].astype(str).to_numpy()
    labelled = arr.y >= 0
    rng = np.random.default_rng(dc.injection.seed + 1)
    kepler_stars = np.unique(arr.group[(mission == "kepler") & labelled])
    test_stars = set(
        rng.choice(
            kepler_stars,
            size=int(round(dc.catalog_test_fraction * len(kepler_stars))),
            replace=False,
        ).tolist()
    )
    is_test_star = np.array([g in test_stars for g in arr.group])
    train_mask = labelled & np.isin(mission, list(dc.catalog_train_missions)) & ~is_test_star
    train_idx = np.flatnonzero(train_mask)
    if dc.max_catalog_rows is not None and len(train_idx) > dc.max_catalog_rows:
        train_idx = np.sort(rng.choice(train_idx, size=dc.max_catalog_rows, replace=False))
    kepler_test = arr.subset(labelled & (mission == "kepler") & is_test_star)
    cross = {
        m: arr.subset(labelled & (mission == m))
        for m in ("tess", "k2")
        if m not in dc.catalog_train_missions and (labelled & (mission == m)).any()
    }
    meta = {
        "n_train": int(len(train_idx)),
        "n_kepler_test": len(kepler_test),
        "kepler_test_stars": len(test_stars),
        "cross_mission": {m: len(a) for m, a in cross.items()},
    }
    return CatalogSets(arr.subset(train_idx), kepler_test, cross, meta)
