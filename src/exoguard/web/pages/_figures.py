"""Figure sets of the pages (no router here): which charts a page shows, from stored data.

Each builder returns ``(figures, missing)``: Plotly figure dicts by chart name and, for
charts that cannot be drawn, the reason in words (shown in place of the chart).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from exoguard.core.lightcurve import fold_phase_days
from exoguard.core.transit_measures import transit_numbers
from exoguard.reports.curves import bin_series, fold_and_bin, phase_fraction
from exoguard.store.naming import candidate_name
from exoguard.web import glossary
from exoguard.web.charts.evaluation import (
    calibration_figure,
    confusion_matrix_figure,
    pr_figure,
    roc_figure,
)
from exoguard.web.charts.explain import feature_importance_figure, shap_waterfall_figure
from exoguard.web.charts.lightcurves import (
    folded_figure,
    lightcurve_figure,
    odd_even_figure,
    periodogram_figure,
    secondary_figure,
)

log = logging.getLogger(__name__)

Figures = dict[str, dict[str, Any]]
Missing = dict[str, str]

#: Local view half-width in transit durations, and its floor in hours.
LOCAL_HALF_WIDTH_DURATIONS = 2.5
LOCAL_MIN_HALF_WIDTH_HOURS = 3.0


@dataclass(frozen=True)
class Ephemeris:
    """A candidate's transit ephemeris as the charts need it."""

    name: str
    period_days: float
    t0_bjd: float
    duration_hours: float | None = None
    depth_ppm: float | None = None
    odd_even_sigma: float | None = None
    secondary_depth_ppm: float | None = None
    secondary_sigma: float | None = None

    @property
    def usable(self) -> bool:
        return (
            math.isfinite(self.period_days) and self.period_days > 0 and math.isfinite(self.t0_bjd)
        )


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def ephemeris_of(candidate: Any) -> Ephemeris | None:
    """The ephemeris of a stored candidate (None without period and epoch)."""
    period = _finite(getattr(candidate, "period_days", None))
    t0 = _finite(getattr(candidate, "t0_bjd", None))
    if period is None or t0 is None or period <= 0:
        return None
    features = getattr(candidate, "features", None) or {}
    return Ephemeris(
        name=candidate_name(candidate),
        period_days=period,
        t0_bjd=t0,
        duration_hours=_finite(getattr(candidate, "duration_hours", None)),
        depth_ppm=_finite(getattr(candidate, "depth_ppm", None)),
        odd_even_sigma=_finite(features.get("odd_even_sigma")),
        secondary_depth_ppm=_finite(features.get("secondary_depth_ppm")),
        secondary_sigma=_finite(features.get("secondary_sigma") or features.get("secondary_snr")),
    )


# --------------------------------------------------------------------------- light curves
#: Points per light-curve trace sent to the browser. A TESS sector has ~18,000 two-minute
#: points and the periodogram tens of thousands of trial periods: drawn whole, a candidate
#: page took 2.3–2.6 s to its charts. Plotly draws one SVG node per marker and styles each
#: one (about 0.07 ms of main-thread time a marker in Chromium: two thirds of a candidate
#: page's drawing time went to the markers), so the marker traces are capped to about what
#: their width in pixels shows: the detrended light curve (the page's full width, ~1,250 px)
#: averages consecutive points down to 1,200 (a Kepler quarter: groups of 4 long-cadence
#: points, 2 h; a TESS sector: 30 min), the light curve before detrending, where the trend
#: matters, to 600; each folded view (half the width) keeps every n-th of at most 400 points
#: under its binned curve, which carries the signal. The periodogram (one line, cheap) keeps
#: the peak of each group. The full data stay downloadable as CSV
#: (``/charts/candidates/{id}/lightcurve.csv``).
DISPLAY_MAX_POINTS = 1200
RAW_DISPLAY_MAX_POINTS = 600
FOLDED_MAX_POINTS = 400
PERIODOGRAM_MAX_POINTS = 4000


def _local_half_width_days(eph: Ephemeris) -> float:
    hours = LOCAL_MIN_HALF_WIDTH_HOURS
    if eph.duration_hours is not None and eph.duration_hours > 0:
        hours = max(hours, LOCAL_HALF_WIDTH_DURATIONS * eph.duration_hours)
    return min(hours / 24.0, 0.5 * eph.period_days)


