"""Several light-curve files of one star (quarters, sectors) uploaded together: one dataset.

Each file is checked as a one-file upload is (format sniffed from the content, decompressed
size and rows against the limits, read by the light-curve reader); the limits also bound all
files together. Files of different stars are refused, naming the targets. The files are then
stitched by `exoguard.io.read_lightcurve` on the list of files, as `exoguard search` does for
several files of one target. Only when every step passed are the files moved into the
dataset's folder and its row committed; otherwise nothing is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.errors import ExoguardError, FormatError, TooLargeError, ValidationError
from exoguard.limits import InputLimits, scan
from exoguard.services.datasets import (
    MAX_FILES_PER_UPLOAD,
    IncomingFile,
    LightCurveSummary,
    inspect_file,
    lightcurve_summary,
    sniff_format,
)
from exoguard.store.models import Dataset
from exoguard.store.repositories import DatasetRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LightCurveFile:
    """One file of a multi-file upload, checked: its format and its light curve."""

    format: str
    lightcurve: LightCurveSummary


def _label(position: int, total: int, incoming: IncomingFile) -> str:
    return f"file {position + 1} of {total} ({incoming.filename})"


def _check_each(files: Sequence[IncomingFile], limits: InputLimits) -> list[LightCurveFile]:
    """Format and light curve of each file; raises naming the first bad file."""
    remaining_bytes, remaining_rows = limits.max_bytes, limits.max_rows
    out: list[LightCurveFile] = []
    for position, incoming in enumerate(files):
        label = _label(position, len(files), incoming)
        try:
            fmt = sniff_format(incoming.path, display_name=incoming.filename)
            # The limits bound every file and all of them together: each scan gets what the
            # files before it left.
            budget = InputLimits(max_bytes=max(remaining_bytes, 1), max_rows=max(remaining_rows, 1))
            scanned = scan(
                incoming.path, limits=budget, name=incoming.filename, count_lines=fmt != "fits"
            )
            found = inspect_file(incoming.path, display_name=incoming.filename, limits=limits)
        except TooLargeError as exc:
            raise TooLargeError(f"{label}: {exc} (each file and all files together)") from exc
        except ExoguardError as exc:
            raise type(exc)(f"{label}: {exc}") from exc
        except Exception as exc:  # a reader bug must not leave files behind either
            log.exception("reading upload %s failed", incoming.filename)
            raise FormatError(f"{label}: cannot be read ({type(exc).__name__})") from exc
        lc = found.lightcurve
        if found.kind != "lightcurve" or lc is None:
            raise ValidationError(
                f"{label} is a catalog table; only light curves of one star can be uploaded "
                "together (upload a table on its own)"
            )
        remaining_bytes -= scanned.n_bytes
        remaining_rows -= max(scanned.n_lines, int(lc.n_points))
        if remaining_rows < 0:
            raise TooLargeError(
                f"{label}: the files together hold more than {limits.max_rows} rows "
                "(EXOGUARD_MAX_UPLOAD_ROWS)"
            )
        out.append(LightCurveFile(format=found.format, lightcurve=lc))
    return out


def _check_one_star(files: Sequence[IncomingFile], reports: Sequence[LightCurveSummary]) -> str:
    targets: dict[str, list[str]] = {}
    for incoming, report in zip(files, reports, strict=True):
        targets.setdefault(str(report.target_id), []).append(incoming.filename)
    if len(targets) > 1:
        listed = "; ".join(f"{t}: {', '.join(names)}" for t, names in targets.items())
        raise ValidationError(
            f"the files are of {len(targets)} different stars ({listed}); upload the files of "
            "one star at a time"
        )
    return next(iter(targets))


def _stitched_report(
    files: Sequence[IncomingFile], reports: Sequence[LightCurveSummary], *, fmt: str
) -> dict[str, Any]:
    from exoguard.io import read_lightcurve

    try:
        lc = read_lightcurve([str(f.path) for f in files])
    except ExoguardError as exc:
        message = str(exc)
        for incoming in files:
            message = message.replace(str(incoming.path), incoming.filename)
            message = message.replace(incoming.path.name, incoming.filename)
        raise type(exc)(f"the files cannot be stitched: {message}") from exc
    stitched = lightcurve_summary(lc)
    return {
        "dataset_kind": "lightcurve",
        "format": fmt,
        "ok": True,
        "summary": (
            f"{lc.mission} light curve of {lc.target_id}: {len(files)} files stitched, "
            f"{lc.n_points} points over {lc.baseline_days:.1f} days"
        ),
        "lightcurve": stitched.to_dict(),
        "files": [
            {
                "filename": f.filename,
                "size_bytes": f.size_bytes,
                "sha256": f.sha256,
                "n_points": r.n_points,
                "time_start_bjd": r.time_start_bjd,
                "time_end_bjd": r.time_end_bjd,
            }
            for f, r in zip(files, reports, strict=True)
        ],
    }


def create_lightcurve_set(
    session: Session,
    settings: Settings,
    files: Sequence[IncomingFile],
    *,
    owner_id: int | None,
) -> Dataset:
    """Validate several light-curve files of one star and keep them as one dataset, or discard
    them all and raise (the message names the bad file and why, or the stars).

    Commits the session: the files and the row appear together or not at all.
    """
    if not 2 <= len(files) <= MAX_FILES_PER_UPLOAD:
        raise ValidationError(
            f"a multi-file upload holds 2 to {MAX_FILES_PER_UPLOAD} files; got {len(files)}"
        )
    dataset_id = str(uuid.uuid4())
    folder = settings.uploads_path / dataset_id
    try:
        checked = _check_each(files, settings.input_limits)
        reports = [c.lightcurve for c in checked]
        _check_one_star(files, reports)
        formats = {c.format for c in checked}
        fmt = checked[0].format if len(formats) == 1 else "fits" if "fits" in formats else "csv"
        report = _stitched_report(files, reports, fmt=fmt)
    except BaseException:
        for incoming in files:
            incoming.discard()
        raise
    digest = hashlib.sha256("\n".join(f.sha256 for f in files).encode()).hexdigest()
    first = files[0].filename
    name = f"{first} (+{len(files) - 1} more)"[:255]
    try:
        folder.mkdir()
        width = len(str(len(files) - 1))
        for position, incoming in enumerate(files):
            os.replace(incoming.path, folder / f"{position:0{max(width, 3)}d}")
        dataset = DatasetRepository(session).create(
            dataset_id=dataset_id,
            filename=name,
            kind="lightcurve",
            format=fmt,
            size_bytes=sum(f.size_bytes for f in files),
            sha256=digest,
            storage_path=dataset_id,  # a folder, relative to settings.uploads_path
            owner_id=owner_id,
            status="validated",
            validation_report=report,
        )
        session.commit()
    except BaseException:
        session.rollback()
        for incoming in files:
            incoming.discard()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(folder)
        raise
    log.info("stored dataset %s (%d light-curve files of one star)", dataset_id, len(files))
    return dataset


__all__ = ["create_lightcurve_set"]
