"""One calibrated GBM per missingness pattern, and an uncertainty that grows off the map.

A GBM version holds its catalog model (pattern ``complete``, the files at the top of the
version directory) and one model per reduced pattern of :mod:`exoguard.ml.missing` under
``patterns/<name>/``. Each reduced model is trained on the labelled rows that give every
field of its pattern, *masked* to those fields and with the derivable ones recomputed, and
calibrated out of fold (grouped by star) on the same masked rows: its probability is what a
user of that pattern can be told, and a field the pattern lacks is not one of its features.

Out of distribution
-------------------
Each model keeps the range of every feature over its training rows (the 0.1 and 99.9
percentiles, widened by :data:`RANGE_MARGIN` of their span), and the set keeps the number of
labelled training rows per mission. A row with a feature outside that range, or of a
mission with fewer than :data:`MIN_MISSION_ROWS` training rows, gets
:data:`OOD_UNCERTAINTY` added (in quadrature) to its uncertainty: above the vetting
threshold, so it goes to people instead of coming out as a confident verdict, and the
fields are named in the result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from exoguard.ml.configs import GBMConfig
from exoguard.ml.features import build_features
from exoguard.ml.gbm import FitResult, GBMEnsemble, Progress, fit_ensemble
from exoguard.ml.missing import (
    PATTERN_NAMES,
    PATTERNS,
    mask_to_pattern,
    pattern_features,
    route_patterns,
    rows_with_pattern,
)

logger = logging.getLogger(__name__)

#: Uncertainty (a probability standard deviation) added in quadrature for inputs outside the
#: training range: above the default vetting threshold (0.15).
OOD_UNCERTAINTY: Final = 0.2
#: Training range = [q0.1 %, q99.9 %] widened by this fraction of its span on each side.
RANGE_MARGIN: Final = 0.05
_Q = (0.1, 99.9)
#: A reduced pattern needs at least this many labelled rows (and both classes) to be trained.
MIN_PATTERN_ROWS: Final = 200
PATTERN_DIR = "patterns"
#: Reduced patterns whose training also takes labelled TCE rows (Kepler DR24: transit fields
#: and, where the KOI table knows the star, the star). Only ``manual``: the TCEs raise the
#: three-field model on TCE tables (DR24 ROC AUC 0.941 → 0.959, `exoguard evaluate --paths`)
#: while the TCE population (23 % planets, non-transiting phenomena) pulls the richer
#: patterns away from the KOI population (KOI rows masked to ``table_no_snr``: 0.963 → 0.946).
TCE_PATTERNS: Final[tuple[str, ...]] = ("manual",)


@dataclass(frozen=True)
class FeatureRanges:
    """Per-feature training range; NaN bounds mean "no finite training value"."""

    features: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def fit(cls, X: pd.DataFrame) -> FeatureRanges:
        M = X.to_numpy(dtype=float)
        lo = np.full(M.shape[1], np.nan)
        hi = np.full(M.shape[1], np.nan)
        for j in range(M.shape[1]):
            col = M[:, j][np.isfinite(M[:, j])]
            if len(col):
                q_lo, q_hi = np.percentile(col, _Q)
                pad = RANGE_MARGIN * (q_hi - q_lo)
                lo[j], hi[j] = q_lo - pad, q_hi + pad
        return cls(tuple(X.columns), lo, hi)

    def outside(self, X: pd.DataFrame) -> np.ndarray:
        """Boolean (n, n_features): the value is finite and outside the training range."""
        M = X[list(self.features)].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return np.isfinite(M) & ((self.lo > M) | (self.hi < M))

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "lo": [None if not np.isfinite(v) else float(v) for v in self.lo],
            "hi": [None if not np.isfinite(v) else float(v) for v in self.hi],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureRanges:
        def arr(values: list[Any]) -> np.ndarray:
            return np.array([np.nan if v is None else float(v) for v in values])

        return cls(tuple(d["features"]), arr(d["lo"]), arr(d["hi"]))


@dataclass(frozen=True)
class PatternModel:
    """The calibrated ensemble of one pattern, its training ranges and out-of-fold figures."""

    pattern: str
    ensemble: GBMEnsemble
    ranges: FeatureRanges
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return self.ensemble.features


@dataclass(frozen=True)
class PatternScores:
    """Scores of a frame, one entry per row (shape (n,) each)."""

    probability: np.ndarray
    uncertainty: np.ndarray
    pattern: np.ndarray
    #: Per row: the features outside the training range, with value and range.
    out_of_range: list[list[dict[str, Any]]]


def pattern_matrix(
    frame: pd.DataFrame,
    pattern: str,
    features: Sequence[str],
    *,
    n_candidates_on_host: np.ndarray | None = None,
) -> pd.DataFrame:
    """Features of ``frame`` as a model of ``pattern`` sees them (masked, derived)."""
    if pattern != "complete":
        frame = mask_to_pattern(frame, pattern)
    return build_features(frame, features=features, n_candidates_on_host=n_candidates_on_host)


def fit_pattern(
    pattern: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    config: GBMConfig,
    n_candidates_on_host: np.ndarray,
    progress: Progress | None = None,
) -> PatternModel | None:
    """Fit the model of a reduced ``pattern`` on the rows that give all its fields.

    Returns None when fewer than :data:`MIN_PATTERN_ROWS` rows (or one class only) qualify.
    """
    from exoguard.ml.evaluate import binary_metrics

    keep = rows_with_pattern(frame, pattern)
    if keep.sum() < MIN_PATTERN_ROWS or len(np.unique(y[keep])) < 2:
        logger.warning("pattern %s: %d usable rows, not trained", pattern, int(keep.sum()))
        return None
    feats = pattern_features(pattern, config.feature_names)
    X = pattern_matrix(frame[keep], pattern, feats, n_candidates_on_host=n_candidates_on_host[keep])
    fit = fit_ensemble(X, y[keep], groups[keep], config=config, progress=progress)
    metrics: dict[str, Any] = {"n_train": int(keep.sum()), "features": list(feats)}
    if np.isfinite(fit.oof_probability).all():
        metrics["oof"] = binary_metrics(y[keep], fit.oof_probability, threshold=config.threshold)
    return PatternModel(pattern, fit.model, FeatureRanges.fit(X), metrics)


#: A row of a mission with fewer labelled training rows than this is out of distribution
#: (a Kepler-only model has never seen a TESS row, whatever its values).
MIN_MISSION_ROWS: Final = 100
_KNOWN_MISSIONS = ("kepler", "k2", "tess")


@dataclass(frozen=True)
class PatternSet:
    """The models of every trained pattern (``complete`` included), keyed by pattern, and
    the number of labelled training rows per mission."""

    models: dict[str, PatternModel]
    missions: dict[str, int] = field(default_factory=dict)

    def _mission_off(self, frame: pd.DataFrame) -> list[dict[str, Any] | None]:
        if not self.missions or "mission" not in frame.columns:
            return [None] * len(frame)
        out: list[dict[str, Any] | None] = []
        for m in frame["mission"].astype(str).str.lower():
            n = int(self.missions.get(m, 0))
            off = m in _KNOWN_MISSIONS and n < MIN_MISSION_ROWS
            out.append({"feature": "mission", "value": m, "training_rows": n} if off else None)
        return out

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(p for p in PATTERN_NAMES if p in self.models)

    def route(self, frame: pd.DataFrame) -> np.ndarray:
        """The pattern that scores each row (only trained patterns), shape (n,)."""
        return route_patterns(frame, patterns=self.patterns)

    def matrices(
        self, frame: pd.DataFrame, *, n_candidates_on_host: np.ndarray | None = None
    ) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
        """(pattern, row positions, feature matrix) for each pattern present in ``frame``."""
        routes = self.route(frame)
        out = []
        for name in self.patterns:
            pos = np.flatnonzero(routes == name)
            if not len(pos):
                continue
            counts = None if n_candidates_on_host is None else n_candidates_on_host[pos]
            X = pattern_matrix(
                frame.iloc[pos], name, self.models[name].features, n_candidates_on_host=counts
            )
            out.append((name, pos, X))
        return out

    def predict(
        self, frame: pd.DataFrame, *, n_candidates_on_host: np.ndarray | None = None
    ) -> PatternScores:
        n = len(frame)
        prob = np.zeros(n)
        unc = np.zeros(n)
        routes = np.empty(n, dtype=object)
        ood: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        mission_off = self._mission_off(frame)
        for name, pos, X in self.matrices(frame, n_candidates_on_host=n_candidates_on_host):
            model = self.models[name]
            p, u = model.ensemble.predict(X)
            outside = model.ranges.outside(X)
            values = X[list(model.ranges.features)].to_numpy(dtype=float)
            for k, i in enumerate(pos):
                for j in np.flatnonzero(outside[k]):
                    ood[i].append(
                        {
                            "feature": model.ranges.features[j],
                            "value": float(values[k, j]),
                            "training_range": [
                                float(model.ranges.lo[j]),
                                float(model.ranges.hi[j]),
                            ],
                        }
                    )
            for i in pos:
                off = mission_off[i]
                if off is not None:
                    ood[i].append(off)
            extra = np.where([bool(ood[i]) for i in pos], OOD_UNCERTAINTY, 0.0)
            prob[pos] = p
            unc[pos] = np.sqrt(np.asarray(u, float) ** 2 + extra**2)
            routes[pos] = name
        return PatternScores(prob, unc, routes, ood)

    def save(self, directory: Path) -> None:
        """Reduced patterns into ``directory/patterns/<name>/``; ranges of all in JSON."""
        root = directory / PATTERN_DIR
        root.mkdir(parents=True, exist_ok=True)
        index: dict[str, Any] = {}
        for name, model in self.models.items():
            if name != "complete":
                model.ensemble.save(root / name)
            index[name] = {"ranges": model.ranges.to_dict(), "metrics": model.metrics}
        index["_missions"] = dict(self.missions)
        (root / "patterns.json").write_text(json.dumps(index, indent=2))

    @classmethod
    def load(cls, directory: Path, complete: GBMEnsemble) -> PatternSet | None:
        """The pattern set saved with a version (None for a version trained before them)."""
        index_path = directory / PATTERN_DIR / "patterns.json"
        if not index_path.is_file():
            return None
        index = json.loads(index_path.read_text())
        models = {}
        missions = {str(k): int(v) for k, v in (index.get("_missions") or {}).items()}
        for name, entry in index.items():
            if name not in PATTERNS:
                continue
            ens = (
                complete if name == "complete" else GBMEnsemble.load(directory / PATTERN_DIR / name)
            )
            models[name] = PatternModel(
                name, ens, FeatureRanges.from_dict(entry["ranges"]), entry.get("metrics", {})
            )
        return cls(models, missions)


@dataclass(frozen=True)
class Rows:
    """Labelled harmonised rows: frame (n, ...), 0/1 labels, star groups, multiplicity."""

    frame: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    n_candidates_on_host: np.ndarray

    def __add__(self, other: Rows) -> Rows:
        return Rows(
            pd.concat([self.frame, other.frame], ignore_index=True),
            np.concatenate([self.y, other.y]),
            np.concatenate([self.groups, other.groups]),
            np.concatenate([self.n_candidates_on_host, other.n_candidates_on_host]),
        )

    def subset(self, mask: np.ndarray) -> Rows:
        m = np.asarray(mask, dtype=bool)
        return Rows(
            self.frame[m].reset_index(drop=True),
            self.y[m],
            self.groups[m],
            self.n_candidates_on_host[m],
        )


def fit_pattern_set(
    frame: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    config: GBMConfig,
    complete: GBMEnsemble,
    complete_X: pd.DataFrame,
    n_candidates_on_host: np.ndarray,
    extra: Rows | None = None,
    extra_patterns: Sequence[str] = TCE_PATTERNS,
    patterns: Sequence[str] = PATTERN_NAMES,
    progress: Progress | None = None,
) -> PatternSet:
    """The catalog model as ``complete`` plus one fitted model per reduced pattern.

    ``extra`` rows (e.g. labelled DR24 TCEs: transit fields and a star, no SNR) join the
    training of the reduced patterns whose fields they give, not the catalog model.
    """
    models = {"complete": PatternModel("complete", complete, FeatureRanges.fit(complete_X))}
    missions = (
        {str(k): int(v) for k, v in frame["mission"].astype(str).value_counts().items()}
        if "mission" in frame.columns
        else {}
    )
    base = Rows(frame.reset_index(drop=True), y, groups, n_candidates_on_host)
    both = base + extra if extra is not None else base
    for name in patterns:
        if name == "complete":
            continue
        rows = both if name in extra_patterns else base
        model = fit_pattern(
            name,
            rows.frame,
            rows.y,
            rows.groups,
            config=config,
            n_candidates_on_host=rows.n_candidates_on_host,
            progress=progress,
        )
        if model is not None:
            models[name] = model
    return PatternSet(models, missions)


def fit_catalog_models(
    frame: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    config: GBMConfig,
    n_candidates_on_host: np.ndarray,
    extra: Rows | None = None,
    progress: Progress | None = None,
) -> tuple[FitResult, PatternSet]:
    """The catalog model fit on ``X`` (``progress`` counts its boosters) and, with it as
    ``complete``, one model per reduced pattern fit on the harmonised rows ``frame``."""
    fit = fit_ensemble(X, y, groups, config=config, progress=progress)
    patterns = fit_pattern_set(
        frame,
        y,
        groups,
        config=config,
        complete=fit.model,
        complete_X=X,
        n_candidates_on_host=n_candidates_on_host,
        extra=extra,
    )
    return fit, patterns


__all__ = [
    "OOD_UNCERTAINTY",
    "TCE_PATTERNS",
    "fit_catalog_models",
    "FeatureRanges",
    "PatternModel",
    "PatternScores",
    "PatternSet",
    "Rows",
    "fit_pattern",
    "fit_pattern_set",
    "pattern_matrix",
]
