"""MIT Quick-Look Pipeline (QLP) TESS FFI light curves, MAST HLSP ``qlp``.

Identified by ``ORIGIN`` containing ``MIT/QLP``. Like lightkurve, reads ``SAP_FLUX`` by
default (``KSPSAP_FLUX``, ``DET_FLUX`` and the other QLP columns on request), takes
the error from ``KSPSAP_FLUX_ERR`` (sectors 1-55) or ``DET_FLUX_ERR`` (56+), and applies
the TESS quality bitmask to ``QUALITY``. Times are BTJD.
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

FLUX_COLUMNS = (
    "SAP_FLUX",
    "KSPSAP_FLUX",
    "KSPSAP_FLUX_SML",
    "KSPSAP_FLUX_LAG",
    "DET_FLUX",
    "DET_FLUX_SML",
    "DET_FLUX_LAG",
    "SYS_RM_FLUX",
)


def identify(hdul: fits.HDUList) -> bool:
    return "mit/qlp" in header_str(hdul[0].header, key="ORIGIN").lower()


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    hdu = table_hdu(hdul)
    if hdu is None:
        raise FormatError(f"{opts.source_name}: QLP file without a light-curve table")
    time_col = require_time_column(hdu, opts, names=("TIME",))
    flux_col = choose_flux_column(
        hdu, opts, default="SAP_FLUX", allowed=FLUX_COLUMNS, product="QLP"
    )
    err_col = next(
        (c for c in (f"{flux_col}_ERR", "KSPSAP_FLUX_ERR", "DET_FLUX_ERR") if has_column(hdu, c)),
        None,
    )
    quality = "QUALITY" if has_column(hdu, "QUALITY") else None
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        time_column=time_col,
        flux_column=flux_col,
        flux_err_column=err_col,
        quality_column=quality,
        product="QLP HLSP",
        mission="tess",
        time_system=None if hdu.header.get("BJDREFI") is not None else "btjd",
        notes=[f"flux error from {err_col}"] if err_col else [],
    )


register_fits_reader(FitsReader(name="qlp", identify=identify, read=read, priority=10))
