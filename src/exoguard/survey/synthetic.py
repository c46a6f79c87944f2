"""A synthetic survey for tests and benchmarks: real light curves, re-noised, with known signals.

Every synthetic star is a copy of one of the bundled real light curves (the five TESS 2-min
sectors under ``lightcurves/tess/`` and, for a share of the stars, a 27.4-day window of one of
Kepler-227's seventeen long-cadence quarters), so it carries real systematics, gaps, quality
flags and stellar variability. Each copy is

* cleaned of the host's own catalogued transits (TOI and KOI ephemerides from the bundled
  catalogs; the points within one transit duration of each mid-transit get a NaN flux, which
  every reader drops),
* re-noised: white Gaussian noise is added to reach a per-point scatter drawn log-uniformly
  between ``noise_ppm_range`` (never below the host's own), and ``PDCSAP_FLUX_ERR`` is raised
  to match,
* shifted in time by a whole number of cadences (0-1000 days), so no two copies share an
  ephemeris,
* given, at known parameters, nothing (``none``), a limb-darkened planetary transit (batman,
  :func:`exoguard.core.signal_models.transit_model`) or an eclipsing binary with primary and
  secondary eclipses (:func:`exoguard.core.signal_models.eclipsing_binary_model`; unequal
  eclipses show as an odd/even difference at half the period).

Files are written in the host's own layout (TESS SPOC or Kepler LLC FITS, with the columns the
readers use: ``TIME``, ``PDCSAP_FLUX``, ``PDCSAP_FLUX_ERR`` and ``QUALITY``/``SAP_QUALITY``, the
host's primary header with a synthetic ``TICID``/``KEPLERID``), so :func:`exoguard.read_lightcurve`
reads them with the same reader, quality bitmask and stellar parameters as the real files.
FITS is the faster of the two formats the readers take faithfully (a 20,000-row TESS file reads
in about 10 ms; the CSV reader parses text).

Star ``i`` depends only on ``(seed, i)``: the first 100 stars of a 2,000-star survey are the
100 stars of a 100-star survey with the same seed. No network is used.

Command line::

    python -m exoguard.survey.synthetic --out DIR --n-stars 2000 --seed 0

writes ``DIR/lc/*.fits``, ``DIR/manifest.csv`` (``path,target,mission``; paths relative to
``DIR``) and ``DIR/truth.csv`` (one row per star: see :data:`TRUTH_COLUMNS`).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from exoguard.core.inject import log_uniform
from exoguard.core.signal_models import transit_duration_hours
from exoguard.survey.hosts import Host, load_hosts, sector_window, write_host_copy
from exoguard.survey.inputs import MANIFEST_COLUMNS
from exoguard.survey.signals import (
    SurveyMix,
    count_transits,
    draw_eb,
    draw_planet,
    signal_model,
)

__all__ = [
    "KINDS",
    "MANIFEST_COLUMNS",
    "TRUTH_COLUMNS",
    "SyntheticStar",
    "generate_star",
    "generate_survey",
    "main",
]

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("none", "planet", "eb")
TRUTH_COLUMNS: tuple[str, ...] = (
    "target",
    "kind",
    "mission",
    "path",
    "period_days",
    "t0_bjd",
    "duration_hours",
    "depth_ppm",
    "secondary_depth_ppm",
    "rp_rs",
    "a_rs",
    "impact",
    "u1",
    "u2",
    "surface_brightness_ratio",
    "noise_ppm",
    "n_transits",
    "expected_snr",
    "time_offset_days",
    "host_file",
    "host_target",
)
#: Synthetic ids: far above any real TIC (~2.1e9) or KIC (~1.3e7) number.
TIC_BASE = 9_000_000_000
KIC_BASE = 900_000_000


@dataclass(frozen=True)
class SyntheticStar:
    """The truth of one synthetic star (one row of ``truth.csv``); NaN where not applicable."""

    target: str
    kind: str
    mission: str
    path: str
    period_days: float = math.nan
    t0_bjd: float = math.nan
    duration_hours: float = math.nan
    depth_ppm: float = math.nan
    secondary_depth_ppm: float = math.nan
    rp_rs: float = math.nan
    a_rs: float = math.nan
    impact: float = math.nan
    u1: float = math.nan
    u2: float = math.nan
    surface_brightness_ratio: float = math.nan
    noise_ppm: float = math.nan
    n_transits: int = 0
    expected_snr: float = math.nan
    time_offset_days: float = 0.0
    host_file: str = ""
    host_target: str = ""


# ------------------------------------------------------------------------------ one star
def _with_signal(
    truth: SyntheticStar,
    params: dict[str, float],
    *,
    time_bjd: NDArray[np.float64],
    finite_t: NDArray[np.bool_],
    usable: NDArray[np.bool_],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64],
    cadence_s: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], SyntheticStar]:
    """Flux and error multiplied by the drawn planet or binary; the truth row with its
    parameters, depths and expected SNR."""
    kind, noise_ppm = truth.kind, truth.noise_ppm
    model = np.ones(flux.size)
    at = np.array([params["t0_bjd"], params["t0_bjd"] + 0.5 * params["period_days"]])
    model[finite_t] = signal_model(kind, params, time_bjd[finite_t], cadence_s)
    peak = signal_model(kind, params, at, math.nan)
    flux = flux * model
    flux_err = flux_err * model
    duration = transit_duration_hours(
        period_days=params["period_days"],
        a_rs=params["a_rs"],
        rp_rs=params["rp_rs"],
        impact=params["impact"],
    )
    n_tr, n_in = count_transits(time_bjd, usable, params["period_days"], params["t0_bjd"], duration)
    depth = float((1.0 - peak[0]) * 1e6)
    truth = replace(
        truth,
        period_days=params["period_days"],
        t0_bjd=params["t0_bjd"],
        rp_rs=params["rp_rs"],
        a_rs=params["a_rs"],
        impact=params["impact"],
        u1=params["u1"],
        u2=params["u2"],
        surface_brightness_ratio=params.get("surface_brightness_ratio", math.nan),
        duration_hours=duration,
        depth_ppm=depth,
        secondary_depth_ppm=float((1.0 - peak[1]) * 1e6) if kind == "eb" else math.nan,
        n_transits=n_tr,
        expected_snr=depth / noise_ppm * math.sqrt(n_in),
    )
    return flux, flux_err, truth


def _choose(rng: np.random.Generator, mix: SurveyMix) -> tuple[str, bool]:
    u = float(rng.uniform())
    kind = (
        "planet"
        if u < mix.planet_fraction
        else "eb"
        if u < mix.planet_fraction + mix.eb_fraction
        else "none"
    )
    return kind, bool(rng.uniform() < mix.kepler_fraction)


def _renoise(
    host: Host, rows: np.ndarray, rng: np.random.Generator, mix: SurveyMix
) -> tuple[np.ndarray, np.ndarray, float]:
    """Flux and errors re-noised to a drawn scatter (ppm of the median flux); the scatter."""
    level = float(np.nanmedian(host.flux[rows]))
    noise_ppm = max(log_uniform(rng, *mix.noise_ppm_range), host.noise_ppm)
    add_ppm = math.sqrt(max(noise_ppm**2 - host.noise_ppm**2, 0.0))
    noise = rng.standard_normal(host.flux.size) * (add_ppm * 1e-6 * level)
    flux = host.flux + noise
    flux_err = np.sqrt(host.flux_err**2 + (add_ppm * 1e-6 * level) ** 2)
    return flux, flux_err, noise_ppm


def _star_names(host: Host, index: int) -> tuple[int, str, str]:
    """The synthetic star's number, target id and file path (relative to the survey)."""
    star_id = (TIC_BASE if host.mission == "tess" else KIC_BASE) + index
    prefix = "TIC" if host.mission == "tess" else "KIC"
    return star_id, f"{prefix} {star_id}", f"lc/{host.mission}-synthetic-{star_id}_lc.fits"


