"""Kepler and K2 light curves of the official SOC pipeline (MAST LLC/SLC files).

Identified by ``TELESCOP = 'Kepler'`` with ``ORIGIN = 'NASA/Ames'``; K2 by ``MISSION =
'K2'`` or a ``CAMPAIGN`` keyword. Reads ``PDCSAP_FLUX`` (or ``SAP_FLUX`` on request),
drops cadences flagged in ``SAP_QUALITY`` with lightkurve's Kepler bitmask, converts
BKJD to BJD_TDB with ``BJDREFI + BJDREFF``.
"""

from __future__ import annotations

from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.io.fits_common import (
    ames_pipeline_telescope,
    build_lightcurve,
    pipeline_columns,
    refuse_target_pixel,
    require_table,
)
from exoguard.io.registry import FitsReader, ReadOptions, register_fits_reader

FLUX_COLUMNS = ("PDCSAP_FLUX", "SAP_FLUX")


def identify(hdul: fits.HDUList) -> bool:
    return ames_pipeline_telescope(hdul) == "kepler"


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    refuse_target_pixel(hdul, opts, mission="Kepler", give="*_llc.fits or *_slc.fits")
    hdu = require_table(hdul, opts, missing="Kepler file without a LIGHTCURVE table")
    columns = pipeline_columns(
        hdu,
        opts,
        default="PDCSAP_FLUX",
        allowed=FLUX_COLUMNS,
        product="Kepler/K2 SOC",
        quality=("SAP_QUALITY", "QUALITY"),
    )
    return build_lightcurve(hdul, hdu, opts, columns, product="Kepler/K2 SOC light curve")


register_fits_reader(FitsReader(name="kepler", identify=identify, read=read, priority=40))
