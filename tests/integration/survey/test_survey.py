"""Survey mode on SQLite and PostgreSQL: stars searched, classified and stored once each.

Real light curves of the data folder (three TESS stars, four Kepler quarters of Kepler-227
stitched as one star) and one corrupt file; the tiny GBM of the API tests is the active model.
Real Celery worker processes (Redis: ``TEST_REDIS_URL``) and the real ``exoguard survey``
command run in the tests that kill a worker and interrupt the command.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _api_support import (  # noqa: E402
    LIGHTCURVES,
    SECRET,
    fresh_database,
    install_model,
    make_settings,
    redis_url_for_tests,
    tiny_model_source,
)

from exoguard.config import Settings  # noqa: E402
from exoguard.errors import ValidationError  # noqa: E402
from exoguard.store.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from exoguard.store.models import Candidate, Prediction, VettingItem  # noqa: E402
from exoguard.store.survey_models import Survey, SurveyStar  # noqa: E402

pytestmark = pytest.mark.integration

#: Three TESS stars in whose light curve the search finds a signal.
TESS = [
    LIGHTCURVES / "tess" / "hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits",
    LIGHTCURVES / "tess" / "hlsp_tess-data-alerts_tess_phot_00160148385-s02_tess_v1_lc.fits",
    LIGHTCURVES / "tess" / "tess2018206045859-s0001-0000000261136679-0120-s_lc.fits",
]
KEPLER_227 = sorted((LIGHTCURVES / "kepler").glob("kplr010797460-*_llc.fits"))[:4]
HEARTBEAT_S = 0.5
STALE_S = 3.0


@dataclass
class SurveyDb:
    settings: Settings
    url: str
    factory: Any
    backend: str

    def stars(self, survey_id: str) -> list[SurveyStar]:
        with session_scope(self.factory) as session:
            rows = list(
                session.scalars(
                    select(SurveyStar)
                    .where(SurveyStar.survey_id == survey_id)
                    .order_by(SurveyStar.position)
                )
            )
            session.expunge_all()
        return rows

    def predictions_per_candidate(self, survey_id: str) -> dict[int, int]:
        with session_scope(self.factory) as session:
            dataset_id = session.get(Survey, survey_id).dataset_id  # type: ignore[union-attr]
            ids = list(
                session.scalars(select(Candidate.id).where(Candidate.dataset_id == dataset_id))
            )
            counts = dict(
                session.execute(
                    select(Prediction.candidate_id, func.count())
                    .where(Prediction.candidate_id.in_(ids or [-1]))
                    .group_by(Prediction.candidate_id)
                ).all()
            )
        return {i: int(counts.get(i, 0)) for i in ids}


@contextlib.contextmanager
def _survey_db(
    base: str | None, tmp_path: Path, backend: str, **overrides: Any
) -> Iterator[SurveyDb]:
    with fresh_database(base, tmp_path) as url:
        settings = make_settings(
            tmp_path,
            url,
            EXOGUARD_VET_UNCERTAINTY=0.0,  # every scored candidate goes to the vetting queue
            EXOGUARD_JOB_HEARTBEAT_S=HEARTBEAT_S,
            EXOGUARD_JOB_STALE_S=STALE_S,
            **overrides,
        )
        source = tiny_model_source(tmp_path.parent / "survey-model")
        install_model(source, database_url=url, models_path=settings.models_path)
        engine = make_engine(url)
        try:
            yield SurveyDb(settings, url, make_sessionmaker(engine), backend)
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SurveyDb]:
    base = None
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_base_url")
        if base is None:
            pytest.skip("PostgreSQL unreachable (not CI)")
    with _survey_db(base, tmp_path, request.param) as db:
        yield db


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "stars"
    folder.mkdir()
    for path in TESS:
        (folder / path.name).symlink_to(path)
    (folder / "broken_lc.fits").write_bytes(b"SIMPLE  =  this is not a FITS file")
    return folder


def _manifest(tmp_path: Path) -> Path:
    """Kepler-227 (four quarters, one star) first, the TESS stars, then a corrupt file."""
    broken = tmp_path / "broken.csv"
    broken.write_text("time,flux\n1,2\n")
    rows = [(str(p), "Kepler-227", "kepler") for p in KEPLER_227]
    rows += [(str(p), f"TESS-{i}", "tess") for i, p in enumerate(TESS)]
    rows.append((str(broken), "broken", ""))
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "target", "mission"])
        writer.writerows(rows)
    return manifest


def _assert_each_star_once(db: SurveyDb, survey_id: str, *, n_done: int, n_failed: int) -> None:
    stars = db.stars(survey_id)
    assert sum(s.status == "done" for s in stars) == n_done, [
        (s.target, s.status, s.reason) for s in stars
    ]
    assert sum(s.status == "failed" for s in stars) == n_failed
    per_candidate = db.predictions_per_candidate(survey_id)
    stored = [i for s in stars for i in (s.candidate_ids or [])]
    assert sorted(stored) == sorted(per_candidate), "every stored candidate belongs to one star"
    assert len(stored) == len(set(stored))
    assert all(n == 1 for n in per_candidate.values()), per_candidate
    assert sum(s.n_candidates for s in stars) == len(per_candidate)


# ----------------------------------------------------------------------------- in-process
def test_a_folder_survey_stores_each_star_once_and_records_failures(
    any_db: SurveyDb, tmp_path: Path
) -> None:
    from exoguard.survey.export import survey_csv, survey_pdf
    from exoguard.survey.pipeline import run_chunk
    from exoguard.survey.service import (
        STAGES,
        create_survey,
        stage_means,
        survey_progress,
        unfinished_chunks,
    )

    db = any_db
    survey_id = create_survey(db.factory, source=_folder(tmp_path), chunk_size=2)
    chunks = unfinished_chunks(db.factory, survey_id)
    assert [len(c) for c in chunks] == [2, 2]  # 4 stars: 3 TESS + the corrupt file
    first = [run_chunk(db.factory, db.settings, survey_id=survey_id, star_ids=c) for c in chunks]
    assert sum(r["done"] for r in first) == 3 and sum(r["failed"] for r in first) == 1
    _assert_each_star_once(db, survey_id, n_done=3, n_failed=1)
    stars = db.stars(survey_id)
    broken = next(s for s in stars if s.status == "failed")
    assert broken.target == "broken_lc.fits" and "broken_lc.fits" in (broken.reason or "")
    for star in stars:
        assert star.attempts == 1 and star.file_hash and len(star.file_hash) == 64
        if star.status == "done":
            assert set(star.timings or {}) == {*STAGES, "cpu", "wall"}
            assert star.timings["cpu"] > 0
            assert star.timings["read"] > 0 and star.timings["search"] > 0
    n_candidates = sum(s.n_candidates for s in stars)
    assert n_candidates >= 3  # each TESS star holds a signal the search finds

    # A chunk delivered again (or a resumed survey) skips every finished star.
    again = [run_chunk(db.factory, db.settings, survey_id=survey_id, star_ids=c) for c in chunks]
    assert sum(r["skipped"] for r in again) == 4 and sum(r["done"] for r in again) == 0
    _assert_each_star_once(db, survey_id, n_done=3, n_failed=1)
    assert [s.attempts for s in db.stars(survey_id)] == [1, 1, 1, 1]
    assert unfinished_chunks(db.factory, survey_id) == []

    progress = survey_progress(db.factory, survey_id)
    assert (progress.done, progress.failed, progress.status) == (3, 1, "finished")
    assert progress.n_candidates == n_candidates and progress.eta_s == 0.0
    means = stage_means(db.factory, survey_id)
    assert means["n_stars"] == 3 and means["total"] == pytest.approx(sum(means[s] for s in STAGES))

    with session_scope(db.factory) as session:
        queued = set(session.scalars(select(VettingItem.candidate_id)))
    assert queued == set(db.predictions_per_candidate(survey_id))  # EXOGUARD_VET_UNCERTAINTY=0

    from exoguard.store.models import User

    admin = User(id=0, email="a@example.org", name="a", role="admin", password_hash="")
    session = db.factory()
    try:
        rows = list(csv.DictReader(io.StringIO(survey_csv(session, survey_id, user=admin))))
    finally:
        session.close()
    assert len(rows) == n_candidates
    assert all(r["predicted_label"] in ("planet", "false_positive", "candidate") for r in rows)
    pdf = survey_pdf(db.factory, survey_id, settings=db.settings, user=admin, top=1)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 3


def test_a_changed_file_is_searched_again_and_an_unchanged_one_is_not(
    any_db: SurveyDb, tmp_path: Path
) -> None:
    from exoguard.survey.pipeline import process_star
    from exoguard.survey.service import create_survey

    db = any_db
    folder = tmp_path / "one"
    folder.mkdir()
    copy = folder / TESS[2].name
    copy.write_bytes(TESS[2].read_bytes())
    survey_id = create_survey(db.factory, source=folder)
    (star,) = db.stars(survey_id)
    assert process_star(db.factory, db.settings, star.id).outcome == "done"
    assert process_star(db.factory, db.settings, star.id).outcome == "skipped"
    copy.write_bytes(copy.read_bytes() + b"\0" * 2880)  # FITS padding: same data, new hash
    assert process_star(db.factory, db.settings, star.id).outcome == "done"
    (star,) = db.stars(survey_id)
    assert star.attempts == 2
    # the same signals upserted: still one candidate row per signal, now with two verdicts
    per_candidate = db.predictions_per_candidate(survey_id)
    assert per_candidate and all(n == 2 for n in per_candidate.values())


def test_manifest_errors_name_the_problem(tmp_path: Path) -> None:
    from exoguard.survey.inputs import plan_stars

    bad = tmp_path / "m.csv"
    bad.write_text("path,target,mission\nx.fits,TIC 1,hubble\n")
    with pytest.raises(ValidationError, match="mission 'hubble' is not allowed; use one of"):
        plan_stars(bad)
    other = tmp_path / "n.csv"
    other.write_text("file,star\nx.fits,TIC 1\n")
    with pytest.raises(ValidationError, match="columns path,target,mission"):
        plan_stars(other)
    stars = plan_stars(_manifest(tmp_path))
    assert [s.target for s in stars][:2] == ["Kepler-227", "TESS-0"]
    assert len(stars[0].files) == 4 and stars[0].mission == "kepler"


# ----------------------------------------------------------------------------- processes
def _env(db: SurveyDb, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db.url,
        "SECRET_KEY": SECRET,
        "EXOGUARD_ENV": "test",
        "EXOGUARD_VAR_DIR": str(db.settings.var_dir),
        "EXOGUARD_DATA_DIR": str(db.settings.data_dir),
        "EXOGUARD_VET_UNCERTAINTY": "0.0",
        "EXOGUARD_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
        "EXOGUARD_JOB_STALE_S": str(STALE_S),
        **extra,
    }


def _wait_running(db: SurveyDb, survey_id: str, target: str, *, timeout_s: float = 120.0) -> int:
    """The pid of the process running star `target` (once it runs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for star in db.stars(survey_id):
            if star.target == target and star.status == "running" and star.worker_id:
                return int(star.worker_id.split(":")[1])
        time.sleep(0.05)
    raise AssertionError(
        f"star {target} never ran: {[(s.target, s.status) for s in db.stars(survey_id)]}"
    )


@pytest.fixture
def pg_db(postgres_base_url: str | None, tmp_path: Path) -> Iterator[SurveyDb]:
    """PostgreSQL when reachable (always in CI), else an SQLite file."""
    backend = "postgresql" if postgres_base_url else "sqlite"
    with _survey_db(postgres_base_url, tmp_path, backend) as db:
        yield db


def test_a_worker_killed_mid_survey_leaves_every_star_done_exactly_once(
    pg_db: SurveyDb, tmp_path: Path
) -> None:
    """Two real Celery worker processes; the one running Kepler-227 is SIGKILLed mid-star.
    Celery redelivers its chunk (acks_late), the chunk skips the stars already done, the
    killed star is taken again (its process is gone) and stored once."""
    from exoguard.survey.run import open_survey, run_celery

    redis_url = redis_url_for_tests(required=True)
    assert redis_url is not None
    db = pg_db
    db.settings = make_settings(
        tmp_path,
        db.url,
        REDIS_URL=redis_url,
        EXOGUARD_JOBS="celery",
        EXOGUARD_VET_UNCERTAINTY=0.0,
        EXOGUARD_JOB_HEARTBEAT_S=HEARTBEAT_S,
        EXOGUARD_JOB_STALE_S=STALE_S,
    )
    survey_id, _ = open_survey(db.factory, source=_manifest(tmp_path), resume=False, chunk_size=2)
    log = tmp_path / "worker.log"
    command = [
        sys.executable, "-c", "from exoguard.cli import main; main()",
        "worker", "--concurrency", "2", "--loglevel", "info",
    ]  # fmt: skip
    with log.open("wb") as handle:
        worker = subprocess.Popen(
            command,
            env=_env(db, REDIS_URL=redis_url),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        import threading

        outcome: dict[str, Any] = {}
        watcher = threading.Thread(
            target=lambda: outcome.update(
                p=run_celery(db.factory, db.settings, survey_id, timeout_s=240)
            ),
            daemon=True,
        )
        watcher.start()
        pid = _wait_running(db, survey_id, "Kepler-227")
        assert pid != worker.pid  # a pool process, not the master
        time.sleep(0.3)  # mid-star: reading and searching four quarters takes seconds
        os.kill(pid, signal.SIGKILL)
        watcher.join(timeout=300)
        assert "p" in outcome, log.read_text(errors="replace")[-4000:]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    progress = outcome["p"]
    assert progress.status == "finished" and progress.finished == 5
    _assert_each_star_once(db, survey_id, n_done=4, n_failed=1)
    heavy = next(s for s in db.stars(survey_id) if s.target == "Kepler-227")
    assert heavy.status == "done" and heavy.attempts == 2, heavy.reason
    assert all(s.attempts == 1 for s in db.stars(survey_id) if s.target != "Kepler-227")


def test_resume_after_ctrl_c_runs_no_star_twice(pg_db: SurveyDb, tmp_path: Path) -> None:
    """`exoguard survey` interrupted with SIGINT while Kepler-227 runs, then `--resume`:
    the stars done before the interrupt are not run again, every star is stored once."""
    db = pg_db
    manifest = _manifest(tmp_path)
    # Kepler-227 second: one star is done before the interrupt
    lines = manifest.read_text().splitlines()
    header, kepler, rest = lines[0], lines[1:5], lines[5:]
    manifest.write_text("\n".join([header, rest[0], *kepler, *rest[1:]]) + "\n")
    command = [
        sys.executable, "-c", "from exoguard.cli import main; main()",
        "survey", str(manifest), "--workers", "1", "--chunk-size", "1", "--json", "--no-progress",
    ]  # fmt: skip
    first = subprocess.Popen(command, env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        from exoguard.survey.service import latest_survey_for

        deadline = time.monotonic() + 60
        survey_id = None
        while survey_id is None and time.monotonic() < deadline:
            survey_id = latest_survey_for(db.factory, manifest.resolve())
            time.sleep(0.1)
        assert survey_id is not None
        _wait_running(db, survey_id, "Kepler-227")
        time.sleep(0.3)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err.decode(errors="replace")[-3000:]
    assert b"--resume" in err
    before = {s.target: s for s in db.stars(survey_id)}
    done_before = {t for t, s in before.items() if s.status == "done"}
    assert before["Kepler-227"].status in ("running", "pending")
    assert len(done_before) == 1  # the first TESS star

    second = subprocess.run([*command, "--resume"], env=_env(db), capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr.decode(errors="replace")[-3000:]
    import json

    report = json.loads(second.stdout)
    assert report["survey_id"] == survey_id and report["resumed"] is True
    assert report["done"] == 4 and report["failed"] == 1 and report["status"] == "finished"
    after = {s.target: s for s in db.stars(survey_id)}
    for target in done_before:  # not run again: same run, same finish time
        assert after[target].attempts == 1
        assert after[target].finished_at == before[target].finished_at
    assert after["Kepler-227"].attempts == 2  # interrupted once, stored once
    _assert_each_star_once(db, survey_id, n_done=4, n_failed=1)
