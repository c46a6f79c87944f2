"""Typed-in candidates: score them (one request, or many batched into one model call) and
store them only when the request asks to keep them.

Kept candidates become a candidate row and its prediction (`store_predictions`); others are
scored and answered, and the database is left as it was, so that a client calling predict in
a loop does not grow the database. Datasets are scored by :mod:`exoguard.services.predictions`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from exoguard.catalogs.crossmatch import no_match
from exoguard.catalogs.schema import STAR_COLUMNS
from exoguard.config import Settings
from exoguard.jsonsafe import jsonable
from exoguard.services.catalog_match import (
    StellarRecord,
    match_and_fill,
    query_for_row,
    with_features,
)
from exoguard.services.predictions import (
    Verdict,
    active_version_id,
    clean_uncertainty,
    frame_from_rows,
    insert_candidates,
    manual_rows,
    score_frame,
    store_predictions,
)
from exoguard.store.db import read_options, session_scope

#: Called after each model call with (model version, seconds, rows scored).
ScoreObserver = Callable[[str, float, int], None]


def _score_and_store_manual(
    session: Session,
    groups: Sequence[Sequence[Mapping[str, Any]]],
    *,
    owners: Sequence[int | None],
    settings: Settings,
    on_score: ScoreObserver | None = None,
    keep: Sequence[bool] | None = None,
) -> list[Verdict]:
    """Score the rows of one or more requests with one model call; store the kept groups.

    `owners` holds the user of each request (group): the rows stored are private to them.
    ``keep[i]`` says whether the rows of ``groups[i]`` are stored (all of them when None);
    the verdicts of the others carry no candidate id.
    """
    if len(owners) != len(groups):
        raise ValueError(f"{len(owners)} owners for {len(groups)} requests")
    keep = [True] * len(groups) if keep is None else list(keep)
    if len(keep) != len(groups):
        raise ValueError(f"{len(groups)} groups but {len(keep)} keep flags")
    version = active_version_id(session)
    rows = [row for group in groups for row in group]
    frame, context = _match_manual(session, rows)
    # End the read transaction before writing: an SQLite transaction that read first and
    # then writes fails at once ("database is locked") when another writer got in between.
    session.commit()
    scoring = frame
    if len(groups) > 1:
        # Features that look at the other signals of a star (multiplicity, period ratios)
        # must only see the candidates of the same request: give each request its own stars.
        tags = [i for i, group in enumerate(groups) for _ in group]
        scoring = frame.assign(
            host_id=[
                None if host is None else f"{tag}\x1f{host}"
                for tag, host in zip(tags, frame["host_id"], strict=True)
            ]
        )
    started = time.perf_counter()
    scores = score_frame(scoring, version=version, settings=settings)
    if on_score is not None:
        on_score(version, time.perf_counter() - started, len(frame))
    kept = np.repeat(np.asarray(keep, dtype=bool), [len(group) for group in groups])
    owner_ids = [owner for owner, group in zip(owners, groups, strict=True) for _ in group]
    stored: list[Verdict] = []
    if kept.any():
        kept_owners = [o for o, k in zip(owner_ids, kept, strict=True) if k]
        ids = insert_candidates(
            session,
            frame[kept],
            origin="catalog",
            owner_ids=kept_owners,
            catalog_matches=[m for m, k in zip(context.matches, kept, strict=True) if k],
            features=[f for f, k in zip(context.features, kept, strict=True) if k],
        )
        stored = store_predictions(session, ids, scores[kept], version=version, settings=settings)
    out: list[Verdict] = []
    stored_iter = iter(stored)
    for position, is_kept in enumerate(kept):
        match, stellar = context.matches[position], context.stellar[position]
        if is_kept:
            out.append(
                replace(
                    next(stored_iter),
                    catalog_match=match,
                    stellar_parameters=None if stellar is None else stellar.to_dict(),
                )
            )
            continue
        row = scores.iloc[position]
        out.append(
            Verdict(
                candidate_id=None,
                probability=float(np.clip(row["probability"], 0.0, 1.0)),
                uncertainty=clean_uncertainty(float(row["uncertainty"])),
                label=str(row["label"]),
                model_version=version,
                basis=jsonable(row["basis"]) if "basis" in scores.columns else None,
                catalog_match=match,
                stellar_parameters=None if stellar is None else stellar.to_dict(),
            )
        )
    return out


@dataclass(frozen=True)
class _ManualContext:
    matches: list[dict[str, Any] | None]
    stellar: list[StellarRecord | None]
    features: list[dict[str, Any] | None]


def _match_manual(
    session: Session, rows: Sequence[Mapping[str, Any]]
) -> tuple[pd.DataFrame, _ManualContext]:
    """The frame of typed-in rows with missing stellar values filled from the matched star,
    and each row's catalog match (rows with neither a star nor a name are not looked up)."""
    frame = frame_from_rows(rows)
    queries = [
        query_for_row(
            row, object_ids=[row["typed_object_id"]] if row.get("typed_object_id") else []
        )
        for row in rows
    ]
    looked = [i for i, q in enumerate(queries) if q.host_ids or q.object_ids]
    unnamed = no_match("no star identifier and no catalog id or planet name given").to_dict()
    matches: list[dict[str, Any] | None] = [unnamed] * len(rows)
    stellar: list[StellarRecord | None] = [None] * len(rows)
    if looked:
        part, context = match_and_fill(
            session, frame.iloc[looked].reset_index(drop=True), [queries[i] for i in looked]
        )
        for j, i in enumerate(looked):
            for column in _STELLAR_COLUMNS:
                frame.loc[i, column] = part.loc[j, column]
            matches[i] = context.matches[j].to_dict()
            stellar[i] = context.stellar[j]
    features = with_features(None, stellar)
    return frame, _ManualContext(matches=matches, stellar=stellar, features=features)


