"""Light-curve readers: one module per format behind a registry (lightkurve style).

Public entry: :func:`read_lightcurve`. Formats: Kepler/K2 SOC (``kepler``), TESS SPOC and
data-alert files (``tess``), K2SFF (``k2sff``), QLP (``qlp``), lightkurve exports
(``lightkurve_fits``), other FITS tables (``generic_fits``), DAVE K2 text (``dave_k2``),
CSV (``csv_table``), JSON
(``json_table``) and lightkurve objects (``lightkurve_object``).
"""

from __future__ import annotations

from exoguard.io.registry import (
    FitsReader,
    ReadOptions,
    TextReader,
    fits_readers,
    read_lightcurve,
    read_raw,
    register_fits_reader,
    register_text_reader,
    sniff_format,
    text_readers,
)

__all__ = [
    "FitsReader",
    "ReadOptions",
    "fits_readers",
    "read_lightcurve",
    "read_raw",
    "register_fits_reader",
    "register_text_reader",
    "sniff_format",
    "text_readers",
    "TextReader",
]
