"""The real light curves a synthetic survey copies ("hosts"): reading them with their own
catalogued transits masked, and writing a re-noised copy back in the host's FITS layout.

See :mod:`exoguard.survey.synthetic` for how the copies are made.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET

__all__ = ["SECTOR_DAYS", "Host", "load_hosts", "sector_window", "write_host_copy"]

#: A TESS sector (days): the length of the Kepler windows.
SECTOR_DAYS = 27.4

_TESS_TABLE_KEYS = (
    "TELESCOP", "INSTRUME", "TIMEREF", "TASSIGN", "TIMESYS", "BJDREFI", "BJDREFF", "TIMEUNIT",
    "TIMEDEL", "EXPOSURE", "INT_TIME", "CDPP0_5", "CDPP1_0", "CDPP2_0", "CROWDSAP", "FLFRCSAP",
)  # fmt: skip


@dataclass(frozen=True)
class Host:
    """One real light curve to copy: raw columns as in the file (native time system).

    Attributes
    ----------
    file : str
        Path relative to the ``lightcurves/`` folder.
    mission : {'tess', 'kepler'}
    target : str
        The real target (``'TIC 261136679'``).
    time_raw : ndarray of shape (n,)
        ``TIME`` column (BTJD or BKJD; NaN where the file has none).
    flux, flux_err : ndarray of shape (n,)
        ``PDCSAP_FLUX`` and its error (e-/s), NaN on the host's own catalogued transits.
    quality : ndarray of shape (n,), int32
    offset_bjd : float
        BJD of ``TIME = 0`` (2457000 for TESS, 2454833 for Kepler).
    cadence_s : float
    noise_ppm : float
        Robust point-to-point scatter of the normalised flux (ppm).
    primary_header, table_header : astropy.io.fits.Header
    """

    file: str
    mission: str
    target: str
    time_raw: NDArray[np.float64]
    flux: NDArray[np.float64]
    flux_err: NDArray[np.float64]
    quality: NDArray[np.int32]
    offset_bjd: float
    cadence_s: float
    noise_ppm: float
    rho_star_solar: float
    primary_header: fits.Header = field(repr=False)
    table_header: fits.Header = field(repr=False)


def _robust_noise_ppm(flux: NDArray[np.float64]) -> float:
    """Point-to-point scatter (MAD of first differences / sqrt 2), ppm of the median."""
    f = flux[np.isfinite(flux)]
    f = f / np.median(f)
    d = np.diff(f)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0) * 1e6)


#: The bundled tables whose ephemerides are masked: file, id column and prefix, period, t0
#: (and the offset that makes it BJD), duration in hours.
_KNOWN_TABLES = (
    ("toi_2026-06-22.csv.gz", "tid", "TIC", "pl_orbper", "pl_tranmid", 0.0, "pl_trandurh"),
    ("koi_cumulative_2026-06-22.csv.gz", "kepid", "KIC", "koi_period", "koi_time0bk",
     BKJD_OFFSET, "koi_duration"),
)  # fmt: skip


def _known_ephemerides(catalogs_dir: Path) -> dict[str, list[tuple[float, float, float]]]:
    """(period_days, t0_bjd, duration_hours) of every catalogued signal of the bundled hosts."""
    import pandas as pd

    out: dict[str, list[tuple[float, float, float]]] = {}
    for name, id_col, prefix, period_col, t0_col, t0_offset, dur_col in _KNOWN_TABLES:
        table = pd.read_csv(
            catalogs_dir / name, comment="#", usecols=[id_col, period_col, t0_col, dur_col]
        )
        for star, period, t0, dur in zip(
            table[id_col], table[period_col], table[t0_col], table[dur_col], strict=True
        ):
            if np.isfinite(period) and np.isfinite(t0):
                out.setdefault(f"{prefix} {int(star)}", []).append(
                    (float(period), float(t0) + t0_offset, float(dur) if np.isfinite(dur) else 6.0)
                )
    return out


def _mask_known(
    time_bjd: NDArray[np.float64], known: Sequence[tuple[float, float, float]]
) -> NDArray[np.bool_]:
    """Points within one duration of a catalogued mid-transit (a window twice T14 wide)."""
    bad = np.zeros(time_bjd.shape, dtype=bool)
    finite = np.isfinite(time_bjd)
    for period, t0, dur_h in known:
        phase = np.remainder(time_bjd[finite] - t0 + 0.5 * period, period) - 0.5 * period
        bad[finite] |= np.abs(phase) < dur_h / 24.0
    return bad


def _rho_solar(h0: fits.Header) -> float:
    """Stellar density (solar units) from the header's RADIUS and LOGG; 1 when unknown."""
    try:
        radius, logg = float(h0.get("RADIUS")), float(h0.get("LOGG"))
    except (TypeError, ValueError):
        return 1.0
    if not (np.isfinite(radius) and np.isfinite(logg) and radius > 0):
        return 1.0
    # M ∝ g R², rho ∝ M / R³ = g / R, relative to the Sun's log g 4.438.
    return float(10.0 ** (logg - 4.438) / radius)


