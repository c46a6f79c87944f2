"""Figure JSON for the pages' charts (fetched by the pages after they render).

``GET /charts/candidates/{id}``, ``/charts/vetting/{item_id}``, ``/charts/datasets/{id}``
and ``/charts/models/{version}`` answer ``{"figures": {name: plotly figure}, "missing":
{name: reason}}``. Who sees what is decided by `exoguard.store.access` alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.errors import ExoguardError
from exoguard.store import access
from exoguard.store.models import Candidate, Dataset, User
from exoguard.store.repositories import (
    CandidateRepository,
    PredictionRepository,
)
from exoguard.web import glossary
from exoguard.web.deps import SessionDep, SettingsDep
from exoguard.web.pages import _figures
from exoguard.web.pages._common import PageUser
from exoguard.web.pages._guide_figures import guide_figures
from exoguard.web.params import IdPath, OptionalIdQuery

log = logging.getLogger(__name__)
router = APIRouter(prefix="/charts", include_in_schema=False)
_cache = _figures.FigureCache()


def _payload(figures: _figures.Figures, missing: _figures.Missing) -> dict[str, Any]:
    return {"figures": figures, "missing": missing}


def lightcurve_payload(
    paths: Sequence[Path],
    *,
    focus: Candidate | None,
    others: Sequence[Candidate],
    with_periodogram: bool,
) -> dict[str, Any]:
    """Read, detrend and chart a light curve with the transits of `others` marked."""
    from exoguard.io import read_lightcurve
    from exoguard.reports.curves import build_curves
    from exoguard.reports.model import Diagnostics

    try:
        lc = read_lightcurve(list(paths) if len(paths) > 1 else paths[0])
    except ExoguardError as exc:
        return _payload({}, _figures.no_lightcurve(f"the light curve cannot be read: {exc}"))
    eph = _figures.ephemeris_of(focus) if focus is not None else None
    diagnostics = Diagnostics(
        period_days=eph.period_days if eph else None,
        t0_bjd=eph.t0_bjd if eph else None,
        duration_hours=eph.duration_hours if eph else None,
    )
    curves = build_curves(lc, diagnostics, with_periodogram=with_periodogram)
    ephemerides = [e for c in others if (e := _figures.ephemeris_of(c)) is not None]
    figures, missing = _figures.lightcurve_figures(
        time_bjd=np.asarray(curves.time_bjd),
        raw_flux=np.asarray(curves.raw_flux),
        detrended_flux=np.asarray(curves.detrended_flux),
        trend=None if curves.trend is None else np.asarray(curves.trend),
        mission=lc.mission,
        ephemerides=ephemerides,
        focus=eph,
        periods_days=None if curves.periods_days is None else np.asarray(curves.periods_days),
        power=None if curves.power is None else np.asarray(curves.power),
        power_label=curves.power_label,
    )
    out = _payload(figures, missing)
    out["notes"] = list(curves.notes)
    out["target"] = lc.target_id
    return out


def _candidate_lightcurve(
    session: Session, settings: Settings, candidate: Candidate, *, with_periodogram: bool
) -> dict[str, Any]:
    """Charts of the light curve behind a candidate: its upload, or the bundled real data."""
    from exoguard.reports.lightcurve_files import candidate_lightcurve_files

    paths, origin = candidate_lightcurve_files(session, candidate, settings=settings)
    if not paths:
        return _payload({}, _figures.no_lightcurve(origin))
    repo = CandidateRepository(session)
    others: Sequence[Candidate]
    if candidate.dataset_id is not None:
        others = repo.list(dataset_id=candidate.dataset_id, limit=20)
    elif candidate.host_id:
        # Only public rows of the same star are marked: a private candidate's ephemeris
        # must not show on a chart that someone else may open.
        others = [
            c
            for c in repo.list(host_id=candidate.host_id, mission=candidate.mission, limit=20)
            if c.id == candidate.id or access.candidate_visible(session, c, None)
        ]
    else:
        others = [candidate]
    key = (
        "candidate",
        candidate.id,
        candidate.updated_at.isoformat() if candidate.updated_at else "",
        tuple(c.id for c in others),
        with_periodogram,
    )
    payload = _cache.get_or_build(
        key,
        lambda: lightcurve_payload(
            paths, focus=candidate, others=others, with_periodogram=with_periodogram
        ),
    )
    return {**payload, "source": origin}


def candidate_visible(session: Session, candidate: Candidate, user: User | None) -> bool:
    """Whether this visitor may see the candidate (`exoguard.store.access`)."""
    return access.candidate_visible(session, candidate, user)


def require_candidate(session: Session, candidate_id: int, user: User | None) -> Candidate:
    """The candidate if this visitor may see it; 404 otherwise (no hint that it exists)."""
    return access.require_candidate(session, candidate_id, user)


def candidate_payload(
    session: Session, settings: Settings, candidate: Candidate, *, with_periodogram: bool = True
) -> dict[str, Any]:
    """Every chart of a candidate page: light curve views and the SHAP explanation."""
    payload = dict(
        _candidate_lightcurve(session, settings, candidate, with_periodogram=with_periodogram)
    )
    figures = dict(payload["figures"])
    missing = dict(payload["missing"])
    latest = PredictionRepository(session).latest_for_candidate(candidate.id)
    explanation = latest.explanation if latest is not None else None
    if latest is not None and not (explanation or {}).get("contributions"):
        explanation = _explain(session, settings, candidate.id, latest.model_version)
    shap, why = _figures.shap_figures(explanation)
    figures.update(shap)
    missing.update(why)
    if latest is None:
        missing["shap"] = "this candidate has not been classified yet"
    payload.update(
        figures=figures, missing=missing, explanation=glossary.explanation_words(explanation)
    )
    return payload


def _explain(
    session: Session, settings: Settings, candidate_id: int, version_id: str
) -> dict[str, Any] | None:
    """The SHAP explanation (computed once, then stored on the prediction), None if impossible."""
    from exoguard.services import models

    try:
        return models.explain(session, settings, candidate_id=candidate_id, version_id=version_id)
    except ExoguardError as exc:
        log.info("no explanation for candidate %s: %s", candidate_id, exc)
        return None


@router.get("/candidates/{candidate_id}")
def candidate_charts(
    candidate_id: IdPath,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    periodogram: bool = True,
) -> dict[str, Any]:
    """Charts of one candidate (visible to whoever may see its page)."""
    candidate = require_candidate(session, candidate_id, user)
    return candidate_payload(session, settings, candidate, with_periodogram=periodogram)


@router.get("/candidates/{candidate_id}/lightcurve.csv")
def candidate_lightcurve_csv(
    candidate_id: IdPath, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The full-resolution light curve behind a candidate's charts (the charts draw at most
    `_figures.DISPLAY_MAX_POINTS` points per trace): time, raw and detrended flux, trend."""
    import io

    from exoguard.errors import NotFoundError
    from exoguard.io import read_lightcurve
    from exoguard.reports.curves import build_curves
    from exoguard.reports.lightcurve_files import candidate_lightcurve_files
    from exoguard.reports.model import Diagnostics

    candidate = require_candidate(session, candidate_id, user)
    paths, origin = candidate_lightcurve_files(session, candidate, settings=settings)
    if not paths:
        raise NotFoundError(f"candidate {candidate_id} has no light curve: {origin}")
    lc = read_lightcurve(list(paths) if len(paths) > 1 else paths[0])
    curves = build_curves(lc, Diagnostics(), with_periodogram=False)
    columns = {
        "time_bjd": np.asarray(curves.time_bjd, dtype=float),
        "raw_flux": np.asarray(curves.raw_flux, dtype=float),
        "detrended_flux": np.asarray(curves.detrended_flux, dtype=float),
    }
    if curves.trend is not None:
        columns["trend"] = np.asarray(curves.trend, dtype=float)
    out = io.StringIO()
    out.write(f"# {candidate.object_id} ({candidate.mission}); source: {origin}\n")
    out.write(",".join(columns) + "\n")
    for row in zip(*columns.values(), strict=True):
        out.write(",".join("" if not np.isfinite(v) else f"{v:.10g}" for v in row) + "\n")
    name = f"{candidate.object_id or candidate.id}-lightcurve.csv".replace(" ", "_")
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/vetting/{item_id}")
def vetting_item_charts(
    item_id: IdPath,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    periodogram: bool = False,
) -> dict[str, Any]:
    """Charts of the candidate of one vetting item (shared with vetters by design)."""
    item = access.require_vetting_item(session, item_id, user)
    return candidate_payload(session, settings, item.candidate, with_periodogram=periodogram)


