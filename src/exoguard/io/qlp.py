"""MIT Quick-Look Pipeline (QLP) TESS FFI light curves, MAST HLSP ``qlp``.

Identified by ``ORIGIN`` containing ``MIT/QLP``. Like lightkurve, reads ``SAP_FLUX`` by
default (``KSPSAP_FLUX``, ``DET_FLUX`` and the other QLP columns on request), takes
the error from ``KSPSAP_FLUX_ERR`` (sectors 1-55) or ``DET_FLUX_ERR`` (56+), and applies
the TESS quality bitmask to ``QUALITY``. Times are BTJD.
"""

from __future__ import annotations

from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.io.fits_common import build_lightcurve, header_str, pipeline_columns, require_table
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
    hdu = require_table(hdul, opts, missing="QLP file without a light-curve table")
    columns = pipeline_columns(
        hdu,
        opts,
        default="SAP_FLUX",
        allowed=FLUX_COLUMNS,
        product="QLP",
        err_fallbacks=("KSPSAP_FLUX_ERR", "DET_FLUX_ERR"),
    )
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        columns,
        product="QLP HLSP",
        mission="tess",
        time_system=None if hdu.header.get("BJDREFI") is not None else "btjd",
        notes=[f"flux error from {columns.flux_err}"] if columns.flux_err else [],
    )


register_fits_reader(FitsReader(name="qlp", identify=identify, read=read, priority=10))
