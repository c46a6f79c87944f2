"""Transit search: physical period grids, a compiled BLS, the iterative multi-planet search.

>>> from exoguard.core.search import search_transits   # doctest: +SKIP
>>> candidates = search_transits(lc, max_planets=3)      # doctest: +SKIP
"""

from __future__ import annotations

from exoguard.core.search.engine import ENGINES, Engine, bls_periodogram, sde_spectrum
from exoguard.core.search.grid import (
    SearchGrid,
    autoperiod_periods,
    central_duration_days,
    make_grid,
    ofir_periods,
)
from exoguard.core.search.multi import (
    DEFAULT_SDE_THRESHOLD,
    DEFAULT_SNR_THRESHOLD,
    SearchResult,
    best_harmonic,
    flag_aliases,
    refine_peak,
    search_lightcurve,
    search_transits,
)
from exoguard.core.search.results import BLSPeriodogram, TransitCandidate
from exoguard.core.search.star import StarParams

__all__ = [
    "DEFAULT_SDE_THRESHOLD",
    "DEFAULT_SNR_THRESHOLD",
    "ENGINES",
    "BLSPeriodogram",
    "Engine",
    "SearchGrid",
    "SearchResult",
    "StarParams",
    "TransitCandidate",
    "autoperiod_periods",
    "best_harmonic",
    "bls_periodogram",
    "central_duration_days",
    "flag_aliases",
    "make_grid",
    "ofir_periods",
    "refine_peak",
    "sde_spectrum",
    "search_lightcurve",
    "search_transits",
]
