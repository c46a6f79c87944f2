"""The old ``/api/model/...`` URLs: a permanent redirect to ``/api/models/...``.

Every model route lives under ``/api/models`` now. A 308 keeps the method and the body, so
an old client's ``POST /api/model/predict`` still works; ``Deprecation`` and ``Link`` tell it
where to go. These routes are left out of the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse

from exoguard.web.middleware import API_PREFIX

OLD_PREFIX = "/model"
NEW_PREFIX = "/models"

router = APIRouter(prefix=OLD_PREFIX, include_in_schema=False)


@router.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def moved(path: str, request: Request) -> RedirectResponse:
    """308 to the same path under ``/api/models`` (query string kept)."""
    url = f"{API_PREFIX}{NEW_PREFIX}/{path}"
    if request.url.query:
        url = f"{url}?{request.url.query}"
    return RedirectResponse(
        url,
        status_code=status.HTTP_308_PERMANENT_REDIRECT,
        headers={"Deprecation": "true", "Link": f'<{url}>; rel="successor-version"'},
    )
