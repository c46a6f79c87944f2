"""Where the network's training data live: the catalogs, the host light curves, the cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exoguard.config import Settings


@dataclass(frozen=True, slots=True)
class DataPaths:
    """The folders the injected and catalog sets are built from.

    Attributes
    ----------
    catalogs_dir
        The KOI, TOI and K2 tables (:func:`~exoguard.catalogs.load_default_catalogs`).
    lightcurves_dir
        The host light curves (FITS and DAVE K2 files).
    cache_dir
        Where generated injected sets are cached (``injected-<key>.npz``).
    """

    catalogs_dir: Path
    lightcurves_dir: Path
    cache_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> DataPaths:
        """``settings.catalogs_dir``, ``settings.lightcurves_dir`` and
        ``settings.var_dir / "multibranch"``."""
        return cls(
            catalogs_dir=settings.catalogs_dir,
            lightcurves_dir=settings.lightcurves_dir,
            cache_dir=settings.var_dir / "multibranch",
        )
