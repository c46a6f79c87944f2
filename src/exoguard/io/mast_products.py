"""What MAST calls a target and an official light curve.

Parses KIC/EPIC/TIC ids and names into a :class:`TargetQuery`, recognises the pipeline
light-curve files among the products MAST lists (:func:`product_from_row`), picks a cadence,
and checks that a downloaded or cached file is a whole FITS file. The Portal API client that
uses these is :mod:`exoguard.io.mast`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from exoguard.downloads import html_title, looks_like_html
from exoguard.errors import FormatError, NotFoundError

logger = logging.getLogger(__name__)

Mission = Literal["kepler", "k2", "tess"]
MISSIONS: tuple[str, ...] = get_args(Mission)
Cadence = Literal["long", "short", "fast", "any"]
CADENCES: tuple[str, ...] = get_args(Cadence)

COLLECTION: dict[str, str] = {"kepler": "Kepler", "k2": "K2", "tess": "TESS"}
_LABEL: dict[str, str] = {"kepler": "KIC", "k2": "EPIC", "tess": "TIC"}
#: File names of the official pipeline light curves (anything else is skipped).
PRODUCT_NAME: dict[str, re.Pattern[str]] = {
    "kepler": re.compile(r"^kplr\d{9}-\d{13}_(?P<kind>llc|slc)\.fits$"),
    "k2": re.compile(r"^ktwo\d{9}-c\d{2,3}_(?P<kind>llc|slc)\.fits$"),
    "tess": re.compile(r"^tess\d{13}-s\d{4}-\d{16}-\d{4}-(?P<kind>s_lc|a_fast-lc)\.fits$"),
}
_CADENCE_OF_KIND = {"llc": "long", "slc": "short", "s_lc": "short", "a_fast-lc": "fast"}
_MISSION_CADENCES: dict[str, tuple[str, ...]] = {
    "kepler": ("long", "short"),
    "k2": ("long", "short"),
    "tess": ("short", "fast"),
}
_ID_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("kepler", re.compile(r"^(?:kic|kplr)[\s_-]*0*(\d+)$", re.I)),
    ("k2", re.compile(r"^(?:epic|ktwo)[\s_-]*0*(\d+)$", re.I)),
    ("tess", re.compile(r"^(?:tic|tess)[\s_-]*0*(\d+)$", re.I)),
)
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,80}$")
_FITS_BLOCK = 2880
_FITS_MAGIC = b"SIMPLE  ="


@dataclass(frozen=True)
class TargetQuery:
    """How a target is looked up at MAST.

    Attributes
    ----------
    text : str
        What the user typed.
    mission : {"kepler", "k2", "tess"}
    target_name : str or None
        The exact CAOM ``target_name`` for an id of this mission; None → resolve ``text``.
    label : str
        A readable name (``"KIC 10797460"`` or the text).
    """

    text: str
    mission: str
    target_name: str | None
    label: str


@dataclass(frozen=True)
class MastProduct:
    """One official light-curve file listed by MAST."""

    mission: str
    target_name: str
    obsid: str
    obs_id: str
    filename: str
    data_uri: str
    cadence: str  # "long" | "short" | "fast"
    size_bytes: int | None
    description: str
    distance_arcsec: float


@dataclass(frozen=True)
class FetchedLightCurve:
    """A light-curve file in the cache (hand ``path`` to ``exoguard.io.read_lightcurve``)."""

    product: MastProduct
    path: Path
    size_bytes: int
    sha256: str
    url: str
    cached: bool


def _check_mission(mission: str) -> str:
    if mission not in MISSIONS:
        raise ValueError(f"mission must be one of {', '.join(MISSIONS)}, got {mission!r}")
    return mission


def _mast_target_name(mission: str, number: int) -> str:
    if mission == "kepler":
        return f"kplr{number:09d}"
    if mission == "k2":
        return f"ktwo{number:09d}"
    return str(number)  # TESS target names are the TIC id without zero padding


def parse_target(target: str | int, *, mission: Mission) -> TargetQuery:
    """Turn ``"KIC 10797460"``, ``"kplr010797460"``, ``"EPIC 201367065"``, ``"TIC 261136679"``,
    a bare number (an id of ``mission``) or a name (``"Kepler-227"``) into a query.

    An id of another mission (``"TIC 1"`` with ``mission="kepler"``) is resolved as a name.

    Raises
    ------
    ValueError
        Unknown mission, or an empty target.
    """
    _check_mission(mission)
    text = " ".join(str(target).split())
    if not text:
        raise ValueError("target must be a KIC/EPIC/TIC id or a star name, got an empty string")
    if text.isdigit():
        number = int(text)
        return TargetQuery(
            text=text,
            mission=mission,
            target_name=_mast_target_name(mission, number),
            label=f"{_LABEL[mission]} {number}",
        )
    for id_mission, pattern in _ID_PATTERNS:
        match = pattern.match(text)
        if match:
            number = int(match.group(1))
            label = f"{_LABEL[id_mission]} {number}"
            if id_mission == mission:
                return TargetQuery(
                    text=text,
                    mission=mission,
                    target_name=_mast_target_name(mission, number),
                    label=label,
                )
            return TargetQuery(text=label, mission=mission, target_name=None, label=label)
    return TargetQuery(text=text, mission=mission, target_name=None, label=text)


def is_complete_fits(size: int) -> bool:
    return size > 0 and size % _FITS_BLOCK == 0


def check_fits_head(head: bytes, content_type: str) -> None:
    if not head:
        raise FormatError("MAST sent an empty file instead of a FITS light curve")
    if looks_like_html(head) or content_type.split(";")[0].strip().lower() == "text/html":
        raise FormatError(
            f"MAST sent an HTML page instead of a FITS light curve ({html_title(head)!r})"
        )
    if not head.startswith(_FITS_MAGIC):
        raise FormatError(
            f"MAST sent a file that is not FITS (starts with {head[:16]!r}, "
            f"content type {content_type or 'none'})"
        )


def as_int(value: Any) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def as_float(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def product_from_row(
    row: Mapping[str, Any], *, mission: str, observations: Mapping[str, Mapping[str, Any]]
) -> MastProduct | None:
    """The official light curve a ``Mast.Caom.Products`` row lists, None for any other file
    (target pixel files, high-level products, non-science files, odd URIs)."""
    filename = str(row.get("productFilename") or "")
    uri = str(row.get("dataURI") or "")
    match = PRODUCT_NAME[mission].match(filename)
    if not match or not uri.startswith("mast:") or not uri.endswith("/" + filename):
        return None
    if str(row.get("productType") or "SCIENCE").upper() != "SCIENCE":
        return None
    obsid = str(row.get("obsID") or row.get("obsid") or row.get("parent_obsid") or "")
    obs = observations.get(obsid) or observations.get(str(row.get("parent_obsid")), {})
    target_name = str(obs.get("target_name") or filename.split("-")[0])
    if not SAFE_NAME.match(target_name):
        target_name = filename.split("-")[0]
    return MastProduct(
        mission=mission,
        target_name=target_name,
        obsid=obsid,
        obs_id=str(row.get("obs_id") or obs.get("obs_id") or ""),
        filename=filename,
        data_uri=uri,
        cadence=_CADENCE_OF_KIND[match["kind"]],
        size_bytes=as_int(row.get("size")),
        description=str(row.get("description") or ""),
        distance_arcsec=as_float(obs.get("distance"), 0.0),
    )


def cached_ok(path: Path, size_bytes: int | None) -> bool:
    if not path.is_file():
        return False
    size = path.stat().st_size
    if size_bytes is not None and size != size_bytes:
        return False
    with path.open("rb") as fh:
        return fh.read(len(_FITS_MAGIC)) == _FITS_MAGIC and is_complete_fits(size)


def check_cadence(cadence: str | None, *, mission: str) -> None:
    if cadence is None or cadence == "any":
        return
    allowed = _MISSION_CADENCES[mission]
    if cadence not in allowed:
        raise ValueError(
            f"cadence for {mission} must be one of {', '.join(allowed)} or any, got {cadence!r}"
        )


def select_cadence(
    products: list[MastProduct], *, mission: str, cadence: str | None, label: str
) -> list[MastProduct]:
    available = sorted({p.cadence for p in products})
    if cadence == "any":
        return products
    if cadence is None:
        preferred = _MISSION_CADENCES[mission][0]
        chosen = [p for p in products if p.cadence == preferred]
        if chosen:
            return chosen
        logger.info("%s: no %s-cadence file; using %s", label, preferred, ", ".join(available))
        return products
    chosen = [p for p in products if p.cadence == cadence]
    if not chosen:
        raise NotFoundError(
            f"no {cadence}-cadence {COLLECTION[mission]} light curve for {label}; available: "
            f"{', '.join(available)}"
        )
    return chosen
