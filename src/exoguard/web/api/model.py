"""Models under ``/api/models``: train (a job), predict (verdicts), metrics, SHAP explanations,
versions. The lifecycle routes (timeline, promote, canary, rollback, retrain) share the prefix
(:mod:`exoguard.web.api.lifecycle`); the old ``/api/model/...`` URLs redirect
(:mod:`exoguard.web.api.legacy`)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from exoguard.catalogs.reader import VALUE_RANGES
from exoguard.catalogs.schema import MISSIONS
from exoguard.errors import AuthError
from exoguard.services import datasets, manual_predictions, predictions, training
from exoguard.services import models as model_service
from exoguard.store import access
from exoguard.store.db import read_options
from exoguard.store.models import User
from exoguard.web import idempotency
from exoguard.web.api._common import enforce_rate_limit
from exoguard.web.api.schemas import (
    ExplanationOut,
    JobQueuedOut,
    MetricsOut,
    PredictOut,
    VersionOut,
    VersionsOut,
)
from exoguard.web.deps import (
    AdminUser,
    CurrentUser,
    ResearcherUser,
    SessionDep,
    StateDep,
    get_optional_user,
)
from exoguard.web.params import DbKey, IdQuery, KeyPath, OptionalKeyQuery
from exoguard.web.ratelimit import RateLimiter
from exoguard.web.security import SESSION_COOKIE
from exoguard.web.state import AppState

router = APIRouter(prefix="/models", tags=["models"])


class TrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["gbm", "multibranch"] = Field(description="the kind of model to train")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description='Hyperparameters and config fields, e.g. {"num_leaves": 15, '
        '"n_ensemble": 3}; "config" names the base config.',
    )


class CandidateIn(BaseModel):
    """A candidate typed in by hand, in the harmonised schema (units in the names)."""

    model_config = ConfigDict(extra="forbid")

    object_id: str | None = Field(default=None, max_length=64)
    host_id: str | None = Field(default=None, max_length=64)
    mission: str | None = Field(default=None, description=f"one of {', '.join(MISSIONS)}")
    label: str | None = Field(default=None, description="ignored: the model decides")
    disposition: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=255)
    period_days: float
    t0_bjd: float | None = None
    duration_hours: float | None = None
    depth_ppm: float | None = None
    impact: float | None = None
    planet_radius_rearth: float | None = None
    equilibrium_temp_k: float | None = None
    insolation_earth: float | None = None
    transit_snr: float | None = None
    star_teff_k: float | None = None
    star_logg_cgs: float | None = None
    star_radius_rsun: float | None = None
    star_mag: float | None = None

    @field_validator("mission")
    @classmethod
    def _mission(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in MISSIONS:
            raise ValueError(f"mission must be one of {', '.join(MISSIONS)}")
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _ranges(self) -> CandidateIn:
        for name, (low, high) in VALUE_RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(f"{name} must be a number within [{low:g}, {high:g}]; got {value}")
        return self


class PredictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: DbKey | None = None
    candidates: list[CandidateIn] | None = Field(
        default=None, max_length=predictions.MAX_CANDIDATES_PER_REQUEST
    )
    save: bool = Field(
        default=False,
        description="Keep typed-in candidates and their verdicts (new candidate and "
        "prediction rows, with ids in the answer). By default they are only scored: nothing "
        "is stored and candidate_id is null. Predictions of a dataset are always kept.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PredictIn:
        if (self.dataset_id is None) == (self.candidates is None):
            raise ValueError("give exactly one of dataset_id or candidates")
        if self.candidates is not None and not self.candidates:
            raise ValueError("candidates must hold at least one candidate")
        return self


@router.post(
    "/train",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobQueuedOut,
    response_model_exclude_unset=True,
)
def train(body: TrainIn, user: ResearcherUser, state: StateDep) -> dict[str, Any]:
    """Start a training job (researchers); poll GET /api/jobs/{job_id} for its progress."""
    params = training.check_request(body.model, body.params)
    job_id = state.jobs.submit("train", params, owner_id=user.id)
    return {"job_id": job_id, "status": "queued"}


@router.post("/predict", response_model=PredictOut, response_model_exclude_unset=True)
async def predict(
    body: PredictIn,
    request: Request,
    state: StateDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            description="A client key: the same key from the same user within "
            "EXOGUARD_IDEMPOTENCY_TTL_S answers the first answer again (header "
            "Idempotent-Replayed: true) and stores nothing new; with another body, 422.",
        ),
    ] = None,
) -> JSONResponse:
    """Verdicts of the active model (rate-limited per client).

    A dataset's predictions are stored; typed-in candidates only when ``save`` is true.

    Needs a login (any role). The hottest route: the login check and the rate limit run in
    one trip to the thread pool, and no database connection is held while the model works.
    """
    limit = state.settings.rate_limit_per_minute
    if idempotency_key is None:
        user = await _admit(request, state, limit)
        return JSONResponse(await _predict_answer(body, request, state, user))
    key = idempotency.check_key(idempotency_key)
    user = await _admit(request, state, None)  # a replay is not counted against the limit

    async def first_run() -> dict[str, Any]:
        await _count(request, user, limit)
        return await _predict_answer(body, request, state, user)

    replays: idempotency.ReplayStore = request.app.state.replays
    answer, replayed = await replays.run(
        f"predict:{user.id}:{key}",
        idempotency.fingerprint(body.model_dump(mode="json")),
        first_run,
        ttl_s=state.settings.idempotency_ttl_s,
    )
    return JSONResponse(answer, headers={"Idempotent-Replayed": "true"} if replayed else None)


async def _predict_answer(
    body: PredictIn, request: Request, state: AppState, user: User
) -> dict[str, Any]:
    settings = state.settings
    if body.candidates is not None:
        rows = [c.model_dump(exclude={"label", "disposition", "source"}) for c in body.candidates]
        batcher = manual_predictions.batcher_for(
            state.sessions, settings, on_score=_inference_observer(request)
        )
        verdicts = await batcher.predict(rows, owner_id=user.id, keep=body.save)
    else:
        assert body.dataset_id is not None
        verdicts = await run_in_threadpool(_predict_dataset, state, body.dataset_id, user)
    _observe(request, verdicts)
    # A plain JSON response: the verdicts are already JSON types, no re-validation needed.
    return {
        "predictions": [v.to_dict() for v in verdicts],
        "model_version": verdicts[0].model_version if verdicts else None,
    }


async def _admit(request: Request, state: AppState, limit: int | None) -> User:
    """The logged-in user (401 otherwise), counted against the predict rate limit (unless
    `limit` is None).

    The user of a session read in the last ``settings.auth_cache_s`` seconds is reused, and
    in-process rate counters are hit in place: a warm request makes no trip to the thread
    pool.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthError("not logged in")
    user = await state.users.load(token, lambda: run_in_threadpool(_load_user, request, state))
    if limit is not None:
        await _count(request, user, limit)
    return user


