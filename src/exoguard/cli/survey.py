"""`exoguard survey PATH|MANIFEST`: search and classify a whole survey of light curves.

Stars run on ``--workers`` local processes (the embedded default), or on the Celery workers
(``exoguard worker``) when ``EXOGUARD_JOBS=celery``. Progress (stars done, failed, candidates,
ETA) is read from the database and shown as a bar on stderr; with ``--json`` stdout holds one
JSON object. Ctrl-C stops the survey; ``--resume`` goes on with the stars not yet done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from exoguard.cli.progress import progress
from exoguard.jsonsafe import jsonable

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def survey_cmd(
    source: Annotated[
        Path,
        typer.Argument(help="A folder of light curves, or a manifest CSV (path,target,mission)."),
    ],
    workers: Annotated[
        int,
        typer.Option("--workers", "-w", min=1, max=256, help="Local processes (default: cores)."),
    ] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Go on with the newest survey of SOURCE.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, max=500, help="Stars per chunk (job).")
    ] = 8,
    name: Annotated[str | None, typer.Option("--name", help="A name for the survey.")] = None,
    max_planets: Annotated[
        int | None, typer.Option("--max-planets", min=1, max=10, help="Signals per star (5).")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write the survey's candidates as CSV here.")
    ] = None,
    pdf_out: Annotated[
        Path | None, typer.Option("--pdf", help="Write the survey's summary PDF here.")
    ] = None,
    top: Annotated[
        int, typer.Option("--top", min=0, max=50, help="Candidates with a report page in the PDF.")
    ] = 10,
) -> None:
    """Search every star of a survey for transits, classify each candidate, store it all."""
    from exoguard.config import get_settings
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.migrate import upgrade
    from exoguard.survey.run import open_survey
    from exoguard.survey.service import failures, stage_means

    settings = get_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    options = {"max_planets": max_planets} if max_planets else {}
    n_workers = workers or max(os.cpu_count() or 1, 1)
    try:
        survey_id, resumed = open_survey(
            factory,
            source=source,
            resume=resume,
            chunk_size=chunk_size,
            name=name,
            options=options,
        )
        backend = "celery" if settings.job_backend == "celery" else "local"
        final = _run_with_progress(
            factory, settings, survey_id, label=f"survey {source.name}", backend=backend,
            workers=n_workers, show_progress=not no_progress,
        )  # fmt: skip
        report = {
            "survey_id": survey_id,
            "resumed": resumed,
            "backend": backend,
            "workers": n_workers if backend == "local" else None,
            **final.to_dict(),
            "stage_s_per_star": stage_means(factory, survey_id),
            "failures": failures(factory, survey_id),
        }
        write_exports(factory, settings, survey_id, csv_out=csv_out, pdf_out=pdf_out, top=top)
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: run the same command with --resume to go on with the stars not done",
            err=True,
        )
        raise SystemExit(INTERRUPTED_EXIT) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(jsonable(report), indent=2))
        return
    _print_survey(report)


def _run_with_progress(
    factory: Any,
    settings: Any,
    survey_id: str,
    *,
    label: str,
    backend: str,
    workers: int,
    show_progress: bool,
) -> Any:
    """Run the survey on Celery or local processes, with a progress bar; its final state."""
    from exoguard.survey.run import run_celery, run_local

    with progress(label, unit="stars", enabled=show_progress) as bar:

        def show(p: Any) -> None:
            bar.set(p.finished, p.n_stars)
            bar.note(done=p.done, failed=p.failed, candidates=p.n_candidates, eta=_eta(p.eta_s))

        if backend == "celery":
            return run_celery(factory, settings, survey_id, on_progress=show)
        return run_local(factory, settings, survey_id, workers=workers, on_progress=show)


def _print_survey(report: dict[str, Any]) -> None:
    """Stars done and failed, candidates, CPU seconds per stage, then each failure."""
    survey_id = report["survey_id"]
    typer.echo(
        f"survey {survey_id}: {report['done']} of {report['n_stars']} stars done, "
        f"{report['failed']} failed, {report['n_candidates']} candidates"
        + (f", {report['stars_per_s']:.2f} stars/s" if report["stars_per_s"] else "")
    )
    stages = report["stage_s_per_star"]
    typer.echo(
        "CPU seconds per star: " + ", ".join(f"{k} {stages[k]:.3f}" for k in (*_STAGES, "total"))
    )
    for failure in report["failures"]:
        typer.echo(f"  failed {failure['target']}: {failure['reason']}")


_STAGES = ("read", "detrend", "search", "diagnostics", "classify", "store")


def _cli_user() -> Any:
    """The shell user: an unsaved admin, who sees every row (as the database owner does)."""
    from exoguard.store.models import User

    return User(id=0, email="cli@localhost", name="command line", role="admin", password_hash="")


def write_exports(
    factory: Any,
    settings: Any,
    survey_id: str,
    *,
    csv_out: Path | None,
    pdf_out: Path | None,
    top: int,
) -> None:
    """Write the survey's CSV and summary PDF where asked."""
    from exoguard.survey.export import survey_csv, survey_pdf

    if csv_out is not None:
        session = factory()
        try:
            csv_out.write_text(survey_csv(session, survey_id, user=_cli_user()), encoding="utf-8")
        finally:
            session.close()
        typer.echo(f"candidates written to {csv_out}", err=True)
    if pdf_out is not None:
        pdf_out.write_bytes(
            survey_pdf(factory, survey_id, settings=settings, user=_cli_user(), top=top)
        )
        typer.echo(f"summary PDF written to {pdf_out}", err=True)


def survey_export_cmd(
    survey_id: Annotated[str, typer.Argument(help="The survey's id.")],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="CSV of the candidates.")] = None,
    pdf_out: Annotated[Path | None, typer.Option("--pdf", help="Summary PDF.")] = None,
    top: Annotated[int, typer.Option("--top", min=0, max=50, help="Report pages.")] = 10,
) -> None:
    """Export a survey: the CSV of its candidates and/or its summary PDF."""
    from exoguard.config import get_settings
    from exoguard.errors import ValidationError
    from exoguard.store.db import make_engine, make_sessionmaker

    if csv_out is None and pdf_out is None:
        raise ValidationError("give --csv FILE, --pdf FILE or both")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        write_exports(
            make_sessionmaker(engine),
            settings,
            survey_id,
            csv_out=csv_out,
            pdf_out=pdf_out,
            top=top,
        )
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.command("survey")(survey_cmd)
    app.command("survey-export")(survey_export_cmd)
