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
    return ames_pipeline_telescope(hdul, mission_fallback=True) == "tess"


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    refuse_target_pixel(hdul, opts, mission="TESS", give="*_lc.fits")
    hdu = require_table(hdul, opts, missing="TESS file without a LIGHTCURVE table")
    # The data-alert HLSP and the SPOC archive files share one layout; only DATA_REL
    # (0-2 for the 2018 alerts) tells the releases apart, and it is only recorded.
    product = f"TESS SPOC light curve (DATA_REL {hdul[0].header.get('DATA_REL', '?')})"
    columns = pipeline_columns(
        hdu, opts, default="PDCSAP_FLUX", allowed=FLUX_COLUMNS, product=product
    )
    return build_lightcurve(hdul, hdu, opts, columns, product=product, mission="tess")


register_fits_reader(FitsReader(name="tess", identify=identify, read=read, priority=50))
