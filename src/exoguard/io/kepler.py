"""Kepler and K2 light curves of the official SOC pipeline (MAST LLC/SLC files).

Identified by ``TELESCOP = 'Kepler'`` with ``ORIGIN = 'NASA/Ames'``; K2 by ``MISSION =
'K2'`` or a ``CAMPAIGN`` keyword. Reads ``PDCSAP_FLUX`` (or ``SAP_FLUX`` on request),
drops cadences flagged in ``SAP_QUALITY`` with lightkurve's Kepler bitmask, converts
BKJD to BJD_TDB with ``BJDREFI + BJDREFF``.
"""

from __future__ import annotations

from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.fits_common import (
    build_lightcurve,
    choose_flux_column,
    has_column,
    header_str,
    require_time_column,
    table_hdu,
)
from exoguard.io.registry import FitsReader, ReadOptions, register_fits_reader

FLUX_COLUMNS = ("PDCSAP_FLUX", "SAP_FLUX")


def identify(hdul: fits.HDUList) -> bool:
    h0 = hdul[0].header
    hdu = table_hdu(hdul)
    h1 = hdu.header if hdu is not None else fits.Header()
    telescope = header_str(h0, h1, key="TELESCOP").lower()
    origin = header_str(h0, key="ORIGIN").lower()
    creator = header_str(h0, key="CREATOR").lower()
    return telescope == "kepler" and "nasa/ames" in origin and "lightkurve" not in creator


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    h0 = hdul[0].header
    if "targetpixel" in header_str(h0, key="CREATOR").lower():
        raise FormatError(
            f"{opts.source_name}: a Kepler target pixel file, not a light curve; "
            "give the *_llc.fits or *_slc.fits file"
        )
    hdu = table_hdu(hdul)
    if hdu is None:
        raise FormatError(f"{opts.source_name}: Kepler file without a LIGHTCURVE table")
    time_col = require_time_column(hdu, opts, names=("TIME",))
    flux_col = choose_flux_column(
        hdu, opts, default="PDCSAP_FLUX", allowed=FLUX_COLUMNS, product="Kepler/K2 SOC"
    )
    err_col = f"{flux_col}_ERR" if has_column(hdu, f"{flux_col}_ERR") else None
    quality = next((q for q in ("SAP_QUALITY", "QUALITY") if has_column(hdu, q)), None)
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        time_column=time_col,
        flux_column=flux_col,
        flux_err_column=err_col,
        quality_column=quality,
        product="Kepler/K2 SOC light curve",
    )


register_fits_reader(FitsReader(name="kepler", identify=identify, read=read, priority=40))
