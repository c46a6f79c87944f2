"""Helpers shared by the FITS readers: safe opening, header metadata, time conversion."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from exoguard.core.cleaning import quality_good, resolve_quality_bitmask
from exoguard.core.lightcurve import (
    BKJD_OFFSET,
    BTJD_OFFSET,
    UNKNOWN_TARGET,
    LightCurve,
    median_cadence_s,
)
from exoguard.errors import FormatError, ValidationError
from exoguard.io.columns import (
    ChosenColumns,
    TimeDecision,
    decide_time_system,
    time_system_from_name,
)
from exoguard.io.registry import ReadOptions
from exoguard.limits import DEFAULT_LIMITS, InputLimits, is_gzip, scan

_ID_RE = re.compile(r"\b(KIC|EPIC|TIC|KPLR|KTWO)\s*[-_]?\s*0*(\d+)", re.IGNORECASE)
_PREFIX_BY_MISSION = {"kepler": "KIC", "k2": "EPIC", "tess": "TIC"}


def open_fits(path: Path, *, limits: InputLimits = DEFAULT_LIMITS) -> fits.HDUList:
    """Open a FITS file eagerly; truncated or corrupt files raise ``FormatError``.

    A gzipped file is first streamed once against ``limits.max_bytes`` (astropy would otherwise
    decompress whatever it holds); tables with more than ``limits.max_rows`` rows in all are
    refused before their data is read. Both raise ``TooLargeError``.
    """
    if is_gzip(path):
        scan(path, limits=limits, count_lines=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
        except Exception as exc:  # astropy raises OSError, ValueError, TypeError...
            raise FormatError(f"{path.name}: corrupt FITS file ({exc})") from exc
    for w in caught:
        if "truncated" in str(w.message).lower():
            hdul.close()
            raise FormatError(f"{path.name}: truncated FITS file ({w.message})")
    if len(hdul) == 0:
        hdul.close()
        raise FormatError(f"{path.name}: FITS file without any HDU")
    n_rows = sum(
        int(h.header.get("NAXIS2", 0) or 0)
        for h in hdul[1:]
        if isinstance(h, fits.BinTableHDU | fits.TableHDU)
    )
    if n_rows > limits.max_rows:
        hdul.close()
        raise limits.rows_error(path.name, what="table rows")
    return hdul


def table_hdu(hdul: fits.HDUList, *, name: str | None = None) -> fits.BinTableHDU | None:
    """The light-curve table: extension ``name`` (default ``LIGHTCURVE``) or the first table."""
    wanted = (name or "LIGHTCURVE").upper()
    tables = [h for h in hdul[1:] if isinstance(h, fits.BinTableHDU | fits.TableHDU)]
    for h in tables:
        if str(h.header.get("EXTNAME", "")).upper() == wanted:
            return h
    return tables[0] if tables else None


def column_names(hdu: fits.BinTableHDU | None) -> list[str]:
    return [] if hdu is None else list(hdu.columns.names)


def header_str(*headers: fits.Header, key: str) -> str:
    """First non-empty string value of ``key`` among ``headers``."""
    for h in headers:
        v = h.get(key)
        if v is not None and not isinstance(v, fits.card.Undefined) and str(v).strip():
            return str(v).strip()
    return ""


def header_value(*headers: fits.Header, key: str) -> Any:
    for h in headers:
        v = h.get(key)
        if v is not None and not isinstance(v, fits.card.Undefined):
            return v
    return None


def get_column(hdu: fits.BinTableHDU, name: str) -> NDArray[Any]:
    """A column as a native-endian 1-D array (case-insensitive name)."""
    lookup = {n.upper(): n for n in hdu.columns.names}
    data = np.asarray(hdu.data[lookup[name.upper()]])
    if data.ndim != 1:
        raise FormatError(f"column {name} has shape {data.shape}; a 1-D column is needed")
    return data.astype(data.dtype.newbyteorder("="))


def has_column(hdu: fits.BinTableHDU | None, name: str) -> bool:
    return hdu is not None and name.upper() in {n.upper() for n in hdu.columns.names}


def mission_from_headers(h0: fits.Header, h1: fits.Header) -> str:
    """``'kepler'``, ``'k2'``, ``'tess'`` or ``'other'`` from TELESCOP/MISSION/CAMPAIGN/OBJECT."""
    telescope = header_str(h0, h1, key="TELESCOP").lower()
    mission = header_str(h0, h1, key="MISSION").lower()
    obj = header_str(h0, h1, key="OBJECT").upper()
    if mission == "k2" or header_value(h0, h1, key="CAMPAIGN") is not None or "EPIC" in obj:
        return "k2"
    if "kepler" in (telescope, mission):
        return "kepler"
    if "tess" in (telescope, mission):
        return "tess"
    return "other"


def target_from_headers(h0: fits.Header, h1: fits.Header, *, mission: str) -> str:
    """``'KIC n'``, ``'EPIC n'``, ``'TIC n'`` from the id keywords or OBJECT."""
    prefix = _PREFIX_BY_MISSION.get(mission)
    for key in ("TICID", "KEPLERID", "TARGETID"):
        v = header_value(h0, h1, key=key)
        if v is not None and str(v).strip().isdigit() and prefix:
            return f"{prefix} {int(str(v).strip())}"
    obj = header_str(h0, h1, key="OBJECT")
    m = _ID_RE.search(obj)
    if m:
        p = {"KPLR": "KIC", "KTWO": "EPIC"}.get(m.group(1).upper(), m.group(1).upper())
        return f"{p} {int(m.group(2))}"
    if obj.isdigit() and prefix:
        return f"{prefix} {int(obj)}"
    return obj or UNKNOWN_TARGET


def segment_label(h0: fits.Header, h1: fits.Header, *, mission: str, fallback: str) -> str:
    keys = {"kepler": ("QUARTER", "Q"), "k2": ("CAMPAIGN", "C"), "tess": ("SECTOR", "S")}
    if mission in keys:
        key, letter = keys[mission]
        v = header_value(h0, h1, key=key)
        if v is not None and str(v).strip().lstrip("-").isdigit():
            return f"{letter}{int(v)}"
    return fallback


def fits_time_decision(
    h0: fits.Header,
    h1: fits.Header,
    *,
    hdu: fits.BinTableHDU,
    time_column: str,
    values: NDArray[np.float64],
    given: str | None,
    mission: str,
) -> TimeDecision:
    """Time system of a FITS time column: given, BJDREFI/F, TUNITn, then the table rule."""
    if given is not None:
        return decide_time_system(column=time_column, values=values, given=given)
    refi = header_value(h1, h0, key="BJDREFI")
    reff = header_value(h1, h0, key="BJDREFF")
    if refi is not None:
        offset = float(refi) + float(reff or 0.0)
        if offset == BKJD_OFFSET:
            label = "BKJD (BJD-2454833)"
        elif offset == BTJD_OFFSET:
            label = "BTJD (BJD-2457000)"
        else:
            label = f"BJD-{offset:g}"
        timesys = header_str(h1, h0, key="TIMESYS").upper()
        reason = "BJDREFI/BJDREFF keywords"
        if timesys and timesys != "TDB":
            reason += f" (TIMESYS={timesys}, taken as TDB)"
        return TimeDecision(offset, label, reason)
    idx = [n.upper() for n in hdu.columns.names].index(time_column.upper()) + 1
    unit = header_str(hdu.header, key=f"TUNIT{idx}")
    if unit:
        named = time_system_from_name(f"{time_column} ({unit})")
        if named is not None:
            return TimeDecision(named.offset, named.label, f"column unit {unit!r}")
    return decide_time_system(
        column=time_column, values=values, mission=None if mission == "other" else mission
    )


def cadence_seconds(h0: fits.Header, h1: fits.Header, time_raw: NDArray[np.float64]) -> float:
    """TIMEDEL (days) in seconds, else the median time step."""
    timedel = header_value(h1, h0, key="TIMEDEL")
    try:
        if timedel is not None and float(timedel) > 0:
            return float(timedel) * 86400.0
    except (TypeError, ValueError):
        pass
    return median_cadence_s(time_raw)


def build_lightcurve(
    hdul: fits.HDUList,
    hdu: fits.BinTableHDU,
    opts: ReadOptions,
    columns: ChosenColumns,
    *,
    product: str,
    mission: str | None = None,
    time_system: str | None = None,
    extra_bad: NDArray[np.bool_] | None = None,
    notes: Sequence[str] = (),
) -> LightCurve:
    """Read the named columns of ``hdu`` into a raw (not normalised) ``LightCurve``.

    Quality flags are applied here; times converted to BJD_TDB. ``extra_bad`` marks
    rows to drop for product-specific reasons (e.g. K2SFF's MOVING flag).
    """
    h0, h1 = hdul[0].header, hdu.header
    time_column, flux_column = columns.time, columns.flux
    flux_err_column, quality_column = columns.flux_err, columns.quality
    mission = mission or mission_from_headers(h0, h1)
    if opts.mission is not None:
        mission = opts.mission
    note_list = [f"format: {product}", *notes]
    time_raw = get_column(hdu, time_column).astype(np.float64)
    flux = get_column(hdu, flux_column).astype(np.float64)
    if flux_err_column is not None:
        flux_err = get_column(hdu, flux_err_column).astype(np.float64)
    else:
        flux_err = np.full(flux.shape, np.nan)
        note_list.append(f"no error column for {flux_column}")
    n_rows = flux.size
    if not np.isfinite(flux).any():
        raise ValidationError(
            f"{opts.source_name}: column {flux_column} has no finite value ({n_rows} rows)"
        )
    decision = fits_time_decision(
        h0,
        h1,
        hdu=hdu,
        time_column=time_column,
        values=time_raw,
        given=time_system or opts.time_system,
        mission=mission,
    )
    if decision.mission_hint and mission == "other":
        mission = decision.mission_hint
    note_list.append(f"time: {decision.label} from {decision.reason}")
    keep = np.ones(n_rows, dtype=bool)
    if quality_column is not None:
        bitmask = resolve_quality_bitmask(opts.quality_bitmask, mission=mission)
        good = quality_good(get_column(hdu, quality_column), bitmask)
        note_list.append(
            f"quality: dropped {int((~good).sum())} of {n_rows} cadences with "
            f"{quality_column} & {bitmask} != 0 (bitmask {opts.quality_bitmask!r})"
        )
        keep &= good
    else:
        note_list.append("no quality column: no cadence dropped for quality")
    if extra_bad is not None:
        keep &= ~extra_bad
    target = opts.target_id or target_from_headers(h0, h1, mission=mission)
    label = segment_label(h0, h1, mission=mission, fallback=Path(opts.source_name).stem)
    return LightCurve(
        time_bjd=time_raw[keep] + decision.offset,
        flux=flux[keep],
        flux_err=flux_err[keep],
        segment=np.zeros(int(keep.sum()), dtype=np.int64),
        mission=mission,
        target_id=target,
        cadence_s=cadence_seconds(h0, h1, time_raw),
        time_system_in=decision.label,
        flux_column=flux_column.upper(),
        sources=(opts.source_name,),
        notes=tuple(note_list),
        segment_labels=(label,),
        star=star_from_headers(h0, h1),
    )


#: Primary-header keywords of the Kepler/K2/TESS pipelines (KIC/EPIC/TIC values).
_STAR_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("radius_rsun", ("RADIUS",)),
    ("teff_k", ("TEFF",)),
    ("logg_cgs", ("LOGG",)),
    ("mag", ("KEPMAG", "TESSMAG")),
)


def star_from_headers(h0: fits.Header, h1: fits.Header) -> tuple[tuple[str, float], ...]:
    """Stellar parameters the pipeline wrote into the headers (finite, positive where needed)."""
    out: list[tuple[str, float]] = []
    for name, keys in _STAR_KEYWORDS:
        for key in keys:
            value = header_value(h0, h1, key=key)
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if np.isfinite(number) and (name in ("logg_cgs", "mag") or number > 0):
                out.append((name, number))
                break
    return tuple(out)


def choose_flux_column(
    hdu: fits.BinTableHDU,
    opts: ReadOptions,
    *,
    default: str,
    allowed: Sequence[str],
    product: str,
) -> str:
    """The requested flux column (case-insensitive) or ``default``; must be in ``allowed``
    and present, else ``FormatError`` naming the columns found and the allowed ones."""
    present = {n.upper() for n in hdu.columns.names}
    allowed_present = [a for a in allowed if a.upper() in present]
    wanted = (opts.flux_column or default).upper()
    if wanted in {a.upper() for a in allowed} and wanted in present:
        return wanted
    found = ", ".join(hdu.columns.names)
    if opts.flux_column is not None:
        raise FormatError(
            f"{opts.source_name} ({product}): flux column {opts.flux_column!r} is not available; "
            f"columns found: {found}; allowed flux columns: {', '.join(allowed_present) or 'none'}"
        )
    if allowed_present:
        return allowed_present[0]
    raise FormatError(
        f"{opts.source_name} ({product}): no flux column; columns found: {found}; "
        f"allowed flux columns: {', '.join(allowed)}"
    )


def require_time_column(hdu: fits.BinTableHDU, opts: ReadOptions, *, names: Sequence[str]) -> str:
    present = {n.upper(): n for n in hdu.columns.names}
    for n in names:
        if n.upper() in present:
            return present[n.upper()]
    raise FormatError(
        f"{opts.source_name}: no time column; columns found: {', '.join(hdu.columns.names)}; "
        f"allowed time columns: {', '.join(names)}"
    )


def require_table(hdul: fits.HDUList, opts: ReadOptions, *, missing: str) -> fits.BinTableHDU:
    """The light-curve table, else ``FormatError(f"{source}: {missing}")``."""
    hdu = table_hdu(hdul)
    if hdu is None:
        raise FormatError(f"{opts.source_name}: {missing}")
    return hdu


def first_present(hdu: fits.BinTableHDU, names: Sequence[str]) -> str | None:
    return next((n for n in names if has_column(hdu, n)), None)


def pipeline_columns(
    hdu: fits.BinTableHDU,
    opts: ReadOptions,
    *,
    default: str,
    allowed: Sequence[str],
    product: str,
    err_fallbacks: Sequence[str] = (),
    quality: Sequence[str] = ("QUALITY",),
) -> ChosenColumns:
    """Columns of a pipeline product: ``TIME``, the flux of :func:`choose_flux_column`, its
    ``<FLUX>_ERR`` (else the first of ``err_fallbacks`` present) and the first of
    ``quality`` present."""
    time_col = require_time_column(hdu, opts, names=("TIME",))
    flux_col = choose_flux_column(hdu, opts, default=default, allowed=allowed, product=product)
    return ChosenColumns(
        time=time_col,
        flux=flux_col,
        flux_err=first_present(hdu, (f"{flux_col}_ERR", *err_fallbacks)),
        quality=first_present(hdu, quality),
    )


def ames_pipeline_telescope(hdul: fits.HDUList, *, mission_fallback: bool = False) -> str:
    """Lower-case TELESCOP (or MISSION, with ``mission_fallback``) of a file that the
    NASA/Ames pipeline wrote and lightkurve did not rewrite; ``''`` otherwise."""
    h0 = hdul[0].header
    hdu = table_hdu(hdul)
    h1 = hdu.header if hdu is not None else fits.Header()
    telescope = header_str(h0, h1, key="TELESCOP")
    if mission_fallback:
        telescope = telescope or header_str(h0, key="MISSION")
    origin = header_str(h0, key="ORIGIN").lower()
    creator = header_str(h0, key="CREATOR").lower()
    return telescope.lower() if "nasa/ames" in origin and "lightkurve" not in creator else ""


def refuse_target_pixel(hdul: fits.HDUList, opts: ReadOptions, *, mission: str, give: str) -> None:
    """``FormatError`` for a target pixel file (its CREATOR names ``TargetPixel...``)."""
    if "targetpixel" in header_str(hdul[0].header, key="CREATOR").lower():
        raise FormatError(
            f"{opts.source_name}: a {mission} target pixel file, not a light curve; "
            f"give the {give} file"
        )
