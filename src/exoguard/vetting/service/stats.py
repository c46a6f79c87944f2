"""Vetting statistics: overall counts, the most active vetters, the items, and the caller's row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError, ValidationError
from exoguard.store.models import Candidate, User, VettingItem
from exoguard.store.models import Vote as VoteRow
from exoguard.vetting.service.config import VettingConfig
from exoguard.vetting.service.standing import reputation_row, reputations_of


def _item_stats(
    session: Session, *, include_gold: bool, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    n_planet = func.sum(case((VoteRow.label == "planet", 1), else_=0))
    n_fp = func.sum(case((VoteRow.label == "false_positive", 1), else_=0))
    stmt = (
        select(
            VettingItem,
            Candidate.mission,
            Candidate.object_id,
            func.count(VoteRow.id),
            n_planet,
            n_fp,
            func.avg(VoteRow.confidence),
        )
        .join(Candidate, Candidate.id == VettingItem.candidate_id)
        .outerjoin(VoteRow, VoteRow.item_id == VettingItem.id)
        .group_by(VettingItem.id, Candidate.mission, Candidate.object_id)
        .order_by(VettingItem.status.asc(), VettingItem.priority.desc(), VettingItem.id.asc())
    )
    if not include_gold:
        stmt = stmt.where(VettingItem.is_gold.is_(False))
    if status is not None:
        if status not in ("open", "settled"):
            raise ValidationError(f"status must be open or settled; got {status!r}")
        stmt = stmt.where(VettingItem.status == status)
    stmt = stmt.limit(limit).offset(offset)
    out = []
    for item, mission, object_id, n, n_p, n_f, mean_conf in session.execute(stmt).tuples():
        row: dict[str, Any] = {
            "item_id": item.id,
            "candidate_id": item.candidate_id,
            "mission": mission,
            "object_id": object_id,
            "status": item.status,
            "priority": item.priority,
            "n_votes": int(n or 0),
            "n_planet": int(n_p or 0),
            "n_false_positive": int(n_f or 0),
            "mean_confidence": None if mean_conf is None else float(mean_conf),
            "consensus_label": item.consensus_label,
            "consensus_share": item.consensus_share,
            "created_at": item.created_at.isoformat(),
            "settled_at": item.settled_at.isoformat() if item.settled_at else None,
        }
        if include_gold:
            row["is_gold"] = item.is_gold
            row["gold_label"] = item.gold_label
        out.append(row)
    return out


def _overall(session: Session, config: VettingConfig) -> dict[str, Any]:
    """Counts over every item and vote, and the consensus rule in force."""
    by_status = {
        (bool(g), str(s)): int(n)
        for g, s, n in session.execute(
            select(VettingItem.is_gold, VettingItem.status, func.count(VettingItem.id)).group_by(
                VettingItem.is_gold, VettingItem.status
            )
        ).tuples()
    }
    settled_labels = {
        str(label): int(n)
        for label, n in session.execute(
            select(VettingItem.consensus_label, func.count(VettingItem.id))
            .where(VettingItem.status == "settled", VettingItem.is_gold.is_(False))
            .group_by(VettingItem.consensus_label)
        ).tuples()
    }
    n_votes_total = int(session.scalar(select(func.count(VoteRow.id))) or 0)
    votes_per_settled = session.execute(
        select(func.count(VoteRow.id), func.avg(VettingItem.consensus_share))
        .select_from(VettingItem)
        .outerjoin(VoteRow, VoteRow.item_id == VettingItem.id)
        .where(VettingItem.status == "settled", VettingItem.is_gold.is_(False))
    ).one()
    n_settled = sum(n for (g, s), n in by_status.items() if not g and s == "settled")
    gold_votes = session.execute(
        select(
            func.count(VoteRow.id),
            func.sum(case((VoteRow.label == VettingItem.gold_label, 1), else_=0)),
        )
        .join(VettingItem, VettingItem.id == VoteRow.item_id)
        .where(VettingItem.is_gold.is_(True))
    ).one()
    n_vetters = int(session.scalar(select(func.count(func.distinct(VoteRow.user_id)))) or 0)
    gold_total = int(gold_votes[0] or 0)
    return {
        "items_open": by_status.get((False, "open"), 0),
        "items_settled": n_settled,
        "gold_items_open": by_status.get((True, "open"), 0),
        "settled_planet": settled_labels.get("planet", 0),
        "settled_false_positive": settled_labels.get("false_positive", 0),
        "votes": n_votes_total,
        "vetters": n_vetters,
        "mean_votes_per_settled_item": (
            float(votes_per_settled[0]) / n_settled if n_settled else None
        ),
        "mean_consensus_share": (
            None if votes_per_settled[1] is None else float(votes_per_settled[1])
        ),
        "gold_votes": gold_total,
        "gold_accuracy": (float(gold_votes[1] or 0) / gold_total) if gold_total else None,
        "method": config.method,
        "min_votes": config.min_votes,
        "threshold": config.threshold,
    }


def _user_rows(
    session: Session, *, user_id: int | None, user_limit: int, config: VettingConfig
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The rows of the ``user_limit`` most active vetters, and the row of ``user_id``."""
    per_user = (
        session.execute(
            select(User.id, User.name, func.count(VoteRow.id))
            .join(VoteRow, VoteRow.user_id == User.id)
            .group_by(User.id, User.name)
            .order_by(func.count(VoteRow.id).desc(), User.id.asc())
            .limit(user_limit)
        )
        .tuples()
        .all()
    )
    user_ids = [int(u) for u, _, _ in per_user]
    if user_id is not None and user_id not in user_ids:
        user_ids_all = [*user_ids, int(user_id)]
    else:
        user_ids_all = user_ids
    reps = reputations_of(session, user_ids_all, config=config.reputation)
    users = [reputation_row(int(u), name, int(n), reps[int(u)]) for u, name, n in per_user]
    if user_id is None:
        return users, None
    mine = next((row for row in users if row["user_id"] == user_id), None)
    if mine is None:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"user {user_id} not found")
        n_mine = int(
            session.scalar(select(func.count(VoteRow.id)).where(VoteRow.user_id == user_id)) or 0
        )
        mine = reputation_row(user_id, user.name, n_mine, reps[user_id])
    return users, mine


def stats(
    session: Session,
    *,
    user_id: int | None = None,
    item_limit: int = 100,
    item_offset: int = 0,
    item_status: str | None = None,
    user_limit: int = 100,
    include_gold: bool = False,
    config: VettingConfig,
) -> dict[str, Any]:
    """Vetting statistics: ``overall``, ``users`` (most active first), ``items``, and ``me``.

    ``items`` leaves out gold items unless ``include_gold`` (admins only: it reveals them);
    ``me`` is the row of ``user_id`` (None when not given).
    """
    if not 1 <= item_limit <= 1000 or not 1 <= user_limit <= 1000:
        raise ValidationError("item_limit and user_limit must be between 1 and 1000")
    if item_offset < 0:
        raise ValidationError(f"item_offset must be >= 0; got {item_offset}")
    overall = _overall(session, config)
    users, me = _user_rows(session, user_id=user_id, user_limit=user_limit, config=config)
    return {
        "overall": overall,
        "users": users,
        "items": _item_stats(
            session,
            include_gold=include_gold,
            status=item_status,
            limit=item_limit,
            offset=item_offset,
        ),
        "me": me,
    }
