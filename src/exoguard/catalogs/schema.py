"""The harmonised candidate schema, as the catalogs see it.

The schema is core vocabulary (a light-curve search in :mod:`exoguard.core` writes the same
rows), so it is defined in :mod:`exoguard.core.schema`; the catalog readers map archive tables
onto it under this name.
"""

from __future__ import annotations

from exoguard.core.schema import (
    FORBIDDEN_FEATURE_PATTERNS,
    HARMONISED_COLUMNS,
    ID_COLUMNS,
    LABELS,
    MISSIONS,
    PHYSICAL_COLUMNS,
    STAR_COLUMNS,
    Label,
    Mission,
)

__all__ = [
    "FORBIDDEN_FEATURE_PATTERNS",
    "HARMONISED_COLUMNS",
    "ID_COLUMNS",
    "LABELS",
    "MISSIONS",
    "PHYSICAL_COLUMNS",
    "STAR_COLUMNS",
    "Label",
    "Mission",
]
