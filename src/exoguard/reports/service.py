"""Reports from stored rows: who may see what, export rows, and `CandidateReport` building.

The renderers (`csv_export`, `pdf`, `figures`) take plain data; this module turns database
rows into that data. The light curve of a candidate is the file of its dataset (an uploaded
light curve) or, for catalog rows, the bundled light curves of its host star listed in
``<data_dir>/lightcurves/index.csv``; without either the report says so and shows the
catalog values.
"""

from __future__ import annotations

import csv
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import HARMONISED_COLUMNS, LABELS, MISSIONS, PHYSICAL_COLUMNS
from exoguard.config import Settings
from exoguard.errors import ExoguardError, NotFoundError, ValidationError
from exoguard.reports.curves import complete_diagnostics
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
from exoguard.store.models import (
    ORIGINS,
    Candidate,
    Dataset,
    Prediction,
    User,
    VettingItem,
    Vote,
)
from exoguard.store.naming import display_name
from exoguard.store.repositories import PredictionRepository, newest_prediction_ids
from exoguard.store.types import utcnow
from exoguard.store.uploads import stored_files
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import candidate_state, state_for_candidate, state_policy

log = logging.getLogger(__name__)

__all__ = [
    "MAX_EXPORT_IDS",
    "MAX_EXPORT_ROWS",
    "ExportFilters",
    "Explainer",
    "build_report",
    "build_reports",
    "bundled_lightcurve_files",
    "candidate_lightcurve_files",
    "diagnostics_from_candidate",
    "export_rows",
    "require_visible_candidate",
]

#: The most rows one CSV export holds.
MAX_EXPORT_ROWS: Final = 100_000
#: The most candidate ids one request may list.
MAX_EXPORT_IDS: Final = 10_000

#: Computes (or fetches) the SHAP explanation of one candidate for one model version:
#: a mapping with ``contributions`` = [{"feature", "value", "contribution"}, ...] and
#: optionally ``units``. The web layer passes its cached explain service.
Explainer = Callable[[Session, int, str], Mapping[str, Any]]


# ------------------------------------------------------------------------------ visibility
def require_visible_candidate(session: Session, candidate_id: int, user: User) -> Candidate:
    """The candidate when `user` may see it (`exoguard.store.access`); 404 otherwise."""
    return access.require_candidate(session, candidate_id, user)


# ------------------------------------------------------------------------------ CSV rows
@dataclass(frozen=True)
class ExportFilters:
    """Which candidates an export holds (all given filters apply)."""

    candidate_ids: Sequence[int] | None = None
    mission: str | None = None
    label: str | None = None
    origin: str | None = None
    dataset_id: str | None = None
    search: str | None = None
    model_version: str | None = None  # predictions of this version only (default: latest any)
    scored_only: bool = False  # leave out candidates without a prediction

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("mission", self.mission, MISSIONS),
            ("label", self.label, LABELS),
            ("origin", self.origin, ORIGINS),
        ):
            if value is not None and value not in allowed:
                raise ValidationError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.candidate_ids is not None and not 1 <= len(self.candidate_ids) <= MAX_EXPORT_IDS:
            raise ValidationError(
                f"candidate_ids must list 1 to {MAX_EXPORT_IDS} ids; got {len(self.candidate_ids)}"
            )


