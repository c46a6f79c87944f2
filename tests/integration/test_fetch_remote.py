"""Archive and MAST downloads against a real local HTTP server that serves the shared NASA files.

The server (``http.server`` in a thread on 127.0.0.1, a free port) emulates
* the NASA Exoplanet Archive TAP service: ``GET /TAP/sync?query=select * from <table>&format=csv``
  answers with the bundled table of that name, decompressed (the archive sends plain CSV);
* the MAST Portal API: ``POST /api/v0/invoke`` (``Mast.Name.Lookup``, ``Mast.Caom.Filtered``,
  ``Mast.Caom.Filtered.Position``, ``Mast.Caom.Products``, with paging) listing the real
  official products of ``lightcurves/index.csv`` (plus their target pixel files, listed but
  not served), and ``GET /api/v0.1/Download/file?uri=mast:...`` serving the FITS files.
Faults are scripted per route (404, 500, 503, truncated bodies, HTML pages, empty and
oversized responses, VOTable errors, MAST "EXECUTING").

Downloads are checked byte for byte against the SHA-256 of ``MANIFEST.csv`` / ``index.csv`` and
read back with ``read_catalog`` / ``read_lightcurve``; every failure must leave the cache empty.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from astropy.io import fits
from typer.testing import CliRunner

from exoguard.catalogs import read_catalog
from exoguard.catalogs.remote import (
    ArchiveClient,
    cached_catalogs,
    fetch_catalog,
    latest_catalog_path,
)
from exoguard.config import get_settings
from exoguard.downloads import HttpPolicy
from exoguard.errors import (
    FormatError,
    NotFoundError,
    RemoteError,
    TooLargeError,
    ValidationError,
)
from exoguard.io import read_lightcurve
from exoguard.io.mast import MastClient, fetch_lightcurves
from exoguard.io.mast_products import parse_target

TODAY = dt.date(2026, 7, 1)
FAST = HttpPolicy(timeout_s=10.0, retries=2, backoff_s=0.01, max_backoff_s=0.05)
TAP_FILES = {
    "cumulative": "koi_cumulative_2026-06-22.csv.gz",
    "toi": "toi_2026-06-22.csv.gz",
    "k2pandc": "k2pandc_2025-10-04.csv.gz",
}
TABLE_OF = {"koi": "cumulative", "toi": "toi", "k2": "k2pandc"}
KEPLER_227_LLC = 17
PI_MEN_FILE = "tess2018206045859-s0001-0000000261136679-0120-s_lc.fits"
_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable - Scheduled Maintenance</title>"
    b"</head><body><h1>The archive is down for maintenance</h1>"
    + b"<p>sorry</p>"
    * 300
    + b"</body>"
    b"</html>"
)
_VOTABLE_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.3"><RESOURCE type="results">'
    b'<INFO name="QUERY_STATUS" value="ERROR">Table "cumulative" is temporarily unavailable'
    b"</INFO></RESOURCE></VOTABLE>"
)


# ---------------------------------------------------------------------- the emulated archives
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Hit:
    method: str
    route: str
    detail: str


@dataclass
class Emulator:
    data_dir: Path
    base_url: str = ""
    faults: dict[str, list[str]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    products: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    names: dict[str, tuple[float, float, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _tables: dict[str, bytes] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.hits.clear()

    def script(self, route: str, *behaviours: str) -> None:
        """The next requests to ``route`` get these behaviours, in order (then normal)."""
        with self.lock:
            self.faults.setdefault(route, []).extend(behaviours)

    def take_fault(self, route: str, detail: str, method: str) -> str | None:
        with self.lock:
            self.hits.append(Hit(method=method, route=route, detail=detail))
            queue = self.faults.get(route)
            return queue.pop(0) if queue else None

    def count(self, route: str) -> int:
        with self.lock:
            return sum(1 for h in self.hits if h.route == route)

    def table(self, name: str) -> bytes:
        if name not in self._tables:
            self._tables[name] = gzip.decompress(
                (self.data_dir / "catalogs" / TAP_FILES[name]).read_bytes()
            )
        return self._tables[name]

    def load_mast(self) -> None:
        """CAOM observations and products for the official light curves of index.csv."""
        lc_dir = self.data_dir / "lightcurves"
        with (lc_dir / "index.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        kepler: dict[tuple[str, str], list[dict[str, str]]] = {}
        next_obsid = 9_000_000_001
        for row in rows:
            name = Path(row["file"]).name
            path = lc_dir / row["file"]
            header = fits.getheader(path, 0)
            ra, dec = float(header["RA_OBJ"]), float(header["DEC_OBJ"])
            if re.fullmatch(r"kplr\d{9}-\d{13}_(llc|slc)\.fits", name):
                kepler.setdefault((name[:13], name[-8:-5]), []).append(
                    {**row, "ra": ra, "dec": dec}
                )
            elif re.fullmatch(r"tess\d{13}-s\d{4}-\d{16}-\d{4}-s_lc\.fits", name):
                tic = str(int(header["TICID"]))
                obsid = str(next_obsid)
                next_obsid += 1
                obs_id = name[: -len("_lc.fits")]
                self._add_obs(obsid, obs_id, "TESS", "SPOC", "timeseries", tic, ra, dec, 120.0)
                self.products[obsid] = [
                    self._product(
                        obsid,
                        obs_id,
                        "TESS",
                        name,
                        f"mast:TESS/product/{name}",
                        "LC",
                        "Light curves",
                        int(row["bytes"]),
                    ),
                    self._product(
                        obsid,
                        obs_id,
                        "TESS",
                        name.replace("_lc.", "_tp."),
                        f"mast:TESS/product/{name.replace('_lc.', '_tp.')}",
                        "TP",
                        "Target pixel files",
                        None,
                    ),
                ]
                self.files[name] = path
            elif name.startswith("hlsp_tess-data-alerts"):
                tic = str(int(header["TICID"]))
                obsid = str(next_obsid)
                next_obsid += 1
                obs_id = name[: -len(".fits")]
                self._add_obs(
                    obsid, obs_id, "HLSP", "TESS-DATA-ALERTS", "timeseries", tic, ra, dec, 120.0
                )
                uri = f"mast:HLSP/tess-data-alerts/{name}"
                self.products[obsid] = [
                    self._product(
                        obsid, obs_id, "HLSP", name, uri, "LC", "Light curve", int(row["bytes"])
                    )
                ]
                self.files[name] = path
        for (stem, kind), group in sorted(kepler.items()):
            obsid = str(next_obsid)
            next_obsid += 1
            kic9 = stem[4:]
            obs_id = f"{stem}_{'lc' if kind == 'llc' else 'sc'}_Q111111111111111111"
            first = group[0]
            exptime = 1800.0 if kind == "llc" else 60.0
            self._add_obs(
                obsid,
                obs_id,
                "Kepler",
                "Kepler",
                "cube",
                stem,
                float(first["ra"]),
                float(first["dec"]),
                exptime,
            )
            listed = []
            for row in sorted(group, key=lambda r: r["file"]):
                name = Path(row["file"]).name
                uri = f"mast:KEPLER/url/missions/kepler/lightcurves/{kic9[:4]}/{kic9}/{name}"
                cadence_text = "Long" if kind == "llc" else "Short"
                description = (
                    f"Lightcurve {cadence_text} Cadence (C{kind[0].upper()}C) - {row['segment']}"
                )
                listed.append(
                    self._product(
                        obsid,
                        obs_id,
                        "Kepler",
                        name,
                        uri,
                        kind.upper(),
                        description,
                        int(row["bytes"]),
                    )
                )
                tpf = name.replace(f"_{kind}.fits", f"_{kind[0]}pd-targ.fits.gz")
                listed.append(
                    self._product(
                        obsid,
                        obs_id,
                        "Kepler",
                        tpf,
                        uri.replace(name, tpf),
                        "LPD-TARGETPIXELFILE",
                        "Target Pixel File",
                        None,
                    )
                )
                self.files[name] = lc_dir / row["file"]
            self.products[obsid] = listed
        by_target = {o["target_name"]: o for o in self.observations}
        aliases = {
            "kepler-227": "kplr010797460",
            "kic 10797460": "kplr010797460",
            "kepler-1": "kplr011446443",
            "pi men": "261136679",
            "tic 261136679": "261136679",
            "wasp-126": "25155310",
            "tic 25155310": "25155310",
        }
        for alias, target in aliases.items():
            obs = by_target[target]
            # A resolver's position differs from the catalog's by a fraction of an arcsec.
            self.names[alias] = (obs["s_ra"], obs["s_dec"] + 0.3 / 3600, alias)

    def _add_obs(
        self,
        obsid: str,
        obs_id: str,
        collection: str,
        provenance: str,
        product_type: str,
        target: str,
        ra: float,
        dec: float,
        exptime: float,
    ) -> None:
        self.observations.append(
            {
                "obsid": obsid,
                "obs_id": obs_id,
                "obs_collection": collection,
                "provenance_name": provenance,
                "project": collection,
                "dataproduct_type": product_type,
                "target_name": target,
                "s_ra": ra,
                "s_dec": dec,
                "t_exptime": exptime,
            }
        )

    @staticmethod
    def _product(
        obsid: str,
        obs_id: str,
        collection: str,
        filename: str,
        uri: str,
        subgroup: str,
        description: str,
        size: int | None,
    ) -> dict[str, Any]:
        return {
            "obsID": obsid,
            "obs_id": obs_id,
            "obs_collection": collection,
            "description": description,
            "type": "S",
            "dataURI": uri,
            "productType": "SCIENCE",
            "productGroupDescription": "Minimum Recommended Products",
            "productSubGroupDescription": subgroup,
            "productFilename": filename,
            "size": size,
            "parent_obsid": obsid,
        }

    # ------------------------------------------------------------------ MAST services
    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        service = request.get("service")
        params = request.get("params") or {}
        if service == "Mast.Name.Lookup":
            hit = self.names.get(" ".join(str(params.get("input", "")).lower().split()))
            coords = (
                []
                if hit is None
                else [
                    {
                        "canonicalName": hit[2],
                        "ra": hit[0],
                        "decl": hit[1],
                        "resolver": "SIMBAD",
                        "searchString": hit[2],
                        "objectType": "*",
                    }
                ]
            )
            return {"resolvedCoordinate": coords, "status": ""}
        if service in ("Mast.Caom.Filtered", "Mast.Caom.Filtered.Position"):
            rows = [o for o in self.observations if _passes(o, params.get("filters") or [])]
            if service.endswith("Position"):
                ra, dec, radius_deg = (float(x) for x in str(params["position"]).split(","))
                near = []
                for o in rows:
                    distance = _separation_arcsec(ra, dec, o["s_ra"], o["s_dec"])
                    footprint = 21.0 if o["obs_collection"] == "TESS" else 4.0  # ~1 pixel
                    if distance <= radius_deg * 3600 + footprint:
                        near.append({**o, "distance": distance})
                rows = near
            return _paged(rows, request)
        if service == "Mast.Caom.Products":
            rows = []
            for obsid in str(params.get("obsid", "")).split(","):
                rows.extend(self.products.get(obsid.strip(), []))
            return _paged(rows, request)
        return {"status": "ERROR", "msg": f"Unknown service {service!r}", "data": []}


def _passes(row: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    return all(str(row.get(f["paramName"])) in [str(v) for v in f["values"]] for f in filters)


def _separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    cos = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos)))) * 3600


def _paged(rows: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    size = int(request.get("pagesize") or 50000)
    page = int(request.get("page") or 1)
    chunk = rows[(page - 1) * size : page * size]
    fields = sorted({k for r in rows for k in r})
    return {
        "status": "COMPLETE",
        "msg": "",
        "data": chunk,
        "fields": [{"name": k, "type": "string"} for k in fields],
        "paging": {
            "page": page,
            "pageSize": size,
            "pagesFiltered": max(1, math.ceil(len(rows) / size)),
            "rows": len(chunk),
            "rowsFiltered": len(rows),
            "rowsTotal": len(rows),
        },
    }


def _make_handler(emu: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ArchiveEmulator/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return

        def _send(
            self,
            status: int,
            body: bytes,
            ctype: str,
            *,
            length: bool = True,
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if length:
                self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _serve(self, fault: str | None, body: bytes, ctype: str) -> None:
            if fault is None:
                self._send(200, body, ctype)
            elif fault == "404":
                self._send(
                    404, b"<html><head><title>404 Not Found</title></head></html>", "text/html"
                )
            elif fault in ("500", "502"):
                self._send(int(fault), b"Internal Server Error", "text/plain")
            elif fault == "503":
                self._send(503, b"busy", "text/plain", extra={"Retry-After": "0"})
            elif fault == "html":
                self._send(200, _HTML_PAGE, "text/html; charset=utf-8")
            elif fault == "votable":
                self._send(200, _VOTABLE_ERROR, "text/xml")
            elif fault == "votable400":
                self._send(400, _VOTABLE_ERROR, "text/xml")
            elif fault == "empty":
                self._send(200, b"", ctype)
            elif fault == "nolength":
                self._send(200, body, ctype, length=False)
            elif fault == "truncate":  # promises the full length, sends half, hangs up
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif fault == "truncate-nolength":  # no length: only the content can tell
                self._send(200, body[: len(body) // 2 + 7], ctype, length=False)
            elif fault == "executing":
                self._send(
                    200,
                    json.dumps({"status": "EXECUTING", "data": []}).encode(),
                    "application/json",
                )
            elif fault == "wrongtable":
                self._send(200, emu.table("toi"), ctype)
            else:
                raise AssertionError(f"unknown fault {fault}")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/TAP/sync":
                match = re.fullmatch(
                    r"\s*select\s+\*\s+from\s+(\w+)\s*", query.get("query", ""), flags=re.I
                )
                table = match.group(1).lower() if match else ""
                fault = emu.take_fault(f"tap:{table}", query.get("query", ""), "GET")
                if table not in TAP_FILES or query.get("format") != "csv":
                    self._send(
                        400, _VOTABLE_ERROR.replace(b"cumulative", table.encode()), "text/xml"
                    )
                    return
                self._serve(fault, emu.table(table), "text/csv")
            elif url.path == "/api/v0.1/Download/file":
                uri = query.get("uri", "")
                name = uri.rsplit("/", 1)[-1]
                fault = emu.take_fault(f"download:{name}", uri, "GET")
                path = emu.files.get(name)
                if path is None or not uri.startswith("mast:"):
                    self._serve("404", b"", "text/html")
                    return
                self._serve(fault, path.read_bytes(), "application/octet-stream")
            else:
                self._serve("404", b"", "text/html")

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if url.path != "/api/v0/invoke":
                self._serve("404", b"", "text/html")
                return
            form = parse_qs(body.decode())
            request = json.loads(form["request"][0])
            fault = emu.take_fault(f"invoke:{request.get('service')}", json.dumps(request), "POST")
            answer = json.dumps(emu.invoke(request)).encode()
            self._serve(fault, answer, "application/json")

    return Handler


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    data_dir = get_settings().data_dir
    if not (data_dir / "MANIFEST.csv").is_file():
        pytest.fail(f"the shared NASA data is missing under {data_dir} (EXOGUARD_DATA_DIR)")
    emu = Emulator(data_dir=data_dir)
    emu.load_mast()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(emu))
    server.daemon_threads = True
    emu.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield emu
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture(scope="module")
def manifest(emulator: Emulator) -> dict[str, str]:
    with (emulator.data_dir / "MANIFEST.csv").open(newline="") as fh:
        return {row["path"]: row["sha256"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def index_sha(emulator: Emulator) -> dict[str, str]:
    with (emulator.data_dir / "lightcurves" / "index.csv").open(newline="") as fh:
        return {Path(row["file"]).name: row["sha256"] for row in csv.DictReader(fh)}


def _archive(emu: Emulator, cache: Path, policy: HttpPolicy = FAST) -> ArchiveClient:
    return ArchiveClient(base_url=emu.base_url, cache_dir=cache, policy=policy)


def _mast(emu: Emulator, cache: Path, policy: HttpPolicy = FAST, **kw: Any) -> MastClient:
    return MastClient(base_url=emu.base_url, cache_dir=cache, policy=policy, **kw)


def _files_under(root: Path) -> list[str]:
    """Every file (hidden temporaries included) under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------- archive tables
