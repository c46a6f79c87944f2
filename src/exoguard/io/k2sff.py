"""K2SFF high-level science product (Vanderburg & Johnson 2014), MAST HLSP ``k2sff``.

No keyword names the product, so it is identified by structure (as lightkurve does):
an extension ``BESTAPER`` whose columns include ``T`` and ``FCOR``. Times ``T`` are
BKJD; the flux is ``FCOR`` (``FRAW`` on request); there is no error column (the
point-to-point scatter is used); cadences with ``MOVING`` set (thruster firings) are
dropped unless ``quality_bitmask='none'``.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.columns import ChosenColumns
from exoguard.io.fits_common import (
    build_lightcurve,
    choose_flux_column,
    get_column,
    has_column,
    table_hdu,
)
from exoguard.io.registry import FitsReader, ReadOptions, register_fits_reader

FLUX_COLUMNS = ("FCOR", "FRAW")


def identify(hdul: fits.HDUList) -> bool:
    hdu = table_hdu(hdul, name="BESTAPER")
    return hdu is not None and has_column(hdu, "T") and has_column(hdu, "FCOR")


def read(hdul: fits.HDUList, opts: ReadOptions) -> LightCurve:
    hdu = table_hdu(hdul, name="BESTAPER")
    if hdu is None:
        raise FormatError(f"{opts.source_name}: K2SFF file without a BESTAPER table")
    flux_col = choose_flux_column(hdu, opts, default="FCOR", allowed=FLUX_COLUMNS, product="K2SFF")
    moving = None
    notes = []
    if has_column(hdu, "MOVING") and opts.quality_bitmask not in ("none", 0):
        moving = np.asarray(get_column(hdu, "MOVING"), dtype=float) > 0
        notes.append(f"dropped {int(moving.sum())} cadences with MOVING set (thruster firing)")
    return build_lightcurve(
        hdul,
        hdu,
        opts,
        ChosenColumns(time="T", flux=flux_col, flux_err=None, quality=None),
        product="K2SFF HLSP",
        mission="k2",
        time_system="bkjd",
        extra_bad=moving,
        notes=notes,
    )


register_fits_reader(FitsReader(name="k2sff", identify=identify, read=read, priority=20))