def folded_figures(
    time_bjd: np.ndarray, flux: np.ndarray, eph: Ephemeris
) -> tuple[Figures, Missing]:
    """Global and local folded views, odd/even and secondary-eclipse views of one candidate."""
    figures: Figures = {}
    missing: Missing = {}
    whole = fold_and_bin(
        time_bjd=time_bjd,
        flux=flux,
        period_days=eph.period_days,
        t0_bjd=eph.t0_bjd,
        n_bins=201,
    )
    if whole["phase_days"].size == 0:
        reason = "no data points to fold"
        return {}, {k: reason for k in ("folded_global", "folded_local", "odd_even", "secondary")}
    figures["folded_global"] = folded_figure(
        phase=whole["phase_days"],
        flux=whole["flux"],
        bin_phase=whole["bin_phase_days"],
        bin_flux=whole["bin_flux"],
        title=f"Folded on P = {eph.period_days:.5f} d (whole orbit)",
        max_points=FOLDED_MAX_POINTS,
    )
    half = _local_half_width_days(eph)
    local = fold_and_bin(
        time_bjd=time_bjd,
        flux=flux,
        period_days=eph.period_days,
        t0_bjd=eph.t0_bjd,
        window_days=half,
        n_bins=61,
    )
    if local["phase_days"].size:
        figures["folded_local"] = folded_figure(
            phase=local["phase_days"] * 24.0,
            flux=local["flux"],
            bin_phase=local["bin_phase_days"] * 24.0,
            bin_flux=local["bin_flux"],
            x_title="Hours from mid-transit",
            title="Around the transit",
            max_points=FOLDED_MAX_POINTS,
        )
    else:
        missing["folded_local"] = "no data points near the transits"

    odd_even = _odd_even_figure(time_bjd, flux, eph, half_days=half)
    if odd_even is not None:
        figures["odd_even"] = odd_even
    else:
        missing["odd_even"] = "odd and even transits need at least two transits with data"
    figures["secondary"] = _secondary_figure(time_bjd, flux, eph)
    return figures, missing


def _odd_even_figure(
    time_bjd: np.ndarray, flux: np.ndarray, eph: Ephemeris, *, half_days: float
) -> dict[str, Any] | None:
    """Odd and even transits binned side by side (None without data in both)."""
    number = transit_numbers(time_bjd, period_days=eph.period_days, t0_bjd=eph.t0_bjd)
    parts: dict[str, dict[str, np.ndarray]] = {}
    for name, parity in (("odd", 1), ("even", 0)):
        sel = (number % 2) == parity
        parts[name] = fold_and_bin(
            time_bjd=np.asarray(time_bjd)[sel],
            flux=np.asarray(flux)[sel],
            period_days=eph.period_days,
            t0_bjd=eph.t0_bjd,
            window_days=half_days,
            n_bins=41,
        )
    if not (parts["odd"]["bin_phase_days"].size and parts["even"]["bin_phase_days"].size):
        return None
    return odd_even_figure(
        odd_phase=parts["odd"]["bin_phase_days"] * 24.0,
        odd_flux=parts["odd"]["bin_flux"],
        even_phase=parts["even"]["bin_phase_days"] * 24.0,
        even_flux=parts["even"]["bin_flux"],
        odd_even_sigma=eph.odd_even_sigma,
        x_title="hours",
    )


def _secondary_figure(time_bjd: np.ndarray, flux: np.ndarray, eph: Ephemeris) -> dict[str, Any]:
    """The whole orbit in phase, primary transit masked, for a secondary eclipse."""
    # The secondary view leaves the primary transit out: it would set the y-range and hide
    # a shallow secondary eclipse near phase 0.5.
    t = np.asarray(time_bjd, dtype=float)
    f = np.asarray(flux, dtype=float)
    primary_half_days = eph.duration_hours / 24.0 if eph.duration_hours else 0.05 * eph.period_days
    primary = np.abs(fold_phase_days(t, period_days=eph.period_days, t0_bjd=eph.t0_bjd)) < min(
        primary_half_days, 0.25 * eph.period_days
    )
    keep = np.isfinite(f) & np.isfinite(t) & ~primary
    frac = phase_fraction(time_bjd=t[keep], period_days=eph.period_days, t0_bjd=eph.t0_bjd)
    bx, by = bin_series(frac, f[keep], n_bins=100)
    return secondary_figure(
        phase=frac,
        flux=f[keep],
        bin_phase=bx,
        bin_flux=by,
        secondary_depth_ppm=eph.secondary_depth_ppm,
        secondary_sigma=eph.secondary_sigma,
        title="Secondary eclipse search (primary masked)",
        max_points=FOLDED_MAX_POINTS,
    )


