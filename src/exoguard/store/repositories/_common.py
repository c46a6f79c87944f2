"""What every repository shares: argument checks, paging, chunked IN lists, conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exoguard.errors import ConflictError

MAX_PAGE_SIZE: Final = 10_000
_IN_CHUNK: Final = 500


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _page(stmt: Select[Any], limit: int | None, offset: int) -> Select[Any]:
    if offset < 0:
        raise ValueError(f"offset must be >= 0; got {offset}")
    if limit is not None:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE} (or None); got {limit}")
        stmt = stmt.limit(limit)
    return stmt.offset(offset) if offset else stmt


def _chunks(values: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@contextmanager
def _conflict_on_integrity(session: Session, message: str) -> Iterator[None]:
    """Run a write in a savepoint; a unique-constraint violation becomes `ConflictError`."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(message) from exc
