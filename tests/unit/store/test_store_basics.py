"""Store pieces that need no database: URLs, datetimes, upsert input validation, migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.dialects import postgresql, sqlite

from exoguard.errors import ValidationError
from exoguard.store.db import normalize_url, redact_url
from exoguard.store.migrate import head_revision
from exoguard.store.models import Base
from exoguard.store.repositories import UpsertResult
from exoguard.store.repositories.candidates import _rows_from_frame
from exoguard.store.types import UTCDateTime


def test_postgres_urls_use_psycopg3() -> None:
    for raw in ("postgres://u:p@h/db", "postgresql://u:p@h/db"):
        assert normalize_url(raw).drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    assert "p@" not in redact_url("postgresql://u:p@h/db")


def test_utc_datetime_round_trip_and_naive_refused() -> None:
    column = UTCDateTime()
    plus_two = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    stored = column.process_bind_param(plus_two, sqlite.dialect())
    assert stored == datetime(2026, 1, 1, 12, 0)  # UTC, zone stripped for SQLite text
    back = column.process_result_value(stored, sqlite.dialect())
    assert back == plus_two and back is not None and back.tzinfo == UTC
    assert column.process_bind_param(plus_two, postgresql.dialect()) == plus_two
    with pytest.raises(ValueError, match="naive datetime"):
        column.process_bind_param(datetime(2026, 1, 1), sqlite.dialect())


def test_schema_has_every_table_of_the_spec() -> None:
    assert set(Base.metadata.tables) == {
        "users",
        "datasets",
        "candidates",
        "predictions",
        "vetting_queue",
        "votes",
        "vote_history",
        "model_versions",
        "model_metrics",
        "jobs",
        "share_links",
        "sessions",
        "surveys",
        "survey_stars",
    }
    metrics = Base.metadata.tables["model_metrics"]
    assert [c.name for c in metrics.primary_key.columns] == ["version_id", "name", "time"]
    assert head_revision() == "0007_survey"


def _frame(**overrides: object) -> pd.DataFrame:
    data: dict[str, object] = {
        "mission": ["kepler", "tess"],
        "object_id": ["K00001.01", "TOI-1.01"],
        "label": ["planet", "candidate"],
        "period_days": [1.5, np.nan],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_rows_from_frame_cleans_nan_and_keeps_given_columns() -> None:
    rows = _rows_from_frame(_frame())
    assert rows[1]["period_days"] is None
    assert rows[0]["period_days"] == 1.5
    assert set(rows[0]) == {"mission", "object_id", "label", "period_days"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"label": ["planet", "maybe"]}, "label must be one of planet, false_positive, candidate"),
        ({"mission": ["kepler", "hubble"]}, "mission must be one of kepler, k2, tess, other"),
        ({"object_id": ["A", "A"], "mission": ["k2", "k2"]}, "duplicate"),
        ({"period_days": [1.0, "x"]}, "period_days is not numeric"),
    ],
)
def test_rows_from_frame_rejects_bad_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _rows_from_frame(_frame(**overrides))


def test_rows_from_frame_names_missing_columns() -> None:
    with pytest.raises(ValidationError, match="label"):
        _rows_from_frame(pd.DataFrame({"mission": ["k2"], "object_id": ["x"]}))


def test_upsert_result_sums() -> None:
    total = UpsertResult(inserted=2, unchanged=1) + UpsertResult(updated=3, protected=1)
    assert total.to_dict() == {"inserted": 2, "updated": 3, "unchanged": 1, "protected": 1}
    assert total.total == 7
