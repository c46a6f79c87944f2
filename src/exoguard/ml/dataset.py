"""Labelled training matrices from harmonised catalog tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from exoguard.catalogs import CatalogTable
from exoguard.ml.features import build_features, candidates_per_host
from exoguard.ml.patterns import Rows

LABELLED = ("planet", "false_positive")


@dataclass(frozen=True)
class LabelledData:
    """Rows labelled planet (1) or false_positive (0).

    Attributes
    ----------
    X : DataFrame, shape (n, n_features)
    y : ndarray of int, shape (n,)
    groups : ndarray of str, shape (n,)
        ``mission:host_id``; cross-validation never splits one.
    frame : DataFrame, shape (n, ...)
        The harmonised rows (ids, mission, source) in the same order.
    """

    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> LabelledData:
        m = np.asarray(mask, dtype=bool)
        return LabelledData(X=self.X[m], y=self.y[m], groups=self.groups[m], frame=self.frame[m])


def features_with_catalog_multiplicity(
    frame: pd.DataFrame, *, features: Sequence[str]
) -> pd.DataFrame:
    """Features where ``n_candidates_on_host`` counts every signal of the star in ``frame``.

    Counting happens before unlabelled rows are removed: a transit search finds all signals
    of a star, whatever their later disposition.
    """
    counts = candidates_per_host(frame)
    return build_features(frame, features=features, n_candidates_on_host=counts)


def labelled_data(
    tables: Sequence[CatalogTable],
    *,
    features: Sequence[str],
    missions: Sequence[str] | None = None,
) -> LabelledData:
    """Concatenate the labelled rows of ``tables`` (optionally only some missions)."""
    parts_X, parts_f = [], []
    for t in tables:
        frame = t.frame
        if missions is not None and not frame["mission"].isin(list(missions)).any():
            continue
        X = features_with_catalog_multiplicity(frame, features=features)
        keep = frame["label"].isin(LABELLED).to_numpy()
        if missions is not None:
            keep &= frame["mission"].isin(list(missions)).to_numpy()
        parts_X.append(X[keep])
        parts_f.append(frame[keep])
    if not parts_X:
        raise ValueError(f"no labelled rows for missions {list(missions or [])}")
    X = pd.concat(parts_X, ignore_index=True)
    frame = pd.concat(parts_f, ignore_index=True)
    y = (frame["label"] == "planet").to_numpy(dtype=int)
    host = frame["host_id"].fillna(frame["object_id"]).astype(str)
    groups = (frame["mission"].astype(str) + ":" + host).to_numpy()
    return LabelledData(X=X, y=y, groups=groups, frame=frame)


def dr24_rows(path: Path, tables: Sequence[CatalogTable]) -> Rows | None:
    """Labelled DR24 TCE rows (stars joined from the Kepler table of ``tables``), or None
    when the file is absent or ``tables`` hold no Kepler rows."""
    from exoguard.catalogs.tce import read_dr24_tces

    kepler = [t.frame for t in tables if (t.frame["mission"] == "kepler").any()]
    if not path.is_file() or not kepler:
        return None
    tce = read_dr24_tces(path, stars_from=kepler[0])
    y = (tce["label"] == "planet").to_numpy(dtype=int)
    groups = ("kepler:" + tce["host_id"].astype(str)).to_numpy()
    return Rows(tce, y, groups, candidates_per_host(tce))