def lightcurve_figures(
    *,
    time_bjd: np.ndarray,
    raw_flux: np.ndarray,
    detrended_flux: np.ndarray,
    trend: np.ndarray | None,
    mission: str | None,
    ephemerides: Sequence[Ephemeris],
    focus: Ephemeris | None,
    periods_days: np.ndarray | None = None,
    power: np.ndarray | None = None,
    power_label: str = "BLS SDE",
) -> tuple[Figures, Missing]:
    """Every light-curve chart: raw with trend, detrended with transits marked, periodogram,
    and the folded views of `focus`."""
    marks = [
        {"name": e.name, "period_days": e.period_days, "t0_bjd": e.t0_bjd}
        for e in ephemerides
        if e.usable
    ]
    figures: Figures = {
        "lightcurve": lightcurve_figure(
            time_bjd=time_bjd,
            flux=detrended_flux,
            mission=mission,
            candidates=marks,
            title="Light curve (detrended), transits marked",
            max_points=DISPLAY_MAX_POINTS,
        ),
        "lightcurve_raw": lightcurve_figure(
            time_bjd=time_bjd,
            flux=raw_flux,
            mission=mission,
            trend=trend,
            title="Light curve before detrending, with the fitted trend",
            max_points=RAW_DISPLAY_MAX_POINTS,
        ),
    }
    missing: Missing = {}
    if periods_days is not None and power is not None and np.size(periods_days):
        figures["periodogram"] = periodogram_figure(
            period_days=periods_days,
            power=power,
            best_period_days=focus.period_days if focus is not None else None,
            y_title=power_label,
            max_points=PERIODOGRAM_MAX_POINTS,
        )
    else:
        missing["periodogram"] = "no periodogram for this light curve"
    if focus is not None and focus.usable:
        folded, why = folded_figures(time_bjd, detrended_flux, focus)
        figures.update(folded)
        missing.update(why)
    else:
        reason = "no transit ephemeris (period and epoch) to fold on"
        for key in ("folded_global", "folded_local", "odd_even", "secondary"):
            missing[key] = reason
    return figures, missing


def no_lightcurve(reason: str) -> Missing:
    """Every light-curve chart replaced by `reason`."""
    keys = (
        "lightcurve",
        "lightcurve_raw",
        "periodogram",
        "folded_global",
        "folded_local",
        "odd_even",
        "secondary",
    )
    return dict.fromkeys(keys, reason)


# ------------------------------------------------------------------------------ explanations
def shap_figures(explanation: Mapping[str, Any] | None) -> tuple[Figures, Missing]:
    """The SHAP waterfall of one explanation (``base_value`` and ``contributions``)."""
    if not explanation or not explanation.get("contributions"):
        return {}, {"shap": "no explanation stored for this prediction yet"}
    items = explanation["contributions"]
    contributions = {str(i["feature"]): float(i["contribution"]) for i in items}
    values = {str(i["feature"]): i.get("value") for i in items}
    n_features = int(explanation.get("n_features") or len(items))
    base = float(explanation.get("base_value", 0.0))
    remainder = None
    if n_features > len(items) and explanation.get("log_odds") is not None:
        # Only the top contributions are stored: the rest is the remainder to the output.
        rest = float(explanation["log_odds"]) - base - sum(contributions.values())
        remainder = (n_features - len(items), rest)
    figure = shap_waterfall_figure(
        base_value=base,
        contributions=contributions,
        feature_values=values,
        max_display=len(contributions),
        remainder=remainder,
        output_name="log-odds of planet",
        labels={name: glossary.describe(name, values.get(name)) for name in contributions},
        x_title="evidence → planet",
    )
    # The plain-word labels are long: room on the right keeps the axis title whole.
    figure["layout"]["margin"] = {**figure["layout"]["margin"], "r": 48}
    return {"shap": figure}, {}


# ---------------------------------------------------------------------------------- models
def _evaluation_blocks(
    metrics: Mapping[str, Any], *, kind: str, config: Mapping[str, Any] | None = None
) -> dict[str, Mapping[str, Any]]:
    """Metric blocks by evaluation-set name (`exoguard.ml.evalsets`), the primary set first.

    The same function decides the versions table's figures, so that a chart and the table
    show the same number for the same set.
    """
    from exoguard.ml.evalsets import named_sets

    return named_sets(kind, metrics, config=config)


def pr_from_roc(
    fpr: Sequence[float], tpr: Sequence[float], *, n_planet: int, n_false_positive: int
) -> dict[str, Any]:
    """Precision–recall points at the thresholds of ROC points (exact at those thresholds)."""
    f = np.asarray(fpr, dtype=float)
    t = np.asarray(tpr, dtype=float)
    tp = t * n_planet
    fp = f * n_false_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
    order = np.argsort(t, kind="stable")
    return {
        "recall": t[order],
        "precision": precision[order],
        "prevalence": n_planet / max(n_planet + n_false_positive, 1),
    }


