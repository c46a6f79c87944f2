"""Data sets over HTTP: upload (streamed, size-limited, sniffed), validation, preprocessing.

Every bad upload must answer 4xx with a message and leave nothing behind: no dataset row,
no stored file, no temporary file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    KEPLER_FITS,
    TOI114_FITS,
    Api,
    api_world,
    koi_slice,
    redis_url_for_tests,
    stored_files,
    upload,
    wait_for_job,
)

from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.models import Candidate, Dataset, Prediction  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url,
        tmp_path_factory.mktemp("api_data"),
        redis_url=redis_url_for_tests(required=False),
    ) as world:
        yield world


def _incoming(api: Api) -> list[Path]:
    folder = api.settings.uploads_path / ".incoming"
    return sorted(folder.iterdir()) if folder.exists() else []


# ----------------------------------------------------------------------------- uploads
def test_upload_fits_light_curve_with_unicode_name(api: Api) -> None:
    content = KEPLER_FITS.read_bytes()
    with api.client("explorer") as client:
        response = upload(client, "lumière ü — Kepler-10.fits", content)
    assert response.status_code == 201, response.text
    body = response.json()
    dataset = body["dataset"]
    assert dataset["kind"] == "lightcurve" and dataset["format"] == "fits"
    assert dataset["filename"] == "lumière ü — Kepler-10.fits"
    assert dataset["sha256"] == hashlib.sha256(content).hexdigest()
    assert dataset["size_bytes"] == len(content) and dataset["status"] == "validated"
    report = dataset["report"]["lightcurve"]
    assert report["mission"] == "kepler" and report["target_id"] == "KIC 10797460"
    assert report["n_points"] > 1000 and report["time_start_bjd"] > 2_454_833
    stored = api.settings.uploads_path / body["dataset_id"]
    assert stored.read_bytes() == content  # named by its id, never by the client's name
    assert _incoming(api) == []


def test_upload_catalog_tables_csv_gzip_and_json(api: Api) -> None:
    table = koi_slice(30)
    records = [
        {"object_id": "MY-1", "period_days": 3.5, "depth_ppm": 800, "star_teff_k": 5700},
        {"object_id": "MY-2", "period_days": 12.25, "duration_hours": 4.0},
    ]
    with api.client("explorer") as client:
        csv_r = upload(client, "koi.csv", table)
        gz_r = upload(client, "koi.csv.gz", gzip.compress(table))
        json_r = upload(client, "mine.json", json.dumps(records).encode())
    for response in (csv_r, gz_r):
        assert response.status_code == 201, response.text
        report = response.json()["dataset"]["report"]
        assert response.json()["dataset"]["kind"] == "catalog"
        assert report["catalog"]["catalog_kind"] == "koi"
        assert report["catalog"]["n_candidates"] == 30
    assert csv_r.json()["dataset"]["sha256"] != gz_r.json()["dataset"]["sha256"]
    assert json_r.status_code == 201, json_r.text
    assert json_r.json()["dataset"]["format"] == "json"
    assert json_r.json()["dataset"]["report"]["catalog"]["catalog_kind"] == "harmonised"


def test_upload_text_light_curves_csv_and_json(api: Api) -> None:
    from exoguard import read_lightcurve

    lc = read_lightcurve(KEPLER_FITS)
    table = "time,flux,flux_err\n" + "\n".join(
        f"{t:.6f},{f:.7f},{e:.7f}"
        for t, f, e in zip(lc.time_bjd, lc.flux, lc.flux_err, strict=True)
    )
    records = {"time": lc.time_bjd.tolist(), "flux": lc.flux.tolist()}
    with api.client("explorer") as client:
        as_csv = upload(client, "kepler10.csv", table.encode())
        as_json = upload(client, "kepler10.json", json.dumps(records).encode())
    for response, fmt in ((as_csv, "csv"), (as_json, "json")):
        assert response.status_code == 201, response.text
        dataset = response.json()["dataset"]
        assert dataset["kind"] == "lightcurve" and dataset["format"] == fmt
        report = dataset["report"]["lightcurve"]
        assert report["n_points"] == lc.n_points
        assert report["time_start_bjd"] == pytest.approx(lc.time_bjd[0], abs=1e-5)


def test_client_file_name_never_becomes_a_path(api: Api) -> None:
    before = set(stored_files(api.settings))
    with api.client("explorer") as client:
        response = upload(client, "../../../etc/passwd.csv", koi_slice(3))
    assert response.status_code == 201, response.text
    dataset_id = response.json()["dataset_id"]
    assert response.json()["dataset"]["filename"] == "passwd.csv"
    added = set(stored_files(api.settings)) - before
    assert added == {api.settings.uploads_path / dataset_id}
    assert not (api.settings.var_dir / "etc").exists()


def _bad_uploads() -> list[tuple[str, str, bytes, int, str]]:
    fits = KEPLER_FITS.read_bytes()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
    return [
        ("oversized", "big.csv", b"a,b\n" + b"1,2\n" * 1_600_000, 413, "upload limit of 5 MB"),
        ("corrupt fits", "bad.fits", b"SIMPLE  =  T" + b"\x00garbage" * 500, 415, "FITS"),
        ("truncated fits", "cut.fits", fits[:30_000], 415, "cut.fits"),
        ("wrong type", "photo.png", png, 415, "binary"),
        ("empty", "empty.csv", b"", 415, "empty"),
        ("blank", "blank.csv", b"  \n\n ", 415, "empty"),
        ("utf-16", "koi16.csv", koi_slice(2).decode().encode("utf-16"), 415, "UTF"),
        ("neither", "notes.csv", b"colour,taste\nred,sweet\nblue,sour\n", 415, "neither"),
        ("header only", "k.csv", b"kepid,kepoi_name,koi_disposition,koi_period\n", 422, "no data"),
        ("bad json", "broken.json", b'[{"object_id": "x", "period_days": ', 415, "JSON"),
        ("unicode name", "ünïcødé 日本.fits", b"SIMPLE  = T\n" + b"\x01" * 5000, 415, "日本.fits"),
    ]


@pytest.mark.parametrize(
    ("case", "name", "content", "status", "needle"),
    _bad_uploads(),
    ids=[case[0] for case in _bad_uploads()],
)
def test_bad_upload_is_refused_and_nothing_is_stored(
    api: Api, case: str, name: str, content: bytes, status: int, needle: str
) -> None:
    rows, files = api.count(Dataset), stored_files(api.settings)
    with api.client("explorer") as client:
        response = upload(client, name, content)
    assert response.status_code == status, (case, response.text)
    assert needle in response.json()["detail"], response.json()
    assert api.count(Dataset) == rows
    assert stored_files(api.settings) == files
    assert _incoming(api) == []


def test_size_limit_holds_while_streaming_without_content_length(api: Api) -> None:
    boundary = "exoguardtestboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="stream.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    sent = [0]

    def body() -> Iterator[bytes]:  # chunked: the server cannot know the size in advance
        yield head + b"a,b\n"
        for _ in range(200):  # 200 x 64 KiB = 13 MB, over the 5 MB limit
            sent[0] += 1
            yield b"1,2\n" * 16384
        yield f"\r\n--{boundary}--\r\n".encode()

    rows, files = api.count(Dataset), stored_files(api.settings)
    with api.client("explorer") as client:
        response = client.post(
            "/api/data/upload",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert response.status_code == 413 and "5 MB" in response.json()["detail"]
    assert api.count(Dataset) == rows and stored_files(api.settings) == files
    assert _incoming(api) == []


def test_upload_request_shape_errors(api: Api) -> None:
    rows = api.count(Dataset)
    with api.client("explorer") as client:
        wrong_field = client.post(
            "/api/data/upload", files={"upload": ("koi.csv", koi_slice(2), "text/csv")}
        )
        assert wrong_field.status_code == 422 and "'file'" in wrong_field.json()["detail"]
        as_json = client.post("/api/data/upload", json={"file": "koi.csv"})
        assert as_json.status_code == 422 and "multipart/form-data" in as_json.json()["detail"]
        declared = client.post(
            "/api/data/upload",
            content=b"x",
            headers={
                "Content-Type": "multipart/form-data; boundary=zzz",
                "Content-Length": str(10**9),
            },
        )
        assert declared.status_code == 413
    assert api.count(Dataset) == rows and _incoming(api) == []


def test_upload_needs_login_and_csrf(api: Api) -> None:
    rows = api.count(Dataset)
    with api.client() as anonymous:
        assert upload(anonymous, "koi.csv", koi_slice(2)).status_code == 401
    with api.client("explorer", csrf=False) as client:
        response = upload(client, "koi.csv", koi_slice(2))
        assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert api.count(Dataset) == rows


# ----------------------------------------------------------------------------- reading back
def test_validate_and_list_follow_ownership(api: Api) -> None:
    with api.client("explorer") as client:
        dataset_id = upload(client, "mine.csv", koi_slice(4)).json()["dataset_id"]
        own = client.get(f"/api/data/validate?dataset_id={dataset_id}")
        assert own.status_code == 200
        assert own.json()["report"]["catalog"]["n_rows_read"] == 4
        listed = [d["id"] for d in client.get("/api/data/datasets").json()["datasets"]]
        assert dataset_id in listed
        assert client.get("/api/data/validate").status_code == 422
        assert client.get("/api/data/validate?dataset_id=nope").status_code == 404
        assert client.get("/api/data/datasets?kind=video").status_code == 422
    with api.client("other") as client:
        denied = client.get(f"/api/data/validate?dataset_id={dataset_id}")
        # another user's dataset answers exactly like a missing one
        assert denied.status_code == 404
        assert denied.json()["detail"] == f"dataset {dataset_id!r} not found"
        listed = [d["id"] for d in client.get("/api/data/datasets").json()["datasets"]]
        assert dataset_id not in listed
    with api.client("researcher") as client:
        assert client.get(f"/api/data/validate?dataset_id={dataset_id}").status_code == 200
        listed = [d["id"] for d in client.get("/api/data/datasets?limit=500").json()["datasets"]]
        assert dataset_id in listed
    with api.client() as client:
        assert client.get(f"/api/data/validate?dataset_id={dataset_id}").status_code == 401
        assert client.get("/api/data/datasets").status_code == 401


# ----------------------------------------------------------------------------- preprocessing
def test_preprocess_catalog_stores_candidates_and_predictions(api: Api) -> None:
    with api.client("explorer") as client:
        dataset_id = upload(client, "koi40.csv", koi_slice(40)).json()["dataset_id"]
        started = client.post("/api/data/preprocess", json={"dataset_id": dataset_id})
        assert started.status_code == 202, started.text
        job = wait_for_job(client, started.json()["job_id"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["n_candidates"] == 40 and result["n_predictions"] == 40
    ids = result["candidate_ids"]
    with session_scope(api.factory) as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None and dataset.status == "preprocessed"
        candidates = [session.get(Candidate, i) for i in ids]
        assert all(c is not None and c.mission == "kepler" for c in candidates)
        assert {c.object_id for c in candidates if c} >= {"K00752.01", "K00752.02"}
        for cid in ids:
            preds = session.query(Prediction).filter(Prediction.candidate_id == cid).all()
            assert len(preds) >= 1
            assert all(0 <= p.probability <= 1 and p.uncertainty >= 0 for p in preds)
            assert {p.model_version for p in preds} == {api.model_version}


def _modified_koi(n_rows: int, *, factor: float) -> bytes:
    frame = pd.read_csv(io.BytesIO(koi_slice(n_rows)), comment="#")
    frame["koi_period"] = frame["koi_period"] * factor
    return frame.to_csv(index=False).encode()


def test_explorer_uploads_never_rewrite_stored_candidates(api: Api) -> None:
    with api.client("researcher") as client:
        first = upload(client, "koi.csv", koi_slice(5)).json()["dataset_id"]
        job = client.post("/api/data/preprocess", json={"dataset_id": first}).json()["job_id"]
        assert wait_for_job(client, job)["status"] == "succeeded"
    with session_scope(api.factory) as session:
        before = session.query(Candidate).filter(Candidate.object_id == "K00752.01").one()
        period = before.period_days
    with api.client("explorer") as client:
        forged = upload(client, "koi-forged.csv", _modified_koi(5, factor=3.0)).json()
        job = client.post("/api/data/preprocess", json={"dataset_id": forged["dataset_id"]})
        view = wait_for_job(client, job.json()["job_id"])
    assert view["status"] == "succeeded", view
    assert view["result"]["written"]["kept_stored"] == 5
    with session_scope(api.factory) as session:
        after = session.query(Candidate).filter(Candidate.object_id == "K00752.01").one()
        assert after.period_days == pytest.approx(period, rel=0, abs=0)


def test_preprocess_light_curve_finds_toi_114(api: Api) -> None:
    with api.client("explorer") as client:
        dataset_id = upload(client, "toi114.fits", TOI114_FITS.read_bytes()).json()["dataset_id"]
        started = client.post(
            "/api/data/preprocess",
            json={"dataset_id": dataset_id, "options": {"max_planets": 1}},
        )
        job = wait_for_job(client, started.json()["job_id"], timeout_s=240)
    assert job["status"] == "succeeded", job
    assert job["result"]["n_candidates"] == 1 and job["result"]["n_predictions"] == 1
    with session_scope(api.factory) as session:
        found = session.get(Candidate, job["result"]["candidate_ids"][0])
        assert found is not None
        assert found.origin == "search" and found.dataset_id == dataset_id
        assert found.object_id == f"TIC 25155310.01 [{dataset_id[:8]}]"
        assert found.host_id == "TIC 25155310" and found.mission == "tess"
        # TOI-114.01: P = 3.28879 d (TOI catalog)
        assert found.period_days == pytest.approx(3.28879, abs=0.01)
        assert found.depth_ppm is not None and 3000 < found.depth_ppm < 12000
        assert found.features is not None and found.features["sde"] > 7


def test_preprocess_access_and_bad_requests(api: Api) -> None:
    with api.client("explorer") as client:
        dataset_id = upload(client, "koi.csv", koi_slice(2)).json()["dataset_id"]
        bad = client.post(
            "/api/data/preprocess",
            json={"dataset_id": dataset_id, "options": {"max_period_days": -4}},
        )
        assert bad.status_code == 422 and "max_period_days" in bad.json()["detail"]
        unknown = client.post(
            "/api/data/preprocess", json={"dataset_id": dataset_id, "options": {"fast": True}}
        )
        assert unknown.status_code == 422 and "min_period_days" in unknown.json()["detail"]
        assert client.post("/api/data/preprocess", json={}).status_code == 422
        missing = client.post("/api/data/preprocess", json={"dataset_id": "nope"})
        assert missing.status_code == 404
    with api.client("other") as client:
        assert (
            client.post("/api/data/preprocess", json={"dataset_id": dataset_id}).status_code == 404
        )
    with api.client() as client:
        assert (
            client.post("/api/data/preprocess", json={"dataset_id": dataset_id}).status_code == 401
        )


def test_upload_rate_limit_is_429_with_retry_after(
    postgres_base_url: str | None, tmp_path: Path
) -> None:
    with api_world(
        postgres_base_url,
        tmp_path / "limited",
        with_model=False,
        redis_url=redis_url_for_tests(required=False),
        EXOGUARD_UPLOAD_RATE_LIMIT_PER_MINUTE=2,
    ) as api:
        with api.client("explorer") as client:
            statuses = [upload(client, f"k{i}.csv", koi_slice(2)).status_code for i in range(2)]
            assert statuses == [201, 201]
            limited = upload(client, "k3.csv", koi_slice(2))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "2 upload requests a minute" in limited.json()["detail"]
        assert api.count(Dataset) == 2
        with api.client("other") as client:  # counted per client
            assert upload(client, "k.csv", koi_slice(2)).status_code == 201
