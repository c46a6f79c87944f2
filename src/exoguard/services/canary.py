"""Serving with a canary: score stored candidates with the active version, let the canary
answer for its share (:func:`exoguard.ml.lifecycle.routes_to_canary`), and log every
prediction, the active version's shadow ones included, so the two can be compared on the
same candidates (:func:`exoguard.services.lifecycle.evaluate_canary`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import LABELS
from exoguard.errors import ExoguardError, ModelNotReadyError
from exoguard.ml.lifecycle import canary_mask
from exoguard.ml.registry import ModelRegistry
from exoguard.ml.service import predict_frame
from exoguard.store.model_registry import session_registry
from exoguard.store.models import Prediction
from exoguard.store.repositories import ModelVersionRepository
from exoguard.store.types import utcnow

if TYPE_CHECKING:
    from exoguard.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoutedPredictions:
    """What :func:`predict_with_canary` served and logged.

    Attributes
    ----------
    served : DataFrame, index of the input frame
        ``candidate_id``, ``probability``, ``uncertainty``, ``label``, ``model_version``,
        ``canary`` (served by the canary version) and ``prediction_id`` (the stored row).
    active_version, canary_version
        The versions involved (``canary_version`` None without a canary).
    n_logged
        Prediction rows written (served plus the active version's shadow predictions).
    """

    served: pd.DataFrame
    active_version: str
    canary_version: str | None
    n_logged: int

    @property
    def n_canary(self) -> int:
        return int(self.served["canary"].sum()) if len(self.served) else 0

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per served prediction."""
        return [
            {
                "candidate_id": int(r.candidate_id),
                "probability": float(r.probability),
                "uncertainty": float(r.uncertainty),
                "label": str(r.label),
                "model_version": str(r.model_version),
                "canary": bool(r.canary),
                "prediction_id": int(r.prediction_id),
            }
            for r in self.served.itertuples(index=False)
        ]


def _rows(
    candidate_ids: Sequence[int], scores: pd.DataFrame, *, version: str, canary: bool
) -> list[dict[str, Any]]:
    now = utcnow()
    out = []
    for cid, p, u, label in zip(
        candidate_ids,
        scores["probability"].to_numpy(dtype=float),
        scores["uncertainty"].to_numpy(dtype=float),
        scores["label"].astype(str),
        strict=True,
    ):
        if label not in LABELS:  # pragma: no cover - guards the contract with exoguard.ml
            raise ModelNotReadyError(f"model {version} returned the unknown label {label!r}")
        out.append(
            {
                "candidate_id": int(cid),
                "model_version": version,
                "probability": float(np.clip(p, 0.0, 1.0)),
                "uncertainty": float(max(u, 0.0)) if math.isfinite(u) else 0.0,
                "label": label,
                "canary": canary,
                "created_at": now,
            }
        )
    return out


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    stmt = insert(Prediction).returning(Prediction.id, sort_by_parameter_order=True)
    return [int(i) for i in session.scalars(stmt, rows)]


def predict_with_canary(
    session: Session,
    frame: pd.DataFrame,
    *,
    candidate_ids: Sequence[int],
    settings: Settings,
    registry: ModelRegistry | None = None,
) -> RoutedPredictions:
    """Score stored candidates with the active version (and the canary on its share); log all.

    Parameters
    ----------
    frame : DataFrame, shape (n, ...)
        Harmonised rows of the candidates (what ``exoguard.ml.service.predict_frame`` takes).
    candidate_ids : sequence of int, length n
        The stored candidate of each row (routing key and foreign key of the predictions).
    settings, registry
        ``settings.canary_fraction`` and where model artifacts are; the registry defaults to
        one reading versions through ``session``.

    Raises
    ------
    ModelNotReadyError
        No active version. A canary that cannot be loaded is skipped (logged), never fatal.
    """
    if len(candidate_ids) != len(frame):
        raise ValueError(f"{len(candidate_ids)} candidate ids for {len(frame)} rows")
    cfg = settings
    repo = ModelVersionRepository(session)
    active = repo.get_active()
    if active is None:
        raise ModelNotReadyError("no active model version; train one first")
    canary = repo.get_canary()
    reg = registry or session_registry(session, cfg)
    ids = [int(c) for c in candidate_ids]

    served = predict_frame(frame, version=active.id, registry=reg)
    served = served.assign(canary=False, model_version=active.id)
    mask = (
        canary_mask(ids, fraction=cfg.canary_fraction)
        if canary is not None
        else np.zeros(len(ids), dtype=bool)
    )
    canary_scores: pd.DataFrame | None = None
    if canary is not None and mask.any():
        try:
            canary_scores = predict_frame(frame[mask], version=canary.id, registry=reg)
        except (ExoguardError, OSError) as exc:
            logger.warning("canary %s cannot predict (%s); serving %s", canary.id, exc, active.id)
            mask[:] = False

    # The active version's rows first, so the canary's row is each routed candidate's latest.
    active_ids = _insert(session, _rows(ids, served, version=active.id, canary=False))
    prediction_ids = np.array(active_ids, dtype=np.int64)
    n_logged = len(active_ids)
    if canary is not None and canary_scores is not None:
        routed = [c for c, m in zip(ids, mask, strict=True) if m]
        canary_ids = _insert(session, _rows(routed, canary_scores, version=canary.id, canary=True))
        n_logged += len(canary_ids)
        for column in ("probability", "uncertainty", "label"):
            served.loc[mask, column] = canary_scores[column].to_numpy()
        served.loc[mask, "model_version"] = canary.id
        served.loc[mask, "canary"] = True
        prediction_ids[mask] = canary_ids
    served = served.assign(candidate_id=ids, prediction_id=prediction_ids)
    served["canary"] = served["canary"].astype(bool)
    columns = ["candidate_id", "probability", "uncertainty", "label", "model_version", "canary"]
    return RoutedPredictions(
        served=served[[*columns, "prediction_id"]],
        active_version=active.id,
        canary_version=canary.id if canary is not None else None,
        n_logged=n_logged,
    )


__all__ = ["RoutedPredictions", "predict_with_canary"]