@pytest.mark.parametrize("table", ["koi", "toi", "k2"])
def test_catalog_download_is_the_archive_table_byte_for_byte(
    emu: Emulator, manifest: dict[str, str], tmp_path: Path, table: str
) -> None:
    shared = emu.data_dir / "catalogs" / TAP_FILES[TABLE_OF[table]]
    assert _sha256(shared.read_bytes()) == manifest[f"catalogs/{shared.name}"]
    raw = gzip.decompress(shared.read_bytes())

    with _archive(emu, tmp_path) as client:
        got = client.fetch_catalog(table, today=TODAY)  # type: ignore[arg-type]

    prefix = {"koi": "koi_cumulative", "toi": "toi", "k2": "k2pandc"}[table]
    assert got.path == tmp_path / "catalogs" / f"{prefix}_2026-07-01.csv.gz"
    assert _files_under(tmp_path) == [f"catalogs/{got.path.name}"]  # no temporaries left
    assert got.download_sha256 == _sha256(raw)
    assert gzip.decompress(got.path.read_bytes()) == raw
    assert got.sha256 == _sha256(got.path.read_bytes())
    assert got.size_bytes == got.path.stat().st_size
    assert not got.cached
    assert [h.detail for h in emu.hits] == [f"select * from {TABLE_OF[table]}"]

    ours, bundled = read_catalog(got.path), read_catalog(shared)
    assert ours.kind == bundled.kind == table
    assert got.n_rows == len(ours.frame) == len(bundled.frame)
    assert ours.frame["object_id"].tolist() == bundled.frame["object_id"].tolist()


