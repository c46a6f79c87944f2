"""NASA Exoplanet Archive tables (KOI, TOI, K2) read into one harmonised candidate schema."""

from exoguard.catalogs.reader import (
    CATALOG_KINDS,
    DEFAULT_CATALOG_FILES,
    CatalogKind,
    CatalogTable,
    detect_kind,
    load_default_catalogs,
    read_catalog,
    read_catalog_bytes,
)
from exoguard.catalogs.validation import Issue, ValidationReport

__all__ = [
    "CATALOG_KINDS",
    "DEFAULT_CATALOG_FILES",
    "CatalogKind",
    "CatalogTable",
    "Issue",
    "ValidationReport",
    "detect_kind",
    "load_default_catalogs",
    "read_catalog",
    "read_catalog_bytes",
]
