"""Survey-mode benchmark: stars per second with 1 and with 2 worker processes, side by side.

Each run gets a fresh database (an SQLite file, or a new schema of ``--database-url`` when it
is PostgreSQL) with the same active model, and runs the whole manifest through
``exoguard.survey.run.run_local`` (the embedded default of ``exoguard survey``): spawned
processes, one thread each, kernels and model warmed at process start. The rate counts the
stars finished between the first star's start and the last star's end (process start-up and
warm-up excluded; the wall time including them is printed too), and how many stars ran at
once (the most, and the mean over the span). The per-stage seconds per star are CPU seconds of
the worker process, means over the stars done (read, detrend, search, diagnostics, classify,
store); the median CPU seconds of a star end to end is set against the issue's 0.35 s. On a
shared machine compare CPU seconds: stars/s and the scaling depend on what else runs.

The model: ``--model bundled`` (default) trains the default GBM once (kept under
``var/bench/survey-model``) and installs the bundled network and its ensemble with it, the
model ``make run`` activates; ``--model none`` stores candidates without predictions.

Usage::

    python bench/survey.py --manifest DIR/manifest.csv [--workers 1 2] [--limit N]
    python bench/survey.py --from-data 40      # a manifest of the data folder's light curves
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from exoguard.config import REPO_ROOT, Settings, get_settings
from exoguard.core import numba_cache_dir
from exoguard.store.db import make_engine, make_sessionmaker, normalize_url, session_scope
from exoguard.store.migrate import upgrade
from exoguard.store.survey_models import SurveyStar
from exoguard.survey.inputs import StarFiles, read_manifest, write_manifest
from exoguard.survey.run import open_survey, run_local
from exoguard.survey.service import STAGES, stage_means, survey_progress

CACHE = REPO_ROOT / "var" / "bench" / "survey-model"
#: Issue 16: one TESS star, read to stored verdicts, warm, on one core.
STAR_TARGET_S = 0.35


def data_manifest(n_stars: int, folder: Path) -> Path:
    """A manifest of `n_stars` stars from the data folder's light curves: every single-file
    TESS, Kepler and K2 star, repeated under new target names when more are asked for."""
    root = get_settings().lightcurves_dir
    files = sorted(
        [*root.glob("tess/*.fits"), *root.glob("kepler_lightkurve_exports/*.fits"),
         *root.glob("k2_c4_dave/*.dat")]
    )  # fmt: skip
    if not files:
        raise SystemExit(f"no light curve under {root}")
    folder.mkdir(parents=True, exist_ok=True)
    stars = []
    for i in range(n_stars):
        path = files[i % len(files)]
        mission = {"tess": "tess", "k2_c4_dave": "k2"}.get(path.parent.name, "kepler")
        stars.append(StarFiles(target=f"bench-{i:05d}", mission=mission, files=(str(path),)))
    return write_manifest(stars, folder / "manifest.csv")


def _limited(manifest: Path, limit: int | None, folder: Path) -> Path:
    if not limit:
        return manifest
    return write_manifest(read_manifest(manifest)[:limit], folder / "manifest-limited.csv")


@contextlib.contextmanager
def fresh_database(base_url: str | None, folder: Path, label: str) -> Iterator[str]:
    """A migrated empty database: a schema of `base_url` (PostgreSQL) or an SQLite file."""
    if base_url is None or normalize_url(base_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{(folder / f'{label}.sqlite3').as_posix()}"
        upgrade(url)
        yield url
        return
    schema = f"bench_survey_{label}_{secrets.token_hex(3)}"
    admin = make_engine(base_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            normalize_url(base_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        upgrade(url)
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _trained_gbm() -> Path:
    """The default GBM's artifacts, trained once and kept under var/bench."""
    from exoguard.ml.configs import get_config
    from exoguard.ml.registry import ModelRegistry
    from exoguard.ml.train import train_gbm
    from exoguard.store.model_registry import DatabaseVersionStore

    done = sorted(CACHE.glob("gbm-*"))
    if done:
        return done[-1]
    CACHE.mkdir(parents=True, exist_ok=True)
    print("training the default GBM once (kept under var/bench/survey-model) ...", flush=True)
    url = f"sqlite:///{(CACHE / 'registry.sqlite3').as_posix()}"
    upgrade(url)  # the registry's own database, beside the artifacts it lists
    store = DatabaseVersionStore(url, models_path=CACHE)
    record = train_gbm(
        get_config("default"),
        catalogs_dir=get_settings().catalogs_dir,
        registry=ModelRegistry(CACHE, store),
        with_evaluation=False,
    )
    store.engine.dispose()
    return CACHE / record.id