def test_catalog_cache_is_reused_until_forced(emu: Emulator, tmp_path: Path) -> None:
    with _archive(emu, tmp_path) as client:
        first = client.fetch_catalog("k2", today=TODAY)
        again = client.fetch_catalog("k2", today=TODAY)
        assert emu.count("tap:k2pandc") == 1
        assert again.cached and again.path == first.path
        assert again.download_sha256 == first.download_sha256
        forced = client.fetch_catalog("k2", today=TODAY, force=True)
        assert emu.count("tap:k2pandc") == 2 and not forced.cached
        later = client.fetch_catalog("k2", today=TODAY + dt.timedelta(days=1))
    assert cached_catalogs("k2", cache_dir=tmp_path) == [later.path, first.path]
    assert latest_catalog_path("k2", cache_dir=tmp_path, data_dir=emu.data_dir) == later.path


def test_latest_catalog_falls_back_to_the_bundled_file(emu: Emulator, tmp_path: Path) -> None:
    bundled = latest_catalog_path("toi", cache_dir=tmp_path, data_dir=emu.data_dir)
    assert bundled == emu.data_dir / "catalogs" / "toi_2026-06-22.csv.gz"  # not the _lite file
    old = tmp_path / "catalogs" / "toi_2020-01-01.csv.gz"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"")
    assert latest_catalog_path("toi", cache_dir=tmp_path, data_dir=emu.data_dir) == bundled
    with pytest.raises(NotFoundError, match="exoguard fetch catalogs"):
        latest_catalog_path("koi", cache_dir=tmp_path, data_dir=tmp_path / "nowhere")


