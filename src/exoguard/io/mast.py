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
   :func:`exoguard.downloads.stream_to_temp` (retries, size cap, truncation checks
   against the listed size and the 2880-byte FITS blocks, atomic rename).

No astroquery at import or run time: plain ``requests``.

Example
-------
>>> from exoguard.io import read_lightcurve
>>> from exoguard.io.mast import fetch_lightcurves
>>> files = fetch_lightcurves(
...     "KIC 10797460", mission="kepler", cache_dir=Path("var/cache")
... )  # doctest: +SKIP
>>> lc = read_lightcurve([f.path for f in files])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from exoguard.downloads import (
    HttpClient,
    HttpPolicy,
    describe_url,
    fetch_bytes,
    file_sha256,
    html_title,
    looks_like_html,
    stream_to_temp,
)
from exoguard.errors import FormatError, NotFoundError, RemoteError, TooLargeError
from exoguard.io.mast_products import (
    COLLECTION,
    PRODUCT_NAME,
    SAFE_NAME,
    Cadence,
    FetchedLightCurve,
    MastProduct,
    Mission,
    TargetQuery,
    as_float,
    as_int,
    cached_ok,
    check_cadence,
    check_fits_head,
    is_complete_fits,
    parse_target,
    product_from_row,
    select_cadence,
)

__all__ = [
    "DEFAULT_MAST_URL",
    "MAST_URL_ENV",
    "MastClient",
    "fetch_lightcurves",
    "search_lightcurves",
]

logger = logging.getLogger(__name__)

DEFAULT_MAST_URL = "https://mast.stsci.edu"
MAST_URL_ENV = "EXOGUARD_MAST_URL"
_OBSID_BATCH = 50


class MastClient(HttpClient):
    """A client of the MAST Portal API for official light curves.

    Parameters
    ----------
    cache_dir : Path
        Cache root; files go to ``cache_dir/lightcurves/<mission>/<target_name>/``.
    base_url : str, optional
        MAST root; default ``https://mast.stsci.edu`` (the CLI passes ``Settings.mast_url``).
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

    DEFAULT_URL = DEFAULT_MAST_URL

    def __init__(
        self,
        *,
        cache_dir: Path,
        base_url: str | None = None,
        policy: HttpPolicy | None = None,
        session: requests.Session | None = None,
        page_size: int = 2000,
        radius_arcsec: float = 2.0,
        poll_timeout_s: float = 120.0,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        if radius_arcsec <= 0:
            raise ValueError(f"radius_arcsec must be > 0, got {radius_arcsec}")
        super().__init__(base_url=base_url, cache_dir=cache_dir, policy=policy, session=session)
        self.page_size = page_size
        self.radius_arcsec = radius_arcsec
        self.poll_timeout_s = poll_timeout_s

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
            pages = as_int(paging.get("pagesFiltered")) or 1
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
            {"paramName": "obs_collection", "values": [COLLECTION[query.mission]]},
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
        nearest = min(rows, key=lambda r: as_float(r.get("distance"), math.inf))
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
        check_cadence(cadence, mission=mission)
        observations = self.find_observations(query)
        collection = COLLECTION[mission]
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
        return select_cadence(products, mission=mission, cadence=cadence, label=query.label)

    def _products(
        self, obsids: Sequence[str], *, mission: str, observations: Mapping[str, dict[str, Any]]
    ) -> list[MastProduct]:
        rows: list[dict[str, Any]] = []
        for start in range(0, len(obsids), _OBSID_BATCH):
            batch = ",".join(obsids[start : start + _OBSID_BATCH])
            rows.extend(self.invoke("Mast.Caom.Products", {"obsid": batch}))
        found: dict[str, MastProduct] = {}
        for row in rows:
            product = product_from_row(row, mission=mission, observations=observations)
            if product is not None:
                found.setdefault(product.data_uri, product)
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
            See :func:`exoguard.downloads.stream_to_temp`; nothing is left in the cache.
        """
        if not PRODUCT_NAME[product.mission].match(product.filename) or not SAFE_NAME.match(
            product.target_name
        ):
            raise ValueError(f"not an official light-curve product: {product.filename!r}")
        dest = self.cache_path(product)
        params = {"uri": product.data_uri}
        url = requests.Request("GET", self.download_url, params=params).prepare().url or ""
        if not force and cached_ok(dest, product.size_bytes):
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
            check_head=check_fits_head,
            params=params,
            expected_bytes=product.size_bytes,
            complete=is_complete_fits,
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


def search_lightcurves(
    target: str | int,
    *,
    mission: Mission,
    cadence: Cadence | None = None,
    cache_dir: Path,
    base_url: str | None = None,
    policy: HttpPolicy | None = None,
) -> list[MastProduct]:
    """Official light-curve products of a target (see :meth:`MastClient.search_lightcurves`)."""
    with MastClient(base_url=base_url, cache_dir=cache_dir, policy=policy) as client:
        return client.search_lightcurves(target, mission=mission, cadence=cadence)


def fetch_lightcurves(
    target: str | int,
    *,
    mission: Mission,
    cadence: Cadence | None = None,
    cache_dir: Path,
    base_url: str | None = None,
    policy: HttpPolicy | None = None,
    force: bool = False,
) -> list[FetchedLightCurve]:
    """Find and download a target's official light curves; ``[f.path for f in result]`` goes
    to ``exoguard.io.read_lightcurve``."""
    with MastClient(base_url=base_url, cache_dir=cache_dir, policy=policy) as client:
        return client.fetch_lightcurves(target, mission=mission, cadence=cadence, force=force)
