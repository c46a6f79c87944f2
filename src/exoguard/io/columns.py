"""Column aliases and the time-system rule shared by the table readers.

Time system rule (first that applies wins; the choice is written to ``notes``):

1. ``time_system`` given by the caller (or by the file: a ``# time_system: btjd``
   comment line in CSV, a ``"time_system"`` key in JSON, ``BJDREFI``/``BJDREFF`` or the
   column unit in FITS);
2. the column name or its unit in brackets: ``bkjd`` → BKJD, ``btjd`` → BTJD,
   ``mjd`` → MJD, ``bjd - 2457000`` → that offset, ``bjd``/``jd``/``hjd`` → full date;
3. the values: a median above 2,400,000 is a full Julian date; between 20,000 and
   100,000 an MJD;
4. the mission (given or from the file): Kepler and K2 → BKJD, TESS → BTJD;
5. the cadence: Kepler's 1765.5 s or 58.85 s → BKJD; TESS's 20, 120, 200, 600 or
   1800 s → BTJD;
6. otherwise the times are kept as they are (``"unknown (relative days)"``), with a
   ``ScienceWarning``: periods are right, epochs are not BJD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET
from exoguard.errors import FormatError

#: Time column names, most specific first (matched on the canonical name).
TIME_ALIASES: tuple[str, ...] = (
    "time_bjd",
    "bjd_tdb",
    "bjd",
    "time_btjd",
    "btjd",
    "time_bkjd",
    "bkjd",
    "time",
    "t",
    "times",
    "jd",
    "hjd",
    "mjd",
)
#: Flux column names in order of preference.
FLUX_ALIASES: tuple[str, ...] = (
    "flux",
    "pdcsap_flux",
    "flux_norm",
    "normalized_flux",
    "normalised_flux",
    "norm_flux",
    "rel_flux",
    "relative_flux",
    "fcor",
    "kspsap_flux",
    "det_flux",
    "corr_flux",
    "pca_flux",
    "sap_flux",
    "fraw",
    "raw_flux",
)
#: Generic error column names (besides ``<flux>_err`` and ``<flux>_error``).
FLUX_ERR_ALIASES: tuple[str, ...] = (
    "flux_err",
    "flux_error",
    "fluxerr",
    "e_flux",
    "err",
    "error",
    "sigma",
    "dflux",
    "pdcsap_flux_err",
    "kspsap_flux_err",
    "det_flux_err",
)
QUALITY_ALIASES: tuple[str, ...] = ("quality", "sap_quality")

#: Names accepted for ``time_system`` → (offset added to get BJD/JD, label).
TIME_SYSTEMS: dict[str, tuple[float, str]] = {
    "bjd": (0.0, "BJD_TDB"),
    "bjd_tdb": (0.0, "BJD_TDB"),
    "jd": (0.0, "JD (taken as BJD_TDB)"),
    "hjd": (0.0, "HJD (taken as BJD_TDB)"),
    "bkjd": (BKJD_OFFSET, "BKJD (BJD-2454833)"),
    "btjd": (BTJD_OFFSET, "BTJD (BJD-2457000)"),
    "mjd": (2400000.5, "MJD (JD-2400000.5, taken as BJD_TDB)"),
    "relative": (0.0, "unknown (relative days)"),
}

KEPLER_CADENCES_S = (1765.46, 58.85)
TESS_CADENCES_S = (20.0, 120.0, 200.0, 600.0, 1800.0)

_UNIT_RE = re.compile(r"^(?P<base>[^(\[]*)[(\[](?P<unit>[^)\]]*)[)\]]\s*$")
_OFFSET_RE = re.compile(r"(?:bjd|jd)\s*-\s*(?P<off>\d{4,7}(?:\.\d+)?)")


def canonical(name: str) -> tuple[str, str]:
    """``"Time (BTJD)"`` → ``("time", "btjd")``: lower case, ``_`` for blanks and dashes."""
    text = name.strip().lstrip("\ufeff")
    unit = ""
    m = _UNIT_RE.match(text)
    if m:
        text, unit = m.group("base"), m.group("unit").strip().lower()
    base = re.sub(r"[\s\-.]+", "_", text.strip().lower()).strip("_")
    return base, unit


def find_column(names: Sequence[str], aliases: Sequence[str]) -> str | None:
    """First of ``names`` (original spelling) whose canonical name is in ``aliases``,
    in the order of ``aliases``."""
    canon = {canonical(n)[0]: n for n in reversed(list(names))}
    for alias in aliases:
        if alias in canon:
            return canon[alias]
    return None


def find_flux_err_column(names: Sequence[str], flux_name: str) -> str | None:
    """The error column that goes with ``flux_name`` (``<flux>_err`` first)."""
    base = canonical(flux_name)[0]
    specific = (f"{base}_err", f"{base}_error", f"e_{base}", f"{base}err")
    return find_column(names, specific) or (
        find_column(names, FLUX_ERR_ALIASES) if base in ("flux", "pdcsap_flux", "f") else None
    )


@dataclass(frozen=True)
class ChosenColumns:
    """The columns a reader takes: time, flux, and the optional flux error and quality."""

    time: str
    flux: str
    flux_err: str | None
    quality: str | None


def choose_by_alias(
    names: Sequence[str], *, source_name: str, flux_column: str | None
) -> ChosenColumns:
    """Time/flux/error/quality columns of a free-form table, chosen by alias.

    ``flux_column`` (the caller's request) wins over the aliases.

    Raises
    ------
    FormatError
        No time or no flux column (the message lists the columns found and allowed).
    """
    found = ", ".join(names) if names else "none"
    time_col = find_column(names, TIME_ALIASES)
    if time_col is None:
        raise FormatError(
            f"{source_name}: no time column; columns found: {found}; "
            f"allowed time columns: {', '.join(TIME_ALIASES)}"
        )
    if flux_column is not None:
        flux_col = find_column(names, (canonical(flux_column)[0],))
        if flux_col is None:
            raise FormatError(
                f"{source_name}: flux column {flux_column!r} not found; columns found: {found}"
            )
    else:
        flux_col = find_column(names, FLUX_ALIASES)
    if flux_col is None:
        raise FormatError(
            f"{source_name}: no flux column; columns found: {found}; "
            f"allowed flux columns: {', '.join(FLUX_ALIASES)}"
        )
    return ChosenColumns(
        time=time_col,
        flux=flux_col,
        flux_err=find_flux_err_column(names, flux_col),
        quality=find_column(names, QUALITY_ALIASES),
    )


@dataclass(frozen=True)
class TimeDecision:
    """How raw times become BJD_TDB: ``time_bjd = raw + offset``."""

    offset: float
    label: str
    reason: str
    mission_hint: str | None = None
    unknown: bool = False


def time_system_from_name(name: str) -> TimeDecision | None:
    """Rule 2: the time system named by a column name or its unit, if any."""
    base, unit = canonical(name)
    for text in (unit, base):
        if not text:
            continue
        m = _OFFSET_RE.search(text.replace("_", " "))
        if m:
            off = float(m.group("off"))
            return TimeDecision(off, f"BJD-{m.group('off')}", f"column {name!r} names it")
        for key in ("bkjd", "btjd", "mjd"):
            if key in text:
                off, label = TIME_SYSTEMS[key]
                return TimeDecision(off, label, f"column {name!r} names it")
    return None


def _matches(cadence_s: float, options: Sequence[float], rel_tol: float) -> bool:
    return bool(np.isfinite(cadence_s)) and any(abs(cadence_s - c) <= rel_tol * c for c in options)


def decide_time_system(
    *,
    column: str,
    values: NDArray[np.float64],
    given: str | None = None,
    mission: str | None = None,
) -> TimeDecision:
    """Apply the module's time-system rule to a raw time column (see module docstring).

    Raises
    ------
    ValueError
        If ``given`` is not one of ``TIME_SYSTEMS``.
    """
    if given is not None:
        key = given.strip().lower()
        if key not in TIME_SYSTEMS:
            raise ValueError(
                f"time_system {given!r} is not allowed; use one of {sorted(TIME_SYSTEMS)}"
            )
        off, label = TIME_SYSTEMS[key]
        return TimeDecision(off, label, "given", unknown=key == "relative")
    named = time_system_from_name(column)
    if named is not None:
        return named
    finite = values[np.isfinite(values)]
    med = float(np.median(finite)) if finite.size else float("nan")
    if med > 2_400_000:
        return TimeDecision(0.0, "BJD_TDB", f"values of {column!r} are full Julian dates")
    if 20_000 < med < 100_000:
        off, label = TIME_SYSTEMS["mjd"]
        return TimeDecision(off, label, f"values of {column!r} look like MJD")
    if mission in ("kepler", "k2"):
        off, label = TIME_SYSTEMS["bkjd"]
        return TimeDecision(off, label, f"mission {mission} uses BKJD")
    if mission == "tess":
        off, label = TIME_SYSTEMS["btjd"]
        return TimeDecision(off, label, "mission tess uses BTJD")
    cadence_s = float(np.median(np.diff(np.sort(finite))) * 86400.0) if finite.size > 1 else np.nan
    if _matches(cadence_s, KEPLER_CADENCES_S, 0.005):
        off, label = TIME_SYSTEMS["bkjd"]
        hint = "k2" if med > 1800 else "kepler"
        return TimeDecision(off, label, f"{cadence_s:.1f} s cadence is Kepler's", hint)
    if _matches(cadence_s, TESS_CADENCES_S, 0.01):
        off, label = TIME_SYSTEMS["btjd"]
        return TimeDecision(off, label, f"{cadence_s:.1f} s cadence is TESS's", "tess")
    off, label = TIME_SYSTEMS["relative"]
    return TimeDecision(
        off,
        label,
        f"nothing tells the time system of {column!r}; pass time_system= one of "
        f"{sorted(TIME_SYSTEMS)}",
        unknown=True,
    )