def _export_stmt(filters: ExportFilters, user: User) -> Select[Any]:
    pred_ids = newest_prediction_ids(model_version=filters.model_version)
    item_ids = (
        select(VettingItem.candidate_id.label("candidate_id"), func.max(VettingItem.id).label("id"))
        .group_by(VettingItem.candidate_id)
        .subquery()
    )
    vote_counts = (
        select(Vote.item_id.label("item_id"), func.count(Vote.id).label("n"))
        .group_by(Vote.item_id)
        .subquery()
    )
    columns = [
        Candidate.id.label("candidate_id"),
        *(getattr(Candidate, name) for name in HARMONISED_COLUMNS),
        Candidate.origin,
        Candidate.dataset_id,
        Prediction.probability,
        Prediction.uncertainty,
        Prediction.label.label("predicted_label"),
        Prediction.model_version,
        Prediction.canary,
        Prediction.created_at.label("predicted_at"),
        VettingItem.status.label("vetting_status"),
        vote_counts.c.n.label("n_votes"),
        VettingItem.consensus_label,
        VettingItem.consensus_share,
        Candidate.catalog_match.label("catalog_match_json"),
        Candidate.features.label("features_json"),
    ]
    stmt = (
        select(*columns)
        .outerjoin(pred_ids, pred_ids.c.candidate_id == Candidate.id)
        .outerjoin(Prediction, Prediction.id == pred_ids.c.id)
        .outerjoin(item_ids, item_ids.c.candidate_id == Candidate.id)
        .outerjoin(VettingItem, VettingItem.id == item_ids.c.id)
        .outerjoin(vote_counts, vote_counts.c.item_id == VettingItem.id)
    )
    conditions: list[ColumnElement[bool]] = []
    conditions.append(access.candidate_filter(user))
    if filters.candidate_ids is not None:
        conditions.append(Candidate.id.in_([int(i) for i in filters.candidate_ids]))
    for name in ("mission", "label", "origin", "dataset_id"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(Candidate, name) == value)
    if filters.search:
        conditions.append(
            Candidate.object_id.icontains(filters.search, autoescape=True)
            | Candidate.host_id.icontains(filters.search, autoescape=True)
        )
    if filters.scored_only:
        conditions.append(Prediction.id.is_not(None))
    return stmt.where(and_(*conditions)).order_by(Candidate.id)


def export_rows(
    session: Session,
    *,
    filters: ExportFilters,
    user: User,
    max_rows: int = MAX_EXPORT_ROWS,
    policy: QueuePolicy | None = None,
) -> list[dict[str, Any]]:
    """The rows of a candidates export, ordered by candidate id.

    ``state`` and ``state_source`` are `exoguard.vetting.state.candidate_state` of each row
    (``policy``: which predictions are uncertain; the queue's defaults when not given).
    Raises `ValidationError` when more than `max_rows` candidates match (narrow the filters).
    """
    state_rule = policy if policy is not None else QueuePolicy()
    stmt = _export_stmt(filters, user).limit(max_rows + 1)
    rows = [dict(row) for row in session.execute(stmt).mappings()]
    if len(rows) > max_rows:
        raise ValidationError(
            f"more than {max_rows} candidates match; narrow the export with mission, label, "
            "origin, dataset_id, search or candidate_ids"
        )
    for row in rows:
        if row.get("n_votes") is None and row.get("vetting_status") is not None:
            row["n_votes"] = 0
        row["display_name"] = display_name(
            object_id=str(row.get("object_id") or ""),
            origin=row.get("origin"),
            source=row.get("source"),
            catalog_match=row.get("catalog_match_json"),
            period_days=row.get("period_days"),
        )
        row.update(catalog_columns(row.pop("catalog_match_json"), row.pop("features_json")))
        state = candidate_state(
            predicted_label=row.get("predicted_label"),
            probability=row.get("probability"),
            uncertainty=row.get("uncertainty"),
            vetting_status=row.get("vetting_status"),
            consensus_label=row.get("consensus_label"),
            consensus_share=row.get("consensus_share"),
            policy=state_rule,
        )
        row["state"] = state.key
        row["state_words"] = state.words
        row["state_source"] = state.source
    return rows


