"""Bounds of every integer a client sends: ids, offsets, limits and page numbers.

Integer columns are 32-bit on PostgreSQL and SQLite stops at 2**63 - 1; a bigger number in a
path, query or body used to reach the database and fail there with a 500 (issue 13, item 8).
Each route declares its integers with the aliases below, so FastAPI answers 422 naming the
bound before any query runs. `tests/integration/web/test_api_bounds.py` walks ``app.routes`` and
checks every integer parameter of every route has a bound.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Query
from pydantic import Field

#: The largest value of a PostgreSQL ``integer`` column (the ids' type): 2**31 - 1.
MAX_DB_INT: Final[int] = 2**31 - 1

_ID_DOC = f"a row id, 1 to {MAX_DB_INT}"
_OFFSET_DOC = f"rows to skip, 0 to {MAX_DB_INT}"

#: A row id in the path.
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT, description=_ID_DOC)]
#: A row id in the query string.
IdQuery = Annotated[int, Query(ge=1, le=MAX_DB_INT, description=_ID_DOC)]
#: An optional row id in the query string.
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_INT, description=_ID_DOC)]
#: An offset in the query string (give the default in the signature: ``= 0``).
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_DB_INT, description=_OFFSET_DOC)]
#: A row id in a JSON body.
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT, description=_ID_DOC)]
#: A text key (dataset, job or model version id): letters, digits and ``_.:-`` only, so a
#: control character (a NUL byte) never reaches a query.
KEY_PATTERN: Final[str] = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_KEY_DOC = "an id: letters, digits and _ . : - (at most 64)"
#: A key in the path.
KeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description=_KEY_DOC)]
#: A key in the query string.
KeyQuery = Annotated[str, Query(pattern=KEY_PATTERN, description=_KEY_DOC)]
#: An optional key in the query string.
OptionalKeyQuery = Annotated[str | None, Query(pattern=KEY_PATTERN, description=_KEY_DOC)]
#: A key in a JSON body.
DbKey = Annotated[str, Field(pattern=KEY_PATTERN, description=_KEY_DOC)]

#: A count in a JSON body (e.g. a minimum number of labels).
DbCount = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


def page_query(*, page_size: int) -> Any:
    """The ``Query`` of a 1-based page number whose offset stays within `MAX_DB_INT`."""
    last = MAX_DB_INT // page_size
    return Query(ge=1, le=last, description=f"page number, 1 to {last}")


__all__ = [
    "KEY_PATTERN",
    "MAX_DB_INT",
    "DbKey",
    "KeyPath",
    "KeyQuery",
    "OptionalKeyQuery",
    "DbCount",
    "DbId",
    "IdPath",
    "IdQuery",
    "OffsetQuery",
    "OptionalIdQuery",
    "page_query",
]
