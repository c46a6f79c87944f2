"""`exoguard lifecycle ...`: canary evaluation, monitoring, promotion, rollback, retraining.

Meant for operators and schedulers (a cron job or a Kubernetes CronJob running
``exoguard lifecycle monitor --json`` and ``exoguard lifecycle evaluate-canary --json``).
With ``--json`` stdout holds one JSON object; logs go to stderr.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any

import typer

logger = logging.getLogger(__name__)

lifecycle_app = typer.Typer(
    name="lifecycle",
    help="Model lifecycle: canary evaluation, monitoring, promotion, rollback, retraining.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def run_in_session(
    work: Callable[[Any, Any], dict[str, Any]], *, as_json: bool, title: str
) -> None:
    """Run ``work(session, settings)`` in one transaction and print its result."""
    from exoguard.config import get_settings
    from exoguard.errors import ExoguardError
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            out = work(session, settings)
    except ExoguardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(out, sort_keys=True, default=str))
    else:
        typer.echo(f"{title}: {json.dumps(out, indent=2, default=str)}")


@lifecycle_app.command("timeline")
def timeline_cmd(
    limit: Annotated[int, typer.Option(min=1, max=200, help="Versions shown.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Model versions with status, traffic share, latest metrics and events."""
    from exoguard.services import lifecycle

    run_in_session(
        lambda s, cfg: lifecycle.timeline(s, settings=cfg, limit=limit),
        as_json=as_json,
        title="timeline",
    )


@lifecycle_app.command("evaluate-canary")
def evaluate_canary_cmd(
    metric: Annotated[str, typer.Option(help="accuracy, balanced_accuracy, roc_auc or brier.")] = (
        "accuracy"
    ),
    tolerance: Annotated[float, typer.Option(min=0.0, max=0.99)] = 0.05,
    min_labels: Annotated[int, typer.Option(min=1)] = 50,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide but change nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare the canary with the active version on vetted labels; promote or roll back."""
    from exoguard.services import lifecycle

    run_in_session(
        lambda s, cfg: lifecycle.evaluate_canary(
            s,
            metric=metric,
            tolerance=tolerance,
            min_labels=min_labels,
            apply=not dry_run,
            settings=cfg,
        ).to_dict(),
        as_json=as_json,
        title="canary",
    )


@lifecycle_app.command("monitor")
def monitor_cmd(as_json: JsonOption = False) -> None:
    """Record accuracy on vetted labels, prediction distribution and drift (model_metrics)."""
    from exoguard.services.monitoring import monitor_deployed

    run_in_session(
        lambda s, cfg: {"snapshots": [x.to_dict() for x in monitor_deployed(s, settings=cfg)]},
        as_json=as_json,
        title="monitoring",
    )


@lifecycle_app.command("promote")
def promote_cmd(
    version: Annotated[str, typer.Argument(help="Version id, e.g. gbm-0003.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the version's events).")] = "manual",
    as_json: JsonOption = False,
) -> None:
    """Deprecated: `exoguard models activate VERSION`."""
    from exoguard.cli.ml import models_activate
    from exoguard.cli.neural import deprecated

    deprecated("lifecycle promote", "models activate")
    models_activate(version, reason=reason, as_json=as_json)


@lifecycle_app.command("rollback")
def rollback_cmd(
    reason: Annotated[str, typer.Option(help="Why (kept in the version's events).")] = "manual",
    as_json: JsonOption = False,
) -> None:
    """Deprecated: `exoguard models rollback`."""
    from exoguard.cli.ml import models_rollback
    from exoguard.cli.neural import deprecated

    deprecated("lifecycle rollback", "models rollback")
    models_rollback(reason=reason, as_json=as_json)


@lifecycle_app.command("retrain")
def retrain_cmd(
    config: Annotated[str, typer.Option(help="Named gbm config (default, small, ...).")] = (
        "default"
    ),
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE override (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train on the archive data plus the curated set and register the result as canary."""
    from exoguard.services import lifecycle

    run_in_session(
        lambda s, cfg: lifecycle.retrain(s, settings=cfg, config=config, overrides=param or []),
        as_json=as_json,
        title="retrain",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(lifecycle_app, name="lifecycle")
