"""Model monitoring: accuracy on vetted labels, prediction distribution and feature drift.

The statistics, pure numpy. :mod:`exoguard.services.monitoring` reads the rows they are
computed on: every snapshot is a set of points in the ``model_metrics`` time series (one time
stamp, one row per metric name), and the same figures fill the Prometheus gauges of
:class:`exoguard.web.metrics.AppMetrics` (``export_to_prometheus``).

Metric names written by ``exoguard.services.monitoring.record_snapshot``
------------------------------------------------
``vetted_accuracy``, ``vetted_n``
    Accuracy of the version's latest prediction on each candidate whose vetting consensus
    settled after the version was created (older consensus labels may be in its training set).
``prediction_n``, ``prediction_mean``, ``prediction_std``, ``prediction_planet_share``
    Distribution of the version's predicted probabilities in the window.
``prediction_hist_00`` … ``prediction_hist_09``
    Share of those probabilities in [0, 0.1), [0.1, 0.2), … [0.9, 1.0].
``drift_psi.<feature>``, ``drift_psi_max``
    Population stability index of each model feature: the candidates the version scored in
    the window against the version's training data.

Population stability index
--------------------------
With bins fixed on the reference (training) sample — ``n_bins`` quantile bins of its finite
values plus one bin for missing values — and proportions ``e_i`` (reference) and ``a_i``
(current), each floored at ``eps``,

.. math::

    \\mathrm{PSI} = \\sum_i (a_i - e_i) \\ln(a_i / e_i).

It is 0 for identical distributions and grows with the shift. The usual reading: < 0.1 stable,
0.1–0.25 moderate shift, > 0.25 significant shift (Siddiqi 2006, *Credit Risk Scorecards*).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

PSI_EPS: Final = 1e-4
"""Floor of a bin proportion (an empty bin would make the logarithm infinite)."""
DEFAULT_BINS: Final = 10
HIST_BINS: Final = 10
DRIFT_REFERENCE_FILE: Final = "drift_reference.json"
PSI_STABLE: Final = 0.10
PSI_SIGNIFICANT: Final = 0.25
DEFAULT_WINDOW: Final = timedelta(days=30)


# --------------------------------------------------------------------------------------------
# Population stability index (pure numpy)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinProfile:
    """Bins of one feature fixed on a reference sample, and the reference proportions.

    Attributes
    ----------
    edges : tuple of float
        Inner bin edges, increasing, shape (k,); bin ``i`` holds ``edges[i-1] < x <= edges[i]``
        (bin 0: ``x <= edges[0]``, bin k: ``x > edges[-1]``).
    proportions : tuple of float
        Reference share of each of the ``k + 1`` value bins (sum with ``missing`` is 1).
    missing : float
        Reference share of missing (non-finite) values.
    n : int
        Size of the reference sample.
    """

    edges: tuple[float, ...]
    proportions: tuple[float, ...]
    missing: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "proportions": list(self.proportions),
            "missing": self.missing,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BinProfile:
        edges = tuple(float(e) for e in data["edges"])
        proportions = tuple(float(p) for p in data["proportions"])
        if len(proportions) != len(edges) + 1:
            raise ValueError(
                f"a profile needs len(edges) + 1 proportions; got {len(edges)} edges and "
                f"{len(proportions)} proportions"
            )
        return cls(
            edges=edges, proportions=proportions, missing=float(data["missing"]), n=int(data["n"])
        )


def _shares(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float]:
    """Share of ``values`` in each bin of ``edges`` (k + 1 bins) and the missing share."""
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("cannot bin an empty sample")
    finite = np.isfinite(x)
    counts = np.bincount(
        np.searchsorted(edges, x[finite], side="left"), minlength=len(edges) + 1
    ).astype(float)
    return counts / x.size, float((~finite).sum() / x.size)


def reference_profile(values: np.ndarray, *, n_bins: int = DEFAULT_BINS) -> BinProfile:
    """Quantile bins of the finite values of a reference sample, shape (n,) → :class:`BinProfile`.

    Repeated quantiles (discrete or constant features) are merged, so a profile can have
    fewer than ``n_bins`` value bins; a sample without finite values has one.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    x = np.asarray(values, dtype=float).ravel()
    finite = x[np.isfinite(x)]
    if finite.size:
        inner = np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
        edges = np.unique(inner)
    else:
        edges = np.zeros(0)
    shares, missing = _shares(x, edges)
    return BinProfile(
        edges=tuple(float(e) for e in edges),
        proportions=tuple(float(s) for s in shares),
        missing=missing,
        n=int(x.size),
    )