@router.get("/guide")
def guide_charts(settings: SettingsDep) -> dict[str, Any]:
    """The field guide's charts: real bundled light curves, built once per process."""
    return guide_figures(settings.data_dir)


def visible_dataset(session: Session, dataset_id: str, user: User | None) -> Dataset:
    """The dataset if this visitor may see it; 404 otherwise (`exoguard.store.access`)."""
    return access.require_dataset(session, dataset_id, user)


@router.get("/datasets/{dataset_id}")
def dataset_charts(
    dataset_id: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    candidate_id: OptionalIdQuery = None,
    periodogram: bool = False,
) -> dict[str, Any]:
    """The light curve of an uploaded data set with all its candidates marked, folded on one."""
    dataset = visible_dataset(session, dataset_id, user)
    if dataset.kind != "lightcurve":
        return _payload({}, _figures.no_lightcurve("this data set is a catalog table"))
    candidates = CandidateRepository(session).list(dataset_id=dataset.id, limit=20)
    focus = next((c for c in candidates if c.id == candidate_id), None)
    if focus is None and candidates:
        focus = candidates[0]
    from exoguard.services.datasets import dataset_files

    paths = dataset_files(settings, dataset)
    key = (
        "dataset",
        dataset.id,
        dataset.status,
        focus.id if focus else None,
        tuple(c.id for c in candidates),
        periodogram,
    )
    return _cache.get_or_build(
        key,
        lambda: lightcurve_payload(
            paths, focus=focus, others=candidates, with_periodogram=periodogram
        ),
    )


