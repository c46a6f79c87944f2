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
        # Fail fast when the broker is down: the API answers 503 instead of hanging.
        broker_connection_timeout=2.0,
        broker_transport_options={"socket_connect_timeout": 2.0, "socket_timeout": 5.0},
    )

    # Idempotent on the job id: a redelivered message of a finished job does nothing, and one
    # of a job a live worker holds is dropped (execute_job claims the row conditionally).
    @app.task(name="exoguard.run_job")
    def run_job(job_id: str) -> str:
        from exoguard.jobs.execute import execute_job
        from exoguard.store.db import make_engine, make_sessionmaker

        engine = make_engine(settings.database_url)
        try:
            return execute_job(make_sessionmaker(engine), settings, job_id)
        finally:
            engine.dispose()

    _on_process_start(settings)
    return app


_hooked: list[bool] = []


def _on_process_start(settings: Settings) -> None:
    """Each worker process runs with one thread for numba/torch/BLAS (one process per core).

    The search kernels and the model are warmed by the first survey chunk a process runs
    (``exoguard.jobs.survey_tasks``), not here: Celery gives a new process a few seconds to
    report ready.
    """
    from celery.signals import worker_process_init

    if _hooked:
        return
    _hooked.append(True)

    @worker_process_init.connect(weak=False)
    def _start(**_: object) -> None:
        from exoguard.survey.local import limit_threads

        limit_threads()