def generate_star(
    index: int,
    *,
    out_dir: Path,
    seed: int = 0,
    mix: SurveyMix | None = None,
    data_dir: Path,
) -> SyntheticStar:
    """Write synthetic star number ``index`` under ``out_dir/lc/`` and return its truth.

    Parameters
    ----------
    index : int
        Star number (>= 0); with ``seed`` it fixes everything about the star.
    out_dir : Path
        Survey folder; the file goes to ``out_dir/lc/``.
    seed : int
        Survey seed.
    mix : SurveyMix, optional
        Shares and ranges (the defaults of :class:`SurveyMix`).
    data_dir : Path
        The data folder (``settings.data_dir``).

    Returns
    -------
    SyntheticStar
        ``t0_bjd`` is BJD_TDB of the shifted copy; ``depth_ppm`` the deepest point of the
        noise-free model (at mid-transit, no exposure smearing); ``expected_snr`` is
        ``depth / noise * sqrt(points in transit)``.
    """
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    mix = mix or SurveyMix()
    tess_hosts, kepler_hosts = load_hosts(Path(data_dir))
    rng = np.random.default_rng([int(seed), int(index)])
    kind, on_kepler = _choose(rng, mix)
    pool = kepler_hosts if on_kepler else tess_hosts
    host = pool[int(rng.integers(len(pool)))]
    rows = sector_window(host, rng) if host.mission == "kepler" else np.ones(host.flux.size, bool)

    cadence_days = host.cadence_s / 86400.0
    shift = float(np.rint(rng.uniform(0.0, 1000.0) / cadence_days) * cadence_days)
    time_raw = host.time_raw + shift
    time_bjd = time_raw + host.offset_bjd

    flux, flux_err, noise_ppm = _renoise(host, rows, rng, mix)

    finite_t = np.isfinite(time_bjd) & rows
    usable = finite_t & np.isfinite(flux)
    t_start = float(np.min(time_bjd[finite_t]))
    star_id, target, rel = _star_names(host, index)
    truth = SyntheticStar(
        target=target,
        kind=kind,
        mission=host.mission,
        path=rel,
        noise_ppm=noise_ppm,
        time_offset_days=shift,
        host_file=host.file,
        host_target=host.target,
    )
    if kind != "none":
        params = (draw_planet if kind == "planet" else draw_eb)(rng, mix, host, t_start)
        flux, flux_err, truth = _with_signal(
            truth, params, time_bjd=time_bjd, finite_t=finite_t, usable=usable,
            flux=flux, flux_err=flux_err, cadence_s=host.cadence_s,
        )  # fmt: skip
    (out_dir / "lc").mkdir(parents=True, exist_ok=True)
    write_host_copy(
        out_dir / rel,
        host,
        rows,
        time_raw=time_raw,
        flux=flux,
        flux_err=flux_err,
        star_id=star_id,
        seed=seed,
    )
    return truth


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.10g}"
    return value


