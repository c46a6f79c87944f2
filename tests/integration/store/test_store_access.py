"""The visibility rule (`exoguard.store.access`): the SQL filter and its Python twin agree.

Every combination of owner and dataset is stored once, and each kind of visitor (anonymous,
the owner, another explorer, a researcher, an admin) must see the same rows through
`candidate_filter` (lists) and `candidate_visible` / `require_candidate` (single rows).
Also: the 0002 migration takes the typed-in candidates stored before it out of the public rows.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError
from exoguard.store import access, migrate
from exoguard.store.db import make_engine
from exoguard.store.models import Candidate, Dataset, User

pytestmark = pytest.mark.integration


def _user(session: Session, role: str) -> User:
    user = User(email=f"{uuid.uuid4().hex}@example.org", password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


def _dataset(session: Session, owner: User | None) -> Dataset:
    dataset = Dataset(
        id=str(uuid.uuid4()),
        owner_id=owner.id if owner else None,
        filename="f.fits",
        kind="lightcurve",
        format="fits",
        size_bytes=1,
        sha256="0" * 64,
        storage_path="x/f.fits",
    )
    session.add(dataset)
    session.flush()
    return dataset


def test_sql_filter_and_python_twin_agree(db_session: Session) -> None:
    alice, bob = _user(db_session, "explorer"), _user(db_session, "explorer")
    rita, adam = _user(db_session, "researcher"), _user(db_session, "admin")
    alices, orphan = _dataset(db_session, alice), _dataset(db_session, None)
    rows = {
        "public": {},
        "alice typed": {"owner_id": alice.id},
        "alice upload": {"dataset_id": alices.id},
        "orphan upload": {"dataset_id": orphan.id},  # its owner was deleted
    }
    ids = {}
    for name, where in rows.items():
        candidate = Candidate(
            mission="other", object_id=f"{name} {uuid.uuid4().hex[:8]}", label="candidate", **where
        )
        db_session.add(candidate)
        db_session.flush()
        ids[name] = candidate.id
    expected = {
        None: {"public"},
        alice: {"public", "alice typed", "alice upload"},
        bob: {"public"},
        rita: set(rows),
        adam: set(rows),
    }
    for visitor, names in expected.items():
        listed = set(
            db_session.scalars(
                select(Candidate.id).where(
                    Candidate.id.in_(ids.values()), access.candidate_filter(visitor)
                )
            )
        )
        assert listed == {ids[n] for n in names}, visitor
        for name, cid in ids.items():
            candidate = db_session.get_one(Candidate, cid)
            assert access.candidate_visible(db_session, candidate, visitor) == (name in names)
            if name in names:
                assert access.require_candidate(db_session, cid, visitor).id == cid
            else:
                with pytest.raises(NotFoundError, match=f"^candidate {cid} not found$"):
                    access.require_candidate(db_session, cid, visitor)
    for visitor, allowed in ((alice, True), (bob, False), (None, False), (rita, True)):
        if allowed:
            assert access.require_dataset(db_session, alices.id, visitor) is alices
        else:
            with pytest.raises(NotFoundError, match="not found"):
                access.require_dataset(db_session, alices.id, visitor)


def test_migration_takes_earlier_typed_in_candidates_out_of_the_public_rows(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{(tmp_path / 'm.sqlite3').as_posix()}"
    migrate.upgrade(url, revision="0001")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for email, role in (("e@x.org", "explorer"), ("a@x.org", "admin")):
                conn.execute(
                    text(
                        "INSERT INTO users (email, name, password_hash, role, reputation, "
                        "is_active) VALUES (:e, '', 'x', :r, 1.0, 1)"
                    ),
                    {"e": email, "r": role},
                )
            for object_id in ("manual-0123456789ab", "K00752.01"):
                conn.execute(
                    text(
                        "INSERT INTO candidates (mission, object_id, label, origin, updated_at) "
                        "VALUES ('kepler', :o, 'candidate', 'catalog', CURRENT_TIMESTAMP)"
                    ),
                    {"o": object_id},
                )
        migrate.upgrade(url)
        with engine.connect() as conn:
            admin = conn.execute(text("SELECT id FROM users WHERE role = 'admin'")).scalar_one()
            owners = dict(conn.execute(text("SELECT object_id, owner_id FROM candidates")).all())
        assert owners == {"manual-0123456789ab": admin, "K00752.01": None}
    finally:
        engine.dispose()