def catalog_columns(
    match: Mapping[str, Any] | None, features: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The export's catalog cross-match cells of one candidate (empty when never matched)."""
    out: dict[str, Any] = {}
    if match:
        out = {
            "catalog_match": match.get("summary"),
            "catalog_object_id": match.get("object_id"),
            "catalog_name": match.get("name"),
            "catalog_disposition": match.get("disposition"),
            "catalog_match_method": match.get("method"),
            "catalog_file": match.get("catalog_file"),
            "catalog_period_ratio": match.get("period_ratio"),
            "catalog_epoch_offset_durations": match.get("epoch_offset_durations"),
        }
    stellar = (features or {}).get("stellar_parameters")
    if isinstance(stellar, Mapping) and stellar.get("from_catalog"):
        out["stellar_parameters_from"] = stellar.get("summary")
    return out


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


# ------------------------------------------------------------------------------ light curves
def _inside(root: Path, relative: str) -> Path | None:
    base = root.resolve()
    path = (base / relative).resolve()
    return path if base in path.parents and path.is_file() else None


def bundled_lightcurve_files(data_dir: Path, host_id: str | None) -> list[Path]:
    """The bundled light-curve files of a host star (``lightcurves/index.csv``), time order."""
    if not host_id:
        return []
    index = data_dir / "lightcurves" / "index.csv"
    if not index.is_file():
        return []
    wanted = " ".join(host_id.split()).upper()
    files: list[Path] = []
    with index.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if " ".join(str(row.get("target", "")).split()).upper() == wanted:
                path = _inside(data_dir / "lightcurves", str(row.get("file", "")))
                if path is not None:
                    files.append(path)
    return sorted(files)


def candidate_lightcurve_files(
    session: Session, candidate: Candidate, *, settings: Settings, bundled: bool = True
) -> tuple[list[Path], str]:
    """The light-curve files of a candidate and where they come from (or why there is none)."""
    if candidate.dataset_id is not None:
        dataset = session.get(Dataset, candidate.dataset_id)
        survey_id = (dataset.validation_report or {}).get("survey_id") if dataset else None
        if survey_id:  # a survey's find: the star's files where the survey read them
            from exoguard.survey.service import star_files_of_candidate

            files = [Path(f) for f in star_files_of_candidate(session, survey_id, candidate.id)]
            if files and all(f.is_file() for f in files):
                return files, f"{len(files)} survey file(s) of {candidate.host_id}"
            return [], f"the survey files of {candidate.host_id} are no longer there"
        if dataset is not None and dataset.kind == "lightcurve":
            stored = stored_files(settings.uploads_path, dataset.storage_path)
            if not stored:
                return [], f"the file of dataset {dataset.id} is missing"
            what = "uploaded file" if len(stored) == 1 else f"{len(stored)} uploaded files,"
            return stored, f"{what} {dataset.filename}"
    if bundled:
        files = bundled_lightcurve_files(settings.data_dir, candidate.host_id)
        if files:
            return files, f"{len(files)} bundled archive file(s) of {candidate.host_id}"
    return [], no_lightcurve_reason(candidate)


def is_manual_entry(candidate: Candidate) -> bool:
    """Whether a person typed this candidate's parameters in (``POST /api/models/predict``)."""
    return (candidate.source or "").startswith("manual entry") or (
        candidate.dataset_id is None and candidate.object_id.startswith("manual-")
    )


def no_lightcurve_reason(candidate: Candidate) -> str:
    """Why a candidate has no light curve, naming what it is (manual entry, catalog row...)."""
    if is_manual_entry(candidate):
        return "no light curve: this is a manual entry (parameters typed in)"
    if candidate.dataset_id is not None:
        return "no light curve: this candidate is a row of an uploaded table"
    return "no light curve of this star is stored (catalog row)"


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
    item = session.scalars(
        select(VettingItem)
        .where(VettingItem.candidate_id == candidate_id)
        .order_by(VettingItem.id.desc())
        .limit(1)
    ).first()
    if item is None:
        return VoteSummary()
    votes = session.scalars(select(Vote).where(Vote.item_id == item.id)).all()
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
    from exoguard.io import read_lightcurve
    from exoguard.reports.curves import build_curves

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
