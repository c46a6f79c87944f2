"""The vetting field guide: four real examples from the bundled light curves, labelled by the
catalogs (a planet transit, an eclipsing binary, a blend and a systematic).

Each example names a bundled file of ``lightcurves/index.csv`` and a KOI; its ephemeris and
its archive disposition and false-positive flags are read from the bundled KOI table (never
typed in here). The systematic is a TESS star that the TOI table does not list (checked
here): whatever its light curve shows is not a known astrophysical signal.

The charts (`exoguard.web.pages._guide_figures`) are computed once per process and data folder
(reading four FITS files and detrending them takes seconds), then served from memory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

BKJD_OFFSET_DAYS: Final = 2454833.0
"""BJD = BKJD + 2454833 (the Kepler time scale)."""


@dataclass(frozen=True, slots=True)
class GuideCase:
    """One kind of signal and the real example that shows it.

    Attributes
    ----------
    key
        ``planet``, ``eclipsing_binary``, ``blend`` or ``systematic``.
    title, what, look_for
        The heading, what causes it, and what to look for in the charts.
    file
        The light-curve file, relative to ``lightcurves/``.
    koi
        The KOI whose ephemeris and archive label go with it (None: no signal to fold).
    tic
        The TESS Input Catalog id of a star without a KOI, looked up in the TOI table.
    charts
        Which views show it best (names of `exoguard.web.pages._figures.lightcurve_figures`).
    """

    key: str
    title: str
    what: str
    look_for: str
    file: str
    koi: str | None
    charts: tuple[str, ...]
    tic: int | None = None


CASES: Final[tuple[GuideCase, ...]] = (
    GuideCase(
        key="planet",
        title="A planet transit",
        what="A planet passes in front of its star once per orbit and blocks a little light.",
        look_for=(
            "Dips of the same depth at a fixed period; a flat bottom with short, sloped edges "
            "(a U shape); odd and even transits alike; nothing at phase 0.5."
        ),
        file="kepler/kplr011446443-2009131110544_slc.fits",
        koi="K00001.01",
        charts=("folded_local", "odd_even"),
    ),
    GuideCase(
        key="eclipsing_binary",
        title="An eclipsing binary",
        what=(
            "Two stars orbit each other and take turns eclipsing: the dips are stars, not a planet."
        ),
        look_for=(
            "A second, shallower dip half an orbit later (a secondary eclipse at phase 0.5); odd "
            "and even dips of different depths (the true period is twice the one found); deep, "
            "V-shaped dips."
        ),
        file="kepler_lightkurve_exports/kic010848459_lightkurve.fits",
        koi="K00754.01",
        charts=("folded_local", "odd_even", "secondary"),
    ),
    GuideCase(
        key="blend",
        title="A blend",
        what=(
            "The dip is real but on another star: a faint eclipsing binary next to the target, "
            "its light mixed into the same pixels, looks like a shallow transit."
        ),
        look_for=(
            "The archive's centroid flag (the light's centre moves during the dip), a secondary "
            "eclipse, or a depth that changes between odd and even dips. The light curve alone "
            "can look clean: say so in your comment when you suspect it."
        ),
        file="kepler_lightkurve_exports/kic006721123_lightkurve.fits",
        koi="K00114.01",
        charts=("folded_local", "odd_even"),
    ),
    GuideCase(
        key="systematic",
        title="A systematic",
        what=(
            "The spacecraft, not the star: pointing jitter, momentum dumps, scattered light and "
            "thermal settling after a data gap make ramps, jumps and single-point dips."
        ),
        look_for=(
            "Features right after gaps or at the edges of the data, ramps that the fitted trend "
            "follows, and dips that do not repeat at one period. This star is not a TESS Object "
            "of Interest: nothing in its light curve is a known signal."
        ),
        file="tess/tess2018206045859-s0001-0000000270501383-0120-s_lc.fits",
        koi=None,
        tic=270501383,
        charts=("lightcurve_raw", "lightcurve"),
    ),
)

_KOIS: Final = tuple(case.koi for case in CASES if case.koi is not None)

_FLAGS: Final = (
    ("koi_fpflag_nt", "not transit-like"),
    ("koi_fpflag_ss", "stellar eclipse (secondary or odd/even)"),
    ("koi_fpflag_co", "centroid offset (the dip is on a nearby star)"),
    ("koi_fpflag_ec", "ephemeris match (contamination from another target)"),
)


def _koi_table(data_dir: Path) -> Path | None:
    found = sorted((data_dir / "catalogs").glob("koi_cumulative_*.csv.gz"))
    return found[-1] if found else None


@functools.lru_cache(maxsize=4)
def _koi_rows(data_dir: Path, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The KOI rows of `names` from the bundled KOI table (one read per data folder)."""
    import pandas as pd

    path = _koi_table(data_dir)
    if path is None:
        return {}
    columns = [
        "kepoi_name",
        "kepler_name",
        "koi_disposition",
        "koi_period",
        "koi_time0bk",
        "koi_duration",
        "koi_depth",
        *(flag for flag, _ in _FLAGS),
    ]
    table = pd.read_csv(path, comment="#", usecols=columns)
    table = table[table["kepoi_name"].isin(names)]
    return {
        str(row["kepoi_name"]): {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in table.to_dict("records")
    }


@functools.lru_cache(maxsize=4)
def _toi_tics(data_dir: Path) -> frozenset[int] | None:
    """TIC ids of the bundled TOI table (None when it is missing)."""
    import pandas as pd

    found = sorted((data_dir / "catalogs").glob("toi_*.csv.gz"))
    if not found:
        return None
    tids = pd.read_csv(found[0], comment="#", usecols=["tid"])["tid"].dropna()
    return frozenset(int(t) for t in tids)


def _tic_label(data_dir: Path, tic: int) -> dict[str, Any] | None:
    tics = _toi_tics(data_dir)
    if tics is None or tic in tics:
        return None  # only a star the TOI table does not list shows "no known signal"
    return {
        "koi": None,
        "name": f"TIC {tic}",
        "disposition": "not a TESS Object of Interest",
        "flags": [],
        "period_days": None,
        "depth_ppm": None,
        "duration_hours": None,
    }


def _label(row: dict[str, Any]) -> dict[str, Any]:
    flags = [words for flag, words in _FLAGS if row.get(flag) == 1]
    name = row.get("kepler_name")
    return {
        "koi": row["kepoi_name"],
        "name": name,
        "disposition": row.get("koi_disposition"),
        "flags": flags,
        "period_days": row.get("koi_period"),
        "depth_ppm": row.get("koi_depth"),
        "duration_hours": row.get("koi_duration"),
    }


def guide_examples(data_dir: Path) -> list[dict[str, Any]]:
    """The cases with their archive labels, for the page (no light curve is read here)."""
    out = []
    for case in CASES:
        label = case_label(data_dir, case)
        out.append(
            {
                "key": case.key,
                "title": case.title,
                "what": case.what,
                "look_for": case.look_for,
                "charts": list(case.charts),
                "file": case.file,
                "label": label,
                "available": label is not None and (data_dir / "lightcurves" / case.file).is_file(),
            }
        )
    return out


def case_label(data_dir: Path, case: GuideCase) -> dict[str, Any] | None:
    if case.koi is not None:
        row = _koi_rows(data_dir, _KOIS).get(case.koi)
        return None if row is None else _label(row)
    if case.tic is not None:
        return _tic_label(data_dir, case.tic)
    return None


def case_rows(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The bundled KOI table's rows of the cases, by KOI name."""
    return _koi_rows(data_dir, _KOIS)


__all__ = ["BKJD_OFFSET_DAYS", "CASES", "GuideCase", "case_label", "case_rows", "guide_examples"]
