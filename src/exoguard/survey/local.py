"""Survey chunks on a pool of local processes: the embedded default of ``exoguard survey``.

One process per core, each limited to one thread (numba, torch, BLAS), with the search
kernels and the active model warmed once at process start. Each chunk is a ``survey_chunk``
job row run through ``exoguard.jobs.execute.execute_job``, exactly as a Celery worker runs it,
so a chunk is claimed once and its stars are stored once whichever runner ran it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exoguard.config import Settings

log = logging.getLogger(__name__)

#: Environment variables that cap the threads of numba, OpenMP and the BLAS libraries.
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def limit_threads_env(environ: dict[str, str] | None = None) -> None:
    """Set every thread cap of `environ` (default ``os.environ``) to 1 (before imports)."""
    target = os.environ if environ is None else environ
    for name in THREAD_VARIABLES:
        target[name] = "1"


def limit_threads() -> None:
    """One thread for numba, torch and BLAS in this process (one process per core)."""
    limit_threads_env()
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError) as exc:  # ValueError: a larger cap was fixed at import
        log.debug("numba threads not limited: %s", exc)
    try:
        import torch

        from exoguard.ml.multibranch.predict import cap_threads

        torch.set_num_threads(1)
        cap_threads(1)  # a model's own n_threads (2) would put two threads on this core
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError) as exc:  # RuntimeError: interop threads already set
        log.debug("torch threads: %s", exc)


def warm_worker(settings: Settings) -> dict[str, Any]:
    """Compile (or load from the disk cache) the search kernels and load the active model."""
    from exoguard.core.search.warmup import warm_up
    from exoguard.services.predictions import warm_up as warm_model

    out: dict[str, Any] = {"kernels_s": round(warm_up(), 3)}
    started = time.perf_counter()
    try:
        _, factory = worker_sessions(settings.database_url)
        out["model"] = warm_model(factory, settings)
    except Exception as exc:  # the stars then load it, or fail with the reason
        log.warning("survey worker: the model was not loaded at start: %s", exc)
    out["model_s"] = round(time.perf_counter() - started, 3)
    return out


_warmed: set[tuple[int, str]] = set()


def warm_once(settings: Settings) -> None:
    """:func:`warm_worker` the first time this process asks (later calls do nothing)."""
    key = (os.getpid(), settings.database_url)
    if key in _warmed:
        return
    _warmed.add(key)
    try:
        warm_worker(settings)
    except Exception as exc:  # the stars then compile what they need
        log.warning("survey worker warm-up failed: %s", exc)


_sessions: dict[tuple[int, str], Any] = {}


def worker_sessions(database_url: str) -> Any:
    """(engine, session factory) of this process for `database_url`, made once per process."""
    from exoguard.store.db import make_engine, make_sessionmaker

    key = (os.getpid(), database_url)
    if key not in _sessions:
        engine = make_engine(database_url)
        _sessions[key] = (engine, make_sessionmaker(engine))
    return _sessions[key]


#: The settings the parent passed to this worker process (set by `_init`).
_worker_settings: list[Settings] = []


def _init(settings: Settings, warm: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    limit_threads()
    _worker_settings[:] = [settings]
    if warm:
        warm_once(settings)


def _run(job_id: str) -> tuple[str, str]:
    from exoguard.jobs.execute import execute_job

    (settings,) = _worker_settings
    _, factory = worker_sessions(settings.database_url)
    return job_id, execute_job(factory, settings, job_id)


@contextmanager
def process_pool(*, workers: int, settings: Settings, warm: bool = True) -> Iterator[Any]:
    """A pool of `workers` fresh processes (spawned: no inherited threads or connections),
    each working with the parent's `settings`."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1; got {workers}")
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    limit_threads_env()  # inherited by the spawned processes before they import anything
    try:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(processes=workers, initializer=_init, initargs=(settings, warm))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield pool
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    else:
        pool.close()
        pool.join()


def run_jobs(
    pool: Any, job_ids: Sequence[str], *, on_done: Callable[[str, str], None] | None = None
) -> dict[str, str]:
    """Run the chunk jobs `job_ids` on `pool`; job id → final status."""
    out: dict[str, str] = {}
    for job_id, status in pool.imap_unordered(_run, list(job_ids)):
        out[job_id] = status
        if on_done is not None:
            on_done(job_id, status)
    return out


__all__ = [
    "THREAD_VARIABLES",
    "limit_threads",
    "limit_threads_env",
    "process_pool",
    "run_jobs",
    "warm_once",
    "warm_worker",
    "worker_sessions",
]
