"""`exoguard db upgrade|downgrade|current` and `exoguard ingest`."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import typer

from exoguard.errors import ConfigError

logger = logging.getLogger(__name__)

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (default: DATABASE_URL, else the SQLite file under var/).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _url(database_url: str | None) -> str:
    if database_url:
        return database_url
    from exoguard.config import get_settings

    return get_settings().database_url


def _emit(payload: dict[str, Any], *, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(payload, sort_keys=True))
    else:
        typer.echo(text)


def upgrade_command(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply database migrations (creates the SQLite file when needed)."""
    from exoguard.store import migrate
    from exoguard.store.db import redact_url

    url = _url(database_url)
    before = migrate.current_revision(url)
    migrate.upgrade(url, revision=revision)
    after = migrate.current_revision(url)
    storage = migrate.metrics_storage(url) if after is not None else None
    payload = {
        "database": redact_url(url),
        "from": before,
        "to": after,
        "head": migrate.head_revision(),
        "model_metrics": storage,
    }
    _emit(
        payload,
        as_json=as_json,
        text=f"{redact_url(url)}: {before or 'empty'} -> {after} (model_metrics: {storage})",
    )


def downgrade_command(
    revision: Annotated[str, typer.Argument(help="Target revision ('base' drops everything).")],
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revert database migrations down to REVISION."""
    from exoguard.store import migrate
    from exoguard.store.db import redact_url

    url = _url(database_url)
    before = migrate.current_revision(url)
    migrate.downgrade(url, revision=revision)
    after = migrate.current_revision(url)
    payload = {"database": redact_url(url), "from": before, "to": after}
    _emit(payload, as_json=as_json, text=f"{redact_url(url)}: {before} -> {after or 'empty'}")


def current_command(
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the database's migration revision and whether it is up to date."""
    from exoguard.store import migrate
    from exoguard.store.db import redact_url

    url = _url(database_url)
    current = migrate.current_revision(url)
    head = migrate.head_revision()
    payload = {
        "database": redact_url(url),
        "current": current,
        "head": head,
        "up_to_date": current == head,
        "model_metrics": migrate.metrics_storage(url) if current is not None else None,
    }
    state = "up to date" if current == head else f"behind head {head}: run `exoguard db upgrade`"
    _emit(
        payload,
        as_json=as_json,
        text=f"{redact_url(url)}: {current or 'empty'} ({state})",
    )


def ingest_command(
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load the KOI, TOI and K2 catalogs into the candidates table (idempotent)."""
    from tqdm import tqdm

    from exoguard.catalogs import load_default_catalogs
    from exoguard.store import migrate
    from exoguard.store.db import make_engine, make_sessionmaker, redact_url, session_scope
    from exoguard.store.ingest import ingest_catalog_tables
    from exoguard.store.repositories import UpsertResult

    url = _url(database_url)
    if not migrate.is_up_to_date(url):
        raise ConfigError(
            f"database {redact_url(url)} is not migrated to {migrate.head_revision()}; "
            "run `exoguard db upgrade` first"
        )
    from exoguard.config import get_settings

    catalogs_dir = get_settings().catalogs_dir
    tables = list(
        tqdm(load_default_catalogs(catalogs_dir), desc="catalogs", unit="table", disable=None)
    )
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            missions = ingest_catalog_tables(session, tables)
    finally:
        engine.dispose()

    total = sum((m.result for m in missions), UpsertResult())
    payload: dict[str, Any] = {
        "database": redact_url(url),
        "missions": {m.mission: m.to_dict() for m in missions},
        "tables": [
            {
                "kind": t.kind,
                "source": t.source,
                "rows": len(t.frame),
                "validation": t.report.to_dict(),
            }
            for t in tables
        ],
        "totals": total.to_dict(),
    }
    lines = [
        f"{m.mission:>7}: {m.result.inserted} inserted, {m.result.updated} updated, "
        f"{m.result.unchanged} unchanged"
        + (f", {m.result.protected} curated kept" if m.result.protected else "")
        + (f", {m.duplicates_skipped} duplicates skipped" if m.duplicates_skipped else "")
        + f"  ({', '.join(m.sources)})"
        for m in missions
    ]
    lines.append(
        f"  total: {total.inserted} inserted, {total.updated} updated, {total.unchanged} unchanged"
    )
    for table in payload["tables"]:
        report = table["validation"]
        lines.append(
            f"{table['source']}: {table['rows']} rows, {report.get('n_errors', '?')} errors, "
            f"{report.get('n_warnings', '?')} warnings (see --json)"
        )
    _emit(payload, as_json=as_json, text="\n".join(lines))


def register(app: typer.Typer) -> None:
    """Add `db` (upgrade, downgrade, current) and `ingest` to the exoguard CLI."""
    db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
    db_app.command("upgrade")(upgrade_command)
    db_app.command("downgrade")(downgrade_command)
    db_app.command("current")(current_command)
    app.add_typer(db_app, name="db")
    app.command("ingest")(ingest_command)
