"""FITS files written by ``lightkurve.LightCurve.to_fits()`` (``ORIGIN = 'Unofficial data
product'``, ``CREATOR = 'lightkurve...'``).

Columns ``TIME``, ``FLUX``, ``FLUX_ERR`` (the flux lightkurve had chosen, usually
PDCSAP), optional ``QUALITY``/``SAP_QUALITY``, and sometimes ``PDCSAP_FLUX``/``SAP_FLUX``.
The time unit comes from ``TUNIT1`` (``bkjd``, ``btjd``) or the mission.
"""

from __future__ import annotations

from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.fits_common import build_lightcurve, header_str, pipeline_columns, require_table
from exoguard.io.registry import FitsReader, ReadOptions, register_fits_reader

FLUX_COLUMNS = ("FLUX", "PDCSAP_FLUX", "SAP_FLUX", "KSPSAP_FLUX", "FCOR")


def identify(hdul: fits.HDUList) -> bool:
    h0 = hdul[0].header
    creator = header_str(h0, key="CREATOR").lower()
    origin = header_str(h0, key="ORIGIN").lower()
    return "lightkurve" in creator or origin == "unofficial data product"


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    if "folded" in header_str(hdul[0].header, key="CREATOR").lower():
        raise FormatError(
            f"{opts.source_name}: a folded light curve (FoldedLightCurve.to_fits); "
            "give the unfolded light curve"
        )
    hdu = require_table(hdul, opts, missing="lightkurve file without a light-curve table")
    columns = pipeline_columns(
        hdu,
        opts,
        default="FLUX",
        allowed=FLUX_COLUMNS,
        product="lightkurve export",
        quality=("QUALITY", "SAP_QUALITY"),
    )
    notes = ["FLUX of a lightkurve export is the flux lightkurve had chosen (usually PDCSAP)"]
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        columns,
        product="lightkurve LightCurve.to_fits export",
        notes=notes if columns.flux == "FLUX" else [],
    )


register_fits_reader(
    FitsReader(name="lightkurve_export", identify=identify, read=read, priority=30)
)
