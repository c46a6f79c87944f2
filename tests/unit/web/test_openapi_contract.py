"""The OpenAPI document declares what the server answers: error bodies, statuses, enums, media.

schemathesis (tests/integration/web/test_api_contract.py) checks responses against this
document; these tests pin the document itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exoguard.config import Settings
from exoguard.web.app import create_app

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(  # type: ignore[call-arg]
        EXOGUARD_VAR_DIR=folder, DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}"
    )
    return create_app(settings).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/")
    ]


def test_every_api_operation_documents_its_errors_with_one_body(document: dict) -> None:
    operations = _operations(document)
    assert len(operations) >= 30
    for method, path, op in operations:
        responses = op["responses"]
        for status in ("401", "403", "404", "422", "429", "503"):
            assert status in responses, (method, path, status)
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == ERROR_REF, (method, path, status)
        success = [s for s in responses if s.startswith("2")]
        assert success, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_uploads_document_413_and_415(document: dict) -> None:
    responses = document["paths"]["/api/data/upload"]["post"]["responses"]
    assert {"201", "413", "415"} <= set(responses)


def test_every_success_response_has_a_schema(document: dict) -> None:
    for method, path, op in _operations(document):
        for status, response in op["responses"].items():
            if status.startswith("2"):
                content = response["content"]
                assert content, (method, path)
                for media in content.values():
                    assert media.get("schema"), (method, path, status)


def test_file_exports_document_their_media_types(document: dict) -> None:
    csv = document["paths"]["/api/export/csv"]["post"]["responses"]["200"]["content"]
    pdf = document["paths"]["/api/export/pdf"]["post"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"] and list(pdf) == ["application/pdf"]


def test_enumerated_fields_are_enums(document: dict) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["VoteIn"]["properties"]["label"]["enum"] == ["planet", "false_positive"]
    assert schemas["RoleIn"]["properties"]["role"]["enum"] == ["explorer", "researcher", "admin"]
    assert schemas["TrainIn"]["properties"]["model"]["enum"] == ["gbm", "multibranch"]
    assert set(schemas["JobView"]["properties"]["status"]["enum"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
    }


def test_validation_errors_have_the_documented_shape(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        EXOGUARD_VAR_DIR=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"
    )
    from exoguard.store.migrate import upgrade

    upgrade(settings.database_url)
    with TestClient(create_app(settings)) as client:
        bad = client.post("/api/auth/login", json={"email": "a@b.org"})
        missing = client.get("/api/no-such-route")
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "RequestValidationError"
    assert body["detail"] == "password: Field required"
    assert body["errors"] == [{"field": "password", "message": "Field required", "type": "missing"}]
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