_STELLAR_COLUMNS = STAR_COLUMNS


def predict_manual(
    session: Session,
    candidates: Sequence[Mapping[str, Any]],
    *,
    owner_id: int | None,
    settings: Settings,
    keep: bool = True,
) -> list[Verdict]:
    """Score typed-in candidates; with `keep`, store them (private to `owner_id`) with their
    predictions. The caller commits.
    """
    return _score_and_store_manual(
        session, [manual_rows(candidates)], owners=[owner_id], settings=settings, keep=[keep]
    )


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    owner_id: int | None
    keep: bool
    future: asyncio.Future[list[Verdict]]


class PredictionBatcher:
    """Scores typed-in candidates of concurrent requests together.

    Requests queue their rows; one worker takes everything queued, scores it with one model
    call and stores it in one transaction, then hands each request its own verdicts. Under
    load the model and database cost is paid per batch instead of per request; alone, a
    request is its own batch (no added wait). A failure fails only the requests of its batch.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        max_rows: int = 512,
        on_score: ScoreObserver | None = None,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._max_rows = max_rows
        self._on_score = on_score
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def predict(
        self, candidates: Sequence[Mapping[str, Any]], *, owner_id: int | None, keep: bool = True
    ) -> list[Verdict]:
        """The verdicts of one request's candidates, stored (private to `owner_id`) when
        `keep`."""
        rows = manual_rows(candidates)
        loop = asyncio.get_running_loop()
        pending = _Pending(rows=rows, owner_id=owner_id, keep=keep, future=loop.create_future())
        self._queue.put_nowait(pending)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run(), name="exoguard-predict-batcher")
        return await pending.future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            n_rows = len(batch[0].rows)
            while n_rows < self._max_rows and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                n_rows += len(item.rows)
            try:
                results = await asyncio.to_thread(
                    self._process,
                    [p.rows for p in batch],
                    [p.owner_id for p in batch],
                    [p.keep for p in batch],
                )
            except Exception as exc:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, verdicts in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(verdicts)

    def _process(
        self,
        groups: list[list[dict[str, Any]]],
        owners: list[int | None],
        keep: list[bool] | None = None,
    ) -> list[list[Verdict]]:
        # A batch that stores nothing only reads: on SQLite it then waits for no writer.
        options = read_options(self._factory) if keep is not None and not any(keep) else {}
        with session_scope(self._factory, **options) as session:
            verdicts = _score_and_store_manual(
                session,
                groups,
                owners=owners,
                settings=self._settings,
                on_score=self._on_score,
                keep=keep,
            )
        out, start = [], 0
        for group in groups:
            out.append(verdicts[start : start + len(group)])
            start += len(group)
        return out


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, PredictionBatcher]] = (
    weakref.WeakKeyDictionary()
)


def batcher_for(
    factory: sessionmaker[Session], settings: Settings, *, on_score: ScoreObserver | None = None
) -> PredictionBatcher:
    """The batcher of the running event loop and this session factory (made on first use)."""
    per_loop = _batchers.setdefault(asyncio.get_running_loop(), {})
    batcher = per_loop.get(id(factory))
    if batcher is None:
        batcher = PredictionBatcher(factory, settings, on_score=on_score)
        per_loop[id(factory)] = batcher
    return batcher


__all__ = ["PredictionBatcher", "ScoreObserver", "batcher_for", "predict_manual"]
