"""Persistence: SQLAlchemy models, engines and sessions, repositories, Alembic migrations.

- `exoguard.store.db`: `make_engine`, `make_sessionmaker`, `session_scope` (no engine at import).
- `exoguard.store.models`: the typed ORM of every table of SPEC.md.
- `exoguard.store.repositories`: thin typed repositories (one per aggregate).
- `exoguard.store.migrate`: `upgrade`, `downgrade`, `current_revision`, `head_revision`.
- `exoguard.store.ingest`: catalog tables → `candidates`, idempotently.
"""
