"""NASA Exoplanet Archive tables (KOI cumulative, TOI, K2 pandc) → the harmonised schema.

Example
-------
>>> from exoguard.catalogs import read_catalog
>>> table = read_catalog("koi_cumulative_2026-06-22.csv.gz")  # doctest: +SKIP
>>> table.kind, len(table.frame), table.report.ok  # doctest: +SKIP
('koi', 9564, True)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from exoguard.catalogs.archive_specs import ARCHIVE_SPECS, KindSpec
from exoguard.catalogs.rawio import RawTable, read_raw_bytes, read_raw_file
from exoguard.catalogs.schema import HARMONISED_COLUMNS, LABELS, MISSIONS, PHYSICAL_COLUMNS
from exoguard.catalogs.validation import ValidationReport
from exoguard.errors import ValidationError

logger = logging.getLogger(__name__)

CatalogKind = Literal["koi", "toi", "k2", "harmonised"]
CATALOG_KINDS: tuple[str, ...] = get_args(CatalogKind)


#: Default table files (under settings.catalogs_dir) and their kinds.
DEFAULT_CATALOG_FILES: dict[str, str] = {
    "koi": "koi_cumulative_2026-06-22.csv.gz",
    "toi": "toi_2026-06-22.csv.gz",
    "k2": "k2pandc_2025-10-04.csv.gz",
}

#: Allowed range (inclusive) of each physical column; outside → reported, set to NaN.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "period_days": (1e-3, 1e7),
    "t0_bjd": (2.0e6, 3.0e6),
    "duration_hours": (1e-3, 1e4),
    "depth_ppm": (0.0, 1e6 * 10),  # some archive depths exceed 1e6 ppm (bad fits); kept
    "impact": (0.0, 1e4),
    "planet_radius_rearth": (1e-3, 1e7),
    "equilibrium_temp_k": (1.0, 1e5),
    "insolation_earth": (0.0, 1e9),
    "transit_snr": (0.0, 1e7),
    "star_teff_k": (500.0, 2e5),
    "star_logg_cgs": (-1.0, 10.0),
    "star_radius_rsun": (1e-3, 1e4),
    "star_mag": (-5.0, 35.0),
}


_HARMONISED_REQUIRED = ("object_id", "period_days")
_STAMP = re.compile(r"\b(19|20)\d\d\b")
_NULL_STRINGS = frozenset({"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA", "N/A", "n/a"})


@dataclass(frozen=True, eq=False)
class CatalogTable:
    """One catalog read into the harmonised schema.

    Attributes
    ----------
    kind : {"koi", "toi", "k2", "harmonised"}
    source : str
        The file name (it carries the archive download date, e.g. ``toi_2026-06-22.csv.gz``).
    frame : pandas.DataFrame
        One row per object, every column of ``schema.HARMONISED_COLUMNS``, then ``name``:
        the archive's planet name (KOI ``kepler_name``, K2 ``pl_name``; None for TOIs and
        where the archive gives none). A display name only, never a feature.
    report : ValidationReport
    archive_stamp : str or None
        The archive's own time stamp line from the file header, when present.
    """

    kind: str
    source: str
    frame: pd.DataFrame
    report: ValidationReport = field(default_factory=ValidationReport)
    archive_stamp: str | None = None

    @property
    def labelled(self) -> pd.DataFrame:
        """Rows labelled planet or false_positive."""
        return self.frame[self.frame["label"].isin(["planet", "false_positive"])]


def detect_kind(columns: pd.Index | list[str]) -> str:
    """Which archive table the columns belong to.

    Raises
    ------
    ValidationError
        When no known table matches; the message names the columns each kind needs.
    """
    cols = {str(c).strip() for c in columns}
    if "kepoi_name" in cols or "koi_disposition" in cols:
        return "koi"
    if "tfopwg_disp" in cols or ("toi" in cols and "tid" in cols):
        return "toi"
    if "pl_name" in cols and ("default_flag" in cols or "disposition" in cols):
        return "k2"
    if "object_id" in cols and "period_days" in cols:
        return "harmonised"
    needs = "; ".join(f"{k}: {', '.join(s.required)}" for k, s in ARCHIVE_SPECS.items())
    raise ValidationError(
        "cannot tell which catalog this is; expected the columns of one of "
        f"{needs}; harmonised: {', '.join(_HARMONISED_REQUIRED)}"
    )


def read_catalog(path: str | Path, *, kind: CatalogKind | None = None) -> CatalogTable:
    """Read a KOI, TOI, K2 or harmonised table (CSV with ``#`` comments, gzip or not, or JSON).

    Parameters
    ----------
    path : str or Path
    kind : {"koi", "toi", "k2", "harmonised"}, optional
        Detected from the columns when None.

    Returns
    -------
    CatalogTable
        Bad cells are NaN in ``frame`` and listed in ``report`` (row, column, value); no row
        is dropped except K2 rows with ``default_flag != 1`` (counted in ``report``).

    Raises
    ------
    FormatError
        Empty, binary, wrongly encoded or malformed file.
    ValidationError
        Unknown table kind or missing required columns (named in the message).
    """
    p = Path(path)
    return harmonise(read_raw_file(p), source=p.name, kind=kind)


def read_catalog_bytes(data: bytes, *, name: str, kind: CatalogKind | None = None) -> CatalogTable:
    """Like :func:`read_catalog` for bytes in memory (an upload); ``name`` becomes ``source``."""
    return harmonise(read_raw_bytes(data, name=name), source=name, kind=kind)


def load_default_catalogs(catalogs_dir: Path) -> list[CatalogTable]:
    """The bundled KOI, TOI and K2 tables, in that order.

    Parameters
    ----------
    catalogs_dir : Path
        Directory that holds the catalog files (``settings.catalogs_dir``).
    """
    return [
        read_catalog(Path(catalogs_dir) / fname, kind=k)  # type: ignore[arg-type]
        for k, fname in DEFAULT_CATALOG_FILES.items()
    ]


def harmonise(raw: RawTable, *, source: str, kind: str | None = None) -> CatalogTable:
    """Map raw string cells into the harmonised schema, validating as it goes."""
    frame = raw.frame
    if frame.empty:
        raise ValidationError(f"{source}: the table has a header but no data rows")
    if kind is None:
        kind = detect_kind(frame.columns)
    if kind not in CATALOG_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CATALOG_KINDS)} or None, got {kind!r}")
    report = ValidationReport(kind=kind, source=source, n_rows_read=len(frame))
    stamp = next(
        (
            c.lstrip("# ").strip()
            for c in raw.comments[:5]
            if _STAMP.search(c) and "COLUMN" not in c and "produced" not in c
        ),
        None,
    )
    rows = pd.Series(np.arange(1, len(frame) + 1), index=frame.index)  # 1-based data rows
    if kind == "harmonised":
        out = _harmonise_own(frame, rows, report, source=source)
    else:
        out = _harmonise_archive(frame, rows, ARCHIVE_SPECS[kind], report, source=source)
    _report_duplicates(out, rows.loc[out.index], report)
    out = out.reset_index(drop=True)
    report.n_rows_kept = len(out)
    if report.errors:
        logger.warning("%s", report.summary())
    return CatalogTable(kind=kind, source=source, frame=out, report=report, archive_stamp=stamp)


def _missing_required(
    frame: pd.DataFrame, required: tuple[str, ...], *, kind: str, src: str
) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{src}: missing required column(s) for a {kind} table: {', '.join(missing)} "
            f"(required: {', '.join(required)})"
        )


def _to_number(
    cells: pd.Series, rows: pd.Series, report: ValidationReport, *, column: str
) -> pd.Series:
    """Parse string cells; empty/null → NaN silently, anything else unparsable → NaN + error."""
    text = cells.astype(str).str.strip()
    is_null = text.isin(_NULL_STRINGS)
    values = pd.to_numeric(text.where(~is_null), errors="coerce").astype(float)
    bad = ~is_null & ~np.isfinite(values)
    for idx in values.index[bad]:
        report.add(
            "error",
            "bad_value",
            f"row {rows[idx]}: column {column!r} holds {text[idx]!r}, not a finite number",
            row=int(rows[idx]),
            column=column,
            value=text[idx],
        )
    return values.where(~bad)


def _check_range(
    values: pd.Series,
    raw_cells: pd.Series,
    rows: pd.Series,
    report: ValidationReport,
    *,
    target: str,
    column: str,
) -> pd.Series:
    lo, hi = VALUE_RANGES[target]
    bad = values.notna() & ((values < lo) | (values > hi))
    for idx in values.index[bad]:
        report.add(
            "error",
            "bad_value",
            f"row {rows[idx]}: column {column!r} = {str(raw_cells[idx]).strip()!r} is outside "
            f"the allowed range [{lo:g}, {hi:g}] for {target}",
            row=int(rows[idx]),
            column=column,
            value=str(raw_cells[idx]).strip(),
        )
    return values.where(~bad)


def _labels_from(
    disp: pd.Series, rows: pd.Series, spec: KindSpec, report: ValidationReport
) -> pd.Series:
    text = disp.astype(str).str.strip()
    labels = text.str.upper().map(dict(spec.labels))
    for idx in labels.index[labels.isna()]:
        value = text[idx]
        if value in _NULL_STRINGS:
            report.add(
                "warning" if spec.blank_disposition_ok else "error",
                "blank_disposition",
                f"row {rows[idx]}: {spec.disposition_column!r} is blank; treated as unlabelled "
                "(candidate)",
                row=int(rows[idx]),
                column=spec.disposition_column,
                value=value,
            )
        else:
            report.add(
                "error",
                "bad_value",
                f"row {rows[idx]}: {spec.disposition_column!r} = {value!r} is not one of "
                f"{', '.join(spec.labels)}; treated as unlabelled (candidate)",
                row=int(rows[idx]),
                column=spec.disposition_column,
                value=value,
            )
    return labels.fillna("candidate")


def _harmonise_archive(
    frame: pd.DataFrame,
    rows: pd.Series,
    spec: KindSpec,
    report: ValidationReport,
    *,
    source: str,
) -> pd.DataFrame:
    _missing_required(frame, spec.required, kind=spec.kind, src=source)
    if spec.kind == "k2":
        flag = _to_number(frame["default_flag"], rows, report, column="default_flag")
        keep = flag == 1
        report.n_rows_skipped = int((~keep).sum())
        if report.n_rows_skipped:
            report.add(
                "warning",
                "non_default_rows",
                f"{report.n_rows_skipped} rows with default_flag != 1 skipped (alternative "
                "parameter sets of objects kept once with their default set)",
                column="default_flag",
            )
        frame = frame.loc[keep]
        rows = rows.loc[keep]
        if frame.empty:
            raise ValidationError(f"{source}: no row has default_flag == 1")
    out = pd.DataFrame(index=frame.index)
    object_id = spec.make_object_id(frame)
    empty_id = object_id.isin(_NULL_STRINGS) | object_id.str.endswith(("-", " "))
    for idx in object_id.index[empty_id]:
        report.add(
            "error",
            "missing_id",
            f"row {rows[idx]}: the object identifier is blank",
            row=int(rows[idx]),
            column=spec.required[1] if spec.kind != "k2" else "pl_name",
            value=object_id[idx],
        )
    out["object_id"] = object_id.where(~empty_id, None)
    out["host_id"] = spec.make_host_id(frame)
    out["mission"] = spec.mission
    disp = frame[spec.disposition_column].astype(str).str.strip()
    out["label"] = _labels_from(disp, rows, spec, report)
    out["disposition"] = disp.where(~disp.isin(_NULL_STRINGS), None)
    out["source"] = source
    missing_optional = []
    for target in PHYSICAL_COLUMNS:
        sources = [s for s in spec.physical.get(target, ()) if s.column in frame.columns]
        if not sources:
            out[target] = np.nan
            if spec.physical.get(target):
                missing_optional.append(spec.physical[target][0].column)
            continue
        values = pd.Series(np.nan, index=frame.index)
        for src in sources:
            parsed = _to_number(frame[src.column], rows, report, column=src.column)
            parsed = parsed * src.scale + src.offset
            parsed = _check_range(
                parsed, frame[src.column], rows, report, target=target, column=src.column
            )
            values = values.fillna(parsed)
        out[target] = values
    if missing_optional:
        report.add(
            "warning",
            "missing_optional_column",
            f"optional column(s) absent, their values are NaN: {', '.join(missing_optional)}",
        )
    out["name"] = _names(frame, spec.name_column)
    return out[[*HARMONISED_COLUMNS, "name"]]


def _names(frame: pd.DataFrame, column: str | None) -> pd.Series:
    """The planet-name column stripped, None where blank or absent."""
    if column is None or column not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    text = frame[column].astype(str).str.strip()
    return text.where(~text.isin(_NULL_STRINGS), None).astype(object)


def _harmonise_own(
    frame: pd.DataFrame, rows: pd.Series, report: ValidationReport, *, source: str
) -> pd.DataFrame:
    _missing_required(frame, _HARMONISED_REQUIRED, kind="harmonised", src=source)
    out = pd.DataFrame(index=frame.index)
    for col in ("object_id", "host_id", "disposition", "source"):
        if col in frame.columns:
            text = frame[col].astype(str).str.strip()
            out[col] = text.where(~text.isin(_NULL_STRINGS), None)
        else:
            out[col] = None
    for idx in out.index[out["object_id"].isna()]:
        report.add(
            "error",
            "missing_id",
            f"row {rows[idx]}: object_id is blank",
            row=int(rows[idx]),
            column="object_id",
            value="",
        )
    out["source"] = out["source"].fillna(source)
    if "mission" in frame.columns:
        mission = frame["mission"].astype(str).str.strip().str.lower()
        blank = mission.isin(_NULL_STRINGS)
        bad = ~blank & ~mission.isin(MISSIONS)
        for idx in mission.index[bad]:
            report.add(
                "error",
                "bad_value",
                f"row {rows[idx]}: mission {mission[idx]!r} is not one of {', '.join(MISSIONS)}",
                row=int(rows[idx]),
                column="mission",
                value=mission[idx],
            )
        out["mission"] = mission.where(~blank & ~bad, "other")
    else:
        out["mission"] = "other"
    if "label" in frame.columns:
        label = frame["label"].astype(str).str.strip().str.lower()
        blank = label.isin(_NULL_STRINGS)
        bad = ~blank & ~label.isin(LABELS)
        for idx in label.index[bad]:
            report.add(
                "error",
                "bad_value",
                f"row {rows[idx]}: label {label[idx]!r} is not one of {', '.join(LABELS)}",
                row=int(rows[idx]),
                column="label",
                value=label[idx],
            )
        out["label"] = label.where(~blank & ~bad, "candidate")
    else:
        out["label"] = "candidate"
    missing_optional = []
    for target in PHYSICAL_COLUMNS:
        if target not in frame.columns:
            out[target] = np.nan
            missing_optional.append(target)
            continue
        parsed = _to_number(frame[target], rows, report, column=target)
        out[target] = _check_range(
            parsed, frame[target], rows, report, target=target, column=target
        )
    if missing_optional:
        report.add(
            "warning",
            "missing_optional_column",
            f"optional column(s) absent, their values are NaN: {', '.join(missing_optional)}",
        )
    out["name"] = _names(frame, "name")
    return out[[*HARMONISED_COLUMNS, "name"]]


def _report_duplicates(out: pd.DataFrame, rows: pd.Series, report: ValidationReport) -> None:
    ids = out["object_id"]
    dup = ids.notna() & ids.duplicated(keep="first")
    if not dup.any():
        return
    # One pass for the first row of each id (a comparison per duplicate was quadratic: an
    # upload of a table repeated a few times took minutes).
    firsts = ids[ids.notna() & ~ids.duplicated(keep="first")]
    first_row = dict(zip(firsts.to_numpy(), rows[firsts.index].to_numpy(), strict=True))
    for idx in ids.index[dup]:
        first = first_row[ids[idx]]
        report.add(
            "error",
            "duplicate_id",
            f"row {rows[idx]}: object id {ids[idx]!r} already appears in row {first}",
            row=int(rows[idx]),
            column="object_id",
            value=ids[idx],
        )
