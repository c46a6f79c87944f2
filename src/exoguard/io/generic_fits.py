"""Fallback for other FITS light-curve tables (EVEREST, eleanor, PATHOS, home-made...).

Any binary table with a time column and a flux column among the aliases of
``exoguard.io.columns`` is read; the columns chosen are written to ``notes``. The time
system comes from ``BJDREFI``/``BJDREFF``, the column unit, or the table rule.
"""

from __future__ import annotations

from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.columns import (
    FLUX_ALIASES,
    QUALITY_ALIASES,
    TIME_ALIASES,
    canonical,
    find_column,
    find_flux_err_column,
)
from exoguard.io.fits_common import build_lightcurve, column_names, table_hdu
from exoguard.io.registry import FitsReader, ReadOptions, register_fits_reader


def identify(hdul: fits.HDUList) -> bool:
    # Last in line: accept any file with a table, so that read() can explain what is missing.
    return table_hdu(hdul) is not None


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    hdu = table_hdu(hdul)
    names = column_names(hdu)
    if hdu is None:
        raise FormatError(f"{opts.source_name}: no table in the FITS file")
    time_col = find_column(names, TIME_ALIASES)
    if time_col is None:
        raise FormatError(
            f"{opts.source_name}: no time column; columns found: {', '.join(names)}; "
            f"allowed time columns: {', '.join(TIME_ALIASES)}"
        )
    if opts.flux_column is not None:
        flux_col = find_column(names, (canonical(opts.flux_column)[0],))
        if flux_col is None:
            raise FormatError(
                f"{opts.source_name}: flux column {opts.flux_column!r} not found; "
                f"columns found: {', '.join(names)}"
            )
    else:
        flux_col = find_column(names, FLUX_ALIASES)
    if flux_col is None:
        raise FormatError(
            f"{opts.source_name}: no flux column; columns found: {', '.join(names)}; "
            f"allowed flux columns: {', '.join(FLUX_ALIASES)}"
        )
    err_col = find_flux_err_column(names, flux_col)
    quality = find_column(names, QUALITY_ALIASES)
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        time_column=time_col,
        flux_column=flux_col,
        flux_err_column=err_col,
        quality_column=quality,
        product="generic FITS table",
        notes=[
            f"columns chosen: time={time_col}, flux={flux_col}, flux_err={err_col}, "
            f"quality={quality}"
        ],
    )


register_fits_reader(FitsReader(name="generic_fits", identify=identify, read=read, priority=90))
