"""Light curves of the NASA Ames pipelines: Kepler/K2 SOC and TESS SPOC.

Both are identified by ``ORIGIN = 'NASA/Ames'`` (and no lightkurve ``CREATOR``), read
``PDCSAP_FLUX`` by default (``SAP_FLUX`` on request) with its ``_ERR`` column, drop the
cadences flagged in the quality column with lightkurve's bitmask of the mission, and convert
the mission's time (BKJD, BTJD) to BJD_TDB with ``BJDREFI + BJDREFF``. Target pixel files are
refused with a hint.

* **Kepler and K2** (MAST LLC/SLC files): ``TELESCOP = 'Kepler'``; K2 by ``MISSION = 'K2'``
  or a ``CAMPAIGN`` keyword. Quality from ``SAP_QUALITY`` (or ``QUALITY``).
* **TESS** (2-min and 20-s cadence, the tess-data-alerts HLSP and the TESS-SPOC FFI HLSP, which
  share the SPOC layout): ``TELESCOP`` (or ``MISSION``) ``= 'TESS'``. Quality from
  ``QUALITY``. ``TIME`` is NaN for ~1000 cadences per sector; those rows are dropped in
  cleaning.
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


def identify_kepler(hdul: fits.HDUList) -> bool:
    return ames_pipeline_telescope(hdul) == "kepler"


def read_kepler(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
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


def identify_tess(hdul: fits.HDUList) -> bool:
    return ames_pipeline_telescope(hdul, mission_fallback=True) == "tess"


def read_tess(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    refuse_target_pixel(hdul, opts, mission="TESS", give="*_lc.fits")
    hdu = require_table(hdul, opts, missing="TESS file without a LIGHTCURVE table")
    # The data-alert HLSP and the SPOC archive files share one layout; only DATA_REL
    # (0-2 for the 2018 alerts) tells the releases apart, and it is only recorded.
    product = f"TESS SPOC light curve (DATA_REL {hdul[0].header.get('DATA_REL', '?')})"
    columns = pipeline_columns(
        hdu, opts, default="PDCSAP_FLUX", allowed=FLUX_COLUMNS, product=product
    )
    return build_lightcurve(hdul, hdu, opts, columns, product=product, mission="tess")


register_fits_reader(
    FitsReader(name="kepler", identify=identify_kepler, read=read_kepler, priority=40)
)
register_fits_reader(FitsReader(name="tess", identify=identify_tess, read=read_tess, priority=50))
