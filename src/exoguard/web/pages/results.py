"""The results table: candidates with their newest verdict, sortable and filterable."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from exoguard.catalogs.schema import MISSIONS
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import verdict_of
from exoguard.web.deps import SessionDep
from exoguard.web.pages._common import PageUser, queue_policy, render
from exoguard.web.pages._queries import SORT_COLUMNS, VERDICTS, ResultFilters, results
from exoguard.web.params import page_query

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _number(raw: str | None, name: str, errors: list[str]) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"{name} must be a number between 0 and 1; got {raw!r}")
        return None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        errors.append(f"{name} must be between 0 and 1; got {raw!r}")
        return None
    return value


def _choice(raw: str | None, allowed: tuple[str, ...], name: str, errors: list[str]) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        errors.append(f"{name} must be one of {', '.join(allowed)}; got {raw!r}")
        return None
    return raw


@router.get("/results", response_class=HTMLResponse)
def results_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    verdict: str | None = None,
    mission: str | None = None,
    min_p: str | None = None,
    max_p: str | None = None,
    max_u: str | None = None,
    q: str | None = None,
    sort: str = "probability",
    dir: str = "desc",
    page: Annotated[int, page_query(page_size=PAGE_SIZE)] = 1,
) -> HTMLResponse:
    """Candidates and their newest predictions, one page at a time."""
    errors: list[str] = []
    filters = ResultFilters(
        verdict=_choice(verdict, VERDICTS, "verdict", errors),
        mission=_choice(mission, MISSIONS, "mission", errors),
        min_probability=_number(min_p, "minimum probability", errors),
        max_probability=_number(max_p, "maximum probability", errors),
        max_uncertainty=_number(max_u, "maximum uncertainty", errors),
        search=(q or "").strip()[:64] or None,
        sort=sort if sort in SORT_COLUMNS else "probability",
        descending=dir != "asc",
    )
    policy = queue_policy(request.app.state.exoguard.settings)
    rows, total = results(
        session,
        filters,
        user=user,
        policy=policy,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    table = _table_rows(rows, policy)
    link, sort_link = _links(filters, min_p=min_p, max_p=max_p, max_u=max_u)
    n_pages = max(1, math.ceil(total / PAGE_SIZE))
    return render(
        request,
        "results.html",
        user=user,
        page_id="results",
        rows=table,
        total=total,
        filters=filters,
        errors=errors,
        missions=MISSIONS,
        verdicts=VERDICTS,
        raw={"min_p": min_p or "", "max_p": max_p or "", "max_u": max_u or ""},
        sort_link=sort_link,
        page=page,
        n_pages=n_pages,
        prev_link=link(page=page - 1) if page > 1 else None,
        next_link=link(page=page + 1) if page < n_pages else None,
    )


def _table_rows(rows: Sequence[Any], policy: QueuePolicy) -> list[dict[str, Any]]:
    """Candidate, newest prediction and the verdict the queue policy gives it."""
    return [
        {
            "candidate": cand,
            "prediction": pred,
            "verdict": verdict_of(
                pred.label,
                pred.probability,
                pred.uncertainty,
                policy=policy,
                vetting_status=status,
                consensus_label=consensus,
                consensus_share=share,
            ),
        }
        for cand, pred, status, consensus, share in rows
    ]


def _links(
    filters: ResultFilters, *, min_p: str | None, max_p: str | None, max_u: str | None
) -> tuple[Callable[..., str], Callable[[str], str]]:
    """Builders of result-page links keeping the filters: any change, and a column sort."""
    query: dict[str, Any] = {
        k: v
        for k, v in {
            "verdict": filters.verdict,
            "mission": filters.mission,
            "min_p": min_p or None,
            "max_p": max_p or None,
            "max_u": max_u or None,
            "q": filters.search,
        }.items()
        if v
    }

    def link(**changes: Any) -> str:
        params = {**query, "sort": filters.sort, "dir": "desc" if filters.descending else "asc"}
        params.update(changes)
        return "/results?" + urlencode({k: v for k, v in params.items() if v is not None})

    def sort_link(column: str) -> str:
        same = filters.sort == column
        direction = ("asc" if filters.descending else "desc") if same else "desc"
        return link(sort=column, dir=direction, page=None)

    return link, sort_link
