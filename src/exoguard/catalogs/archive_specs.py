"""How each NASA Exoplanet Archive table maps onto the harmonised schema: the columns read
(with unit scale and offset), the dispositions and their labels, the object and host ids."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

#: Kepler/K2 BKJD = BJD - 2454833; TESS BTJD = BJD - 2457000.
BKJD_OFFSET_DAYS = 2454833.0


@dataclass(frozen=True)
class ColumnSource:
    """How one harmonised physical column is read from an archive table."""

    column: str
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class KindSpec:
    kind: str
    mission: str | None  # None: from the table (harmonised)
    required: tuple[str, ...]
    disposition_column: str
    labels: Mapping[str, str]
    physical: Mapping[str, tuple[ColumnSource, ...]]  # first available source wins
    make_object_id: Callable[[pd.DataFrame], pd.Series]
    make_host_id: Callable[[pd.DataFrame], pd.Series]
    blank_disposition_ok: bool = False
    name_column: str | None = None  # the archive's planet name (kept in ``name``)


def toi_object_id(raw: pd.DataFrame) -> pd.Series:
    return "TOI-" + raw["toi"].astype(str).str.strip()


ARCHIVE_SPECS: dict[str, KindSpec] = {
    "koi": KindSpec(
        kind="koi",
        mission="kepler",
        required=("kepid", "kepoi_name", "koi_disposition", "koi_period"),
        disposition_column="koi_disposition",
        labels={
            "CONFIRMED": "planet",
            "FALSE POSITIVE": "false_positive",
            "CANDIDATE": "candidate",
        },
        physical={
            "period_days": (ColumnSource("koi_period"),),
            "t0_bjd": (
                ColumnSource("koi_time0bk", offset=BKJD_OFFSET_DAYS),
                ColumnSource("koi_time0"),
            ),
            "duration_hours": (ColumnSource("koi_duration"),),
            "depth_ppm": (ColumnSource("koi_depth"),),
            "impact": (ColumnSource("koi_impact"),),
            "planet_radius_rearth": (ColumnSource("koi_prad"),),
            "equilibrium_temp_k": (ColumnSource("koi_teq"),),
            "insolation_earth": (ColumnSource("koi_insol"),),
            "transit_snr": (ColumnSource("koi_model_snr"),),
            "star_teff_k": (ColumnSource("koi_steff"),),
            "star_logg_cgs": (ColumnSource("koi_slogg"),),
            "star_radius_rsun": (ColumnSource("koi_srad"),),
            "star_mag": (ColumnSource("koi_kepmag"),),
        },
        make_object_id=lambda raw: raw["kepoi_name"].astype(str).str.strip(),
        make_host_id=lambda raw: "KIC " + raw["kepid"].astype(str).str.strip(),
        name_column="kepler_name",
    ),
    "toi": KindSpec(
        kind="toi",
        mission="tess",
        required=("toi", "tid", "tfopwg_disp", "pl_orbper"),
        disposition_column="tfopwg_disp",
        labels={
            "CP": "planet",
            "KP": "planet",
            "FP": "false_positive",
            "FA": "false_positive",
            "PC": "candidate",
            "APC": "candidate",
        },
        physical={
            "period_days": (ColumnSource("pl_orbper"),),
            "t0_bjd": (ColumnSource("pl_tranmid"),),  # BJD already (not BTJD)
            "duration_hours": (ColumnSource("pl_trandurh"),),
            "depth_ppm": (ColumnSource("pl_trandep"),),
            "impact": (ColumnSource("pl_imppar"),),
            "planet_radius_rearth": (ColumnSource("pl_rade"),),
            "equilibrium_temp_k": (ColumnSource("pl_eqt"),),
            "insolation_earth": (ColumnSource("pl_insol"),),
            "transit_snr": (ColumnSource("pl_snr"),),
            "star_teff_k": (ColumnSource("st_teff"),),
            "star_logg_cgs": (ColumnSource("st_logg"),),
            "star_radius_rsun": (ColumnSource("st_rad"),),
            "star_mag": (ColumnSource("st_tmag"),),
        },
        make_object_id=toi_object_id,
        make_host_id=lambda raw: "TIC " + raw["tid"].astype(str).str.strip(),
        blank_disposition_ok=True,
    ),
    "k2": KindSpec(
        kind="k2",
        mission="k2",
        required=("pl_name", "hostname", "default_flag", "disposition", "pl_orbper"),
        disposition_column="disposition",
        labels={
            "CONFIRMED": "planet",
            "FALSE POSITIVE": "false_positive",
            "REFUTED": "false_positive",
            "CANDIDATE": "candidate",
        },
        physical={
            "period_days": (ColumnSource("pl_orbper"),),
            "t0_bjd": (ColumnSource("pl_tranmid"),),
            "duration_hours": (ColumnSource("pl_trandur"),),
            "depth_ppm": (ColumnSource("pl_trandep", scale=1e4),),  # archive gives percent
            "impact": (ColumnSource("pl_imppar"),),
            "planet_radius_rearth": (ColumnSource("pl_rade"),),
            "equilibrium_temp_k": (ColumnSource("pl_eqt"),),
            "insolation_earth": (ColumnSource("pl_insol"),),
            "transit_snr": (),
            "star_teff_k": (ColumnSource("st_teff"),),
            "star_logg_cgs": (ColumnSource("st_logg"),),
            "star_radius_rsun": (ColumnSource("st_rad"),),
            # K2 observed in the Kepler band; Gaia G is the closest broad optical band.
            "star_mag": (
                ColumnSource("sy_kepmag"),
                ColumnSource("sy_gaiamag"),
                ColumnSource("sy_vmag"),
            ),
        },
        make_object_id=lambda raw: raw["pl_name"].astype(str).str.strip(),
        make_host_id=lambda raw: raw["hostname"].astype(str).str.strip(),
        name_column="pl_name",
    ),
}


__all__ = ["ARCHIVE_SPECS", "BKJD_OFFSET_DAYS", "ColumnSource", "KindSpec", "toi_object_id"]
