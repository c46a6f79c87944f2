"""Guardians of the Exoplanets: find and vet transiting exoplanets in Kepler, K2 and TESS data."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "read_lightcurve", "search_transits"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import exoguard` stays cheap (no numba/astropy import at start-up).
    if name == "read_lightcurve":
        from exoguard.io import read_lightcurve

        return read_lightcurve
    if name == "search_transits":
        from exoguard.core.search import search_transits

        return search_transits
    raise AttributeError(name)
