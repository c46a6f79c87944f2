"""exoguard.core: the science (light curves, cleaning, detrending, search, diagnostics).

Importing it points numba's on-disk cache of compiled kernels (ours and wotan's) at
``$EXOGUARD_VAR_DIR/numba-cache`` (default ``var/numba-cache`` in the checkout) unless
``NUMBA_CACHE_DIR`` is already set, so every process of a deployment (API, each worker process,
the CLI) loads the same compiled code instead of compiling it again, and read-only installs
(site-packages, a container image) still cache. Cached kernels load in about a second; compiling
them takes tens of seconds. See :mod:`exoguard.core.search.warmup`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def numba_cache_dir() -> Path:
    """Where compiled kernels are cached: ``NUMBA_CACHE_DIR``, else ``<var dir>/numba-cache``."""
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return Path(given)
    var_dir = os.environ.get("EXOGUARD_VAR_DIR") or str(Path(__file__).resolve().parents[3] / "var")
    return Path(var_dir) / "numba-cache"


def _use_numba_cache_dir() -> None:
    path = numba_cache_dir()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(path))
    if "numba" in sys.modules:  # numba read its config already: tell it too
        from numba.core import config

        setattr(config, "CACHE_DIR", str(path))  # noqa: B010 - numba.core.config is untyped


_use_numba_cache_dir()
