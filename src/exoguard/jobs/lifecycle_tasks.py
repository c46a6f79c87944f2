"""Job kinds of the model lifecycle: retraining, canary evaluation, monitoring.

Each task opens its own engine from ``ctx.settings.database_url`` and applies its writes in
one transaction (committed when the task returns), so the same code runs in-process or in a
Celery worker.
"""

from __future__ import annotations

from typing import Any

from exoguard.jobs.tasks import JobContext, task

# Services are imported inside each task: listing the job kinds stays light (see builtin.py).


def _factory(ctx: JobContext) -> Any:
    from exoguard.store.db import make_engine, make_sessionmaker

    engine = make_engine(ctx.settings.database_url)
    return engine, make_sessionmaker(engine)


@task("retrain")
def retrain_task(ctx: JobContext) -> dict[str, Any]:
    """Train a gbm version on the archive tables plus the curated set; register it as canary.

    Params: ``config`` (a named config, default ``"default"``) and ``params`` (overrides,
    ``{NAME: VALUE}``).
    """
    from exoguard.services.lifecycle import load_curated, retrain
    from exoguard.store.db import session_scope

    engine, factory = _factory(ctx)
    try:
        # A short transaction reads the curated set; the second one starts after the fit.
        with session_scope(factory) as session:
            curated = load_curated(session)
        with session_scope(factory) as session:
            return retrain(
                session,
                settings=ctx.settings,
                config=str(ctx.params.get("config") or "default"),
                overrides=dict(ctx.params.get("params") or {}),
                curated=curated,
                progress=ctx.progress,
            )
    finally:
        engine.dispose()


@task("canary_evaluate")
def canary_evaluate_task(ctx: JobContext) -> dict[str, Any]:
    """Compare the canary with the active version on vetted labels; promote or roll back.

    Params (all optional): ``metric``, ``tolerance``, ``min_labels``, ``apply``.
    """
    from exoguard.ml.lifecycle import DEFAULT_MIN_LABELS, DEFAULT_TOLERANCE
    from exoguard.services.lifecycle import evaluate_canary
    from exoguard.store.db import session_scope

    engine, factory = _factory(ctx)
    try:
        with session_scope(factory) as session:
            result = evaluate_canary(
                session,
                metric=str(ctx.params.get("metric") or "accuracy"),
                tolerance=float(ctx.params.get("tolerance", DEFAULT_TOLERANCE)),
                min_labels=int(ctx.params.get("min_labels", DEFAULT_MIN_LABELS)),
                apply=bool(ctx.params.get("apply", True)),
                settings=ctx.settings,
            )
        ctx.progress(1.0, result.decision)
        return result.to_dict()
    finally:
        engine.dispose()


@task("monitor")
def monitor_task(ctx: JobContext) -> dict[str, Any]:
    """Record accuracy on vetted labels, prediction distribution and drift of deployed models."""
    from exoguard.services.monitoring import monitor_deployed
    from exoguard.store.db import session_scope

    engine, factory = _factory(ctx)
    try:
        with session_scope(factory) as session:
            snapshots = monitor_deployed(session, settings=ctx.settings)
        ctx.progress(1.0, f"{len(snapshots)} version(s) measured")
        return {"snapshots": [s.to_dict() for s in snapshots]}
    finally:
        engine.dispose()