def test_server_error_then_success_is_retried(emu: Emulator, tmp_path: Path) -> None:
    emu.script("tap:k2pandc", "500", "503")
    got = fetch_catalog("k2", base_url=emu.base_url, cache_dir=tmp_path, policy=FAST, today=TODAY)
    assert emu.count("tap:k2pandc") == 3
    assert got.n_rows == len(read_catalog(got.path).frame) > 1000
    assert _files_under(tmp_path) == [f"catalogs/{got.path.name}"]


def test_truncated_then_complete_download_is_retried(emu: Emulator, tmp_path: Path) -> None:
    emu.script("tap:toi", "truncate")
    with _archive(emu, tmp_path) as client:
        got = client.fetch_catalog("toi", today=TODAY, validate=False)
    assert emu.count("tap:toi") == 2
    assert got.download_sha256 == _sha256(emu.table("toi")) and got.n_rows is None


@pytest.mark.parametrize(
    ("faults", "error", "message", "attempts"),
    [
        (["404"], NotFoundError, "HTTP 404", 1),
        (["500"] * 3, RemoteError, r"HTTP 500 .*gave up after 3 attempts", 3),
        (["truncate"] * 3, RemoteError, r"truncated.*gave up after 3 attempts", 3),
        (["html"], FormatError, "HTML page.*Scheduled Maintenance", 1),
        (["empty"], FormatError, "empty response", 1),
        (["votable"], RemoteError, "TAP service reported an error.*temporarily unavailable", 1),
        (["votable400"], RemoteError, "HTTP 400.*temporarily unavailable", 1),
        (["wrongtable"], ValidationError, "cumulative table.*reads as a toi table", 1),
    ],
    ids=["404", "500-forever", "truncated", "html", "empty", "votable", "votable-400", "wrong"],
)
def test_catalog_failures_are_clear_and_leave_nothing(
    emu: Emulator,
    tmp_path: Path,
    faults: list[str],
    error: type[Exception],
    message: str,
    attempts: int,
) -> None:
    emu.script("tap:cumulative", *faults)
    with _archive(emu, tmp_path) as client, pytest.raises(error, match=message):
        client.fetch_catalog("koi", today=TODAY)
    assert emu.count("tap:cumulative") == attempts
    assert _files_under(tmp_path) == []


