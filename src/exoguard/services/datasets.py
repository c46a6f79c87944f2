"""Uploaded data sets: recognise a received file, validate it, store it.

An upload is streamed to a temporary file under ``settings.uploads_path`` while its size is
counted (the limit is enforced during the transfer, not after: :mod:`exoguard.web.uploads`),
then its format is sniffed from the content (FITS magic, JSON, CSV; never the client's file
name), then it is read with the catalog or the light-curve reader. Only a file that reads is
kept: it moves to ``uploads_path/<uuid>`` and its row is committed. A file that fails any step
is deleted and no row is written.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.core.lightcurve import LightCurve
from exoguard.errors import (
    ExoguardError,
    FormatError,
    NotFoundError,
    TooLargeError,
    ValidationError,
)
from exoguard.limits import DEFAULT_LIMITS, InputLimits, open_capped, scan
from exoguard.store import access
from exoguard.store.models import Dataset, User
from exoguard.store.repositories import DatasetRepository
from exoguard.store.uploads import stored_files

log = logging.getLogger(__name__)

#: Most files in one upload (quarters or sectors of one star).
MAX_FILES_PER_UPLOAD = 100
_INCOMING_DIR = ".incoming"
_SNIFF_BYTES = 8192
_HEADER_SEARCH_LINES = 1000
_FITS_MAGIC = b"SIMPLE  ="


@dataclass
class IncomingFile:
    """A received upload, still in its temporary place."""

    path: Path
    filename: str
    size_bytes: int
    sha256: str

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def safe_filename(name: str | None) -> str:
    """The client's file name reduced to a display label (never used in a path).

    Keeps the last path component, NFC-normalised, without control characters, at most 255
    characters; ``"upload"`` when nothing is left.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    text = text.lstrip(".") or "upload"
    return text[:255]


def incoming_dir(settings: Settings) -> Path:
    path = settings.uploads_path / _INCOMING_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------- receiving


