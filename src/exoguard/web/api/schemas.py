"""Response models of the JSON API: what each route returns, as the OpenAPI document says.

Fields that every client relies on are typed; bulky open-ended parts (a validation report,
stored metrics, a job's parameters) stay JSON objects. Models whose service may add fields
later allow extra keys (``extra="allow"``), so a new field is never dropped on the way out.
This module defines no router.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from exoguard.store.models import (
    DatasetFormat,
    DatasetKind,
    DatasetStatus,
    JobStatus,
    ModelKind,
    ModelStatus,
    Role,
    VoteLabel,
)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    """Every error: a sentence naming the problem (and the allowed values), and its kind."""

    detail: str = Field(description="What went wrong, in words.")
    error: str = Field(description="The error's kind, e.g. ValidationError, NotFoundError.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Request validation only: one entry per invalid field."
    )


# ------------------------------------------------------------------------------- accounts
class UserView(_Open):
    id: int
    email: str
    name: str
    role: Role
    reputation: float
    is_active: bool
    created_at: str | None


class UserOut(BaseModel):
    user: UserView


class LoginOut(BaseModel):
    user: UserView
    csrf_token: str


class OkOut(BaseModel):
    ok: bool


class UsersOut(BaseModel):
    users: list[UserView]
    total: int


# ------------------------------------------------------------------------------- data sets
class DatasetView(_Open):
    id: str
    filename: str
    kind: DatasetKind
    format: DatasetFormat
    size_bytes: int
    sha256: str
    status: DatasetStatus
    owner_id: int | None
    created_at: str | None
    ok: bool | None = None
    summary: str | dict[str, Any] | None = None
    report: dict[str, Any] | None = None


class UploadOut(BaseModel):
    dataset_id: str
    dataset: DatasetView


class ValidationReportOut(BaseModel):
    dataset_id: str
    status: str
    report: dict[str, Any]


class DatasetsOut(BaseModel):
    datasets: list[DatasetView]


class CatalogMatchBrief(BaseModel):
    """The archive object a candidate is (or why none was found)."""

    matched: bool
    object_id: str | None = None
    name: str | None = None
    disposition: str | None = None
    summary: str | None = None


class ResultRowOut(_Open):
    """One candidate of an upload's result, named as every page names it."""

    candidate_id: int
    name: str = Field(description="The name shown for the candidate (archive id, typed name).")
    object_id: str = Field(description="The stored key (not for display).")
    mission: str
    host_id: str | None = None
    period_days: float | None = None
    depth_ppm: float | None = None
    duration_hours: float | None = None
    planet_radius_rearth: float | None = None
    verdict: Literal["planet", "false_positive", "uncertain", "none"]
    verdict_words: str
    label: str | None = None
    probability: float | None = None
    uncertainty: float | None = None
    flagged: bool = Field(description="Inputs outside what the model was trained on.")
    flags: list[str] = Field(description="The features outside the training range.")
    catalog_match: CatalogMatchBrief | None = None
    url: str = Field(description="The candidate's result page.")


class ResultSummaryOut(BaseModel):
    """Counts of an upload's result rows."""

    n_candidates: int
    verdicts: dict[str, int] = Field(
        description="Rows per verdict: planet, false_positive, uncertain, none (unclassified)."
    )
    n_flagged: int
    n_matched: int = Field(description="Rows matched to an archive object.")
    n_unmatched: int = Field(description="Rows looked up in the archive without a match.")
    n_not_matched_yet: int = Field(description="Rows never looked up.")


class UploadView(BaseModel):
    """An upload as its owner reads it."""

    id: str
    filename: str
    kind: DatasetKind
    format: DatasetFormat
    size_bytes: int
    status: DatasetStatus
    created_at: str | None = None
    preprocessed_at: str | None = None
    single_event: dict[str, Any] | None = Field(
        default=None, description="The lone transit-like event of a search without a period."
    )
    url: str = Field(description="/explore showing this upload's result.")


class DatasetResultsOut(BaseModel):
    """An upload's result: summary, then one row per candidate."""

    dataset: UploadView
    summary: ResultSummaryOut
    rows: list[ResultRowOut]


class UploadSummaryView(UploadView):
    summary: ResultSummaryOut
    top: list[dict[str, Any]] = Field(description="The three most planet-like candidates.")


class UploadsOut(BaseModel):
    uploads: list[UploadSummaryView]


class JobQueuedOut(BaseModel):
    job_id: str
    status: JobStatus


# ------------------------------------------------------------------------------------ jobs
class JobView(_Open):
    id: str
    kind: str
    status: JobStatus
    progress: float = Field(ge=0.0, le=1.0)
    params: dict[str, Any]
    attempts: int
    owner_id: int | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    message: str | None = None


class JobsOut(BaseModel):
    jobs: list[JobView]


