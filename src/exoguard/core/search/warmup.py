"""Compile the search's numba kernels before the first user waits for them.

The BLS kernel and wotan's detrending kernels are compiled on first use (``cache=True``
keeps the machine code on disk afterwards). A cold compile takes tens of seconds (about
40 s on two idle cores, minutes on a busy machine), which the first upload after a fresh
install would otherwise spend at "searching". :func:`warm_up` runs the whole search once on
a small synthetic light curve, so every kernel on that path is compiled (or loaded from the
on-disk cache) now.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from exoguard.core.lightcurve import LightCurve

log = logging.getLogger(__name__)

#: Points of the synthetic light curve: 20 days at a 30-minute cadence.
_N_POINTS = 960
_CADENCE_DAYS = 30.0 / 1440.0


def synthetic_lightcurve(*, rng: np.random.Generator) -> LightCurve:
    """White noise (300 ppm) with a 1 % box transit every 3 d: shape (960,), BJD days."""
    time_bjd = 2_458_000.0 + np.arange(_N_POINTS) * _CADENCE_DAYS
    flux = 1.0 + rng.normal(0.0, 3e-4, _N_POINTS)
    in_transit = ((time_bjd - 2_458_001.0) % 3.0) < 0.1
    flux[in_transit] -= 0.01
    return LightCurve.from_arrays(time_bjd, flux, target_id="warm-up", cadence_s=1800.0)


def warm_up() -> float:
    """Run one search on a synthetic light curve (compiling every kernel); seconds taken."""
    from exoguard.core.search.multi import search_lightcurve

    started = time.perf_counter()
    lc = synthetic_lightcurve(rng=np.random.default_rng(0))
    search_lightcurve(lc, max_planets=1, min_period_days=1.0, max_period_days=5.0)
    seconds = time.perf_counter() - started
    log.info("search kernels ready in %.1f s", seconds)
    return seconds
