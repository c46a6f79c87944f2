"""Thin, typed repositories over the ORM models, one module per aggregate.

Each repository wraps one `Session` and never commits: the caller owns the transaction
(`exoguard.store.db.session_scope`). Methods flush so that ids and constraint violations
appear at once. Bad argument values raise `ValueError` naming the allowed values; missing
rows raise `NotFoundError` from the `require*` methods; duplicates raise `ConflictError`.

`from exoguard.store.repositories import X` is the package's API; the modules are:
`candidates`, `models` (model versions and metrics), `predictions`, `vetting` (queue items
and votes), `users`, `datasets`, `jobs`, `share_links`; `_common` holds shared helpers.
"""

from exoguard.store.repositories.candidates import (
    CANDIDATE_SORT_COLUMNS,
    CandidateRepository,
    UpsertResult,
)
from exoguard.store.repositories.datasets import DatasetRepository
from exoguard.store.repositories.jobs import JobRepository
from exoguard.store.repositories.models import ModelMetricRepository, ModelVersionRepository
from exoguard.store.repositories.predictions import (
    NewPrediction,
    PredictionRepository,
    newest_per_candidate,
    newest_prediction_ids,
)
from exoguard.store.repositories.share_links import ShareLinkRepository
from exoguard.store.repositories.users import UserRepository, normalize_email
from exoguard.store.repositories.vetting import VettingRepository, VoteRepository

__all__ = [
    "CANDIDATE_SORT_COLUMNS",
    "CandidateRepository",
    "DatasetRepository",
    "JobRepository",
    "ModelMetricRepository",
    "ModelVersionRepository",
    "NewPrediction",
    "PredictionRepository",
    "ShareLinkRepository",
    "UpsertResult",
    "UserRepository",
    "VettingRepository",
    "VoteRepository",
    "newest_per_candidate",
    "newest_prediction_ids",
    "normalize_email",
]