@router.get("/models/{version_id}")
def model_charts(
    version_id: str,
    session: SessionDep,
    settings: SettingsDep,
    set: str | None = None,  # noqa: A002 - the query parameter's public name
) -> dict[str, Any]:
    """Evaluation charts of a model version (confusion matrix, ROC, PR, calibration, importance)
    on its named evaluation sets; ``set`` chooses the set of the confusion matrix and the
    calibration (the version's primary set by default)."""
    from exoguard.errors import ValidationError
    from exoguard.ml.evalsets import check_set_name
    from exoguard.services import models

    if set is not None:
        try:
            check_set_name(set)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
    stored = models.metrics(session, settings, version_id)
    view = stored["version"]
    figures, missing = _figures.model_figures(
        stored["metrics"],
        stored.get("importance"),
        kind=view["kind"],
        config=view.get("config"),
        set_name=set,
    )
    out = _payload(figures, missing)
    out["sets"] = view["sets"]
    out["summary_set"] = set or view["summary_set"]
    return out


@router.get("/explain/{candidate_id}")
def explain_chart(
    candidate_id: IdPath,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    version: str | None = None,
) -> dict[str, Any]:
    """The SHAP waterfall of one candidate under `version` (the active model by default)."""
    from exoguard.errors import AuthError
    from exoguard.services import models

    if user is None:
        raise AuthError("not logged in")
    require_candidate(session, candidate_id, user)
    explanation = models.explain(session, settings, candidate_id=candidate_id, version_id=version)
    figures, missing = _figures.shap_figures(explanation)
    return _payload(figures, missing)
