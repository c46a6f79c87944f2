"""TESS SPOC light curves: 2-min and 20-s cadence, the tess-data-alerts HLSP and the
TESS-SPOC FFI HLSP (they share the SPOC layout).

Identified by ``TELESCOP = 'TESS'`` with ``ORIGIN = 'NASA/Ames'``. Reads ``PDCSAP_FLUX``
(or ``SAP_FLUX``), drops cadences flagged in ``QUALITY`` with lightkurve's TESS
bitmask, converts BTJD to BJD_TDB. ``TIME`` is NaN for ~1000 cadences per sector;
those rows are dropped in cleaning.
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
    telescope = (header_str(h0, h1, key="TELESCOP") or header_str(h0, key="MISSION")).lower()
    origin = header_str(h0, key="ORIGIN").lower()
    creator = header_str(h0, key="CREATOR").lower()
    return telescope == "tess" and "nasa/ames" in origin and "lightkurve" not in creator


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    h0 = hdul[0].header
    if "targetpixel" in header_str(h0, key="CREATOR").lower():
        raise FormatError(
            f"{opts.source_name}: a TESS target pixel file, not a light curve; "
            "give the *_lc.fits file"
        )
    hdu = table_hdu(hdul)
    if hdu is None:
        raise FormatError(f"{opts.source_name}: TESS file without a LIGHTCURVE table")
    # The data-alert HLSP and the SPOC archive files share one layout; only DATA_REL
    # (0-2 for the 2018 alerts) tells the releases apart, and it is only recorded.
    product = f"TESS SPOC light curve (DATA_REL {h0.get('DATA_REL', '?')})"
    time_col = require_time_column(hdu, opts, names=("TIME",))
    flux_col = choose_flux_column(
        hdu, opts, default="PDCSAP_FLUX", allowed=FLUX_COLUMNS, product=product
    )
    err_col = f"{flux_col}_ERR" if has_column(hdu, f"{flux_col}_ERR") else None
    quality = "QUALITY" if has_column(hdu, "QUALITY") else None
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        time_column=time_col,
        flux_column=flux_col,
        flux_err_column=err_col,
        quality_column=quality,
        product=product,
        mission="tess",
    )


register_fits_reader(FitsReader(name="tess", identify=identify, read=read, priority=50))