@pytest.mark.parametrize("fault", [None, "nolength"], ids=["content-length", "streamed"])
def test_oversized_catalog_is_refused(emu: Emulator, tmp_path: Path, fault: str | None) -> None:
    if fault:
        emu.script("tap:cumulative", fault)
    small = HttpPolicy(timeout_s=10.0, retries=2, backoff_s=0.01, max_bytes=1_000_000)
    with _archive(emu, tmp_path, small) as client, pytest.raises(TooLargeError, match="1,000,000"):
        client.fetch_catalog("koi", today=TODAY)
    assert emu.count("tap:cumulative") == 1  # never retried
    assert _files_under(tmp_path) == []


def test_unreachable_archive_is_a_remote_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ArchiveClient(base_url=f"http://127.0.0.1:{port}", cache_dir=tmp_path, policy=FAST)
    with client, pytest.raises(RemoteError, match=r"cannot reach .*offline\?"):
        client.fetch_catalog("koi", today=TODAY)
    assert _files_under(tmp_path) == []


def test_bad_arguments_name_what_is_allowed(tmp_path: Path) -> None:
    client = ArchiveClient(base_url="http://127.0.0.1:9", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="koi, toi, k2"):
        client.fetch_catalog("cumulative")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plain column names"):
        client.tap_query("koi", columns=["kepid; drop table"])
    with pytest.raises(ValueError, match="http:// or https://"):
        ArchiveClient(base_url="ftp://example.org", cache_dir=tmp_path)
    assert client.tap_params("k2") == {"query": "select * from k2pandc", "format": "csv"}