async def _count(request: Request, user: User, limit: int) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.blocking:
        await run_in_threadpool(enforce_rate_limit, request, user, action="predict", limit=limit)
    else:
        enforce_rate_limit(request, user, action="predict", limit=limit)


def _load_user(request: Request, state: AppState) -> User:
    # A read: on SQLite its transaction begins deferred and waits for no writer.
    session = state.sessions(**read_options(state.sessions))
    try:
        user = get_optional_user(request, session)
        session.commit()
    finally:
        session.close()
    if user is None:
        raise AuthError("not logged in")
    return user


def _predict_dataset(state: AppState, dataset_id: str, user: User) -> list[predictions.Verdict]:
    session = state.sessions()
    try:
        dataset = datasets.get_visible_dataset(session, dataset_id, user)
        verdicts = predictions.predict_dataset(session, dataset, settings=state.settings)
        session.commit()
        return verdicts
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _inference_observer(request: Request) -> manual_predictions.ScoreObserver | None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is None:
        return None

    def observe(version: str, seconds: float, n_rows: int) -> None:
        metrics.inference.labels(version).observe(seconds)

    return observe


def _observe(request: Request, verdicts: list[predictions.Verdict]) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is None:
        return
    for verdict in verdicts:
        metrics.predictions.labels(verdict.model_version).observe(verdict.probability)


@router.get("/metrics", response_model=MetricsOut, response_model_exclude_unset=True)
def metrics(
    user: CurrentUser, session: SessionDep, state: StateDep, version: OptionalKeyQuery = None
) -> dict[str, Any]:
    """The stored evaluation of the active version (or `version`)."""
    return model_service.metrics(session, state.settings, version)


@router.get("/explain", response_model=ExplanationOut, response_model_exclude_unset=True)
def explain(
    candidate_id: IdQuery,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    version: OptionalKeyQuery = None,
) -> dict[str, Any]:
    """SHAP contributions of one candidate's features (log-odds, + towards planet)."""
    access.require_candidate(session, candidate_id, user)
    out = model_service.explain(
        session, state.settings, candidate_id=candidate_id, version_id=version
    )
    session.commit()  # the explanation is kept on the prediction
    return out


@router.get("/versions", response_model=VersionsOut, response_model_exclude_unset=True)
def versions(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Every registered version, newest first, with its status and summary metrics."""
    return {"versions": model_service.list_versions(session)}


@router.post(
    "/versions/{version_id}/activate", response_model=VersionOut, response_model_exclude_unset=True
)
def activate(
    version_id: KeyPath, admin: AdminUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """Make a version the active model (admins)."""
    version = model_service.activate(session, state.settings, version_id, actor_id=admin.id)
    session.commit()
    return {"version": model_service.version_view(version)}
