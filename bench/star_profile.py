"""One warm survey star, profiled: the exact per-star path of a survey worker, in CPU seconds.

Opens a survey of the first ``--stars`` stars of a manifest in a fresh SQLite database (with the
bench's model, as ``bench/survey.py`` installs it), makes this process a survey worker (one
thread, kernels and model warmed), then runs every star through
``exoguard.survey.pipeline.process_star`` ``--rounds`` times (each round a new survey of the
same stars, so that each stores its candidates anew; the first round is a warm-up and is not
counted). Prints the mean CPU
seconds of each stage per star over the counted rounds, and with ``--profile FILE`` a cProfile
of the counted rounds (CPU clock), sorted by cumulative time.

``--ab OTHER_SRC`` runs the same measurement, interleaved round by round, in two child
processes: one importing ``exoguard`` from ``OTHER_SRC`` (e.g. the ``src`` of a checkout of the
base commit) and one from this checkout, on the same stars; an A/B in one run.

Usage::

    python bench/star_profile.py --manifest DIR/manifest.csv [--stars 20] [--rounds 3]
        [--profile out.prof] [--ab /path/to/base/src]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    """Measure in this process (the child of an A/B, or the only process)."""
    from exoguard.survey.local import limit_threads

    limit_threads()
    sys.path.insert(0, str(HERE))
    from sqlalchemy import select
    from survey import install_model  # type: ignore[import-not-found]

    from exoguard.config import get_settings
    from exoguard.core import numba_cache_dir
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope
    from exoguard.store.migrate import upgrade
    from exoguard.store.survey_models import SurveyStar
    from exoguard.survey.local import warm_worker
    from exoguard.survey.pipeline import process_star
    from exoguard.survey.run import open_survey
    from exoguard.survey.service import STAGES

    folder = Path(tempfile.mkdtemp(prefix="exoguard-star-profile-"))
    try:
        url = f"sqlite:///{(folder / 'db.sqlite3').as_posix()}"
        upgrade(url)
        os.environ.update(
            {
                "DATABASE_URL": url,
                "EXOGUARD_VAR_DIR": str(folder / "var"),
                "NUMBA_CACHE_DIR": str(numba_cache_dir()),
            }
        )
        get_settings.cache_clear()
        settings = get_settings()
        install_model(settings, args.model)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        manifest = _subset(args.manifest.resolve(), args.stars, args.mission, folder)
        warm_worker(settings)
        profile = cProfile.Profile(time.process_time) if args.profile else None
        sums = dict.fromkeys((*STAGES, "cpu"), 0.0)
        n = 0
        n_candidates = 0
        per_round: list[float] = []
        for round_ in range(args.rounds):
            # a new survey each round: new candidate rows, as a first run stores them
            survey_id, _ = open_survey(
                factory, source=manifest, resume=False, chunk_size=8, name=f"round {round_}"
            )
            with session_scope(factory) as session:
                ids = list(
                    session.scalars(
                        select(SurveyStar.id)
                        .where(SurveyStar.survey_id == survey_id)
                        .order_by(SurveyStar.id)
                    )
                )
            counted = round_ > 0 or args.rounds == 1
            if profile is not None and counted:
                profile.enable()
            for star_id in ids:
                process_star(factory, settings, star_id)
            if profile is not None and counted:
                profile.disable()
            with session_scope(factory) as session:
                cpus = [
                    float((t or {}).get("cpu", 0.0))
                    for t in session.scalars(
                        select(SurveyStar.timings).where(SurveyStar.survey_id == survey_id)
                    )
                ]
                per_round.append(sum(cpus) / max(len(cpus), 1))
            if not counted:
                continue
            with session_scope(factory) as session:
                for star in session.scalars(
                    select(SurveyStar).where(SurveyStar.survey_id == survey_id)
                ):
                    if star.status != "done":
                        continue
                    n += 1
                    n_candidates += star.n_candidates
                    for key in sums:
                        sums[key] += float((star.timings or {}).get(key, 0.0))
        engine.dispose()
        if profile is not None:
            profile.dump_stats(args.profile)
            stats = pstats.Stats(profile, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
        means = {k: v / max(n, 1) for k, v in sums.items()}
        return {
            "n": n,
            "stages_s": means,
            "n_candidates": n_candidates,
            "cpu_per_round": per_round,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _subset(manifest: Path, n_stars: int, mission: str | None, folder: Path) -> Path:
    """The first `n_stars` stars of `manifest` (of `mission` only, when given)."""
    from exoguard.survey.inputs import read_manifest, write_manifest

    stars = [s for s in read_manifest(manifest) if mission in (None, s.mission)][:n_stars]
    return write_manifest(stars, folder / "manifest-subset.csv")


def _child(src: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": src}
    cmd = [
        sys.executable, __file__, "--manifest", str(args.manifest), "--stars", str(args.stars),
        "--rounds", str(args.rounds), "--model", args.model, "--json-out",
        *(["--mission", args.mission] if args.mission else []),
    ]  # fmt: skip
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--stars", type=int, default=20)
    parser.add_argument("--mission", default="tess", help="only stars of this mission")
    parser.add_argument("--rounds", type=int, default=3, help="the first is a warm-up")
    parser.add_argument("--model", choices=("bundled", "none"), default="bundled")
    parser.add_argument("--profile", help="write a cProfile (CPU clock) here and print it")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--ab", help="the src folder of the other checkout (A), against this (B)")
    parser.add_argument("--ab-repeats", type=int, default=2)
    parser.add_argument("--json-out", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.json_out or not args.ab:
        result = _worker(args)
        if args.json_out:
            print(json.dumps(result))
            return 0
        _print({"this": [result]})
        return 0
    here_src = str(HERE.parent / "src")
    results: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for _ in range(args.ab_repeats):
        results["A"].append(_child(args.ab, args))
        results["B"].append(_child(here_src, args))
    _print(results)
    return 0


def _print(results: dict[str, list[dict[str, Any]]]) -> None:
    labels = list(results)
    keys = list(next(iter(results.values()))[0]["stages_s"])
    print(f"{'CPU s per star':<16}" + "".join(f"{label:>12}" for label in labels))
    for key in keys:
        cells = []
        for label in labels:
            values = [r["stages_s"][key] for r in results[label]]
            cells.append(f"{min(values):>12.4f}")
        print(f"{key:<16}" + "".join(cells))
    for label in labels:
        r = results[label]
        print(
            f"{label}: stars counted {[x['n'] for x in r]}, candidates "
            f"{[x['n_candidates'] for x in r]}, mean CPU s per star in each round "
            f"{[[round(c, 4) for c in x['cpu_per_round']] for x in r]}"
        )
    print("(the lowest over the A/B repeats of each stage's mean CPU seconds per star)")


if __name__ == "__main__":
    raise SystemExit(main())
