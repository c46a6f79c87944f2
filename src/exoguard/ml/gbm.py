"""Gradient-boosted trees (LightGBM): a seeded ensemble with an out-of-fold calibrator.

The probability of a row is the calibrated mean of the ensemble members' probabilities; its
uncertainty is the standard deviation of the calibrated member probabilities. The calibrator
is fit on out-of-fold predictions (folds grouped by star), never on rows a model was trained
on. Training is deterministic for a seed (LightGBM ``deterministic=True``, fixed threads).

Artifacts are LightGBM text model files plus JSON; nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from exoguard.ml.calibration import (
    Calibrator,
    IdentityCalibrator,
    calibrator_from_dict,
    fit_calibrator,
)
from exoguard.ml.configs import GBMConfig, GBMParams
from exoguard.ml.features import assert_allowed_features

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]

#: Threads for LightGBM prediction. One: OpenMP spin-waiting makes several threads much
#: slower than one on a shared 2-core machine, and requests are served concurrently anyway.
PREDICT_THREADS = 1


def _lgb_params(
    params: GBMParams, *, seed: int, n_threads: int, features: Sequence[str]
) -> dict[str, Any]:
    unknown = set(params.monotone_constraints) - set(features)
    if unknown:
        raise ValueError(
            f"monotone constraints name features the model does not use: {sorted(unknown)}"
        )
    out: dict[str, Any] = {
        "objective": "binary",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "min_data_in_leaf": params.min_child_samples,
        "bagging_fraction": params.subsample,
        "bagging_freq": params.subsample_freq,
        "feature_fraction": params.colsample_bytree,
        "lambda_l1": params.reg_alpha,
        "lambda_l2": params.reg_lambda,
        "min_gain_to_split": params.min_split_gain,
        "seed": seed,
        "bagging_seed": seed + 1,
        "feature_fraction_seed": seed + 2,
        "data_random_seed": seed + 3,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": n_threads,
        "verbosity": -1,
    }
    if params.monotone_constraints:
        out["monotone_constraints"] = [params.monotone_constraints.get(f, 0) for f in features]
        out["monotone_constraints_method"] = "advanced"
    return out


def member_seeds(seed: int, n: int) -> list[int]:
    """Seeds of the ensemble members, drawn from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [int(s) for s in rng.integers(1, 2**31 - 8, size=n)]


@dataclass(frozen=True)
class GBMEnsemble:
    """A fitted, calibrated ensemble.

    Attributes
    ----------
    boosters : list of lightgbm.Booster
    features : tuple of str
        Column order the boosters expect.
    calibrator : Calibrator
    threshold : float
        Probability at or above which the label is "planet".
    """

    boosters: tuple[lgb.Booster, ...]
    features: tuple[str, ...]
    calibrator: Calibrator
    threshold: float = 0.5

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            missing = [f for f in self.features if f not in X.columns]
            if missing:
                raise ValueError(f"feature matrix lacks columns: {', '.join(missing)}")
            return X[list(self.features)].to_numpy(dtype=float)
        return np.asarray(X, dtype=float)

    def predict_members_raw(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Uncalibrated probability of every member, shape (n, n_members)."""
        M = self._matrix(X)
        return np.column_stack([b.predict(M, num_threads=PREDICT_THREADS) for b in self.boosters])

    def predict(self, X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probability and uncertainty (std of calibrated members), shapes (n,)."""
        raw = self.predict_members_raw(X)
        prob = self.calibrator(raw.mean(axis=1))
        if raw.shape[1] > 1:
            unc = self.calibrator(raw).std(axis=1, ddof=1) if raw.size else np.zeros(0)
        else:
            unc = np.zeros(len(prob))
        return np.clip(prob, 0.0, 1.0), unc

    def save(self, directory: Path) -> None:
        """Write ``member_XX.txt`` (LightGBM text) and ``calibrator.json`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for i, b in enumerate(self.boosters):
            b.save_model(str(directory / f"member_{i:02d}.txt"))
        meta = {
            "features": list(self.features),
            "n_members": len(self.boosters),
            "threshold": self.threshold,
            "calibrator": self.calibrator.to_dict(),
        }
        (directory / "ensemble.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> GBMEnsemble:
        meta = json.loads((directory / "ensemble.json").read_text())
        boosters = tuple(
            lgb.Booster(model_file=str(directory / f"member_{i:02d}.txt"))
            for i in range(int(meta["n_members"]))
        )
        features = tuple(meta["features"])
        assert_allowed_features(features)
        return cls(
            boosters=boosters,
            features=features,
            calibrator=calibrator_from_dict(meta["calibrator"]),
            threshold=float(meta.get("threshold", 0.5)),
        )


def fit_members(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    params: GBMParams,
    seeds: Sequence[int],
    n_threads: int,
    progress: Progress | None = None,
) -> tuple[lgb.Booster, ...]:
    """Train one booster per seed on the same rows (bagging makes them differ)."""
    assert_allowed_features(X.columns)
    boosters = []
    for s in seeds:
        ds = lgb.Dataset(
            X.to_numpy(dtype=float), label=y, feature_name=list(X.columns), free_raw_data=True
        )
        boosters.append(
            lgb.train(
                _lgb_params(params, seed=s, n_threads=n_threads, features=list(X.columns)),
                ds,
                num_boost_round=params.n_estimators,
            )
        )
        if progress is not None:
            progress(1)
    return tuple(boosters)


def group_folds(
    y: np.ndarray, groups: np.ndarray, *, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep every star (group) in one fold."""
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed % 2**32)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def oof_raw(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    params: GBMParams,
    seeds: Sequence[int],
    n_splits: int,
    fold_seed: int,
    n_threads: int,
    progress: Progress | None = None,
) -> np.ndarray:
    """Out-of-fold mean member probability of every row, shape (n,)."""
    out = np.full(len(y), np.nan)
    for train_idx, test_idx in group_folds(y, groups, n_splits=n_splits, seed=fold_seed):
        members = fit_members(
            X.iloc[train_idx],
            y[train_idx],
            params=params,
            seeds=seeds,
            n_threads=n_threads,
            progress=progress,
        )
        M = X.iloc[test_idx].to_numpy(dtype=float)
        out[test_idx] = np.mean([b.predict(M, num_threads=n_threads) for b in members], axis=0)
    return out