def install_model(settings: Settings, kind: str) -> str | None:
    """Install the bench's model in `settings`' database; the active version id."""
    if kind == "none":
        return None
    from exoguard.ml.bundled import install_bundle
    from exoguard.ml.service import clear_cache
    from exoguard.store.model_registry import open_registry

    source = _trained_gbm()
    settings.models_path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, settings.models_path / source.name)
    registry = open_registry(database_url=settings.database_url, models_path=settings.models_path)
    registry.activate(source.name)
    record = install_bundle(registry=registry, gbm_version=source.name)
    registry.store.engine.dispose()  # type: ignore[attr-defined]
    clear_cache()
    return record.id


def run_once(
    manifest: Path, *, workers: int, base_url: str | None, model: str, chunk_size: int, folder: Path
) -> dict[str, Any]:
    """One survey of `manifest` on `workers` processes in a fresh database; its figures."""
    label = f"w{workers}"
    with fresh_database(base_url, folder, label) as url:
        var = folder / f"var-{label}"
        # one kernel cache for every run (the checkout's): a fresh var folder would compile
        # the kernels again in each worker process of each run
        env = {
            "DATABASE_URL": url,
            "EXOGUARD_VAR_DIR": str(var),
            "NUMBA_CACHE_DIR": str(numba_cache_dir()),
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the spawned processes read their settings from here
        get_settings.cache_clear()
        try:
            settings = get_settings()
            version = install_model(settings, model)
            engine = make_engine(url)
            factory = make_sessionmaker(engine)
            survey_id, _ = open_survey(
                factory, source=manifest, resume=False, chunk_size=chunk_size, name=label
            )
            started = time.perf_counter()
            final = run_local(factory, settings, survey_id, workers=workers)
            wall_s = time.perf_counter() - started
            with session_scope(factory) as session:
                spans = [
                    (a, b)
                    for a, b in session.execute(
                        select(SurveyStar.started_at, SurveyStar.finished_at).where(
                            SurveyStar.survey_id == survey_id, SurveyStar.finished_at.is_not(None)
                        )
                    ).all()
                    if a is not None and b is not None
                ]
                cpu = [
                    float((t or {}).get("cpu", math.nan))
                    for t in session.scalars(
                        select(SurveyStar.timings).where(
                            SurveyStar.survey_id == survey_id, SurveyStar.status == "done"
                        )
                    )
                ]
            first, last = min(a for a, _ in spans), max(b for _, b in spans)
            span_s = (last - first).total_seconds()
            stages = stage_means(factory, survey_id)
            progress = survey_progress(factory, survey_id)
            engine.dispose()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()
    n = final.done + final.failed
    return {
        "workers": workers,
        "model": version,
        "stars": final.n_stars,
        "done": final.done,
        "failed": final.failed,
        "candidates": progress.n_candidates,
        "span_s": span_s,
        "wall_s": wall_s,
        "stars_per_s": n / span_s if span_s > 0 else float("nan"),
        "in_flight": in_flight(spans),
        "cpu_median_s": float(statistics.median(cpu)) if cpu else math.nan,
        "stages_s": {k: stages[k] for k in (*STAGES, "total", "cpu", "wall")},
    }


def in_flight(spans: list[tuple[datetime, datetime]]) -> dict[str, float]:
    """How many stars ran at once: the most, and the mean over the span (the proof that
    N worker processes really ran side by side)."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    most = now = 0
    busy = 0.0
    for (at, step), (following, _) in zip(events, [*events[1:], events[-1]], strict=True):
        now += step
        most = max(most, now)
        busy += now * (following - at).total_seconds()
    span = (events[-1][0] - events[0][0]).total_seconds()
    return {"most": float(most), "mean": busy / span if span > 0 else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, help="DIR/manifest.csv (path,target,mission)")
    source.add_argument("--from-data", type=int, metavar="N", help="N stars from the data folder")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, help="only the first N stars of the manifest")
    parser.add_argument("--chunk-size", type=int, default=8)
    parser.add_argument("--database-url", help="PostgreSQL base URL (default: SQLite files)")
    parser.add_argument("--model", choices=("bundled", "none"), default="bundled")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="exoguard-bench-survey-"))
    try:
        manifest = (
            data_manifest(args.from_data, folder / "data")
            if args.from_data
            else args.manifest.resolve()
        )
        manifest = _limited(manifest, args.limit, folder)
        runs = [
            run_once(
                manifest,
                workers=w,
                base_url=args.database_url,
                model=args.model,
                chunk_size=args.chunk_size,
                folder=folder,
            )
            for w in args.workers
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cpus = os.cpu_count()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nsurvey of {runs[0]['stars']} stars ({manifest.name}); {cpus} CPUs; {backend}; "
          f"model {runs[0]['model']}")  # fmt: skip
    labels = [str(r["workers"]) + " worker(s)" for r in runs]
    head = f"{'':24s}" + "".join(f"{label:>14s}" for label in labels)
    print(head)
    rows: list[tuple[str, str]] = [
        ("stars done / failed", "{done}/{failed}"),
        ("candidates", "{candidates}"),
        ("stars/s", "{stars_per_s:.3f}"),
        ("span s (first→last star)", "{span_s:.1f}"),
        ("wall s (with start-up)", "{wall_s:.1f}"),
        ("stars at once: most", "{in_flight[most]:.0f}"),
        ("stars at once: mean", "{in_flight[mean]:.2f}"),
    ]
    for name, template in rows:
        print(f"{name:24s}" + "".join(f"{template.format(**r):>14s}" for r in runs))
    print("CPU seconds per star, by stage (mean over the stars done):")
    for stage in (*STAGES, "total", "cpu", "wall"):
        print(f"  {stage:22s}" + "".join(f"{r['stages_s'][stage]:>14.4f}" for r in runs))
    print("  (CPU seconds of the worker process: what a star costs on a core of its own;")
    print("   cpu adds the bookkeeping to the stages; wall grows when programs share the cores)")
    print("one star end to end (read → stored verdicts), warm, one core: median CPU s "
          + ", ".join(f"{r['cpu_median_s']:.3f} ({r['workers']} worker(s))" for r in runs)
          + f"; target ≤ {STAR_TARGET_S} s")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) at the end: {load:.2f} on {cpus} CPUs")
    for r in runs:
        if r["stages_s"]["cpu"] > 0:
            per_core = 1.0 / r["stages_s"]["cpu"]
            print(f"  {r['workers']} worker(s): {per_core:.2f} stars/s per uncontended core "
                  f"(CPU time), {per_core * r['workers']:.2f} stars/s on {r['workers']} such "
                  "cores")  # fmt: skip
    if len(runs) >= 2 and runs[0]["stars_per_s"] > 0:
        ratio = runs[1]["stars_per_s"] / runs[0]["stars_per_s"]
        print(f"scaling {runs[0]['workers']}→{runs[1]['workers']} workers: {ratio:.2f}x")
    need = 20_000 / 3600
    best = max(r["stars_per_s"] for r in runs)
    print(f"20,000 stars in an hour needs {need:.2f} stars/s; best here {best:.3f} stars/s "
          f"({20_000 / best / 3600:.1f} h for 20,000)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "cpus": cpus, "backend": backend}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
