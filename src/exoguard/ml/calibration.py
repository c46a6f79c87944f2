"""Probability calibrators (isotonic, Platt) with a JSON form, and calibration metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from exoguard.ml.curves import reliability_bins

_EPS = 1e-6


class Calibrator(Protocol):
    @property
    def kind(self) -> str: ...

    def __call__(self, p: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IdentityCalibrator:
    kind: str = "none"

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "none"}


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Monotone piecewise-linear map through the isotonic-regression knots."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    kind: str = "isotonic"

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(p, dtype=float), self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class PlattCalibrator:
    """Logistic map of the log-odds: p' = σ(a·logit(p) + b)."""

    a: float
    b: float
    kind: str = "platt"

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
        z = self.a * np.log(p / (1 - p)) + self.b
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "platt", "a": self.a, "b": self.b}


def fit_calibrator(
    p_oof: np.ndarray, y: np.ndarray, *, method: Literal["isotonic", "platt", "none"]
) -> Calibrator:
    """Fit a calibrator on out-of-fold probabilities.

    Parameters
    ----------
    p_oof : ndarray, shape (n,)
        Uncalibrated probabilities, each predicted by a model that did not see that row.
    y : ndarray, shape (n,)
        0/1 labels.
    method : {"isotonic", "platt", "none"}
    """
    p_oof = np.asarray(p_oof, dtype=float)
    y = np.asarray(y, dtype=int)
    if method == "none":
        return IdentityCalibrator()
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        fitted = iso.fit_transform(p_oof, y)
        # Centred isotonic regression (Oron & Flournoy 2017): interpolate between the mean
        # score of each constant block instead of stepping at block edges, so the map is
        # strictly increasing inside the data range and keeps the ranking (no new ties).
        levels, inverse = np.unique(fitted, return_inverse=True)
        centres = np.bincount(inverse, weights=p_oof) / np.bincount(inverse)
        x = np.r_[p_oof.min(), centres, p_oof.max()]
        yy = np.r_[levels[0], levels, levels[-1]]
        keep = np.r_[True, np.diff(x) > 0]
        return IsotonicCalibrator(x=tuple(x[keep].tolist()), y=tuple(yy[keep].tolist()))
    if method == "platt":
        p = np.clip(p_oof, _EPS, 1 - _EPS)
        z = np.log(p / (1 - p)).reshape(-1, 1)
        lr = LogisticRegression(C=1e6).fit(z, y)
        return PlattCalibrator(a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    raise ValueError(f"calibration method must be one of isotonic, platt, none; got {method!r}")


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    kind = data.get("kind")
    if kind == "isotonic":
        return IsotonicCalibrator(x=tuple(data["x"]), y=tuple(data["y"]))
    if kind == "platt":
        return PlattCalibrator(a=float(data["a"]), b=float(data["b"]))
    if kind == "none":
        return IdentityCalibrator()
    raise ValueError(f"calibrator kind must be one of isotonic, platt, none; got {kind!r}")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> float:
    """ECE with ``n_bins`` equal-width bins: Σ_b (n_b/n)·|mean(y_b) − mean(p_b)|.

    Bins are those of :func:`exoguard.ml.curves.reliability_bin_index` (closed on the
    right: a probability on an inner edge counts in the lower bin).
    """
    return reliability_bins(y, p, n_bins=n_bins).ece


def reliability_curve(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> list[dict[str, float]]:
    """Per-bin mean predicted probability, observed fraction and count (for plots), over
    the bins of :func:`expected_calibration_error`."""
    bins = reliability_bins(y, p, n_bins=n_bins)
    return [
        {
            "bin_lo": int(b) / n_bins,
            "bin_hi": (int(b) + 1) / n_bins,
            "mean_predicted": float(mp),
            "fraction_positive": float(fp),
            "count": int(c),
        }
        for b, mp, fp, c in zip(
            bins.bin_index, bins.mean_predicted, bins.fraction_positive, bins.count, strict=True
        )
    ]