# ---------------------------------------------------------------------- MAST light curves
def test_parse_target_ids_and_names() -> None:
    assert parse_target("KIC 10797460", mission="kepler").target_name == "kplr010797460"
    assert parse_target("kplr010797460", mission="kepler").target_name == "kplr010797460"
    assert parse_target(10797460, mission="kepler").label == "KIC 10797460"
    assert parse_target("EPIC 201367065", mission="k2").target_name == "ktwo201367065"
    assert parse_target("TIC 0261136679", mission="tess").target_name == "261136679"
    other = parse_target("TIC 261136679", mission="kepler")
    assert other.target_name is None and other.text == "TIC 261136679"
    assert parse_target("pi  Men", mission="tess").text == "pi Men"
    with pytest.raises(ValueError, match="kepler, k2, tess"):
        parse_target("KIC 1", mission="hubble")  # type: ignore[arg-type]


def test_kepler_quarters_by_kic_are_the_archive_files(
    emu: Emulator, index_sha: dict[str, str], tmp_path: Path
) -> None:
    # page_size=4 makes every query span several pages.
    with _mast(emu, tmp_path, page_size=4) as client:
        got = client.fetch_lightcurves("KIC 10797460", mission="kepler")
    assert len(got) == KEPLER_227_LLC
    assert emu.count("invoke:Mast.Caom.Products") == math.ceil(2 * KEPLER_227_LLC / 4)
    assert emu.count("invoke:Mast.Name.Lookup") == 0  # the id was searched by target_name
    for item in got:
        assert item.product.cadence == "long" and item.product.target_name == "kplr010797460"
        assert item.path == tmp_path / "lightcurves" / "kepler" / "kplr010797460" / item.path.name
        assert item.sha256 == index_sha[item.path.name] == _sha256(item.path.read_bytes())
        assert not item.cached
    assert _files_under(tmp_path / "lightcurves") == sorted(
        f"kepler/kplr010797460/{f.path.name}" for f in got
    )
    downloads = [h for h in emu.hits if h.route.startswith("download:")]
    assert not any("targ" in h.detail for h in downloads)  # target pixel files skipped
    lc = read_lightcurve([f.path for f in got])
    assert lc.mission == "kepler" and lc.target_id == "KIC 10797460"
    assert lc.n_segments == KEPLER_227_LLC and lc.n_points > 60_000


