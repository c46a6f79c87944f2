"""Where a candidate's light curve is: its dataset's file, a survey's files, or bundled ones.

The light curve of a candidate is the file of its dataset (an uploaded light curve), the files
a survey read for its star, or, for catalog rows, the bundled light curves of its host star
listed in ``<data_dir>/lightcurves/index.csv``; without any, the reason in words.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.store.models import Candidate, Dataset
from exoguard.store.repositories.surveys import star_files_of_candidate
from exoguard.store.uploads import stored_files


def _inside(root: Path, relative: str) -> Path | None:
    base = root.resolve()
    path = (base / relative).resolve()
    return path if base in path.parents and path.is_file() else None


def bundled_lightcurve_files(data_dir: Path, host_id: str | None) -> list[Path]:
    """The bundled light-curve files of a host star (``lightcurves/index.csv``), time order."""
    if not host_id:
        return []
    index = data_dir / "lightcurves" / "index.csv"
    if not index.is_file():
        return []
    wanted = " ".join(host_id.split()).upper()
    files: list[Path] = []
    with index.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if " ".join(str(row.get("target", "")).split()).upper() == wanted:
                path = _inside(data_dir / "lightcurves", str(row.get("file", "")))
                if path is not None:
                    files.append(path)
    return sorted(files)


def candidate_lightcurve_files(
    session: Session, candidate: Candidate, *, settings: Settings, bundled: bool = True
) -> tuple[list[Path], str]:
    """The light-curve files of a candidate and where they come from (or why there is none)."""
    if candidate.dataset_id is not None:
        dataset = session.get(Dataset, candidate.dataset_id)
        survey_id = (dataset.validation_report or {}).get("survey_id") if dataset else None
        if survey_id:  # a survey's find: the star's files where the survey read them
            files = [Path(f) for f in star_files_of_candidate(session, survey_id, candidate.id)]
            if files and all(f.is_file() for f in files):
                return files, f"{len(files)} survey file(s) of {candidate.host_id}"
            return [], f"the survey files of {candidate.host_id} are no longer there"
        if dataset is not None and dataset.kind == "lightcurve":
            stored = stored_files(settings.uploads_path, dataset.storage_path)
            if not stored:
                return [], f"the file of dataset {dataset.id} is missing"
            what = "uploaded file" if len(stored) == 1 else f"{len(stored)} uploaded files,"
            return stored, f"{what} {dataset.filename}"
    if bundled:
        files = bundled_lightcurve_files(settings.data_dir, candidate.host_id)
        if files:
            return files, f"{len(files)} bundled archive file(s) of {candidate.host_id}"
    return [], no_lightcurve_reason(candidate)


def is_manual_entry(candidate: Candidate) -> bool:
    """Whether a person typed this candidate's parameters in (``POST /api/models/predict``)."""
    return (candidate.source or "").startswith("manual entry") or (
        candidate.dataset_id is None and candidate.object_id.startswith("manual-")
    )


def no_lightcurve_reason(candidate: Candidate) -> str:
    """Why a candidate has no light curve, naming what it is (manual entry, catalog row...)."""
    if is_manual_entry(candidate):
        return "no light curve: this is a manual entry (parameters typed in)"
    if candidate.dataset_id is not None:
        return "no light curve: this candidate is a row of an uploaded table"
    return "no light curve of this star is stored (catalog row)"
