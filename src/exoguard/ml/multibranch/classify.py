"""Serving: light curve → transit search → inputs of every candidate → predictions.

The search (``exoguard.core.search.search_lightcurve``) finds the candidates; the light
curve is then detrended once more with every candidate's transits masked (the search's
own window), and each candidate's diagnostics are re-measured at its ephemeris exactly as
the training rows were (``diagnose_transit(..., refine=False)``), so training and serving
inputs match. Where another candidate's transit overlaps one of a candidate's own, those
points are cut from its data first (:func:`other_transits`): every training sample holds
one signal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from exoguard.core.detrend import detrend
from exoguard.core.diagnostics import diagnose_transit
from exoguard.core.lightcurve import LightCurve
from exoguard.core.search.results import TransitCandidate
from exoguard.core.transit_measures import transit_mask
from exoguard.errors import ValidationError
from exoguard.ml.flagging import FlagRule
from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.catalog_sets import catalog_arrays
from exoguard.ml.multibranch.configs import MultibranchConfig
from exoguard.ml.multibranch.inputs import (
    CandidateInputs,
    StarRow,
    candidate_inputs,
    scalar_matrix,
)
from exoguard.ml.multibranch.occlusion import top_features
from exoguard.ml.multibranch.predict import MultibranchModel, Prediction
from exoguard.ml.multibranch.samples import stack_samples
from exoguard.ml.registry import ModelRegistry

if TYPE_CHECKING:
    from exoguard.core.search.passes import DetrendedCurve

logger = logging.getLogger(__name__)

#: Transits masked (in durations) when the light curve is detrended for the views.
VIEW_MASK_DURATIONS = 2.0
#: Period ratios (candidate : catalog) accepted when matching a catalog object.
MATCH_RATIOS = (1.0, 2.0, 0.5)
MATCH_TOLERANCE = 0.005


@dataclass(frozen=True)
class LightCurveCandidates:
    """The candidates of one light curve with their model inputs."""

    lc: LightCurve
    candidates: tuple[TransitCandidate, ...]
    inputs: tuple[CandidateInputs, ...]
    arrays: SampleArrays
    search_seconds: float
    stop_reason: str
    notes: tuple[str, ...] = field(default=())


def prepare_lightcurve(
    lc: LightCurve,
    *,
    config: MultibranchConfig,
    star: StarRow | None = None,
    max_planets: int = 5,
    min_period_days: float | None = None,
    max_period_days: float | None = None,
    features: Sequence[str] | None = None,
) -> LightCurveCandidates:
    """Search ``lc`` and build the inputs of every candidate it finds (scalar
    ``features``: the model's list; default the current default list)."""
    from exoguard.core.search.multi import search_lightcurve

    star = star or StarRow()
    result = search_lightcurve(
        lc,
        max_planets=max_planets,
        star=star.params(),
        min_period_days=min_period_days,
        max_period_days=max_period_days,
    )
    cands = result.candidates
    if not cands:
        return LightCurveCandidates(
            lc,
            (),
            (),
            stack_samples(
                [],
                n_bins=config.timeseries.n_bins,
                image_shape=_image_shape(config),
                features=features,
            ),
            result.elapsed_s,
            result.stop_reason,
        )
    window = result.window_days if math.isfinite(result.window_days) else None
    kept_mask, arrays, inputs, notes = candidate_arrays(
        lc,
        cands,
        config=config,
        star=star,
        window_days=window,
        features=features,
        detrended=result.last_detrended,
    )
    kept = tuple(c for c, k in zip(cands, kept_mask, strict=True) if k)
    return LightCurveCandidates(
        lc, kept, tuple(inputs), arrays, result.elapsed_s, result.stop_reason, tuple(notes)
    )


def candidate_arrays(
    lc: LightCurve,
    candidates: Sequence[TransitCandidate],
    *,
    config: MultibranchConfig,
    star: StarRow | None = None,
    window_days: float | None = None,
    features: Sequence[str] | None = None,
    detrended: DetrendedCurve | None = None,
) -> tuple[np.ndarray, SampleArrays, list[CandidateInputs], list[str]]:
    """The network's inputs of candidates found in ``lc`` (by any search).

    The light curve is detrended again with every candidate's transits masked
    (``window_days``: the search's window; default the window the training hosts used),
    and each candidate's diagnostics are measured at its ephemeris. ``detrended`` (the
    search's ``SearchResult.last_detrended``) is used instead of detrending again when it is
    that same curve: same light curve, window and mask.

    Returns
    -------
    kept : ndarray of bool, shape (n_candidates,)
        Candidates whose inputs could be built (the others get a note).
    arrays : SampleArrays
        One row per kept candidate, in order.
    inputs : list of CandidateInputs
    notes : list of str
    """
    star = star or StarRow()
    kept = np.zeros(len(candidates), dtype=bool)
    if not candidates:
        empty = stack_samples(
            [], n_bins=config.timeseries.n_bins, image_shape=_image_shape(config), features=features
        )
        return kept, empty, [], []
    flat = _flat_for_views(lc, candidates, window_days=window_days, detrended=detrended)
    inputs: list[CandidateInputs] = []
    notes: list[str] = []
    for i, c in enumerate(candidates):
        try:
            inputs.append(_one_candidate_inputs(flat, candidates, i, star=star, config=config))
            kept[i] = True
        except (ValidationError, ValueError) as exc:
            notes.append(f"{c.object_id}: no model inputs ({exc})")
    n_primary = max(
        1, sum(1 for c, k in zip(candidates, kept, strict=True) if k and c.alias_of is None)
    )
    arrays = _arrays(inputs, config=config, n_on_host=n_primary, features=features)
    return kept, arrays, inputs, notes


def _flat_for_views(
    lc: LightCurve,
    candidates: Sequence[Any],
    *,
    window_days: float | None,
    detrended: DetrendedCurve | None = None,
) -> LightCurve:
    """The light curve detrended with every candidate's transits masked from the trend
    (``detrended`` when that is this curve already)."""
    from exoguard.ml.multibranch.hosts import search_window_days

    mask = np.zeros(lc.n_points, dtype=bool)
    for c in candidates:
        mask |= transit_mask(
            lc.time_bjd,
            period_days=c.period_days,
            t0_bjd=c.t0_bjd,
            duration_days=VIEW_MASK_DURATIONS * c.duration_hours / 24.0,
        )
    window = window_days if window_days is not None else search_window_days(lc)
    if detrended is not None:
        reused = detrended.flat_for(lc, window_days=window, mask=mask)
        if reused is not None:
            return reused
    flat, _ = detrend(lc, window_days=window, mask=mask)
    return flat


def _one_candidate_inputs(
    flat: LightCurve,
    candidates: Sequence[TransitCandidate],
    i: int,
    *,
    star: StarRow,
    config: MultibranchConfig,
) -> CandidateInputs:
    """Model inputs of candidate ``i``, the other candidates' transits cut out."""
    c = candidates[i]
    sp = star.params()
    cadence = flat.cadence_s / 86400.0 if math.isfinite(flat.cadence_s) else None
    cut = other_transits(flat.time_bjd, candidates, i)
    own = flat.select(~cut) if cut.any() else flat
    diag = diagnose_transit(
        own.time_bjd,
        own.flux,
        own.flux_err,
        period_days=c.period_days,
        t0_bjd=c.t0_bjd,
        duration_days=c.duration_hours / 24.0,
        star_radius_rsun=sp.effective_radius_rsun,
        star_mass_msun=sp.effective_mass_msun,
        cadence_days=cadence,
        refine=False,
    )
    return candidate_inputs(
        own,
        diag,
        star=star,
        n_bins=config.timeseries.n_bins,
        image_shape=_image_shape(config),
        host_id=flat.target_id,
    )


#: Width (in durations) of another candidate's transits cut where they overlap ...
OTHER_TRANSIT_DURATIONS = 1.5
#: ... a candidate's own transit windows (in its durations: the transit and its shoulders).
OWN_WINDOW_DURATIONS = 2.0
#: Candidates whose periods are within this relative distance of a ratio n or 1/n
#: (n <= ``ALIAS_ORDERS``) may be one signal (an alias, or an eclipsing binary's secondary
#: at the same period): their points are never cut from each other's data.
ALIAS_TOLERANCE = 0.01
ALIAS_ORDERS = 4


class Ephemeris(Protocol):
    """What :func:`other_transits` reads of a candidate."""

    @property
    def period_days(self) -> float: ...
    @property
    def t0_bjd(self) -> float: ...
    @property
    def duration_hours(self) -> float: ...


def commensurate(period_a_days: float, period_b_days: float) -> bool:
    """True when one period is within ``ALIAS_TOLERANCE`` of 1..``ALIAS_ORDERS`` times the other."""
    hi, lo = max(period_a_days, period_b_days), min(period_a_days, period_b_days)
    if not (math.isfinite(hi) and math.isfinite(lo) and lo > 0):
        return False
    n = round(hi / lo)
    return 1 <= n <= ALIAS_ORDERS and abs(hi / lo - n) <= ALIAS_TOLERANCE * n


def other_transits(time_bjd: np.ndarray, candidates: Sequence[Ephemeris], index: int) -> np.ndarray:
    """Points where another candidate's transit overlaps this one's, shape (n,), bool.

    In a multi-planet system a transit of one planet that falls on another's deepens that
    single event, which reads as an odd/even depth difference; the training samples hold
    one signal each. So the points of this candidate's transit windows
    (``OWN_WINDOW_DURATIONS`` wide) that lie in another candidate's transits
    (``OTHER_TRANSIT_DURATIONS`` wide) are left out of its diagnostics and views, as
    Kepler's data validation gaps the other TCEs' transits. Only overlaps are cut: the
    other transits elsewhere stay (a network never saw periodic gaps in training).
    Candidates with commensurate periods (:func:`commensurate`: aliases, a binary's
    secondary eclipse) are never cut, so the evidence of an eclipsing binary stays in view.
    """
    c = candidates[index]
    own = transit_mask(
        time_bjd,
        period_days=c.period_days,
        t0_bjd=c.t0_bjd,
        duration_days=OWN_WINDOW_DURATIONS * c.duration_hours / 24.0,
    )
    out = np.zeros(len(time_bjd), dtype=bool)
    for j, other in enumerate(candidates):
        if j == index or commensurate(c.period_days, other.period_days):
            continue
        out |= own & transit_mask(
            time_bjd,
            period_days=other.period_days,
            t0_bjd=other.t0_bjd,
            duration_days=OTHER_TRANSIT_DURATIONS * other.duration_hours / 24.0,
        )
    return out


def _image_shape(config: MultibranchConfig) -> tuple[int, int]:
    return (config.views.image_transits, config.views.image_phase_bins)


def _arrays(
    inputs: Sequence[CandidateInputs],
    *,
    config: MultibranchConfig,
    n_on_host: int,
    features: Sequence[str] | None = None,
) -> SampleArrays:
    n = len(inputs)
    base = stack_samples(
        [], n_bins=config.timeseries.n_bins, image_shape=_image_shape(config), features=features
    )
    if n == 0:
        return base
    scalar = scalar_matrix(
        [i.harmonised for i in inputs],
        features=base.feature_names,
        n_candidates_on_host=np.full(n, float(n_on_host)),
        lc_rows=[i.lc_features for i in inputs],
    )
    return SampleArrays(
        ts=np.stack([i.ts for i in inputs]).astype(np.float32),
        global_view=np.stack([i.global_view for i in inputs]).astype(np.float32),
        local_view=np.stack([i.local_view for i in inputs]).astype(np.float32),
        image=np.stack([i.image for i in inputs]).astype(np.float32),
        scalar=scalar,
        has_lc=np.ones(n, bool),
        y=np.full(n, -1, np.int8),
        kind=np.full(n, "search"),
        group=np.array([i.harmonised["host_id"] for i in inputs], dtype=str),
        weight=np.ones(n, np.float32),
        feature_names=base.feature_names,
    )


def prediction_records(
    model: MultibranchModel, data: SampleArrays, *, top: int = 5
) -> tuple[Prediction, list[dict[str, Any]]]:
    """Predictions of ``data`` as JSON-ready records (probability, uncertainty, label ...)."""
    pred = model.predict(data)
    feats = top_features(model, data, pred, top=top)
    sets = {0: ["false_positive"], 1: ["planet"], 2: ["false_positive", "planet"], -1: []}
    recs = []
    for i in range(len(data)):
        recs.append(
            {
                "probability": round(float(pred.probability[i]), 6),
                "uncertainty": round(float(pred.uncertainty[i]), 6),
                "epistemic": round(float(pred.epistemic[i]), 6),
                "aleatoric": round(float(pred.aleatoric[i]), 6),
                "label": "planet" if pred.label[i] == 1 else "false_positive",
                "uncertain": bool(pred.uncertain[i]),
                "prediction_set_90": sets[int(pred.prediction_set[i])],
                "top_features": feats[i],
            }
        )
    return pred, recs


def _rescore_with_ensemble(
    recs: list[dict[str, Any]],
    prep: LightCurveCandidates,
    star: StarRow,
    version: str,
    registry: ModelRegistry | None,
) -> None:
    from exoguard.ml.service import LightCurveInputs, predict_frame

    if registry is None:
        raise ValueError("an ensemble_version needs the registry that holds it (registry=...)")
    frame = pd.DataFrame([c.to_harmonised() for c in prep.candidates])
    known = {
        "teff_k": star.teff_k,
        "logg_cgs": star.logg_cgs,
        "radius_rsun": star.radius_rsun,
        "mag": star.mag,
    }
    inputs = LightCurveInputs(
        lc=prep.lc,
        candidates=list(prep.candidates),
        star={k: v for k, v in known.items() if math.isfinite(v)},
        prepared=(np.ones(len(prep.candidates), dtype=bool), prep.arrays),  # built already
    )
    scores = predict_frame(frame, version=version, registry=registry, lightcurve=inputs)
    for r, (_, row) in zip(recs, scores.iterrows(), strict=True):
        r["network_probability"] = r["probability"]
        r["probability"] = round(float(row["probability"]), 6)
        r["uncertainty"] = round(float(row["uncertainty"]), 6)
        r["label"] = str(row["label"])
        r["model_version"] = version
        # the conformal set is the network's (fit on its own probability), not the verdict's
        r["network_prediction_set_90"] = r.pop("prediction_set_90")
        r["prediction_set_90"] = None


def classify_lightcurves(
    sources: Sequence[Any],
    *,
    model: MultibranchModel,
    stars: dict[str, StarRow] | None = None,
    max_planets: int = 5,
    top: int = 5,
    ensemble_version: str | None = None,
    registry: ModelRegistry | None = None,
    flag_rule: FlagRule | None = None,
) -> list[dict[str, Any]]:
    """Read each source (a path, a list of paths of one target, or a LightCurve), search it
    and classify every candidate. One JSON-ready record per target.

    ``uncertain`` follows ``flag_rule`` (default :class:`~exoguard.ml.flagging.FlagRule`, the
    rule of the pages and the vetting queue) applied to the reported probability and
    uncertainty, or the network's own flag (a conformal set that is not one label).

    With ``ensemble_version`` (a decision-level ensemble whose network is ``model``), the
    probability, uncertainty and label are the ensemble's; the network's own probability
    stays in ``network_probability`` and the explanations are the network's.
    """
    from exoguard.io import read_lightcurve

    rule = flag_rule or FlagRule()
    out = []
    for src in sources:
        lc = src if isinstance(src, LightCurve) else read_lightcurve(src)
        star = (stars or {}).get(lc.target_id, StarRow())
        prep = prepare_lightcurve(
            lc,
            config=model.config,
            star=star,
            max_planets=max_planets,
            features=model.feature_names,
        )
        _, recs = prediction_records(model, prep.arrays, top=top)
        if ensemble_version is not None and prep.candidates:
            _rescore_with_ensemble(recs, prep, star, ensemble_version, registry)
        for r in recs:
            # the one rule of the pages and the queue, on the verdict that is reported (the
            # network's own rule, a split conformal set or a large spread, still counts)
            r["uncertain"] = bool(
                r["uncertain"]
                or rule.flags(probability=r["probability"], uncertainty=r["uncertainty"])
            )
        cands = []
        for c, r in zip(prep.candidates, recs, strict=True):
            d = c.to_dict()
            cands.append(
                {
                    "object_id": c.object_id,
                    "period_days": d.get("period_days"),
                    "t0_bjd": d.get("t0_bjd"),
                    "duration_hours": d.get("duration_hours"),
                    "depth_ppm": d.get("depth_ppm"),
                    "snr": d.get("snr"),
                    "sde": d.get("sde"),
                    "n_transits": d.get("n_transits"),
                    "odd_even_sigma": d.get("odd_even_sigma"),
                    "secondary_depth_ppm": d.get("secondary_depth_ppm"),
                    "alias_of": c.alias_of,
                    **r,
                }
            )
        out.append(
            {
                "target": lc.target_id,
                "mission": lc.mission,
                "n_points": lc.n_points,
                "sources": list(lc.sources),
                "search_seconds": round(prep.search_seconds, 2),
                "stop_reason": prep.stop_reason,
                "notes": list(prep.notes),
                "candidates": cands,
            }
        )
    return out


def catalog_inputs(model: MultibranchModel, frame: pd.DataFrame) -> SampleArrays:
    """Harmonised catalog rows as ``model``'s inputs (no light curve)."""
    return catalog_arrays(
        frame,
        n_bins=model.config.timeseries.n_bins,
        image_shape=_image_shape(model.config),
        features=model.feature_names,
    )


def score_catalog_frame(model: MultibranchModel, frame: pd.DataFrame) -> Prediction:
    """Predictions for harmonised catalog rows (scalar branch alone)."""
    return model.predict(catalog_inputs(model, frame))


def match_catalog(
    period_days: float, objects: pd.DataFrame
) -> tuple[pd.Series | None, float | None]:
    """The catalog row whose period matches (ratio 1, 2 or 1/2 within 0.5 %), and the ratio."""
    best = None
    for ratio in MATCH_RATIOS:
        for _, row in objects.iterrows():
            p = float(row["period_days"])
            if math.isfinite(p) and p > 0 and abs(period_days / (p * ratio) - 1) < MATCH_TOLERANCE:
                return row, ratio
    return best, None


def target_files(lightcurves_dir: Path) -> dict[str, list[Path]]:
    """Target id → its FITS files, from ``lightcurves_dir / "index.csv"``."""
    index = pd.read_csv(lightcurves_dir / "index.csv")
    out: dict[str, list[Path]] = {}
    for row in index.itertuples(index=False):
        out.setdefault(str(row.target), []).append(lightcurves_dir / str(row.file))
    return out
