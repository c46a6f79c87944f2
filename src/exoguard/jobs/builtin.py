"""Built-in job kinds: dataset preprocessing, model training, batch prediction, echo.

Tasks stay thin: they read their JSON params, call an application service and return a JSON
result. Each service applies its domain writes in one transaction at its end (and marks the
job succeeded in that same transaction), so a job killed mid-way leaves nothing half-applied.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from exoguard.jobs.tasks import JobContext, task

log = logging.getLogger(__name__)

# The tasks import their services inside the function: listing the job kinds (the worker at
# start-up, `registered_kinds`) then loads no science stack (about 1,000 fewer modules).

#: Comma-separated modules imported when the job kinds load (extra kinds, e.g. in tests).
EXTRA_MODULES_ENV = "EXOGUARD_JOB_MODULES"


def _sessions(ctx: JobContext) -> Any:
    from exoguard.store.db import make_engine, make_sessionmaker

    engine = make_engine(ctx.settings.database_url)
    return engine, make_sessionmaker(engine)


@task("echo")
def echo(ctx: JobContext) -> dict[str, Any]:
    """A trivial job used by the health checks of worker deployments."""
    ctx.progress(1.0, "done")
    return {"echo": ctx.params}


@task("preprocess")
def preprocess(ctx: JobContext) -> dict[str, Any]:
    """Dataset → candidates (catalog rows or a transit search) → stored predictions."""
    from exoguard.jobs.execute import replica_id
    from exoguard.services.preprocessing import preprocess_dataset

    dataset_id = str(ctx.params["dataset_id"])
    options = dict(ctx.params.get("options") or {})
    engine, factory = _sessions(ctx)
    try:
        return preprocess_dataset(
            factory,
            ctx.settings,
            dataset_id=dataset_id,
            job_id=ctx.job_id,
            holder=replica_id(),
            options=options,
            progress=ctx.progress,
        ).to_dict()
    finally:
        engine.dispose()


@task("train")
def train(ctx: JobContext) -> dict[str, Any]:
    """Train and register a model version with the requested hyperparameters."""
    from exoguard.services.training import train as train_model

    return train_model(
        ctx.settings,
        model=str(ctx.params["model"]),
        params=dict(ctx.params.get("params") or {}),
        progress=ctx.progress,
    )


@task("predict")
def predict(ctx: JobContext) -> dict[str, Any]:
    """Score every candidate of a preprocessed dataset with the active model (batch)."""
    from exoguard.jobs.execute import replica_id
    from exoguard.services import predictions
    from exoguard.store.db import session_scope
    from exoguard.store.repositories import DatasetRepository, JobRepository

    engine, factory = _sessions(ctx)
    try:
        with session_scope(factory) as session:
            dataset = DatasetRepository(session).require(str(ctx.params["dataset_id"]))
            verdicts = predictions.predict_dataset(session, dataset, settings=ctx.settings)
            result = {
                "dataset_id": dataset.id,
                "n_predictions": len(verdicts),
                "predictions": [v.to_dict() for v in verdicts[:1000]],
            }
            JobRepository(session).mark_succeeded(ctx.job_id, result=result, holder=replica_id())
        return result
    finally:
        engine.dispose()


def _load_extra_modules() -> None:
    for name in filter(None, (m.strip() for m in os.environ.get(EXTRA_MODULES_ENV, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError:
            log.exception("cannot import job module %s (from %s)", name, EXTRA_MODULES_ENV)
            raise


_load_extra_modules()
import exoguard.jobs.lifecycle_tasks  # noqa: E402, F401
import exoguard.jobs.survey_tasks  # noqa: E402, F401
