"""Reports from stored rows: who may see what, and `CandidateReport` building.

The renderers (`csv_export`, `pdf`, `figures`) take plain data; this module turns database
rows into that data. The light curve comes from `exoguard.reports.lightcurve_files`; without
one the report says so and shows the catalog values. Export rows are `exoguard.reports.export`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from exoguard.catalogs.schema import PHYSICAL_COLUMNS
from exoguard.config import Settings
from exoguard.errors import ExoguardError, NotFoundError
from exoguard.reports.curves import build_curves, complete_diagnostics
from exoguard.reports.export import catalog_columns
from exoguard.reports.lightcurve_files import candidate_lightcurve_files
from exoguard.reports.model import (
    CandidateReport,
    Diagnostics,
    ReportCurves,
    ShapContribution,
    Verdict,
    VoteSummary,
    finite_or_none,
)
from exoguard.store import access
from exoguard.store.models import Candidate, Prediction, User
from exoguard.store.repositories import PredictionRepository, VettingRepository, VoteRepository
from exoguard.store.types import utcnow
from exoguard.vetting.state import state_for_candidate, state_policy

log = logging.getLogger(__name__)


#: Computes (or fetches) the SHAP explanation of one candidate for one model version:
#: a mapping with ``contributions`` = [{"feature", "value", "contribution"}, ...] and
#: optionally ``units``. The web layer passes its cached explain service.
Explainer = Callable[[Session, int, str], Mapping[str, Any]]


# ------------------------------------------------------------------------------ visibility
def require_visible_candidate(session: Session, candidate_id: int, user: User) -> Candidate:
    """The candidate when `user` may see it (`exoguard.store.access`); 404 otherwise."""
    return access.require_candidate(session, candidate_id, user)


# ------------------------------------------------------------------------------ diagnostics
#: Names the diagnostics may carry in a candidate's stored features (search output).
_FEATURE_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "period_days": ("period_days",),
    "period_err_days": ("period_err_days", "period_days_err"),
    "t0_bjd": ("t0_bjd",),
    "duration_hours": ("duration_hours",),
    "depth_ppm": ("depth_ppm",),
    "depth_err_ppm": ("depth_err_ppm", "depth_ppm_err"),
    "snr": ("snr", "transit_snr"),
    "sde": ("sde",),
    "n_transits": ("n_transits",),
    "odd_even_sigma": ("odd_even_sigma",),
    "secondary_depth_ppm": ("secondary_depth_ppm",),
    "secondary_sigma": ("secondary_sigma", "secondary_snr"),
    "secondary_phase": ("secondary_phase",),
    "ingress_fraction": ("ingress_fraction",),
    "duration_ratio": ("duration_ratio",),
}


def _flatten(features: Mapping[str, Any] | None) -> dict[str, Any]:
    """Top-level values, plus those of nested mappings (e.g. ``{"diagnostics": {...}}``)."""
    flat: dict[str, Any] = {}
    if not features:
        return flat
    for value in features.values():
        if isinstance(value, Mapping):
            for inner, inner_value in value.items():
                flat.setdefault(str(inner), inner_value)
    for key, value in features.items():
        if not isinstance(value, Mapping):
            flat[str(key)] = value
    return flat


def diagnostics_from_candidate(candidate: Candidate) -> Diagnostics:
    """The diagnostics of a stored candidate: its columns, completed by its stored features."""
    features = _flatten(candidate.features)
    values: dict[str, Any] = {}
    for name, aliases in _FEATURE_ALIASES.items():
        for alias in aliases:
            if alias in features and finite_or_none(features[alias]) is not None:
                values[name] = finite_or_none(features[alias])
                break
    columns = {
        "period_days": candidate.period_days,
        "t0_bjd": candidate.t0_bjd,
        "duration_hours": candidate.duration_hours,
        "depth_ppm": candidate.depth_ppm,
        "snr": candidate.transit_snr,
    }
    for name, value in columns.items():
        if finite_or_none(value) is not None:
            values[name] = finite_or_none(value)  # the stored row wins over the raw search
    shape = features.get("shape")
    n_transits = values.pop("n_transits", None)
    flags = (
        [str(f) for f in features.get("flags") or () if f]
        if isinstance(features.get("flags"), list | tuple)
        else []
    )
    if features.get("alias_of"):
        ratio = f" ({features['alias_ratio']})" if features.get("alias_ratio") else ""
        flags.append(f"alias of {features['alias_of']}{ratio}")
    if features.get("single_transit"):
        flags.append("single transit")
    elif features.get("few_transits"):
        flags.append("few transits")
    return Diagnostics(
        **values,
        n_transits=int(n_transits) if n_transits is not None else None,
        shape=str(shape) if isinstance(shape, str) and shape else None,
        impact=finite_or_none(candidate.impact),
        planet_radius_rearth=finite_or_none(candidate.planet_radius_rearth),
        equilibrium_temp_k=finite_or_none(candidate.equilibrium_temp_k),
        insolation_earth=finite_or_none(candidate.insolation_earth),
        star_teff_k=finite_or_none(candidate.star_teff_k),
        star_logg_cgs=finite_or_none(candidate.star_logg_cgs),
        star_radius_rsun=finite_or_none(candidate.star_radius_rsun),
        star_mag=finite_or_none(candidate.star_mag),
        flags=tuple(flags),
    )


# ------------------------------------------------------------------------------ reports
def _verdict(prediction: Prediction | None) -> Verdict | None:
    if prediction is None:
        return None
    return Verdict(
        label=prediction.label,
        probability=float(prediction.probability),
        uncertainty=float(prediction.uncertainty),
        model_version=prediction.model_version,
        created_at=prediction.created_at,
        canary=bool(prediction.canary),
    )


def _shap(explanation: Mapping[str, Any] | None) -> tuple[list[ShapContribution], str]:
    if not explanation:
        return [], "log-odds"
    raw = explanation.get("contributions") or explanation.get("top") or []
    items: list[ShapContribution] = []
    if isinstance(raw, Mapping):  # {feature: contribution}
        raw = [{"feature": k, "contribution": v} for k, v in raw.items()]
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        contribution = finite_or_none(entry.get("contribution"))
        if contribution is None or not entry.get("feature"):
            continue
        items.append(
            ShapContribution(
                feature=str(entry["feature"]),
                contribution=contribution,
                value=finite_or_none(entry.get("value")),
            )
        )
    units = str(explanation.get("units") or "log-odds").split(" (")[0]
    return items, units


def _votes(session: Session, candidate_id: int) -> VoteSummary:
    item = VettingRepository(session).newest_for_candidate(candidate_id)
    if item is None:
        return VoteSummary()
    votes = VoteRepository(session).list_for_item(item.id)
    n_planet = sum(v.label == "planet" for v in votes)
    return VoteSummary(
        n_planet=n_planet,
        n_false_positive=len(votes) - n_planet,
        status=item.status,
        consensus_label=item.consensus_label,
        consensus_share=item.consensus_share,
        mean_confidence=(sum(v.confidence for v in votes) / len(votes)) if votes else None,
    )


def build_report(
    session: Session,
    candidate_id: int,
    *,
    settings: Settings,
    explainer: Explainer | None = None,
    with_curves: bool = True,
    bundled: bool = True,
    now: datetime | None = None,
) -> CandidateReport:
    """The report data of one stored candidate (the caller checks visibility).

    Parameters
    ----------
    session : Session
    candidate_id : int
    settings : Settings
        Upload and data folders.
    explainer : callable, optional
        Computes the SHAP explanation when the latest prediction carries none.
    with_curves : bool
        Read the light curve, detrend it and compute the periodogram (seconds of CPU).
    bundled : bool
        Look for bundled archive light curves of the host star for catalog rows.
    now : datetime, optional
        The generation time printed on the page.
    """
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFoundError(f"candidate {candidate_id} not found")
    prediction = PredictionRepository(session).latest_for_candidate(candidate_id)
    explanation: Mapping[str, Any] | None = prediction.explanation if prediction else None
    notes: list[str] = []
    if prediction is not None and not (explanation or {}).get("contributions") and explainer:
        try:
            explanation = explainer(session, candidate_id, prediction.model_version)
        except Exception as exc:  # a model that cannot load must not block the report
            log.warning("no SHAP explanation for candidate %s: %s", candidate_id, exc)
            notes.append("SHAP unavailable")
    shap, units = _shap(explanation)
    diagnostics = diagnostics_from_candidate(candidate)

    curves = None
    missing_reason = "plots not requested"
    if with_curves:
        files, origin_note = candidate_lightcurve_files(
            session, candidate, settings=settings, bundled=bundled
        )
        missing_reason = origin_note
        if files:
            curves, diagnostics, missing_reason = _curves_for(files, diagnostics, origin_note)
    return CandidateReport(
        object_id=candidate.display_name,
        mission=candidate.mission,
        host_id=candidate.host_id,
        candidate_id=candidate.id,
        catalog_label=candidate.label,
        disposition=candidate.disposition,
        source=candidate.source,
        origin=candidate.origin,
        diagnostics=diagnostics,
        verdict=_verdict(prediction),
        shap=shap,
        shap_units=units,
        votes=_votes(session, candidate_id),
        state=state_for_candidate(session, candidate_id, policy=state_policy(settings)),
        curves=curves,
        curves_missing_reason=missing_reason,
        generated_at=now or utcnow(),
        notes=tuple(notes),
        catalog_match=(candidate.catalog_match or {}).get("summary"),
        stellar_note=catalog_columns(None, candidate.features).get("stellar_parameters_from"),
    )


_CURVES_CACHE: OrderedDict[tuple[Any, ...], ReportCurves] = OrderedDict()
_CURVES_CACHE_SIZE: Final = 8
_CURVES_LOCK = threading.Lock()


def _curves_key(files: Sequence[Path], d: Diagnostics) -> tuple[Any, ...]:
    stamps = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return (stamps, d.period_days, d.t0_bjd, d.duration_hours, d.star_radius_rsun)


def _cached_curves(files: Sequence[Path], diagnostics: Diagnostics) -> ReportCurves:
    """Detrended curves and periodogram, cached for the last few (files, ephemeris) pairs:
    a share page asks for its PNG and then its PDF, which need the same seconds of work."""
    from exoguard.io import read_lightcurve  # lazy: the readers import astropy

    key = _curves_key(files, diagnostics)
    with _CURVES_LOCK:
        if key in _CURVES_CACHE:
            _CURVES_CACHE.move_to_end(key)
            return _CURVES_CACHE[key]
    lc = read_lightcurve(list(files) if len(files) > 1 else files[0])
    curves = build_curves(lc, diagnostics)
    with _CURVES_LOCK:
        _CURVES_CACHE[key] = curves
        while len(_CURVES_CACHE) > _CURVES_CACHE_SIZE:
            _CURVES_CACHE.popitem(last=False)
    return curves


def _curves_for(
    files: Sequence[Path], diagnostics: Diagnostics, origin_note: str
) -> tuple[ReportCurves | None, Diagnostics, str]:
    try:
        curves = _cached_curves(files, diagnostics)
    except (ExoguardError, OSError, ValueError) as exc:
        log.warning("light curve for the report unreadable: %s", exc)
        return None, diagnostics, f"the light curve could not be read ({exc})"
    completed = complete_diagnostics(diagnostics, curves)
    notes = (f"light curve: {origin_note}", *curves.notes)
    if completed is not diagnostics:
        notes = (*notes, "missing diagnostics measured on this light curve")
    return replace(curves, notes=notes), completed, ""


def build_reports(
    session: Session,
    candidate_ids: Sequence[int],
    *,
    settings: Settings,
    user: User,
    explainer: Explainer | None = None,
    with_curves: bool = True,
    bundled: bool = True,
) -> list[CandidateReport]:
    """Reports of several candidates in the given order; each must be visible to `user`."""
    ordered = list(dict.fromkeys(int(i) for i in candidate_ids))
    for candidate_id in ordered:
        require_visible_candidate(session, candidate_id, user)
    now = utcnow()
    return [
        build_report(
            session,
            candidate_id,
            settings=settings,
            explainer=explainer,
            with_curves=with_curves,
            bundled=bundled,
            now=now,
        )
        for candidate_id in ordered
    ]


def physical_summary(candidate: Candidate) -> dict[str, float | None]:
    """The physical columns of a candidate as plain floats (None when unknown)."""
    return {name: finite_or_none(getattr(candidate, name)) for name in PHYSICAL_COLUMNS}