#: Axis title of the global importance of each model kind (how it was measured).
IMPORTANCE_AXIS = {
    "gbm": "Mean |SHAP value| (log-odds)",
    "ensemble": "Mean |SHAP value| of the GBM part (log-odds)",
    "multibranch": "Mean |occlusion effect| (log-odds)",
}


def model_figures(
    metrics: Mapping[str, Any],
    importance: Sequence[Mapping[str, Any]] | None,
    *,
    kind: str = "gbm",
    config: Mapping[str, Any] | None = None,
    set_name: str | None = None,
) -> tuple[Figures, Missing]:
    """Confusion matrix, ROC, precision–recall, calibration and feature importance.

    ``kind`` (gbm, multibranch, ensemble) chooses where the named evaluation sets are stored
    and names how the importance was measured. ROC and precision–recall draw every set the
    version was evaluated on; the confusion matrix and calibration draw ``set_name`` (the
    kind's primary set by default). Every title and legend names its set.
    """
    figures: Figures = {}
    missing: Missing = {}
    if importance:
        values = {
            str(i["feature"]): float(i.get("mean_abs_shap", i.get("importance", 0.0)))
            for i in importance
        }
        figures["importance"] = feature_importance_figure(
            values, x_title=IMPORTANCE_AXIS.get(kind, "Mean |contribution|")
        )
    else:
        missing["importance"] = "no feature importance stored with this version"
    blocks = _evaluation_blocks(metrics, kind=kind, config=config)
    if not blocks:
        reason = (
            "this version was not evaluated on the named sets yet "
            "(run `exoguard evaluate --version` with its id)"
        )
        missing.update(dict.fromkeys(("confusion", "roc", "pr", "calibration"), reason))
        return figures, missing
    if set_name is not None and set_name in blocks:
        blocks = {set_name: blocks[set_name], **blocks}
    main_name, main = next(iter(blocks.items()))
    matrix = main.get("confusion_matrix")
    if matrix:
        figures["confusion"] = confusion_matrix_figure(
            matrix, title=f"Confusion matrix — {main_name}"
        )
    else:
        missing["confusion"] = "no confusion matrix stored"

    roc_curves, pr_curves = _roc_pr_curves(blocks)
    if roc_curves:
        figures["roc"] = roc_figure(roc_curves)
    else:
        missing["roc"] = "no ROC curve points stored (run `exoguard evaluate` for this version)"
    if pr_curves:
        figures["pr"] = pr_figure(pr_curves)
    else:
        missing["pr"] = "no precision–recall points stored"

    reliability = main.get("reliability")
    if reliability:
        figures["calibration"] = calibration_figure(
            mean_predicted=[b["mean_predicted"] for b in reliability],
            fraction_positive=[b["fraction_positive"] for b in reliability],
            count=[b["count"] for b in reliability],
            ece=main.get("ece"),
            title=f"Calibration — {main_name}",
        )
    else:
        missing["calibration"] = "no reliability curve stored"
    return figures, missing


def _roc_pr_curves(
    blocks: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """ROC and precision–recall curves per evaluated set (PR from ROC when not stored)."""
    roc_curves: dict[str, dict[str, Any]] = {}
    pr_curves: dict[str, dict[str, Any]] = {}
    for name, block in blocks.items():
        points = block.get("roc_curve")
        if not points:
            continue
        fpr = [p[0] for p in points]
        tpr = [p[1] for p in points]
        roc_curves[name] = {"fpr": fpr, "tpr": tpr, "auc": block.get("roc_auc")}
        if block.get("pr_curve"):
            pr = block["pr_curve"]
            pr_curves[name] = {
                "recall": [p[0] for p in pr],
                "precision": [p[1] for p in pr],
                "average_precision": block.get("pr_auc"),
            }
            n_pos, n_neg = block.get("n_planet"), block.get("n_false_positive")
            if n_pos and n_neg:
                pr_curves[name]["prevalence"] = int(n_pos) / (int(n_pos) + int(n_neg))
        elif block.get("n_planet") and block.get("n_false_positive"):
            pr_curves[name] = pr_from_roc(
                fpr,
                tpr,
                n_planet=int(block["n_planet"]),
                n_false_positive=int(block["n_false_positive"]),
            ) | {"average_precision": block.get("pr_auc")}
    return roc_curves, pr_curves


# ------------------------------------------------------------------------------- caching
class FigureCache:
    """A small LRU cache of computed figure payloads (light curves are slow to re-read)."""

    def __init__(self, size: int = 24) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(
        self, key: tuple[Any, ...], build: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
