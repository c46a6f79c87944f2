"""`exoguard serve`, `exoguard worker` and `exoguard users ...`."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)

users_app = typer.Typer(name="users", help="Accounts and roles.", no_args_is_help=True)

POOLS = ("solo", "prefork", "threads")


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Server processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Run the web application (migrations are applied first)."""
    import uvicorn

    from exoguard.config import get_settings
    from exoguard.store.db import redact_url
    from exoguard.store.migrate import upgrade

    settings = get_settings()
    if workers > 1 and settings.job_backend == "inprocess":
        # Each process's in-process runner would fail the other processes' running jobs.
        raise typer.BadParameter(
            "several server processes need shared job workers: set EXOGUARD_JOBS=celery "
            "and REDIS_URL, or use --workers 1",
            param_hint="--workers",
        )
    settings.uploads_path.mkdir(parents=True, exist_ok=True)
    settings.models_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)  # once here, so that several workers never race on it
    typer.echo(
        f"exoguard: serving on http://{host}:{port} ({workers} worker(s)); database "
        f"{redact_url(settings.database_url)}; jobs {settings.job_backend}",
        err=True,
    )
    uvicorn.run(
        "exoguard.web.app:create_server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=log_level,
        # X-Forwarded-For is believed only from EXOGUARD_TRUSTED_PROXIES (none by default):
        # otherwise any client could pick the address its rate limits are counted under.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        server_header=False,  # no "Server: uvicorn"
    )


def _reaper(stop: threading.Event, runner: Any, engine: Any) -> None:
    """Re-queue (once, by default) or fail the jobs whose worker died, every heartbeat."""
    try:
        try:
            runner.recover()  # at once: the jobs of a worker that died before this one
        except Exception as exc:  # a database hiccup must not stop the worker
            log.warning("interrupted-job check failed: %s", exc)
        runner.start()
        stop.wait()
    finally:
        runner.stop()
        engine.dispose()


def _reaper_runner() -> tuple[Any, Any]:
    """The reaper's runner and engine, made in the main thread before the pool forks: a
    module the reaper thread were importing while Celery forks would stay locked in the child
    (Python's per-module import locks), which then hangs on its first job."""
    from exoguard.config import get_settings
    from exoguard.jobs.runner import CeleryRunner
    from exoguard.store.db import make_engine, make_sessionmaker

    settings = get_settings()
    engine = make_engine(settings.database_url)
    with engine.connect():  # imports the database driver and dialect now
        pass
    return CeleryRunner(make_sessionmaker(engine), settings), engine


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=256, help="Jobs run at once.")
    ] = 1,
    pool: Annotated[
        str, typer.Option("--pool", help=f"Celery execution pool: {', '.join(POOLS)}.")
    ] = "prefork",
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery log level.")] = "info",
) -> None:
    """Run a Celery worker over REDIS_URL that executes queued jobs."""
    from exoguard.config import get_settings
    from exoguard.errors import ConfigError
    from exoguard.jobs.celery_app import make_celery
    from exoguard.jobs.tasks import registered_kinds

    if pool not in POOLS:
        raise ConfigError(f"--pool must be one of {', '.join(POOLS)}; got {pool!r}")
    from exoguard.survey.local import limit_threads_env

    settings = get_settings()
    if not settings.redis_url:
        raise ConfigError("exoguard worker needs REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    limit_threads_env()  # one thread per pool process: --concurrency processes, one per core
    kinds = registered_kinds()  # imports the job kinds (and EXOGUARD_JOB_MODULES) up front
    typer.echo(f"exoguard worker: job kinds {', '.join(kinds)}", err=True)
    stop = threading.Event()
    runner, engine = _reaper_runner()
    reaper = threading.Thread(
        target=_reaper, args=(stop, runner, engine), name="exoguard-reaper", daemon=True
    )
    reaper.start()
    app = make_celery(settings)
    try:
        app.worker_main(
            [
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                f"--loglevel={loglevel}",
                f"--hostname=exoguard-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:
        stop.set()


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="Login email.")],
    role: Annotated[
        str, typer.Option("--role", help="explorer, researcher or admin.")
    ] = "explorer",
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the account as JSON.")] = False,
) -> None:
    """Create an account with a role (the password is prompted for, or read from stdin)."""
    from exoguard.config import get_settings
    from exoguard.services.accounts import register_user, user_view
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope
    from exoguard.store.migrate import upgrade

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    settings = get_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            user = register_user(session, email=email, password=password, name=name, role=role)
            view = user_view(user)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(view))
    else:
        typer.echo(f"created {view['email']} (id {view['id']}, {view['role']})")


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    role: Annotated[str, typer.Argument(help="explorer, researcher or admin.")],
) -> None:
    """Change an account's role."""
    from exoguard.config import get_settings
    from exoguard.errors import NotFoundError
    from exoguard.services.accounts import set_role
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope
    from exoguard.store.repositories import UserRepository

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            user = UserRepository(session).get_by_email(email)
            if user is None:
                raise NotFoundError(f"no account with email {email}")
            set_role(session, user_id=user.id, role=role)
    finally:
        engine.dispose()
    typer.echo(f"{email} is now {role}")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Every account with its role."""
    from exoguard.config import get_settings
    from exoguard.services.accounts import user_view
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope
    from exoguard.store.repositories import UserRepository

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            views = [user_view(u) for u in UserRepository(session).list(limit=None)]
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(views))
        return
    for view in views:
        typer.echo(f"{view['id']:>5}  {view['role']:<10}  {view['email']}  {view['name']}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(users_app, name="users")