def _read_host(path: Path, rel: str, known: dict[str, list[tuple[float, float, float]]]) -> Host:
    with fits.open(path, memmap=False) as hdul:
        h0 = hdul[0].header.copy()
        hdu = hdul[1]
        h1 = hdu.header.copy()
        names = {n.upper() for n in hdu.columns.names}
        mission = str(h0.get("TELESCOP", "")).strip().lower()
        quality_col = "QUALITY" if "QUALITY" in names else "SAP_QUALITY"
        time_raw = np.asarray(hdu.data["TIME"], dtype=np.float64)
        flux = np.asarray(hdu.data["PDCSAP_FLUX"], dtype=np.float64)
        flux_err = np.asarray(hdu.data["PDCSAP_FLUX_ERR"], dtype=np.float64)
        quality = np.asarray(hdu.data[quality_col], dtype=np.int32)
    offset = BTJD_OFFSET if mission == "tess" else BKJD_OFFSET
    target = f"TIC {int(h0['TICID'])}" if mission == "tess" else f"KIC {int(h0['KEPLERID'])}"
    flux = flux.copy()
    flux[_mask_known(time_raw + offset, known.get(target, []))] = np.nan
    return Host(
        file=rel,
        mission=mission,
        target=target,
        time_raw=time_raw,
        flux=flux,
        flux_err=flux_err,
        quality=quality,
        offset_bjd=offset,
        cadence_s=float(h1.get("TIMEDEL", np.nan)) * 86400.0,
        noise_ppm=_robust_noise_ppm(flux),
        rho_star_solar=_rho_solar(h0),
        primary_header=h0,
        table_header=h1,
    )


@lru_cache(maxsize=4)
def load_hosts(data_dir: Path) -> tuple[tuple[Host, ...], tuple[Host, ...]]:
    """The TESS hosts and the Kepler (Kepler-227, long cadence) hosts under ``data_dir``.

    Returns
    -------
    (tess_hosts, kepler_hosts) : tuple of tuple of Host
        In the order of ``lightcurves/index.csv``.
    """
    lc_dir = data_dir / "lightcurves"
    index = lc_dir / "index.csv"
    if not index.is_file():
        raise FileNotFoundError(
            f"no light-curve index at {index}; set EXOGUARD_DATA_DIR to the data folder"
        )
    known = _known_ephemerides(data_dir / "catalogs")
    tess: list[Host] = []
    kepler: list[Host] = []
    with index.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rel = row["file"]
            if row["mission"] == "TESS" and row["cadence"] == "2-min":
                tess.append(_read_host(lc_dir / rel, rel, known))
            elif rel.startswith("kepler/kplr010797460") and rel.endswith("_llc.fits"):
                kepler.append(_read_host(lc_dir / rel, rel, known))
    if not tess or not kepler:
        raise FileNotFoundError(
            f"{index} lists {len(tess)} TESS 2-min and {len(kepler)} Kepler-227 long-cadence "
            "files; both are needed"
        )
    return tuple(tess), tuple(kepler)


def sector_window(host: Host, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Rows of a random 27.4-day (one TESS sector) window of a longer host, e.g. a Kepler
    quarter (the whole light curve if shorter)."""
    t = host.time_raw
    finite = np.isfinite(t)
    t_lo, t_hi = float(np.min(t[finite])), float(np.max(t[finite]))
    if t_hi - t_lo <= SECTOR_DAYS:
        return np.ones(t.shape, dtype=bool)
    start = rng.uniform(t_lo, t_hi - SECTOR_DAYS)
    # Rows with NaN time stay with their neighbours (they are dropped on reading anyway).
    idx = np.arange(t.size)
    first = int(idx[finite][np.searchsorted(t[finite], start)])
    last = int(idx[finite][np.searchsorted(t[finite], start + SECTOR_DAYS) - 1])
    keep = np.zeros(t.shape, dtype=bool)
    keep[first : last + 1] = True
    return keep


def write_host_copy(
    path: Path,
    host: Host,
    rows: NDArray[np.bool_],
    *,
    time_raw: NDArray[np.float64],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64],
    star_id: int,
    seed: int,
) -> None:
    """Write ``rows`` of the given columns to ``path`` in the host's own FITS layout, under
    the synthetic id ``star_id`` (headers record the host file and the survey seed)."""
    h0 = host.primary_header.copy()
    for key in ("CHECKSUM", "DATASUM"):
        h0.remove(key, ignore_missing=True)
    id_key = "TICID" if host.mission == "tess" else "KEPLERID"
    prefix = "TIC" if host.mission == "tess" else "KIC"
    h0[id_key] = star_id
    h0["OBJECT"] = f"{prefix} {star_id}"
    h0["SYNTHETC"] = (True, "exoguard synthetic survey star")
    h0["SYNHOST"] = Path(host.file).name[:68]
    h0["SYNSEED"] = (seed, "survey seed")
    quality_name = "QUALITY" if host.mission == "tess" else "SAP_QUALITY"
    columns = [
        fits.Column(name="TIME", format="D", unit="BJD - " + str(int(host.offset_bjd)),
                    array=time_raw[rows]),
        fits.Column(name="PDCSAP_FLUX", format="E", unit="e-/s", array=flux[rows]),
        fits.Column(name="PDCSAP_FLUX_ERR", format="E", unit="e-/s", array=flux_err[rows]),
        fits.Column(name=quality_name, format="J", array=host.quality[rows]),
    ]  # fmt: skip
    table = fits.BinTableHDU.from_columns(columns)
    table.header["EXTNAME"] = "LIGHTCURVE"
    for key in _TESS_TABLE_KEYS:
        if key in host.table_header:
            table.header[key] = host.table_header[key]
    table.header["OBJECT"] = h0["OBJECT"]
    table.header[id_key] = star_id
    t_ok = time_raw[rows][np.isfinite(time_raw[rows])]
    table.header["TSTART"] = float(t_ok[0])
    table.header["TSTOP"] = float(t_ok[-1])
    fits.HDUList([fits.PrimaryHDU(header=h0), table]).writeto(path, overwrite=True)
