"""`exoguard ingest`: catalog tables into `candidates`, idempotently (fake and real tables)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import exoguard.catalogs
from exoguard.catalogs.schema import HARMONISED_COLUMNS
from exoguard.cli import app
from exoguard.config import get_settings
from exoguard.errors import ConfigError
from exoguard.store.db import make_engine, make_sessionmaker, session_scope
from exoguard.store.ingest import ingest_catalog_tables
from exoguard.store.repositories import CandidateRepository

pytestmark = pytest.mark.integration


@dataclass
class _Report:
    n_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "n_errors": self.n_errors, "n_warnings": 0}


@dataclass
class FakeTable:
    kind: str
    source: str
    frame: pd.DataFrame
    report: _Report = field(default_factory=_Report)


def _frame(mission: str, object_ids: list[str], periods: list[float]) -> pd.DataFrame:
    n = len(object_ids)
    frame = pd.DataFrame({c: [np.nan] * n for c in HARMONISED_COLUMNS})
    frame["object_id"] = object_ids
    frame["host_id"] = [o.split(".")[0] for o in object_ids]
    frame["mission"] = mission
    frame["label"] = "candidate"
    frame["disposition"] = "PC"
    frame["source"] = f"{mission}.csv"
    frame["period_days"] = periods
    return frame


def _tables(catalogs_dir: object = None) -> list[FakeTable]:
    return [
        FakeTable("koi", "koi.csv", _frame("kepler", ["K1.01", "K2.01"], [1.0, 2.0])),
        FakeTable("toi", "toi_old.csv", _frame("tess", ["T1.01", "T2.01"], [3.0, 4.0])),
        # A newer snapshot of the same mission: overlapping ids keep the first occurrence.
        FakeTable("toi", "toi_new.csv", _frame("tess", ["T2.01", "T3.01"], [4.5, 5.0])),
    ]


def test_ingest_tables_is_idempotent_and_counts_duplicates(db_session: Session) -> None:
    first = {m.mission: m for m in ingest_catalog_tables(db_session, _tables())}
    assert first["kepler"].result.inserted == 2
    assert first["tess"].result.inserted == 3
    assert first["tess"].duplicates_skipped == 1
    assert first["tess"].sources == ("toi_old.csv", "toi_new.csv")
    second = ingest_catalog_tables(db_session, _tables())
    counts = [(m.mission, m.result.inserted, m.result.updated, m.result.unchanged) for m in second]
    assert counts == [("kepler", 0, 0, 2), ("tess", 0, 0, 3)]
    t2 = CandidateRepository(db_session).get_by_key("tess", "T2.01")
    assert t2 is not None and t2.period_days == 4.0 and t2.source == "tess.csv"


def test_cli_ingest_json_twice(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exoguard.catalogs, "load_default_catalogs", _tables)
    runner = CliRunner()
    runs = []
    for _ in range(2):
        result = runner.invoke(app, ["ingest", "--json", "--database-url", sqlite_url])
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))  # stdout holds only the JSON object
    assert runs[0]["totals"] == {"inserted": 5, "updated": 0, "unchanged": 0, "protected": 0}
    assert runs[1]["totals"] == {"inserted": 0, "updated": 0, "unchanged": 5, "protected": 0}
    assert runs[1]["missions"]["tess"]["duplicates_skipped"] == 1
    assert [t["source"] for t in runs[1]["tables"]] == ["koi.csv", "toi_old.csv", "toi_new.csv"]


def test_cli_ingest_refuses_an_unmigrated_database(
    blank_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exoguard.catalogs, "load_default_catalogs", _tables)
    result = CliRunner().invoke(app, ["ingest", "--database-url", blank_sqlite_url])
    assert isinstance(result.exception, ConfigError)
    assert "exoguard db upgrade" in str(result.exception)


def test_real_catalogs_ingest_twice(sqlite_url: str) -> None:
    tables = exoguard.catalogs.load_default_catalogs(get_settings().catalogs_dir)
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    try:
        with session_scope(factory) as session:
            first = {m.mission: m for m in ingest_catalog_tables(session, tables)}
        with session_scope(factory) as session:
            second = ingest_catalog_tables(session, tables)
            counts = CandidateRepository(session).count_by("mission")
            labels = CandidateRepository(session).count_by("label")
    finally:
        engine.dispose()
    # The archive tables as documented in the data README: 9,564 KOIs, 7,931 TOIs and
    # 1,806 K2 objects (default_flag == 1), none dropped.
    assert counts == {"kepler": 9564, "tess": 7931, "k2": 1806}
    assert {m: r.result.inserted for m, r in first.items()} == counts
    assert all(m.result.unchanged == m.rows and m.result.total == m.rows for m in second)
    assert set(labels) == {"planet", "false_positive", "candidate"}
