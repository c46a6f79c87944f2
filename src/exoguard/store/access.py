"""Who may see which row: the one visibility rule of exoguard (issue 13, item 1).

Every page, chart, export and API route that takes or lists a candidate, dataset, job,
prediction or vetting item goes through this module; nothing else decides visibility.

The rule
--------
- **Public rows.** Candidates ingested from the NASA archive tables (no dataset, no owner)
  and their predictions are visible to everybody, anonymous visitors included.
- **Private rows.** An upload is private to its owner: the dataset, the candidates its
  preprocessing stored (``candidates.dataset_id``), the candidates a user typed in by hand
  (``candidates.owner_id``), the predictions of those candidates (no route takes a
  prediction id: predictions are reached through their candidate), and the user's jobs.
  Lists of datasets and jobs are filtered on their owner unless :func:`sees_all`.
- **Researchers and admins see everything.** SPEC.md gives researchers "batch jobs,
  exports, the curated data set" and admins everything a researcher has; curating the data
  set means reading the uploads it is built from, so both roles see every row.
- **The vetting queue is shared with vetters.** The product sends uncertain predictions,
  uploads included, to human vetters; a vetting item is therefore visible to every
  logged-in user, through the vetting routes only (the item page, its charts, the queue and
  the statistics). This does not make the candidate public: ``/candidates/{id}``,
  ``/results``, the exports, ``/api/models/explain`` and share-link creation still apply the
  owner rule. Anonymous visitors see the items of public candidates only, and never a gold
  (calibration) item.
- **Share links.** A share link is its creator's deliberate choice to show one candidate
  they may see; whoever holds the token sees that candidate read-only.

Aggregates without rows (the home page's counts per mission) include private rows.

Another user's private id answers exactly like a missing id: 404 with the same message,
never 403, so that ids cannot be probed. JSON API routes that need a login answer 401 to
anonymous callers before any lookup; HTML pages and charts answer anonymous visitors 404
for private rows.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError
from exoguard.store.models import Candidate, Dataset, Job, User, VettingItem

#: Roles that see every row (see the module docstring for why).
SEES_ALL_ROLES: Final[tuple[str, ...]] = ("researcher", "admin")


def sees_all(user: User | None) -> bool:
    """True for researchers and admins."""
    return user is not None and user.role in SEES_ALL_ROLES


# ----------------------------------------------------------------------------- SQL filters
def public_candidate() -> ColumnElement[bool]:
    """SQL condition of the public candidates (archive rows: no dataset, no owner)."""
    return and_(Candidate.dataset_id.is_(None), Candidate.owner_id.is_(None))


def candidate_filter(user: User | None) -> ColumnElement[bool]:
    """SQL condition of the candidates `user` (None: anonymous) may see."""
    if sees_all(user):
        return true()
    if user is None:
        return public_candidate()
    own_datasets = select(Dataset.id).where(Dataset.owner_id == user.id)
    return or_(
        public_candidate(),
        Candidate.owner_id == user.id,
        Candidate.dataset_id.in_(own_datasets),
    )


# ----------------------------------------------------------------------------- single rows
def _not_found(kind: str, ident: object) -> NotFoundError:
    return NotFoundError(f"{kind} {ident} not found")


def candidate_visible(session: Session, candidate: Candidate, user: User | None) -> bool:
    """Whether `user` may see this candidate (the Python twin of :func:`candidate_filter`)."""
    if sees_all(user) or (candidate.dataset_id is None and candidate.owner_id is None):
        return True
    if user is None:
        return False
    if candidate.owner_id is not None and candidate.owner_id == user.id:
        return True
    if candidate.dataset_id is None:
        return False
    owner = session.scalar(select(Dataset.owner_id).where(Dataset.id == candidate.dataset_id))
    return owner is not None and owner == user.id


def require_candidate(session: Session, candidate_id: int, user: User | None) -> Candidate:
    """The candidate when `user` may see it; `NotFoundError` otherwise (missing or private)."""
    candidate = session.get(Candidate, candidate_id)
    if candidate is None or not candidate_visible(session, candidate, user):
        raise _not_found("candidate", candidate_id)
    return candidate


def require_dataset(session: Session, dataset_id: str, user: User | None) -> Dataset:
    """The dataset when `user` owns it or sees everything; `NotFoundError` otherwise."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or not (
        sees_all(user) or (user is not None and dataset.owner_id == user.id)
    ):
        raise _not_found("dataset", repr(dataset_id))
    return dataset


def require_job(session: Session, job_id: str, user: User | None) -> Job:
    """The job when `user` started it or sees everything; `NotFoundError` otherwise."""
    job = session.get(Job, job_id)
    if job is None or not (sees_all(user) or (user is not None and job.owner_id == user.id)):
        raise _not_found("job", repr(job_id))
    return job


def vetting_item_visible(session: Session, item: VettingItem, user: User | None) -> bool:
    """Logged-in vetters see every item; anonymous visitors the non-gold public ones."""
    if user is not None:
        return True
    return not item.is_gold and candidate_visible(session, item.candidate, None)


def vetting_item_filter(user: User | None) -> ColumnElement[bool]:
    """SQL condition of the vetting items `user` may see (join ``Candidate`` on the item)."""
    if user is not None:
        return true()
    return and_(VettingItem.is_gold.is_(False), public_candidate())


def require_vetting_item(session: Session, item_id: int, user: User | None) -> VettingItem:
    """The vetting item when `user` may see it; `NotFoundError` otherwise."""
    item = session.get(VettingItem, item_id)
    if item is None or not vetting_item_visible(session, item, user):
        raise _not_found("vetting item", item_id)
    return item


__all__ = [
    "SEES_ALL_ROLES",
    "candidate_filter",
    "candidate_visible",
    "public_candidate",
    "require_candidate",
    "require_dataset",
    "require_job",
    "require_vetting_item",
    "sees_all",
    "vetting_item_filter",
    "vetting_item_visible",
]