def psi_against_profile(profile: BinProfile, actual: np.ndarray, *, eps: float = PSI_EPS) -> float:
    """PSI of a current sample, shape (m,), against a reference :class:`BinProfile`."""
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps}")
    shares, missing = _shares(actual, np.asarray(profile.edges, dtype=float))
    a = np.maximum(np.append(shares, missing), eps)
    e = np.maximum(np.append(np.asarray(profile.proportions, dtype=float), profile.missing), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def population_stability_index(
    expected: np.ndarray,
    actual: np.ndarray,
    *,
    n_bins: int = DEFAULT_BINS,
    eps: float = PSI_EPS,
) -> float:
    """Population stability index of ``actual`` against ``expected`` (both 1-D samples).

    Parameters
    ----------
    expected : ndarray, shape (n,)
        Reference sample (e.g. a feature in the training data); NaN counts as missing.
    actual : ndarray, shape (m,)
        Current sample (the same feature in recent traffic).
    n_bins : int
        Quantile bins fixed on ``expected`` (plus one bin for missing values).
    eps : float
        Floor of every bin proportion.

    Returns
    -------
    float
        >= 0; 0 for identical samples.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=20000)
    >>> population_stability_index(ref, rng.normal(size=20000)) < 0.01
    True
    >>> population_stability_index(ref, rng.normal(loc=1.0, size=20000)) > 0.25
    True
    """
    return psi_against_profile(reference_profile(expected, n_bins=n_bins), actual, eps=eps)


def drift_profiles(frame: pd.DataFrame, *, n_bins: int = DEFAULT_BINS) -> dict[str, BinProfile]:
    """A :class:`BinProfile` per column of a reference feature matrix, shape (n, n_features)."""
    return {
        str(name): reference_profile(frame[name].to_numpy(dtype=float), n_bins=n_bins)
        for name in frame.columns
    }


def psi_per_feature(
    profiles: Mapping[str, BinProfile], frame: pd.DataFrame, *, eps: float = PSI_EPS
) -> dict[str, float]:
    """PSI of each profiled feature present in ``frame`` (an empty frame gives {})."""
    if len(frame) == 0:
        return {}
    return {
        name: psi_against_profile(profile, frame[name].to_numpy(dtype=float), eps=eps)
        for name, profile in profiles.items()
        if name in frame.columns
    }


def save_drift_reference(
    directory: Path, profiles: Mapping[str, BinProfile], *, n_bins: int = DEFAULT_BINS
) -> Path:
    """Write ``drift_reference.json`` (the training distribution of every feature)."""
    path = Path(directory) / DRIFT_REFERENCE_FILE
    data = {
        "format": 1,
        "n_bins": n_bins,
        "features": {name: p.to_dict() for name, p in profiles.items()},
    }
    path.write_text(json.dumps(data, indent=2))
    return path


def load_drift_reference(directory: Path) -> dict[str, BinProfile] | None:
    """The profiles saved with a model version, or None when it has none."""
    path = Path(directory) / DRIFT_REFERENCE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {name: BinProfile.from_dict(p) for name, p in data["features"].items()}


# --------------------------------------------------------------------------------------------
# Prediction distribution
# --------------------------------------------------------------------------------------------


def prediction_distribution(
    probabilities: np.ndarray, *, n_bins: int = HIST_BINS, threshold: float = 0.5
) -> dict[str, float]:
    """Mean, spread, planet share and histogram shares of probabilities, shape (n,).

    Returns ``{}`` for an empty sample. Histogram bins are ``[i/n_bins, (i+1)/n_bins)``, the
    last one closed.
    """
    p = np.asarray(probabilities, dtype=float).ravel()
    p = p[np.isfinite(p)]
    if p.size == 0:
        return {}
    counts, _ = np.histogram(np.clip(p, 0.0, 1.0), bins=n_bins, range=(0.0, 1.0))
    out: dict[str, float] = {
        "prediction_n": float(p.size),
        "prediction_mean": float(p.mean()),
        "prediction_std": float(p.std()),
        "prediction_planet_share": float((p >= threshold).mean()),
    }
    for i, c in enumerate(counts):
        out[f"prediction_hist_{i:02d}"] = float(c / p.size)
    return out


# --------------------------------------------------------------------------------------------
# Verdicts and snapshots (the database side is exoguard.services.monitoring)
# --------------------------------------------------------------------------------------------


def predicted_label(probability: float, label: str, *, threshold: float = 0.5) -> str:
    """The binary verdict of a stored prediction (its label, or the probability threshold)."""
    if label in ("planet", "false_positive"):
        return label
    return "planet" if probability >= threshold else "false_positive"


@dataclass(frozen=True)
class MonitoringSnapshot:
    """One monitoring pass of one version (all points share ``time``)."""

    version_id: str
    time: datetime
    values: dict[str, float] = field(default_factory=dict)
    drift: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "time": self.time.isoformat(),
            "values": dict(self.values),
            "drift": dict(self.drift),
        }


__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_WINDOW",
    "HIST_BINS",
    "BinProfile",
    "MonitoringSnapshot",
    "drift_profiles",
    "load_drift_reference",
    "population_stability_index",
    "predicted_label",
    "prediction_distribution",
    "psi_against_profile",
    "psi_per_feature",
    "reference_profile",
    "save_drift_reference",
]
