"""The harmonised candidate schema every catalog and every light-curve search maps into.

Units are in the column names. One row is one transit-like signal (a KOI, a TOI, a K2 object,
or a candidate found by our own search).
"""

from __future__ import annotations

from typing import Final, Literal

Label = Literal["planet", "false_positive", "candidate"]
LABELS: Final[tuple[str, ...]] = ("planet", "false_positive", "candidate")
Mission = Literal["kepler", "k2", "tess", "other"]
MISSIONS: Final[tuple[str, ...]] = ("kepler", "k2", "tess", "other")

#: Identity and provenance columns (never model features).
ID_COLUMNS: Final[tuple[str, ...]] = (
    "object_id",  # e.g. "K00752.01", "TOI-114.01", "K2-18 b"
    "host_id",  # e.g. "KIC 10797460", "TIC 25155310", "K2-18"
    "mission",
    "label",  # planet | false_positive | candidate
    "disposition",  # the archive's own disposition string, kept verbatim
    "source",  # the file the row came from (with its date)
)

#: Physical columns, units in the names. NaN where the archive does not give the value.
PHYSICAL_COLUMNS: Final[tuple[str, ...]] = (
    "period_days",
    "t0_bjd",  # mid-transit epoch, BJD_TDB (never a feature)
    "duration_hours",
    "depth_ppm",
    "impact",
    "planet_radius_rearth",
    "equilibrium_temp_k",
    "insolation_earth",
    "transit_snr",
    "star_teff_k",
    "star_logg_cgs",
    "star_radius_rsun",
    "star_mag",
)

HARMONISED_COLUMNS: Final[tuple[str, ...]] = ID_COLUMNS + PHYSICAL_COLUMNS

#: The star's columns (a matched star from the catalogs may fill them).
STAR_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in PHYSICAL_COLUMNS if c.startswith("star_"))

#: Columns that must never become model features: they encode how a catalog was processed
#: (Robovetter outputs, uncertainties, identifiers, positions, epochs), not the physics.
FORBIDDEN_FEATURE_PATTERNS: Final[tuple[str, ...]] = (
    "koi_score",
    "koi_fpflag",
    "koi_pdisposition",
    "_err",
    "err1",
    "err2",
    "ra",
    "dec",
    "t0_bjd",
    "object_id",
    "host_id",
    "disposition",
)