def test_kepler_by_name_resolves_to_the_same_files(emu: Emulator, tmp_path: Path) -> None:
    with _mast(emu, tmp_path) as client:
        by_name = client.search_lightcurves("Kepler-227", mission="kepler")
        by_id = client.search_lightcurves("10797460", mission="kepler")
    assert emu.count("invoke:Mast.Name.Lookup") == 1
    assert emu.count("invoke:Mast.Caom.Filtered.Position") == 1
    assert [p.data_uri for p in by_name] == [p.data_uri for p in by_id]
    assert 0 < by_name[0].distance_arcsec < 1.0


def test_cadence_falls_back_and_explicit_cadence_is_checked(
    emu: Emulator, index_sha: dict[str, str], tmp_path: Path
) -> None:
    with _mast(emu, tmp_path) as client:
        (only,) = client.fetch_lightcurves("KIC 11446443", mission="kepler")
        assert only.product.cadence == "short"
        assert only.sha256 == index_sha["kplr011446443-2009131110544_slc.fits"]
        with pytest.raises(NotFoundError, match="no long-cadence Kepler light curve.*short"):
            client.search_lightcurves("KIC 11446443", mission="kepler", cadence="long")
        with pytest.raises(ValueError, match="long, short or any"):
            client.search_lightcurves("KIC 11446443", mission="kepler", cadence="fast")
    assert read_lightcurve(only.path).cadence_s == pytest.approx(58.85, abs=0.5)


@pytest.mark.parametrize("target", ["TIC 261136679", "pi Men"])
def test_tess_spoc_light_curve(
    emu: Emulator, index_sha: dict[str, str], tmp_path: Path, target: str
) -> None:
    (got,) = fetch_lightcurves(
        target, mission="tess", base_url=emu.base_url, cache_dir=tmp_path, policy=FAST
    )
    assert got.path.name == PI_MEN_FILE
    assert got.product.target_name == "261136679" and got.product.cadence == "short"
    assert got.sha256 == index_sha[PI_MEN_FILE] == _sha256(got.path.read_bytes())
    lc = read_lightcurve(got.path)
    assert lc.mission == "tess" and lc.target_id == "TIC 261136679"
    assert lc.cadence_s == pytest.approx(120.0, abs=1.0)


def test_second_fetch_uses_the_cache(emu: Emulator, tmp_path: Path) -> None:
    with _mast(emu, tmp_path) as client:
        first = client.fetch_lightcurves("TIC 261136679", mission="tess")
        again = client.fetch_lightcurves("TIC 261136679", mission="tess")
    assert emu.count(f"download:{PI_MEN_FILE}") == 1
    assert [a.cached for a in again] == [True] and again[0].sha256 == first[0].sha256


def test_targets_without_official_light_curves(emu: Emulator, tmp_path: Path) -> None:
    with _mast(emu, tmp_path) as client:
        # WASP-126 has only a tess-data-alerts HLSP here, not a SPOC product.
        with pytest.raises(NotFoundError, match="no TESS observation of TIC 25155310"):
            client.search_lightcurves("TIC 25155310", mission="tess")
        with pytest.raises(NotFoundError, match="could not resolve 'Nowhere-1'"):
            client.search_lightcurves("Nowhere-1", mission="k2")
        with pytest.raises(NotFoundError, match="no K2 observation of EPIC 201367065"):
            client.search_lightcurves("EPIC 201367065", mission="k2")
    assert _files_under(tmp_path) == []


def test_mast_executing_and_paged_queries(emu: Emulator, tmp_path: Path) -> None:
    emu.script("invoke:Mast.Caom.Filtered", "executing", "503")
    with _mast(emu, tmp_path, page_size=1) as client:
        products = client.search_lightcurves("KIC 10797460", mission="kepler", cadence="any")
    assert len(products) == KEPLER_227_LLC
    assert emu.count("invoke:Mast.Caom.Filtered") == 3
    assert emu.count("invoke:Mast.Caom.Products") == 2 * KEPLER_227_LLC


def test_mast_service_errors_are_clear(emu: Emulator, tmp_path: Path) -> None:
    emu.script("invoke:Mast.Caom.Filtered", "html")
    with _mast(emu, tmp_path) as client, pytest.raises(FormatError, match="HTML page"):
        client.search_lightcurves("TIC 261136679", mission="tess")
    emu.script("invoke:Mast.Caom.Filtered", "500", "500", "500")
    with _mast(emu, tmp_path) as client, pytest.raises(RemoteError, match="HTTP 500"):
        client.search_lightcurves("TIC 261136679", mission="tess")