@dataclass(frozen=True)
class FitResult:
    model: GBMEnsemble
    #: Calibrated out-of-fold probabilities of the training rows, shape (n,).
    oof_probability: np.ndarray


def fit_ensemble(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    config: GBMConfig,
    params: GBMParams | None = None,
    progress: Progress | None = None,
) -> FitResult:
    """Fit the calibrated ensemble of ``config`` on ``X`` (rows) and 0/1 labels ``y``.

    Parameters
    ----------
    X : DataFrame, shape (n, n_features)
    y : ndarray of int, shape (n,)
        1 = planet, 0 = false positive.
    groups : ndarray, shape (n,)
        Star of each row; calibration folds never split a star.
    config : GBMConfig
    params : GBMParams, optional
        Overrides ``config.params`` (the cross-mission model uses its own).
    progress : callable, optional
        Called with 1 after each booster is trained
        (``n_ensemble * (calibration_folds + 1)`` calls in all).
    """
    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError("training needs both classes (planet and false_positive)")
    params = params or config.params
    seeds = member_seeds(config.seed, config.n_ensemble)
    if config.calibration == "none":
        calibrator: Calibrator = IdentityCalibrator()
        oof = np.full(len(y), np.nan)
    else:
        raw = oof_raw(
            X,
            y,
            groups,
            params=params,
            seeds=seeds,
            n_splits=config.calibration_folds,
            fold_seed=config.seed,
            n_threads=config.n_threads,
            progress=progress,
        )
        calibrator = fit_calibrator(raw, y, method=config.calibration)
        oof = calibrator(raw)
    boosters = fit_members(
        X, y, params=params, seeds=seeds, n_threads=config.n_threads, progress=progress
    )
    model = GBMEnsemble(
        boosters=boosters,
        features=tuple(X.columns),
        calibrator=calibrator,
        threshold=config.threshold,
    )
    return FitResult(model=model, oof_probability=oof)


def n_boosters_to_fit(config: GBMConfig) -> int:
    """How many boosters :func:`fit_ensemble` trains (for progress bars)."""
    folds = 0 if config.calibration == "none" else config.calibration_folds
    return config.n_ensemble * (folds + 1)


def data_hash(frame: pd.DataFrame, y: np.ndarray) -> str:
    """SHA-256 of the training matrix and labels (order and values), hex."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(y, dtype=np.int8)).tobytes())
    return h.hexdigest()
