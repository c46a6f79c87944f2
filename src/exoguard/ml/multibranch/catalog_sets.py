"""Catalog rows as model inputs (light-curve branches absent).

Labelled KOIs are split by star (``catalog_test_fraction`` held out); the rest train the
model with the light-curve branches masked. Labelled TOIs and K2 objects are only scored
(cross-mission figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.configs import (
    MultibranchConfig,
)
from exoguard.ml.multibranch.inputs import (
    default_scalar_features,
    scalar_matrix,
)


def default_catalog_frames(catalogs_dir: Path) -> list[pd.DataFrame]:
    """Harmonised frames of the KOI, TOI and K2 tables of ``catalogs_dir``."""
    from exoguard.catalogs import load_default_catalogs

    return [t.frame for t in load_default_catalogs(catalogs_dir)]


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
    frames: Sequence[pd.DataFrame],
    features: Sequence[str] | None = None,
) -> CatalogSets:
    """Split labelled catalog rows by star into training and held-out sets
    (``frames``: :func:`default_catalog_frames`)."""
    frames = list(frames)
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