# ----------------------------------------------------------------------------- recognising
def sniff_format(path: Path, *, display_name: str) -> str:
    """``"fits"``, ``"json"`` or ``"csv"`` from the content (gzip looked through).

    Raises `FormatError` for empty files, binary content that is not FITS and non-UTF-8 text.
    """
    # gzip looked through member by member (a first member may be empty or tiny)
    with open_capped(path, name=display_name) as stream:
        head = stream.read(_SNIFF_BYTES)
    if head.startswith(_FITS_MAGIC):
        return "fits"
    if not head.strip():
        raise FormatError(f"{display_name}: the file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError(f"{display_name}: UTF-16 text; save the file as UTF-8 (CSV or JSON)")
    controls = sum(b < 9 or 13 < b < 32 for b in head)
    if b"\x00" in head or controls > 0.01 * len(head):
        raise FormatError(
            f"{display_name}: binary content that is not FITS; supported formats: "
            "FITS light curves, CSV and JSON tables or light curves"
        )
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut by the sniff window is fine
            raise FormatError(
                f"{display_name}: text that is not UTF-8 (byte {exc.start}); save it as UTF-8"
            ) from exc
    first = head.decode("utf-8-sig", "ignore").lstrip()[:1]
    return "json" if first in ("{", "[") else "csv"


def _csv_header(path: Path, *, limits: InputLimits) -> list[str] | None:
    """The column names of a CSV file's first non-comment line (None when there is none).

    Reads a few lines through the capped stream, so a light curve is never parsed as a catalog
    just to learn that it is not one.
    """
    with open_capped(path, limits=limits) as stream:
        for _ in range(_HEADER_SEARCH_LINES):
            raw = stream.readline(_SNIFF_BYTES * 8)
            if not raw:
                return None
            line = raw.decode("utf-8-sig", "replace").strip()
            if line and not line.startswith("#"):
                row = next(csv.reader([line], skipinitialspace=True), [])
                return [c.strip() for c in row]
    return None


def _catalog_report(
    path: Path, fmt: str, *, display_name: str, limits: InputLimits
) -> tuple[dict[str, Any], bool] | None:
    """The validation report when the file is a catalog table, None when it is not one."""
    from exoguard.catalogs import detect_kind
    from exoguard.catalogs.rawio import read_raw_bytes
    from exoguard.catalogs.reader import harmonise

    if fmt == "csv":
        header = _csv_header(path, limits=limits)
        try:
            detect_kind(header or [])
        except ValidationError:
            return None
    try:
        raw = read_raw_bytes(path.read_bytes(), name=display_name, limits=limits)
        detect_kind(raw.frame.columns)
    except TooLargeError:
        raise
    except (FormatError, ValidationError):
        return None
    table = harmonise(raw, source=display_name)
    frame = table.frame
    report = table.report.to_dict()
    report.update(
        {
            "catalog_kind": table.kind,
            "archive_stamp": table.archive_stamp,
            "n_candidates": len(frame),
            "n_by_label": {str(k): int(v) for k, v in Counter(frame["label"]).items()},
            "n_by_mission": {str(k): int(v) for k, v in Counter(frame["mission"]).items()},
        }
    )
    return report, bool(table.report.ok)


def _lightcurve_report(path: Path, *, display_name: str, limits: InputLimits) -> LightCurveSummary:
    from exoguard.io import read_lightcurve

    try:
        lc = read_lightcurve(path, limits=limits)
    except ExoguardError as exc:
        message = str(exc).replace(path.name, display_name)
        raise type(exc)(message) from exc
    return lightcurve_summary(lc)


@dataclass(frozen=True, slots=True)
class LightCurveSummary:
    """What the validation report says of a read (or stitched) light curve."""

    mission: str
    target_id: str
    n_points: int
    time_start_bjd: float
    time_end_bjd: float
    baseline_days: float
    cadence_s: float | None
    flux_column: str
    time_system_in: str
    n_segments: int
    segment_labels: list[str]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The ``lightcurve`` entry of the stored validation report."""
        return asdict(self)


def lightcurve_summary(lc: LightCurve) -> LightCurveSummary:
    """What the validation report says of a read (or stitched) light curve."""
    t = lc.time_bjd
    return LightCurveSummary(
        mission=lc.mission,
        target_id=lc.target_id,
        n_points=int(lc.n_points),
        time_start_bjd=float(t[0]),
        time_end_bjd=float(t[-1]),
        baseline_days=float(lc.baseline_days),
        cadence_s=float(lc.cadence_s) if lc.cadence_s == lc.cadence_s else None,
        flux_column=lc.flux_column,
        time_system_in=lc.time_system_in,
        n_segments=int(lc.n_segments),
        segment_labels=list(lc.segment_labels),
        notes=list(lc.notes),
    )


@dataclass(frozen=True, slots=True)
class FileInspection:
    """What :func:`inspect_file` found: a catalog table or a light curve.

    Attributes
    ----------
    kind
        ``"catalog"`` or ``"lightcurve"``.
    format
        ``"csv"``, ``"json"``, ``"fits"``, ... (:func:`sniff_format`).
    ok
        False when the catalog table has errors (a light curve that reads is ok).
    summary
        One line for the pages.
    catalog
        The catalog validation report (kind ``"catalog"``; None otherwise).
    lightcurve
        The light curve read (kind ``"lightcurve"``; None otherwise).
    """

    kind: str
    format: str
    ok: bool
    summary: str
    catalog: dict[str, Any] | None = None
    lightcurve: LightCurveSummary | None = None

    def report(self) -> dict[str, Any]:
        """The validation report stored with the dataset."""
        out: dict[str, Any] = {
            "dataset_kind": self.kind,
            "format": self.format,
            "ok": self.ok,
            "summary": self.summary,
        }
        if self.catalog is not None:
            out["catalog"] = self.catalog
        if self.lightcurve is not None:
            out["lightcurve"] = self.lightcurve.to_dict()
        return out


def inspect_file(
    path: Path, *, display_name: str, limits: InputLimits = DEFAULT_LIMITS
) -> FileInspection:
    """What a stored file is: a catalog table or a light curve, with its report.

    The file is first streamed once against `limits` (decompressed bytes, lines) keeping
    nothing, so a decompression bomb is refused before any parser sees it.

    Raises `TooLargeError` past a limit (the message names it and its setting), `FormatError` /
    `ValidationError` with a message naming the file when it is neither a readable catalog
    table nor a readable light curve.
    """
    fmt = sniff_format(path, display_name=display_name)  # reads the first few KiB only
    # Lines are counted in text; a FITS file's table rows are checked from its header.
    scan(path, limits=limits, name=display_name, count_lines=fmt != "fits")
    if fmt in ("csv", "json"):
        found = _catalog_report(path, fmt, display_name=display_name, limits=limits)
        if found is not None:
            report, ok = found
            return FileInspection(
                kind="catalog",
                format=fmt,
                ok=ok,
                summary=_catalog_summary(report),
                catalog=report,
            )
    try:
        lc_report = _lightcurve_report(path, display_name=display_name, limits=limits)
    except ExoguardError as exc:
        if fmt == "fits" or isinstance(exc, TooLargeError):
            raise
        raise type(exc)(
            f"{display_name}: neither a catalog table (KOI, TOI, K2 or the harmonised schema) "
            f"nor a light curve: {exc}"
        ) from exc
    return FileInspection(
        kind="lightcurve",
        format=fmt,
        ok=True,
        summary=(
            f"{lc_report.mission} light curve of {lc_report.target_id}: "
            f"{lc_report.n_points} points over {lc_report.baseline_days:.1f} days"
        ),
        lightcurve=lc_report,
    )


def _catalog_summary(report: dict[str, Any]) -> str:
    return (
        f"{report['catalog_kind']} table: {report['n_rows_kept']} of {report['n_rows_read']} rows "
        f"kept, {report['n_errors']} errors, {report['n_warnings']} warnings"
    )


# ----------------------------------------------------------------------------- storing
def create_dataset(
    session: Session, settings: Settings, incoming: IncomingFile, *, owner_id: int | None
) -> Dataset:
    """Validate a received file and keep it with its report, or discard it and raise.

    Commits the session: the file and the row appear together or not at all.
    """
    dataset_id = str(uuid.uuid4())
    final = settings.uploads_path / dataset_id
    try:
        found = inspect_file(
            incoming.path, display_name=incoming.filename, limits=settings.input_limits
        )
    except ExoguardError:
        incoming.discard()
        raise
    except Exception as exc:  # a reader bug must not leave a file behind either
        incoming.discard()
        log.exception("reading upload %s failed", incoming.filename)
        raise FormatError(f"{incoming.filename}: cannot be read ({type(exc).__name__})") from exc
    try:
        os.replace(incoming.path, final)
        dataset = DatasetRepository(session).create(
            dataset_id=dataset_id,
            filename=incoming.filename,
            kind=found.kind,
            format=found.format,
            size_bytes=incoming.size_bytes,
            sha256=incoming.sha256,
            storage_path=dataset_id,  # relative to settings.uploads_path
            owner_id=owner_id,
            status="validated",
            validation_report=found.report(),
        )
        session.commit()
    except BaseException:
        session.rollback()
        incoming.discard()
        with contextlib.suppress(FileNotFoundError):
            final.unlink()
        raise
    log.info(
        "stored dataset %s (%s, %s, %d bytes)",
        dataset_id,
        found.kind,
        found.format,
        incoming.size_bytes,
    )
    return dataset


def dataset_file(settings: Settings, dataset: Dataset) -> Path:
    """The stored file of a one-file dataset (its path never comes from the client)."""
    files = dataset_files(settings, dataset)
    if len(files) != 1:
        raise NotFoundError(f"dataset {dataset.id} holds {len(files)} files, not one")
    return files[0]


def dataset_files(settings: Settings, dataset: Dataset) -> list[Path]:
    """The stored files of a dataset: one, or the light curves of one star in upload order."""
    files = stored_files(settings.uploads_path, dataset.storage_path)
    if not files:
        raise NotFoundError(f"dataset {dataset.id}: its file is missing")
    return files


def can_see_all(user: User) -> bool:
    return access.sees_all(user)


def get_visible_dataset(session: Session, dataset_id: str, user: User) -> Dataset:
    """The dataset when `user` may see it (`exoguard.store.access`); 404 otherwise."""
    return access.require_dataset(session, dataset_id, user)


def list_datasets(
    session: Session, user: User, *, limit: int = 50, offset: int = 0, kind: str | None = None
) -> Sequence[Dataset]:
    """Own datasets (all of them for researchers and admins), newest first."""
    owner = None if access.sees_all(user) else user.id
    return DatasetRepository(session).list(owner_id=owner, kind=kind, limit=limit, offset=offset)


def dataset_view(dataset: Dataset, *, with_report: bool = False) -> dict[str, Any]:
    """The public fields of a dataset."""
    view: dict[str, Any] = {
        "id": dataset.id,
        "filename": dataset.filename,
        "kind": dataset.kind,
        "format": dataset.format,
        "size_bytes": dataset.size_bytes,
        "sha256": dataset.sha256,
        "status": dataset.status,
        "owner_id": dataset.owner_id,
        "created_at": dataset.created_at.isoformat() if dataset.created_at else None,
    }
    report = dataset.validation_report or {}
    view["ok"] = report.get("ok")
    view["summary"] = report.get("summary")
    if with_report:
        view["report"] = report
    return view


__all__ = [
    "FileInspection",
    "IncomingFile",
    "LightCurveSummary",
    "create_dataset",
    "dataset_file",
    "dataset_files",
    "dataset_view",
    "get_visible_dataset",
    "inspect_file",
    "list_datasets",
    "safe_filename",
    "sniff_format",
]