@pytest.mark.parametrize(
    ("faults", "error", "message", "attempts"),
    [
        (["404"], NotFoundError, "HTTP 404", 1),
        (["truncate"] * 3, RemoteError, "truncated", 3),
        (["truncate-nolength"] * 3, RemoteError, "truncated or altered", 3),
        (["html"], FormatError, "HTML page instead of a FITS", 1),
        (["wrong"], FormatError, "not FITS", 1),
        (["empty"], FormatError, "empty file", 1),
    ],
    ids=["404", "truncated", "truncated-no-length", "html", "not-fits", "empty"],
)
def test_light_curve_download_failures_leave_nothing(
    emu: Emulator,
    tmp_path: Path,
    faults: list[str],
    error: type[Exception],
    message: str,
    attempts: int,
) -> None:
    route = f"download:{PI_MEN_FILE}"
    with _mast(emu, tmp_path) as client:
        (product,) = client.search_lightcurves("TIC 261136679", mission="tess")
        if faults == ["wrong"]:
            emu.files[PI_MEN_FILE + ".orig"] = emu.files[PI_MEN_FILE]
            emu.files[PI_MEN_FILE] = emu.data_dir / "lightcurves" / "index.csv"
        else:
            emu.script(route, *faults)
        try:
            with pytest.raises(error, match=message):
                client.download(product)
        finally:
            if faults == ["wrong"]:
                emu.files[PI_MEN_FILE] = emu.files.pop(PI_MEN_FILE + ".orig")
    assert emu.count(route) == attempts
    assert _files_under(tmp_path) == []


def test_light_curve_retry_then_success_and_size_cap(
    emu: Emulator, index_sha: dict[str, str], tmp_path: Path
) -> None:
    route = f"download:{PI_MEN_FILE}"
    emu.script(route, "502", "truncate")
    with _mast(emu, tmp_path) as client:
        (got,) = client.fetch_lightcurves("pi Men", mission="tess")
    assert emu.count(route) == 3 and got.sha256 == index_sha[PI_MEN_FILE]

    small = HttpPolicy(timeout_s=10.0, retries=1, backoff_s=0.01, max_bytes=1_000_000)
    other = tmp_path / "other"
    with _mast(emu, other, small) as client, pytest.raises(TooLargeError, match="1,000,000"):
        client.fetch_lightcurves("pi Men", mission="tess")
    assert _files_under(other) == []


# ---------------------------------------------------------------------- command line
@pytest.fixture
def cli_env(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EXOGUARD_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("EXOGUARD_ARCHIVE_URL", emu.base_url)
    monkeypatch.setenv("EXOGUARD_MAST_URL", emu.base_url)
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_cli_fetch_catalogs_json(cli_env: Path, emu: Emulator) -> None:
    from exoguard.cli import app

    result = CliRunner().invoke(app, ["fetch", "catalogs", "--table", "k2", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (row,) = payload["files"]
    path = Path(row["path"])
    assert path.parent == cli_env / "cache" / "catalogs" and path.name.startswith("k2pandc_")
    assert row["bytes"] == path.stat().st_size and row["rows"] == 1806
    assert row["download_sha256"] == _sha256(emu.table("k2pandc"))


def test_cli_fetch_lightcurves_plain_and_json(cli_env: Path, emu: Emulator) -> None:
    from exoguard.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["fetch", "lightcurves", "TIC 261136679", "--mission", "tess"])
    assert result.exit_code == 0, result.output
    expected = cli_env / "cache" / "lightcurves" / "tess" / "261136679" / PI_MEN_FILE
    assert f"{expected}\t1.9 MiB" in result.stdout

    result = runner.invoke(
        app, ["fetch", "lightcurves", "TIC 261136679", "--mission", "tess", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["target_name"] == "261136679"
    assert [(f["path"], f["bytes"], f["cached"]) for f in payload["files"]] == [
        (str(expected), 2039040, True)
    ]


def test_cli_rejects_unknown_choices(cli_env: Path) -> None:
    from exoguard.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["fetch", "catalogs", "--table", "kepler"])
    assert result.exit_code == 2 and "koi, toi, k2, all" in result.output
    result = runner.invoke(app, ["fetch", "lightcurves", "KIC 1", "--mission", "hubble"])
    assert result.exit_code == 2 and "kepler, k2, tess" in result.output
