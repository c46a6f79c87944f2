"""Find and download the official Kepler, K2 and TESS light curves from MAST.

The MAST Portal API (``POST {base}/api/v0/invoke`` with a form field ``request`` holding a
JSON ``{"service", "params", "format": "json", "pagesize", "page"}``) is used the way
astroquery.mast and lightkurve use it:

1. a KIC/EPIC/TIC id gives the exact CAOM ``target_name`` (``kplr010797460``,
   ``ktwo201367065``, ``261136679``) → ``Mast.Caom.Filtered``; a name is resolved with
   ``Mast.Name.Lookup`` → ``Mast.Caom.Filtered.Position`` and the nearest target is kept;
2. ``Mast.Caom.Products`` lists the files of those observations; only the pipeline light
   curves are kept (Kepler/K2 ``*_llc.fits``/``*_slc.fits``, TESS SPOC ``*-s_lc.fits`` and
   ``*-a_fast-lc.fits``), never target pixel files or high-level products;
3. each file is downloaded from ``GET {base}/api/v0.1/Download/file?uri=mast:...`` into
   ``<cache>/lightcurves/<mission>/<target_name>/`` with the safety of
   :func:`exoguard.catalogs.remote.stream_to_temp` (retries, size cap, truncation checks
   against the listed size and the 2880-byte FITS blocks, atomic rename).

No astroquery at import or run time: plain ``requests``.

Example
-------
>>> from exoguard.io import read_lightcurve
>>> from exoguard.io.mast import fetch_lightcurves
>>> files = fetch_lightcurves("KIC 10797460", mission="kepler")  # doctest: +SKIP
>>> lc = read_lightcurve([f.path for f in files])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import requests

from exoguard.catalogs.remote import (
    HttpPolicy,
    RemoteError,
    default_cache_dir,
    describe_url,
    fetch_bytes,
    file_sha256,
    html_title,
    looks_like_html,
    make_session,
    stream_to_temp,
)
from exoguard.errors import FormatError, NotFoundError, TooLargeError

__all__ = [
    "CADENCES",
    "DEFAULT_MAST_URL",
    "MAST_URL_ENV",
    "MISSIONS",
    "Cadence",
    "FetchedLightCurve",
    "MastClient",
    "MastProduct",
    "Mission",
    "TargetQuery",
    "fetch_lightcurves",
    "parse_target",
    "search_lightcurves",
]

logger = logging.getLogger(__name__)

DEFAULT_MAST_URL = "https://mast.stsci.edu"
MAST_URL_ENV = "EXOGUARD_MAST_URL"

Mission = Literal["kepler", "k2", "tess"]
MISSIONS: tuple[str, ...] = get_args(Mission)
Cadence = Literal["long", "short", "fast", "any"]
CADENCES: tuple[str, ...] = get_args(Cadence)

_COLLECTION: dict[str, str] = {"kepler": "Kepler", "k2": "K2", "tess": "TESS"}
_LABEL: dict[str, str] = {"kepler": "KIC", "k2": "EPIC", "tess": "TIC"}
#: File names of the official pipeline light curves (anything else is skipped).
_PRODUCT_NAME: dict[str, re.Pattern[str]] = {
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
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,80}$")
_FITS_BLOCK = 2880
_FITS_MAGIC = b"SIMPLE  ="
_OBSID_BATCH = 50


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


def _is_complete_fits(size: int) -> bool:
    return size > 0 and size % _FITS_BLOCK == 0


def _check_fits_head(head: bytes, content_type: str) -> None:
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


def _as_int(value: Any) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _as_float(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


class MastClient:
    """A client of the MAST Portal API for official light curves.

    Parameters
    ----------
    base_url : str, optional
        MAST root; default ``$EXOGUARD_MAST_URL`` or ``https://mast.stsci.edu``.
    cache_dir : Path, optional
        Cache root; files go to ``cache_dir/lightcurves/<mission>/<target_name>/``. Default
        ``settings.var_dir/cache``.
    policy : HttpPolicy, optional
        Timeouts, retries and the per-file size cap.
    session : requests.Session, optional
    page_size : int
        Rows per page of a MAST query (later pages are fetched).
    radius_arcsec : float
        Cone radius of a search by name.
    poll_timeout_s : float
        How long to keep polling a query MAST reports as ``EXECUTING``.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        cache_dir: Path | None = None,
        policy: HttpPolicy | None = None,
        session: requests.Session | None = None,
        page_size: int = 2000,
        radius_arcsec: float = 2.0,
        poll_timeout_s: float = 120.0,
    ) -> None:
        chosen = base_url or os.environ.get(MAST_URL_ENV) or DEFAULT_MAST_URL
        if not chosen.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {chosen!r}")
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        if radius_arcsec <= 0:
            raise ValueError(f"radius_arcsec must be > 0, got {radius_arcsec}")
        self.base_url = chosen.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.policy = policy or HttpPolicy()
        self.page_size = page_size
        self.radius_arcsec = radius_arcsec
        self.poll_timeout_s = poll_timeout_s
        self._session = session or make_session()
        self._own_session = session is None

    def close(self) -> None:
        """Close the HTTP session (when this client created it)."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> MastClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def invoke_url(self) -> str:
        return f"{self.base_url}/api/v0/invoke"

    @property
    def download_url(self) -> str:
        return f"{self.base_url}/api/v0.1/Download/file"

    # ------------------------------------------------------------------ Portal API
    def _invoke_page(self, service: str, params: Mapping[str, Any], *, page: int) -> dict[str, Any]:
        request = {
            "service": service,
            "params": dict(params),
            "format": "json",
            "pagesize": self.page_size,
            "page": page,
        }
        what = f"MAST {service}"
        deadline = time.monotonic() + self.poll_timeout_s
        delay = max(self.policy.backoff_s, 0.05)
        while True:
            body, content_type = fetch_bytes(
                self._session,
                self.invoke_url,
                policy=self.policy,
                what=what,
                method="POST",
                data={"request": json.dumps(request)},
                headers={"Accept": "text/plain"},
            )
            result = self._decode(body, content_type, what=what)
            status = str(result.get("status", "")).upper()
            if status == "ERROR":
                raise RemoteError(f"{what} failed: {result.get('msg') or 'no message'}")
            if status != "EXECUTING":
                return result
            if time.monotonic() > deadline:
                raise RemoteError(
                    f"{what}: still executing after {self.poll_timeout_s:.0f} s; try again later"
                )
            time.sleep(delay)
            delay = min(delay * 2, self.policy.max_backoff_s)

    @staticmethod
    def _decode(body: bytes, content_type: str, *, what: str) -> dict[str, Any]:
        if looks_like_html(body[:2048]):
            raise FormatError(f"{what}: MAST sent an HTML page ({html_title(body[:4096])!r})")
        try:
            result = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatError(
                f"{what}: MAST sent malformed JSON ({content_type or 'no content type'}): {exc}"
            ) from exc
        if not isinstance(result, dict):
            raise FormatError(f"{what}: expected a JSON object, got {type(result).__name__}")
        return result

    def invoke(self, service: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a MAST service and return the rows of every page."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            result = self._invoke_page(service, params, page=page)
            data = result.get("data") or []
            if not isinstance(data, list):
                raise FormatError(f"MAST {service}: 'data' is not a list")
            rows.extend(r for r in data if isinstance(r, dict))
            paging = result.get("paging") or {}
            pages = _as_int(paging.get("pagesFiltered")) or 1
            if page >= pages or not data:
                return rows
            page += 1

    def resolve_name(self, name: str) -> tuple[float, float]:
        """Sky position (RA, Dec in degrees) of a name, with ``Mast.Name.Lookup``.

        Raises
        ------
        NotFoundError
            MAST cannot resolve the name.
        """
        result = self._invoke_page("Mast.Name.Lookup", {"input": name, "format": "json"}, page=1)
        coords = result.get("resolvedCoordinate") or []
        for entry in coords:
            if isinstance(entry, dict) and "ra" in entry and "decl" in entry:
                return float(entry["ra"]), float(entry["decl"])
        raise NotFoundError(
            f"MAST could not resolve {name!r} to a sky position; give a KIC, EPIC or TIC id"
        )

    # ------------------------------------------------------------------ search
    def _filters(self, query: TargetQuery) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [
            {"paramName": "obs_collection", "values": [_COLLECTION[query.mission]]},
            # Kepler/K2 pipeline products are "cube" observations, TESS ones "timeseries".
            {"paramName": "dataproduct_type", "values": ["timeseries", "cube"]},
        ]
        if query.target_name is not None:
            filters.append({"paramName": "target_name", "values": [query.target_name]})
        return filters

    def find_observations(self, query: TargetQuery) -> list[dict[str, Any]]:
        """CAOM observations of the target in its mission's collection (nearest target only).

        An exact id is searched by ``target_name``; when that finds nothing, or for a name,
        the position from ``Mast.Name.Lookup`` is searched within ``radius_arcsec``.
        """
        if query.target_name is not None:
            rows = self.invoke(
                "Mast.Caom.Filtered", {"columns": "*", "filters": self._filters(query)}
            )
            if rows:
                return [{**r, "distance": 0.0} for r in rows]
            logger.info("no observation named %s; searching by position", query.target_name)
        name = query.label if query.target_name is not None else query.text
        try:
            ra_deg, dec_deg = self.resolve_name(name)
        except NotFoundError:
            if query.target_name is None:
                raise
            return []  # an id MAST knows nothing about: "no observation" says it best
        cone = TargetQuery(text=name, mission=query.mission, target_name=None, label=query.label)
        radius_deg = self.radius_arcsec / 3600.0
        rows = self.invoke(
            "Mast.Caom.Filtered.Position",
            {
                "columns": "*",
                "filters": self._filters(cone),
                "position": f"{ra_deg}, {dec_deg}, {radius_deg}",
            },
        )
        if not rows:
            return []
        nearest = min(rows, key=lambda r: _as_float(r.get("distance"), math.inf))
        keep = str(nearest.get("target_name", ""))
        return [r for r in rows if str(r.get("target_name", "")) == keep]

    def search_lightcurves(
        self, target: str | int, *, mission: Mission, cadence: Cadence | None = None
    ) -> list[MastProduct]:
        """The official light-curve files of a target, sorted by file name (= time).

        Parameters
        ----------
        target : str or int
            KIC/EPIC/TIC id (``"KIC 10797460"``, ``"kplr010797460"``, a bare number of
            ``mission``) or a name MAST resolves (``"Kepler-227"``, ``"pi Men"``).
        mission : {"kepler", "k2", "tess"}
        cadence : {"long", "short", "fast", "any"}, optional
            Kepler/K2: long (30 min) or short (1 min); TESS SPOC: short (2 min) or fast
            (20 s). None: the mission's usual cadence (long; TESS short) when present, else
            whatever official cadence exists.

        Raises
        ------
        ValueError
            Unknown mission or cadence.
        NotFoundError
            No such target, or no official light curve (of that cadence).
        RemoteError, FormatError
            MAST failed or answered with something else than JSON.
        """
        query = parse_target(target, mission=mission)
        _check_cadence(cadence, mission=mission)
        observations = self.find_observations(query)
        collection = _COLLECTION[mission]
        if not observations:
            raise NotFoundError(f"MAST has no {collection} observation of {query.label}")
        by_obsid = {str(o.get("obsid") or o.get("obsID") or ""): o for o in observations}
        by_obsid.pop("", None)
        products = self._products(list(by_obsid), mission=mission, observations=by_obsid)
        if not products:
            raise NotFoundError(
                f"MAST lists no official {collection} pipeline light curve for {query.label} "
                "(only other products, e.g. target pixel files or high-level products)"
            )
        return _select_cadence(products, mission=mission, cadence=cadence, label=query.label)

    def _products(
        self, obsids: Sequence[str], *, mission: str, observations: Mapping[str, dict[str, Any]]
    ) -> list[MastProduct]:
        rows: list[dict[str, Any]] = []
        for start in range(0, len(obsids), _OBSID_BATCH):
            batch = ",".join(obsids[start : start + _OBSID_BATCH])
            rows.extend(self.invoke("Mast.Caom.Products", {"obsid": batch}))
        pattern = _PRODUCT_NAME[mission]
        found: dict[str, MastProduct] = {}
        for row in rows:
            filename = str(row.get("productFilename") or "")
            uri = str(row.get("dataURI") or "")
            match = pattern.match(filename)
            if not match or not uri.startswith("mast:") or not uri.endswith("/" + filename):
                continue
            if str(row.get("productType") or "SCIENCE").upper() != "SCIENCE":
                continue
            obsid = str(row.get("obsID") or row.get("obsid") or row.get("parent_obsid") or "")
            obs = observations.get(obsid) or observations.get(str(row.get("parent_obsid")), {})
            target_name = str(obs.get("target_name") or filename.split("-")[0])
            if not _SAFE_NAME.match(target_name):
                target_name = filename.split("-")[0]
            found.setdefault(
                uri,
                MastProduct(
                    mission=mission,
                    target_name=target_name,
                    obsid=obsid,
                    obs_id=str(row.get("obs_id") or obs.get("obs_id") or ""),
                    filename=filename,
                    data_uri=uri,
                    cadence=_CADENCE_OF_KIND[match["kind"]],
                    size_bytes=_as_int(row.get("size")),
                    description=str(row.get("description") or ""),
                    distance_arcsec=_as_float(obs.get("distance"), 0.0),
                ),
            )
        return sorted(found.values(), key=lambda p: p.filename)

    # ------------------------------------------------------------------ download
    def cache_path(self, product: MastProduct) -> Path:
        """Where a product lives in the cache."""
        return (
            self.cache_dir
            / "lightcurves"
            / product.mission
            / product.target_name
            / product.filename
        )

    def download(self, product: MastProduct, *, force: bool = False) -> FetchedLightCurve:
        """Download one product into the cache (or reuse a complete cached copy).

        Raises
        ------
        NotFoundError, TooLargeError, FormatError, RemoteError
            See :func:`exoguard.catalogs.remote.stream_to_temp`; nothing is left in the cache.
        """
        if not _PRODUCT_NAME[product.mission].match(product.filename) or not _SAFE_NAME.match(
            product.target_name
        ):
            raise ValueError(f"not an official light-curve product: {product.filename!r}")
        dest = self.cache_path(product)
        params = {"uri": product.data_uri}
        url = requests.Request("GET", self.download_url, params=params).prepare().url or ""
        if not force and _cached_ok(dest, product.size_bytes):
            return FetchedLightCurve(
                product=product,
                path=dest,
                size_bytes=dest.stat().st_size,
                sha256=file_sha256(dest),
                url=url,
                cached=True,
            )
        what = f"{product.filename} from {describe_url(self.download_url)}"
        if product.size_bytes is not None and product.size_bytes > self.policy.max_bytes:
            raise TooLargeError(
                f"{what}: MAST lists {product.size_bytes:,} bytes, over the limit of "
                f"{self.policy.max_bytes:,} bytes"
            )
        got = stream_to_temp(
            self._session,
            self.download_url,
            dest_dir=dest.parent,
            policy=self.policy,
            what=what,
            check_head=_check_fits_head,
            params=params,
            expected_bytes=product.size_bytes,
            complete=_is_complete_fits,
        )
        try:
            os.replace(got.temp_path, dest)
        except BaseException:
            got.temp_path.unlink(missing_ok=True)
            raise
        logger.info("%s: %s bytes → %s", product.filename, f"{got.size_bytes:,}", dest)
        return FetchedLightCurve(
            product=product,
            path=dest,
            size_bytes=got.size_bytes,
            sha256=got.sha256,
            url=got.url,
            cached=False,
        )

    def fetch_lightcurves(
        self,
        target: str | int,
        *,
        mission: Mission,
        cadence: Cadence | None = None,
        force: bool = False,
    ) -> list[FetchedLightCurve]:
        """:meth:`search_lightcurves` then :meth:`download` each file."""
        products = self.search_lightcurves(target, mission=mission, cadence=cadence)
        return [self.download(p, force=force) for p in products]


def _cached_ok(path: Path, size_bytes: int | None) -> bool:
    if not path.is_file():
        return False
    size = path.stat().st_size
    if size_bytes is not None and size != size_bytes:
        return False
    with path.open("rb") as fh:
        return fh.read(len(_FITS_MAGIC)) == _FITS_MAGIC and _is_complete_fits(size)


def _check_cadence(cadence: str | None, *, mission: str) -> None:
    if cadence is None or cadence == "any":
        return
    allowed = _MISSION_CADENCES[mission]
    if cadence not in allowed:
        raise ValueError(
            f"cadence for {mission} must be one of {', '.join(allowed)} or any, got {cadence!r}"
        )


def _select_cadence(
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
            f"no {cadence}-cadence {_COLLECTION[mission]} light curve for {label}; available: "
            f"{', '.join(available)}"
        )
    return chosen


def search_lightcurves(
    target: str | int,
    *,
    mission: Mission,
    cadence: Cadence | None = None,
    base_url: str | None = None,
    policy: HttpPolicy | None = None,
) -> list[MastProduct]:
    """Official light-curve products of a target (see :meth:`MastClient.search_lightcurves`)."""
    with MastClient(base_url=base_url, policy=policy) as client:
        return client.search_lightcurves(target, mission=mission, cadence=cadence)


def fetch_lightcurves(
    target: str | int,
    *,
    mission: Mission,
    cadence: Cadence | None = None,
    base_url: str | None = None,
    cache_dir: Path | None = None,
    policy: HttpPolicy | None = None,
    force: bool = False,
) -> list[FetchedLightCurve]:
    """Find and download a target's official light curves; ``[f.path for f in result]`` goes
    to ``exoguard.io.read_lightcurve``."""
    with MastClient(base_url=base_url, cache_dir=cache_dir, policy=policy) as client:
        return client.fetch_lightcurves(target, mission=mission, cadence=cadence, force=force)
