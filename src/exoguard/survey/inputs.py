"""The stars of a survey: a folder of light-curve files, or a manifest CSV.

A manifest has the columns ``path,target,mission`` (``mission`` may be blank); relative paths
are relative to the manifest's folder. Rows of one target are the files of one star, stitched
when the star is read. In a folder, a FITS file's star comes from its header (TICID, KEPLERID,
OBJECT: the header only is read); a text file (CSV, JSON, DAVE ``.dat``) is its own star named
after the file, unless its name holds a K2 ``ktwo`` id. Use a manifest to group text files.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from exoguard.catalogs.schema import MISSIONS
from exoguard.errors import NotFoundError, ValidationError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("path", "target", "mission")
#: File endings taken from a folder (lower case; ``.gz`` of each too).
LIGHTCURVE_SUFFIXES = (".fits", ".fit", ".fts", ".csv", ".json", ".dat", ".txt")
_FITS_SUFFIXES = (".fits", ".fit", ".fts")


@dataclass(frozen=True)
class StarFiles:
    """One star of a survey: its target id, mission (None: what the files say) and files."""

    target: str
    mission: str | None
    files: tuple[str, ...]


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def write_manifest(stars: Sequence[StarFiles], out: Path) -> Path:
    """Write ``stars`` as a manifest CSV (``MANIFEST_COLUMNS``, one row per file), the form
    :func:`read_manifest` reads back; returns ``out``."""
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_COLUMNS)
        for star in stars:
            writer.writerows([path, star.target, star.mission or ""] for path in star.files)
    return out


def is_manifest(source: Path) -> bool:
    """True when `source` is a CSV whose header names ``path`` and ``target``."""
    if not source.is_file() or _suffix(source) != ".csv":
        return False
    with source.open(newline="", encoding="utf-8", errors="replace") as fh:
        header = next(csv.reader(fh), [])
    names = {h.strip().lower() for h in header}
    return {"path", "target"} <= names


def read_manifest(manifest: Path) -> list[StarFiles]:
    """The stars of a manifest CSV (``path,target,mission``), in order of first appearance."""
    groups: dict[str, list[str]] = {}
    missions: dict[str, str | None] = {}
    with manifest.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        missing = [c for c in ("path", "target") if c not in fields]
        if missing:
            raise ValidationError(
                f"{manifest.name}: the manifest lacks the column(s) {', '.join(missing)}; "
                f"a survey manifest has the columns {','.join(MANIFEST_COLUMNS)}"
            )
        for line, raw in enumerate(reader, start=2):
            row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            path, target = row.get("path", ""), row.get("target", "")
            if not path or not target:
                raise ValidationError(
                    f"{manifest.name} line {line}: path and target must not be empty"
                )
            mission = row.get("mission", "").lower() or None
            if mission is not None and mission not in MISSIONS:
                raise ValidationError(
                    f"{manifest.name} line {line}: mission {mission!r} is not allowed; "
                    f"use one of {', '.join(MISSIONS)} (or leave it blank)"
                )
            file = Path(path)
            if not file.is_absolute():
                file = manifest.parent / file
            groups.setdefault(target, []).append(str(file))
            if missions.setdefault(target, mission) != mission:
                raise ValidationError(
                    f"{manifest.name} line {line}: target {target} is listed with missions "
                    f"{missions[target]} and {mission}"
                )
    if not groups:
        raise ValidationError(f"{manifest.name}: the manifest lists no light curve")
    return [StarFiles(t, missions[t], tuple(files)) for t, files in groups.items()]


def _fits_target(path: Path) -> str | None:
    from astropy.io import fits

    from exoguard.io.fits_common import mission_from_headers, target_from_headers

    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            h0 = hdul[0].header
            h1 = hdul[1].header if len(hdul) > 1 else fits.Header()
            return target_from_headers(h0, h1, mission=mission_from_headers(h0, h1))
    except Exception as exc:  # unreadable here: the star fails later with its reason
        log.info("%s: no target in the header (%s)", path.name, exc)
        return None


def _text_target(path: Path) -> str:
    from exoguard.io.dave_k2 import target_from_name
    from exoguard.io.fits_common import UNKNOWN_TARGET

    target, _ = target_from_name(path.name)
    return path.name if target == UNKNOWN_TARGET else target


def scan_folder(folder: Path) -> list[StarFiles]:
    """The stars of a folder's light-curve files (sub-folders included), sorted by target."""
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and _suffix(p) in LIGHTCURVE_SUFFIXES
    )
    if not files:
        raise ValidationError(
            f"{folder.name}: no light-curve file found (allowed endings: "
            f"{', '.join(LIGHTCURVE_SUFFIXES)}, each also gzipped)"
        )
    groups: dict[str, list[str]] = {}
    for path in files:
        target = (_fits_target(path) if _suffix(path) in _FITS_SUFFIXES else None) or (
            _text_target(path)
        )
        groups.setdefault(target[:64], []).append(str(path))
    return [StarFiles(t, None, tuple(groups[t])) for t in sorted(groups)]


def plan_stars(source: Path) -> list[StarFiles]:
    """The stars of `source`: a folder of light curves or a manifest CSV."""
    if not source.exists():
        raise NotFoundError(f"{source}: no such folder or manifest")
    if source.is_dir():
        return scan_folder(source)
    if is_manifest(source):
        return read_manifest(source)
    raise ValidationError(
        f"{source.name}: a survey takes a folder of light curves or a manifest CSV with the "
        f"columns {','.join(MANIFEST_COLUMNS)}"
    )


__all__ = ["MANIFEST_COLUMNS", "StarFiles", "is_manifest", "plan_stars", "read_manifest"]
