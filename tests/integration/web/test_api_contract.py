"""The OpenAPI document is what the server does: schemathesis over every operation, as each role.

Hypothesis draws requests from `/openapi.json` (valid ones and invalid ones); each response
must not be a server error, must have a documented status code and content type, and must
match its documented schema. The example count per operation and role is bounded so the
whole run stays within a few minutes (``EXOGUARD_CONTRACT_EXAMPLES``, default 12).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import TOI114_FITS, Api, api_world, upload, wait_for_job  # noqa: E402

from exoguard.jobs.execute import Recovery  # noqa: E402
from exoguard.jobs.runner import create_job_row  # noqa: E402
from exoguard.web.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE  # noqa: E402

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("EXOGUARD_CONTRACT_EXAMPLES", "12"))
ROLES = ("anonymous", "explorer", "researcher", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Operations that change who is logged in or start long work: called, but not fuzzed as a
#: logged-in user, so the other operations keep their session (logout would end it) and the
#: run stays bounded (training jobs).
SESSION_ENDING = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password")}
#: Fewer examples where each call costs seconds (a password hash; a PDF, drawn without plots
#: here: the plots are checked in test_export_api).
SLOW = {("POST", "/api/auth/login"): 2, ("POST", "/api/auth/register"): 2}
PDF = ("POST", "/api/export/pdf")


class QueueOnlyRunner:
    """Keeps every submitted job as a queued row and runs none: the fuzzer submits training
    and preprocessing jobs by the dozen, and running them would measure training, not the
    API (job execution has its own tests in test_jobs_runners.py)."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str:
        return create_job_row(self.factory, kind, params, owner_id)

    def recover(self, *, job_ids: list[str] | None = None) -> Recovery:
        return Recovery()

    def check(self) -> str | None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


@pytest.fixture(scope="module")
def world(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("contract")
    with api_world(postgres_base_url, Path(folder) / "world") as api:
        with api.client("explorer") as client:  # one real upload with candidates
            made = upload(client, "toi114.fits", TOI114_FITS.read_bytes())
            assert made.status_code == 201, made.text
            job = client.post(
                "/api/data/preprocess", json={"dataset_id": made.json()["dataset_id"]}
            ).json()
            assert wait_for_job(client, job["job_id"])["status"] == "succeeded"
        state = api.app.state.exoguard
        state.jobs.stop()
        state.jobs = QueueOnlyRunner(state.sessions)
        yield api


def _auth(api: Api, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    with api.client(role) as client:
        csrf = client.headers[CSRF_HEADER]
        cookies = f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}; {CSRF_COOKIE}={csrf}"
    return {"Cookie": cookies, CSRF_HEADER: csrf}


def _operations(api: Api) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzzer(operation: Any, key: tuple[str, str], headers: dict[str, str]) -> Any:
    """A Hypothesis test of one operation: bounded examples, every contract check."""

    @settings(
        max_examples=min(EXAMPLES, SLOW.get(key, EXAMPLES)),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        if key == PDF and isinstance(case.body, dict):
            case.body["plots"] = False
        case.call_and_validate(headers=headers, checks=CHECKS)

    return run


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_keeps_its_contract(world: Api, role: str) -> None:
    headers = _auth(world, role)
    operations = _operations(world)
    assert len(operations) >= 30
    failures: list[str] = []
    timings: dict[str, float] = {}
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        if role != "anonymous" and key in SESSION_ENDING:
            continue

        run = _fuzzer(operation, key, headers)
        started = time.perf_counter()
        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
        timings[f"{operation.method.upper()} {operation.path}"] = time.perf_counter() - started
    print("slowest:", sorted(timings.items(), key=lambda kv: -kv[1])[:5])
    assert not failures, "\n\n".join(failures)