def generate_survey(
    out_dir: Path,
    *,
    n_stars: int = 2000,
    seed: int = 0,
    mix: SurveyMix | None = None,
    data_dir: Path,
) -> list[SyntheticStar]:
    """Write ``n_stars`` synthetic stars: ``lc/*.fits``, ``manifest.csv`` and ``truth.csv``.

    Parameters
    ----------
    out_dir : Path
        Created if missing; existing files of the same names are overwritten.
    n_stars : int
        Number of stars (>= 1).
    seed : int
        Survey seed; star ``i`` depends only on ``(seed, i)``.
    mix : SurveyMix, optional
        Shares of planets, binaries and Kepler hosts; noise and parameter ranges.
    data_dir : Path
        The data folder (``settings.data_dir``) holding ``lightcurves/`` and ``catalogs/``.

    Returns
    -------
    list of SyntheticStar
        The rows of ``truth.csv``, in star order.

    Examples
    --------
    >>> from exoguard.survey.synthetic import generate_survey
    >>> stars = generate_survey(Path("var/survey"), n_stars=20, data_dir=Path("data"))
    ... # doctest: +SKIP
    >>> sorted({s.kind for s in stars})  # doctest: +SKIP
    ['eb', 'none', 'planet']
    """
    if n_stars < 1:
        raise ValueError(f"n_stars must be >= 1, got {n_stars}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stars = [
        generate_star(i, out_dir=out_dir, seed=seed, mix=mix, data_dir=data_dir)
        for i in range(n_stars)
    ]
    with (out_dir / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows((s.path, s.target, s.mission) for s in stars)
    with (out_dir / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRUTH_COLUMNS)
        for s in stars:
            row = asdict(s)
            writer.writerow([_fmt(row[c]) for c in TRUTH_COLUMNS])
    return stars


def read_truth(path: Path) -> list[dict[str, object]]:
    """``truth.csv`` as dicts, with numbers as floats (NaN where empty) and ``n_transits`` int."""
    out: list[dict[str, object]] = []
    text = {"target", "kind", "mission", "path", "host_file", "host_target"}
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            parsed: dict[str, object] = {}
            for key, value in row.items():
                if key in text:
                    parsed[key] = value
                elif key == "n_transits":
                    parsed[key] = int(value)
                else:
                    parsed[key] = float(value) if value != "" else math.nan
            out.append(parsed)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m exoguard.survey.synthetic --out DIR [--n-stars N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m exoguard.survey.synthetic",
        description="Write a synthetic survey (real light curves, re-noised, with known signals).",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--n-stars", type=int, default=2000, help="number of stars (2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--data-dir", type=Path, default=None, help="data folder (settings)")
    args = parser.parse_args(argv)
    if args.n_stars < 1:
        parser.error(f"--n-stars must be >= 1, got {args.n_stars}")
    started = time.perf_counter()
    if args.data_dir is None:
        from exoguard.config import get_settings

        args.data_dir = get_settings().data_dir
    stars = generate_survey(args.out, n_stars=args.n_stars, seed=args.seed, data_dir=args.data_dir)
    counts = {k: sum(s.kind == k for s in stars) for k in KINDS}
    sys.stderr.write(
        f"{len(stars)} stars ({', '.join(f'{k} {n}' for k, n in counts.items())}) in "
        f"{time.perf_counter() - started:.1f} s: {args.out / 'manifest.csv'}, "
        f"{args.out / 'truth.csv'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
