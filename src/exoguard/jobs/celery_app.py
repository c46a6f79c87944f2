"""Celery over Redis: the worker side of `CeleryRunner`. Messages carry job ids only."""

from __future__ import annotations

from celery import Celery

from exoguard.config import Settings, get_settings


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app whose broker and result backend are `settings.redis_url`."""
    settings = settings or get_settings()
    if not settings.redis_url:
        raise ValueError("Celery needs REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    app = Celery("exoguard", broker=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # a worker killed mid-job → the message is redelivered
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
    )

    @app.task(name="exoguard.run_job", bind=True, max_retries=2)
    def run_job(self: object, job_id: str) -> str:  # noqa: ARG001
        from exoguard.jobs.execute import execute_job
        from exoguard.store.db import make_engine, make_sessionmaker

        engine = make_engine(settings.database_url)
        try:
            return execute_job(make_sessionmaker(engine), settings, job_id)
        finally:
            engine.dispose()

    return app
