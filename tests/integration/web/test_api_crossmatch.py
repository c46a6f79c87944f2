"""Catalog cross-match over HTTP: a multi-file upload of Kepler-227 is matched to K00752.01.

Three quarters of KIC 10797460 in one upload → one dataset → preprocess (stitched search) →
the 9.49 d candidate is Kepler-227 b (K00752.01, CONFIRMED in the ingested KOI table), and the
CSV export says so. Also: files of two stars are refused naming both, a bad file names itself
and leaves nothing behind, names are ingested, typed-in entries are matched and get the
star's missing parameters.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    DATA,
    TOI114_FITS,
    Api,
    api_world,
    redis_url_for_tests,
    stored_files,
    wait_for_job,
)

from exoguard.catalogs import read_catalog  # noqa: E402
from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.ingest import ingest_catalog_tables  # noqa: E402
from exoguard.store.models import Candidate, Dataset  # noqa: E402

pytestmark = pytest.mark.integration

KEPLER = DATA / "lightcurves" / "kepler"
QUARTERS = [
    KEPLER / "kplr010797460-2009259160929_llc.fits",
    KEPLER / "kplr010797460-2009350155506_llc.fits",
    KEPLER / "kplr010797460-2010078095331_llc.fits",
]
HOSTS = {"KIC 10797460", "KIC 11446443", "KIC 10666592"}


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url,
        tmp_path_factory.mktemp("api_crossmatch"),
        redis_url=redis_url_for_tests(required=False),
        EXOGUARD_MAX_UPLOAD_MB=20,
    ) as world:
        koi = read_catalog(DATA / "catalogs" / "koi_cumulative_2026-06-22.csv.gz")
        toi = read_catalog(DATA / "catalogs" / "toi_2026-06-22.csv.gz")
        tables = [
            dataclasses.replace(koi, frame=koi.frame[koi.frame["host_id"].isin(HOSTS)]),
            dataclasses.replace(toi, frame=toi.frame[toi.frame["host_id"] == "TIC 25155310"]),
        ]
        with session_scope(world.factory) as session:
            ingest_catalog_tables(session, tables)
        yield world


def _upload_many(client: object, paths: list[tuple[str, bytes]]) -> object:
    files = [("file", (name, content, "application/octet-stream")) for name, content in paths]
    return client.post("/api/data/upload", files=files)  # type: ignore[attr-defined]


def test_names_are_ingested(api: Api) -> None:
    with session_scope(api.factory) as session:
        b = session.query(Candidate).filter(Candidate.object_id == "K00752.01").one()
        toi = session.query(Candidate).filter(Candidate.object_id == "TOI-114.01").one()
        assert (b.name, b.disposition, b.host_id) == ("Kepler-227 b", "CONFIRMED", "KIC 10797460")
        assert toi.name is None


def test_three_quarters_one_dataset_matched_to_kepler_227_b(api: Api) -> None:
    parts = [(p.name, p.read_bytes()) for p in QUARTERS]
    with api.client("explorer") as client:
        response = _upload_many(client, parts)
        assert response.status_code == 201, response.text  # type: ignore[attr-defined]
        body = response.json()  # type: ignore[attr-defined]
        dataset_id = body["dataset_id"]
        report = body["dataset"]["report"]
        assert report["lightcurve"]["target_id"] == "KIC 10797460"
        assert [f["filename"] for f in report["files"]] == [p.name for p in QUARTERS]
        assert "3 files stitched" in body["dataset"]["summary"]
        started = client.post(
            "/api/data/preprocess",
            json={
                "dataset_id": dataset_id,
                "options": {"max_planets": 1, "max_period_days": 20.0},
            },
        )
        job = wait_for_job(client, started.json()["job_id"], timeout_s=400)
        assert job["status"] == "succeeded", job
        (prediction,) = job["result"]["predictions"]
        match = prediction["catalog_match"]
        assert match["matched"] and match["object_id"] == "K00752.01"
        assert match["name"] == "Kepler-227 b" and match["disposition"] == "CONFIRMED"
        assert match["method"] == "host + period + epoch"
        assert match["period_ratio"] == pytest.approx(1.0, abs=0.005)
        assert abs(match["epoch_offset_durations"]) < 0.5
        assert match["summary"] == (
            "Catalog match: K00752.01, Kepler-227 b, archive disposition CONFIRMED "
            "(host + period + epoch)"
        )
        candidate_id = prediction["candidate_id"]
        exported = client.post("/api/export/csv", json={"candidate_ids": [candidate_id]})
        assert exported.status_code == 200, exported.text
        page = client.get(f"/candidates/{candidate_id}")
        assert "Catalog match: K00752.01, Kepler-227 b" in page.text
        again = client.post("/api/models/predict", json={"dataset_id": dataset_id})
        assert again.status_code == 200, again.text
        (rescored,) = again.json()["predictions"]
        assert rescored["catalog_match"] == match
        assert rescored["stellar_parameters"]["host_id"] == "KIC 10797460"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1
    assert rows[0]["catalog_object_id"] == "K00752.01"
    assert rows[0]["catalog_name"] == "Kepler-227 b"
    assert rows[0]["catalog_disposition"] == "CONFIRMED"
    assert rows[0]["catalog_match"].startswith("Catalog match: K00752.01, Kepler-227 b")
    assert rows[0]["stellar_parameters_from"].startswith(
        "stellar parameters from KIC 10797460 (KOI table)"
    )
    with session_scope(api.factory) as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None and dataset.kind == "lightcurve"
        found = session.get(Candidate, candidate_id)
        assert found is not None and found.period_days == pytest.approx(9.488, abs=0.02)
        # the archive label is never written onto our find
        assert found.label == "candidate" and found.origin == "search"
    folder = api.settings.uploads_path / dataset_id
    assert folder.is_dir() and len(list(folder.iterdir())) == 3


def test_files_of_two_stars_are_refused_naming_them(api: Api) -> None:
    before = stored_files(api.settings)
    parts = [(QUARTERS[0].name, QUARTERS[0].read_bytes()), ("toi.fits", TOI114_FITS.read_bytes())]
    with api.client("explorer") as client:
        response = _upload_many(client, parts)
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    assert "different stars" in detail
    assert "KIC 10797460" in detail and "TIC 25155310" in detail
    assert stored_files(api.settings) == before


def test_one_bad_file_names_itself_and_keeps_nothing(api: Api) -> None:
    before = stored_files(api.settings)
    n_datasets = api.count(Dataset)
    parts = [
        (QUARTERS[0].name, QUARTERS[0].read_bytes()),
        ("broken.fits", QUARTERS[1].read_bytes()[:20000]),
    ]
    with api.client("explorer") as client:
        response = _upload_many(client, parts)
    assert response.status_code in (415, 422), response.text  # type: ignore[attr-defined]
    assert "file 2 of 2 (broken.fits)" in response.json()["detail"]  # type: ignore[attr-defined]
    assert stored_files(api.settings) == before and api.count(Dataset) == n_datasets
    incoming = api.settings.uploads_path / ".incoming"
    assert not incoming.exists() or not list(incoming.iterdir())


def test_typed_in_entry_is_matched_and_gets_the_star(api: Api) -> None:
    candidate = {
        "object_id": "Kepler-227 b",
        "host_id": "kplr010797460",
        "mission": "kepler",
        "period_days": 9.488,
        "duration_hours": 2.96,
        "depth_ppm": 616.0,
        "star_teff_k": 5000.0,  # given: never overwritten
    }
    with api.client("explorer") as client:
        response = client.post(
            "/api/models/predict", json={"candidates": [candidate], "save": True}
        )
    assert response.status_code == 200, response.text
    (verdict,) = response.json()["predictions"]
    assert verdict["catalog_match"]["method"] == "id"
    assert verdict["catalog_match"]["object_id"] == "K00752.01"
    stellar = verdict["stellar_parameters"]
    assert stellar["host_id"] == "KIC 10797460" and stellar["catalog"] == "KOI table"
    assert stellar["given"] == ["star_teff_k"]
    assert set(stellar["from_catalog"]) == {"star_logg_cgs", "star_radius_rsun", "star_mag"}
    with session_scope(api.factory) as session:
        row = session.get(Candidate, verdict["candidate_id"])
        assert row is not None
        assert row.star_teff_k == 5000.0
        assert row.star_logg_cgs == pytest.approx(4.467)  # koi_slogg of KIC 10797460
        assert row.star_radius_rsun == pytest.approx(0.927)
        assert row.catalog_match is not None and row.catalog_match["object_id"] == "K00752.01"
        assert row.label == "candidate"


def test_typed_in_entry_without_identifiers_says_why(api: Api) -> None:
    with api.client("explorer") as client:
        response = client.post(
            "/api/models/predict",
            json={"candidates": [{"period_days": 3.0, "duration_hours": 2.0, "depth_ppm": 500}]},
        )
    assert response.status_code == 200, response.text
    match = response.json()["predictions"][0]["catalog_match"]
    assert match["matched"] is False
    assert match["summary"].startswith("No catalog match: no star identifier")


@pytest.mark.requires_tools("pdftotext")
def test_one_quarter_pdf_report_names_the_match(api: Api, tmp_path: Path) -> None:
    # The quarter of the bug report: one file, the 9.49 d signal, and its PDF report.
    quarter = QUARTERS[0]
    with api.client("explorer") as client:
        response = client.post(
            "/api/data/upload",
            files={"file": (quarter.name, quarter.read_bytes(), "application/octet-stream")},
        )
        assert response.status_code == 201, response.text
        started = client.post(
            "/api/data/preprocess",
            json={
                "dataset_id": response.json()["dataset_id"],
                "options": {"max_planets": 1, "max_period_days": 20.0},
            },
        )
        job = wait_for_job(client, started.json()["job_id"], timeout_s=400)
        assert job["status"] == "succeeded", job
        (prediction,) = job["result"]["predictions"]
        assert prediction["catalog_match"]["object_id"] == "K00752.01"
        pdf = client.post("/api/export/pdf", json={"candidate_ids": [prediction["candidate_id"]]})
    assert pdf.status_code == 200, pdf.text
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Catalog match: K00752.01, Kepler-227 b, archive disposition CONFIRMED" in text
    assert "stellar parameters from KIC 10797460 (KOI table)" in " ".join(text.split())


def test_table_rows_are_matched_and_get_the_star(api: Api) -> None:
    # A harmonised table: one row on Kepler-227 with its c planet's ephemeris at P x 2 and no
    # star; one with the user's own star temperature; one on a star the catalogs lack.
    t0_c = 2454833.0 + 162.51384  # K00752.02 (koi_time0bk + 2454833)
    table = (
        "object_id,host_id,mission,period_days,t0_bjd,duration_hours,depth_ppm,star_teff_k\n"
        f"mine-1,kplr010797460,kepler,{2 * 54.4183827:.7f},{t0_c + 4 * 54.4183827:.5f},4.5,870,\n"
        f"mine-2,10797460,kepler,9.48804,{2454833.0 + 170.53875:.5f},2.95,616,5000\n"
        "mine-3,KIC 1,kepler,3.1,2455000.1,2.0,400,\n"
    ).encode()
    with api.client("explorer") as client:
        response = client.post("/api/data/upload", files={"file": ("mine.csv", table, "text/csv")})
        assert response.status_code == 201, response.text
        started = client.post(
            "/api/data/preprocess", json={"dataset_id": response.json()["dataset_id"]}
        )
        job = wait_for_job(client, started.json()["job_id"], timeout_s=120)
    assert job["status"] == "succeeded", job
    with session_scope(api.factory) as session:
        rows = {
            c.object_id: c
            for c in session.query(Candidate).filter(
                Candidate.id.in_(job["result"]["candidate_ids"])
            )
        }
        alias, given, unknown = rows["mine-1"], rows["mine-2"], rows["mine-3"]
        assert alias.catalog_match is not None and given.catalog_match is not None
        assert alias.catalog_match["object_id"] == "K00752.02"
        assert alias.catalog_match["method"] == "alias P×2 (host + period + epoch)"
        assert alias.catalog_match["period_ratio"] == pytest.approx(2.0, abs=1e-6)
        assert given.catalog_match["object_id"] == "K00752.01"
        assert given.catalog_match["method"] == "host + period + epoch"
        # stellar parameters: missing ones from the KOI table, given ones kept
        assert alias.star_teff_k == 5455.0 and alias.star_logg_cgs == pytest.approx(4.467)
        assert alias.star_radius_rsun == pytest.approx(0.927)
        assert alias.star_mag == pytest.approx(15.347)
        assert alias.features is not None
        assert alias.features["stellar_parameters"]["from_catalog"] == [
            "star_teff_k",
            "star_logg_cgs",
            "star_radius_rsun",
            "star_mag",
        ]
        assert alias.features["stellar_parameters"]["summary"].startswith(
            "stellar parameters from KIC 10797460 (KOI table)"
        )
        assert given.star_teff_k == 5000.0
        assert given.features is not None
        assert given.features["stellar_parameters"]["given"] == ["star_teff_k"]
        assert unknown.catalog_match == {
            **unknown.catalog_match,
            "matched": False,
            "reason": "no catalog object on KIC 1",
        }
        assert unknown.star_teff_k is None and unknown.features is None
        # the archive disposition is shown, never written onto the user's rows
        assert {r.label for r in rows.values()} == {"candidate"}
        assert {r.disposition for r in rows.values()} == {None}