# ---------------------------------------------------------------------------------- models
class CatalogMatchView(_Open):
    """The catalog object a candidate is (``matched``), or why there is none (``reason``).

    The archive disposition is shown for information; it is never a model input.
    """

    matched: bool
    summary: str = Field(
        description="e.g. 'Catalog match: K00752.01, Kepler-227 b, archive disposition "
        "CONFIRMED (host + period + epoch)' or 'No catalog match: <reason>'"
    )
    reason: str | None = None
    object_id: str | None = None
    name: str | None = Field(default=None, description="planet name; TOIs have none")
    host_id: str | None = None
    mission: str | None = None
    disposition: str | None = Field(default=None, description="the archive's, verbatim")
    catalog_file: str | None = None
    method: str | None = Field(
        default=None,
        description="id | host + period + epoch | host + period | alias P×2 (…) and so on",
    )
    period_ratio: float | None = Field(default=None, description="candidate / catalog period")
    epoch_offset_durations: float | None = None
    near_misses: list[str] = Field(default_factory=list)


class StellarSourceView(_Open):
    """Which stellar parameters came from the catalogs, and from which star and table."""

    host_id: str
    catalog_file: str | None = None
    catalog: str
    from_catalog: list[str]
    given: list[str]
    summary: str


class VerdictView(_Open):
    candidate_id: int | None = Field(description="null unless the request asked to save")
    probability: float = Field(ge=0.0, le=1.0)
    uncertainty: float = Field(ge=0.0)
    label: str
    model_version: str
    basis: dict[str, Any] | None = Field(
        default=None,
        description=(
            "what the verdict rests on: the missingness pattern whose model scored it, the "
            "fields that model uses, inputs outside its training range"
        ),
    )
    catalog_match: CatalogMatchView | None = Field(
        default=None, description="typed-in candidates and preprocess results"
    )
    stellar_parameters: StellarSourceView | None = None


class PredictOut(BaseModel):
    predictions: list[VerdictView]
    model_version: str | None


class VersionView(_Open):
    id: str
    kind: ModelKind
    status: ModelStatus
    config: dict[str, Any] | None
    data_hash: str | None
    created_at: str | None
    activated_at: str | None
    summary: dict[str, float | None]
    #: The named evaluation set of ``summary`` (exoguard.ml.evalsets), e.g. koi-grouped-cv-5fold.
    summary_set: str
    summary_source: str
    #: Figures on every named evaluation set the version was scored on.
    sets: dict[str, dict[str, float | int | None]]
    evaluated: bool


class VersionsOut(BaseModel):
    versions: list[VersionView]


class VersionOut(BaseModel):
    version: VersionView


class MetricsOut(_Open):
    version: VersionView
    metrics: dict[str, Any]
    importance: list[Any] | dict[str, Any]
    series_latest: dict[str, Any]


class Contribution(_Open):
    feature: str
    value: float | None
    contribution: float


class ExplanationOut(_Open):
    candidate_id: int
    model_version: str
    base_value: float
    log_odds: float
    contributions: list[Contribution]
    n_features: int
    units: str


# ------------------------------------------------------------------------------- lifecycle
class LifecycleActionOut(_Open):
    action: str
    version: str | None
    previous_active: str | None
    active: str | None
    canary: str | None
    retired: list[str]


class CanaryEvaluationOut(_Open):
    decision: str
    canary: str | None
    active: str | None
    metric: str


class TimelineOut(_Open):
    active: str | None
    canary: str | None
    canary_fraction: float
    versions: list[dict[str, Any]]


# --------------------------------------------------------------------------------- vetting
class QueueEntryView(_Open):
    item_id: int
    candidate_id: int
    mission: str | None
    object_id: str | None
    name: str | None = Field(
        default=None, description="The name shown for the candidate (archive id, typed name)."
    )
    host_id: str | None
    parameters: dict[str, Any]
    probability: float | None
    uncertainty: float | None
    model_version: str | None
    n_votes: int
    created_at: str


class QueueOut(BaseModel):
    items: list[QueueEntryView]


class VoteView(_Open):
    id: int
    item_id: int
    user_id: int
    label: VoteLabel
    confidence: int = Field(ge=1, le=5)


class CandidateStateView(_Open):
    key: Literal["planet", "false_positive", "uncertain", "none"]
    words: str
    headline: str
    source: Literal["vetting", "model", "none"]
    vetting_status: str | None
    consensus_share: float | None


class VoteOut(_Open):
    vote: VoteView
    n_votes: int
    consensus: dict[str, Any] | None
    settled: bool
    changed: bool
    previous: dict[str, Any] | None
    state: CandidateStateView


class CommentView(_Open):
    label: VoteLabel
    confidence: int
    comment: str | None
    vetter: str
    mine: bool
    at: str | None


class CommentsOut(BaseModel):
    comments: list[CommentView]


class VettingItemOut(_Open):
    item_id: int
    status: str
    n_votes: int
    my_vote: dict[str, Any] | None
    state: CandidateStateView
    comments: list[CommentView] | None


class VetterHistoryOut(_Open):
    reputation: dict[str, Any]
    votes: list[dict[str, Any]]


class VettingStatsOut(_Open):
    pass


# ---------------------------------------------------------------------------------- export
class ShareLinkView(_Open):
    id: int
    target_kind: str
    target_id: int
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    state: Literal["active", "expired", "revoked"]


class ShareCreatedOut(ShareLinkView):
    token: str
    url: str
    report_url: str
    pdf_url: str


class ShareLinksOut(BaseModel):
    links: list[ShareLinkView]
