"""Issue 13, item 8: integers past the database's range answer 422 or 404, never 500.

Ids are 32-bit integers on PostgreSQL (SQLite stops at 2**63 - 1); ``/candidates/2147483648``
and 15 other routes reached the database with such a number and failed with a 500. Every
integer a route takes is now declared with a bound (``exoguard.web.params``). The routes are
collected from ``app.routes``, so a route added without a bound fails here.

The HTTP checks run on PostgreSQL (required with CI=true) and on SQLite.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import Api, api_world  # noqa: E402

from exoguard.web.app import create_app  # noqa: E402
from exoguard.web.params import MAX_DB_INT  # noqa: E402

pytestmark = pytest.mark.integration

#: Past PostgreSQL's integer, past SQLite's (and int64's), and far past both.
TOO_BIG = (2**31, 2**63, 10**20)


def _routes() -> list[tuple[str, str, APIRoute]]:
    app = create_app()
    out = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute):
            for method in sorted(context.methods or ()):
                out.append((method, context.path, context.route))
    return out


ROUTES = _routes()


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return any(_is_int(arg) for arg in typing.get_args(annotation))


def _bounds(metadata: list[Any]) -> tuple[int | None, int | None]:
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def _int_params(route: APIRoute) -> list[tuple[str, str, int | None, int | None]]:
    """(where, name, lower bound, upper bound) of each integer path or query parameter."""
    found = []
    for where, params in (
        ("path", route.dependant.path_params),
        ("query", route.dependant.query_params),
    ):
        for param in params:
            if _is_int(param.field_info.annotation):
                low, high = _bounds(param.field_info.metadata)
                found.append((where, param.name, low, high))
    return found


def _body_int_fields(route: APIRoute) -> list[tuple[str, int | None, int | None]]:
    """(model.field, lower bound, upper bound) of each integer field of the JSON body."""
    found = []
    for param in route.dependant.body_params:
        model = param.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            if not _is_int(field.annotation):
                continue
            metadata = list(field.metadata)
            for arg in typing.get_args(field.annotation):  # list[DbId], DbId | None
                metadata.extend(getattr(arg, "__metadata__", ()))
                for inner in typing.get_args(arg):
                    metadata.extend(getattr(inner, "__metadata__", ()))
            found.append((f"{model.__name__}.{name}", *_bounds(_flatten(metadata))))
    return found


def _flatten(metadata: list[Any]) -> list[Any]:
    """The constraints themselves: a FieldInfo inside ``Annotated`` holds them in `.metadata`."""
    out: list[Any] = []
    for item in metadata:
        out.extend(getattr(item, "metadata", [item]))
    return out


def test_routes_were_collected() -> None:
    paths = {path for _, path, _ in ROUTES}
    assert {"/candidates/{candidate_id}", "/vetting/{item_id}", "/api/jobs", "/results"} <= paths


@pytest.mark.parametrize(
    ("method", "path", "route"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_every_integer_parameter_is_bounded(method: str, path: str, route: APIRoute) -> None:
    for where, name, low, high in _int_params(route):
        assert low is not None and low >= 0, f"{method} {path}: {where} {name} has no lower bound"
        assert high is not None and high <= MAX_DB_INT, (
            f"{method} {path}: {where} {name} must be declared with a bound <= {MAX_DB_INT} "
            "(use the aliases of exoguard.web.params)"
        )
    for name, low, high in _body_int_fields(route):
        assert low is not None and high is not None and high <= MAX_DB_INT, (
            f"{method} {path}: body field {name} must be bounded (exoguard.web.params.DbId)"
        )


# ----------------------------------------------------------------------------- over HTTP
@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def api(
    request: pytest.FixtureRequest,
    postgres_base_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Api]:
    base = postgres_base_url if request.param == "postgresql" else None
    if request.param == "postgresql" and base is None:
        pytest.skip("PostgreSQL unreachable (not CI)")
    folder = tmp_path_factory.mktemp(f"bounds_{request.param}")
    with api_world(base, folder, with_model=False) as world:
        yield world


def _url(path: str, route: APIRoute, *, target: str, value: int) -> str:
    """`path` with `target` set to `value` and every other path parameter filled in."""
    url = path
    query = []
    for where, name, _, _ in _int_params(route):
        if where == "path":
            url = url.replace("{" + name + "}", str(value if name == target else 1))
        elif name == target:
            query.append(f"{name}={value}")
    for param in route.dependant.path_params:
        url = url.replace("{" + param.name + "}", "x")
    return url + ("?" + "&".join(query) if query else "")


CASES = [
    (method, path, route, name)
    for method, path, route in ROUTES
    for _, name, _, _ in _int_params(route)
]


@pytest.mark.parametrize(
    ("method", "path", "route", "name"), CASES, ids=[f"{m} {p} {n}" for m, p, _, n in CASES]
)
@pytest.mark.parametrize("who", ["admin", None])
def test_huge_integers_answer_422_naming_the_bound(
    api: Api, method: str, path: str, route: APIRoute, name: str, who: str | None
) -> None:
    with api.client(who) as client:
        for value in TOO_BIG:
            url = _url(path, route, target=name, value=value)
            response = client.request(
                method, url, json={"role": "explorer"} if method == "POST" else None
            )
            if who is None and response.status_code in (401, 403):
                continue  # the login or CSRF check may come first; still no 500
            assert response.status_code == 422, (url, response.status_code, response.text)
            assert "less than or equal to" in response.text, response.text
            assert name in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/candidates/2147483648",
        "/candidates/9223372036854775808",
        "/vetting/9223372036854775808",
        "/charts/candidates/99999999999999999999",
        "/charts/explain/2147483648",
        "/charts/vetting/2147483648",
        "/charts/datasets/x?candidate_id=2147483648",
        "/results?page=99999999999999999999",
        "/results?page=0",
        "/api/jobs?offset=2147483648",
        "/api/data/datasets?offset=9223372036854775808",
        "/api/models/explain?candidate_id=2147483648",
        "/api/vetting/stats?item_offset=2147483648",
        "/api/admin/users?offset=2147483648",
    ],
)
@pytest.mark.parametrize("who", ["admin", "explorer", None])
def test_reported_urls_never_give_500(api: Api, url: str, who: str | None) -> None:
    with api.client(who) as client:
        response = client.get(url)
    assert response.status_code in (401, 403, 404, 422), (url, response.text)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/vetting/submit", {"item_id": 2**31, "label": "planet", "confidence": 3}),
        ("post", "/api/vetting/submit", {"item_id": 1, "label": "planet", "confidence": 2**63}),
        ("post", "/api/export/share", {"candidate_id": 2**31}),
        ("post", "/api/export/pdf", {"candidate_ids": [1, 2**63]}),
        ("post", "/api/export/csv", {"candidate_ids": [10**20]}),
        ("post", "/api/models/canary/evaluate", {"min_labels": 2**63}),
    ],
)
def test_huge_integers_in_json_bodies_answer_422(
    api: Api, method: str, url: str, body: dict[str, Any]
) -> None:
    with api.client("admin") as client:
        response = client.request(method, url, json=body)
    assert response.status_code == 422, response.text
    assert "less than or equal to" in response.text


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/candidates/{MAX_DB_INT}", 404),
        (f"/vetting/{MAX_DB_INT}", 404),
        (f"/charts/candidates/{MAX_DB_INT}", 404),
        (f"/charts/vetting/{MAX_DB_INT}", 404),
        (f"/api/models/explain?candidate_id={MAX_DB_INT}", 404),
        (f"/api/jobs?offset={MAX_DB_INT}", 200),
        (f"/api/data/datasets?offset={MAX_DB_INT}", 200),
        (f"/api/vetting/stats?item_offset={MAX_DB_INT}", 200),
        (f"/api/admin/users?offset={MAX_DB_INT}", 200),
        (f"/results?page={MAX_DB_INT // 50}", 200),
    ],
)
def test_the_largest_allowed_values_reach_the_database_safely(
    api: Api, url: str, status: int
) -> None:
    """The bound itself is a legal database value: the query runs and finds nothing."""
    with api.client("admin") as client:
        response = client.get(url)
    assert response.status_code == status, response.text
