"""Fallback for other FITS light-curve tables (EVEREST, eleanor, PATHOS, home-made...).

Any binary table with a time column and a flux column among the aliases of
``exoguard.io.columns`` is read; the columns chosen are written to ``notes``. The time
system comes from ``BJDREFI``/``BJDREFF``, the column unit, or the table rule.
"""

from __future__ import annotations

from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.columns import choose_by_alias
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
    chosen = choose_by_alias(names, source_name=opts.source_name, flux_column=opts.flux_column)
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        chosen,
        product="generic FITS table",
        notes=[
            f"columns chosen: time={chosen.time}, flux={chosen.flux}, "
            f"flux_err={chosen.flux_err}, quality={chosen.quality}"
        ],
    )


register_fits_reader(FitsReader(name="generic_fits", identify=identify, read=read, priority=90))
