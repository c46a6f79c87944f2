"""Kepler Q1–Q17 DR24 threshold-crossing events with the Autovetter training labels.

The DR24 TCE table (``q1_q17_dr24_tce``, 2020-02-18 download) gives each TCE's period,
epoch, duration and depth; ``av_training_set`` is the label set of Shallue & Vanderburg
(2018): PC (planet candidate) against AFP (astrophysical false positive) and NTP
(non-transiting phenomenon); UNK rows are unlabelled. The table has no stellar fields: they
are joined from a KOI frame where the KOI table knows the star.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from exoguard.catalogs.schema import STAR_COLUMNS

DR24_FILE: Final = "q1_q17_dr24_tce_autovetter_2020-02-18.csv.gz"
_STAR_COLUMNS = STAR_COLUMNS
_REQUIRED = ("kepid", "tce_plnt_num", "tce_period", "tce_duration", "tce_depth", "av_training_set")


def read_dr24_tces(path: Path, *, stars_from: pd.DataFrame | None = None) -> pd.DataFrame:
    """Labelled DR24 TCEs (PC → planet; AFP, NTP → false_positive) in the harmonised schema.

    Parameters
    ----------
    path : Path
        The DR24 CSV (gzip or not, ``#`` comments allowed).
    stars_from : DataFrame, optional
        Harmonised rows (e.g. the KOI table) whose stellar fields are joined on ``host_id``.

    Raises
    ------
    ValueError
        A required column is missing (the message lists them).
    """
    raw = pd.read_csv(path, comment="#")
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name}: missing DR24 column(s) {missing}; needs {list(_REQUIRED)}")
    raw = raw[raw["av_training_set"].isin(["PC", "AFP", "NTP"])]
    kepid = raw["kepid"].astype(int).astype(str)
    frame = pd.DataFrame(
        {
            "object_id": (kepid + "-" + raw["tce_plnt_num"].astype(str)).to_numpy(),
            "host_id": ("KIC " + kepid).to_numpy(),
            "mission": "kepler",
            "label": np.where(raw["av_training_set"] == "PC", "planet", "false_positive"),
            "disposition": raw["av_training_set"].to_numpy(),
            "source": path.name,
            "period_days": pd.to_numeric(raw["tce_period"], errors="coerce").to_numpy(),
            "duration_hours": pd.to_numeric(raw["tce_duration"], errors="coerce").to_numpy(),
            "depth_ppm": pd.to_numeric(raw["tce_depth"], errors="coerce").to_numpy(),
        }
    )
    if stars_from is not None:
        stars = (
            stars_from.dropna(subset=["host_id"]).groupby("host_id")[list(_STAR_COLUMNS)].first()
        )
        frame = frame.join(stars, on="host_id")
    return frame.reset_index(drop=True)


__all__ = ["DR24_FILE", "read_dr24_tces"]
