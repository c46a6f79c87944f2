"""The one name a candidate is shown by: cards, candidate pages, tables, reports, exports.

Stored object ids are keys, not names. An archive row's key is already its name
(``TOI-1233.04``, ``K00752.01``); a typed-in candidate's key is ``manual-<hex>`` and a search
find's key carries its data set (``KIC 11818800.01 [03397bd1]``), neither of which a person
should read. :func:`display_name` turns the stored fields into the name to show: the
archive's id, the name the user typed, or the catalog object a find matched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

#: ``Candidate.source`` of a typed-in candidate (followed by ``": <the name typed>"``).
MANUAL_SOURCE: Final = "manual entry"
#: Object-id prefix of typed-in candidates.
MANUAL_PREFIX: Final = "manual-"
#: The data-set tag a search find's object id ends with (`` [03397bd1]``).
_DATASET_TAG = re.compile(r"\s*\[[0-9a-fA-F]{4,}\]$")
#: Search finds on a light curve without a target name: ``unknown.01``.
_UNNAMED = re.compile(r"^(unknown|upload|none|nan)?\.?(\d+)$", re.IGNORECASE)


class NamedCandidate(Protocol):
    """The stored fields :func:`candidate_name` reads (an ORM ``Candidate`` has them)."""

    object_id: str
    origin: str
    name: str | None
    source: str | None
    period_days: float | None
    catalog_match: dict[str, Any] | None


def _typed_name(source: str | None) -> str | None:
    prefix = f"{MANUAL_SOURCE}:"
    if source and source.startswith(prefix):
        return source[len(prefix) :].strip() or None
    return None


def _matched_id(catalog_match: Mapping[str, Any] | None) -> str | None:
    if catalog_match and catalog_match.get("matched"):
        found = catalog_match.get("object_id") or catalog_match.get("name")
        return str(found) if found else None
    return None


def _period_words(period_days: float | None) -> str:
    if period_days is None or not math.isfinite(float(period_days)):
        return ""
    return f", P = {float(period_days):.4g} d"


def display_name(
    *,
    object_id: str,
    origin: str | None = None,
    name: str | None = None,
    source: str | None = None,
    catalog_match: Mapping[str, Any] | None = None,
    period_days: float | None = None,
) -> str:
    """The name a person reads for one candidate.

    * typed-in (``manual-…`` id): the name the user typed; else the catalog object it
      matched; else ``"typed-in candidate, P = 3.289 d"``;
    * search find: the catalog object it matched (``K00777.01``); else its star and signal
      number without the data-set tag (``KIC 11818800.01``); ``"unnamed star, signal 1"``
      when the light curve named no star;
    * archive or uploaded table row: its object id (``TOI-1233.04``, ``K00752.01``, the
      id the user's table gave).

    Examples
    --------
    >>> display_name(object_id="manual-031f32c4d8d2", source="manual entry: my dip")
    'my dip'
    >>> display_name(object_id="unknown.01 [03397bd1]", origin="search")
    'unnamed star, signal 1'
    >>> display_name(object_id="TOI-1233.04", origin="catalog")
    'TOI-1233.04'
    """
    key = str(object_id or "").strip()
    if key.startswith(MANUAL_PREFIX) or (source or "").startswith(MANUAL_SOURCE):
        typed = _typed_name(source) or (name.strip() if name and name.strip() else None)
        return (
            typed
            or _matched_id(catalog_match)
            or ("typed-in candidate" + _period_words(period_days))
        )
    if origin == "search" or _DATASET_TAG.search(key):
        matched = _matched_id(catalog_match)
        if matched:
            return matched
        base = _DATASET_TAG.sub("", key)
        unnamed = _UNNAMED.match(base)
        if unnamed or not base:
            number = int(unnamed.group(2)) if unnamed else 1
            return f"unnamed star, signal {number}"
        return base
    return key or (name or "unnamed candidate")


def candidate_name(candidate: NamedCandidate | Mapping[str, Any]) -> str:
    """:func:`display_name` of a stored candidate (an ORM row or a mapping of its columns)."""
    if isinstance(candidate, Mapping):
        get = candidate.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(candidate, key, default)

    return display_name(
        object_id=str(get("object_id") or ""),
        origin=get("origin"),
        name=get("name"),
        source=get("source"),
        catalog_match=get("catalog_match"),
        period_days=get("period_days"),
    )


__all__ = ["MANUAL_PREFIX", "MANUAL_SOURCE", "NamedCandidate", "candidate_name", "display_name"]
