"""The JSON API under ``/api/v1``: read the analysis, mark alerts and campaigns.

Lists are pages: ``limit`` (1-500) and ``offset``, answered as
``{"total", "limit", "offset", "next_offset", "items"}``. Times are RFC 3339 UTC with ``Z``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from idwatch.analyst_marks import MAX_COMMENT, add_mark, all_marks
from idwatch.api.auth import analyst, current_user
from idwatch.api.data import Catalog
from idwatch.api.users import User

router = APIRouter(prefix="/api/v1", dependencies=[Depends(current_user)])


def _found(item: dict[str, Any] | None, kind: str, key: str) -> dict[str, Any]:
    """``item``, or a 404 naming what was asked for."""
    if item is None:
        raise HTTPException(404, f"no {kind} {key!r}")
    return item


Viewer = Annotated[User, Depends(current_user)]
Analyst = Annotated[User, Depends(analyst)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]
Status = Literal["probed", "attacked", "compromised"]
StageName = Literal["recon", "credential", "recovery", "mfa", "compromise", "persistence"]
Verdict = Literal["true_positive", "false_positive", "benign"]


class MarkIn(BaseModel):
    """An analyst's judgement of an alert or a campaign."""

    verdict: Verdict
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


def catalog(request: Request) -> Catalog:
    return request.app.state.catalog


@router.get("/me", summary="Who you are and what you may do")
def me(user: Viewer) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "can_mark": user.can_mark}


@router.get("/headline", summary="Per campaign: attempts to identify accounts, attacked, compromised")
def headline(request: Request) -> dict[str, Any]:
    return catalog(request).headline()


@router.get("/campaigns", summary="Every campaign (EVENTS.md section 5, without its account list)")
def campaigns(
    request: Request,
    kind: Annotated[Literal["state", "criminal", "unknown"] | None, Query()] = None,
    mark: Annotated[Verdict | None, Query()] = None,
) -> list[dict[str, Any]]:
    items = catalog(request).campaigns()
    return [
        c
        for c in items
        if (kind is None or c.get("kind") == kind)
        and (mark is None or (c["mark"] or {}).get("verdict") == mark)
    ]


@router.get("/campaigns/{campaign_id}", summary="One campaign with its story")
def campaign(request: Request, campaign_id: str) -> dict[str, Any]:
    return _found(catalog(request).campaign(campaign_id), "campaign", campaign_id)


@router.get("/accounts", summary="Accounts any detection touched, furthest stage first")
def accounts(
    request: Request,
    status: Annotated[Status | None, Query()] = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    category: Annotated[str | None, Query(max_length=256)] = None,
    campaign: Annotated[str | None, Query(max_length=128)] = None,
    q: Annotated[str | None, Query(max_length=256, description="Part of the account name.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = catalog(request).accounts(
        status=status, tenant=tenant, category=category, campaign=campaign, q=q, limit=limit, offset=offset
    )
    return page.to_dict()


@router.get("/alerts", summary="Alerts, newest first, each with its evidence events")
def alerts(
    request: Request,
    stage: Annotated[StageName | None, Query()] = None,
    detection: Annotated[str | None, Query(max_length=128)] = None,
    account: Annotated[str | None, Query(max_length=256)] = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    campaign: Annotated[str | None, Query(max_length=128)] = None,
    min_score: Annotated[int | None, Query(ge=0, le=100)] = None,
    mark: Annotated[Literal["true_positive", "false_positive", "benign", "unmarked"] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="RFC 3339; alerts active at or after it.")] = None,
    until: Annotated[datetime | None, Query(description="RFC 3339; alerts that began before it.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name}: give a time zone (RFC 3339, e.g. 2019-09-30T14:00:00Z)")
    page = catalog(request).alerts(
        stage=stage,
        detection=detection,
        account=account,
        tenant=tenant,
        campaign=campaign,
        min_score=min_score,
        mark=mark,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return page.to_dict()


@router.get("/alerts/{alert_id}", summary="One alert with all its evidence events")
def alert(request: Request, alert_id: str) -> dict[str, Any]:
    return _found(catalog(request).alert(alert_id), "alert", alert_id)


@router.get("/events/{event_id}", summary="One stored event with its raw record (the pivot back to the log)")
def event(request: Request, event_id: str) -> dict[str, Any]:
    return _found(catalog(request).event(event_id), "event", event_id)


@router.get("/search", summary="Campaigns, accounts, alerts and events matching a text")
def search(
    request: Request,
    q: Annotated[str, Query(min_length=2, max_length=256)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return catalog(request).search(q, limit)


@router.get("/marks", summary="Every judgement recorded, oldest first (the history behind each mark)")
def marks(
    request: Request,
    target_kind: Annotated[Literal["alert", "campaign"] | None, Query()] = None,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
) -> list[dict[str, Any]]:
    return [
        m
        for m in all_marks(request.app.state.store)
        if (target_kind is None or m["target_kind"] == target_kind)
        and (target_id is None or m["target_id"] == target_id)
    ]


def _mark(request: Request, kind: str, target_id: str, body: MarkIn, user: User) -> dict[str, Any]:
    cat = catalog(request)
    exists = (
        target_id in cat.alert_ids()
        if kind == "alert"
        else any(c["id"] == target_id for c in cat.campaigns())
    )
    if not exists:
        raise HTTPException(404, f"no {kind} {target_id!r}")
    return add_mark(request.app.state.store, kind, target_id, body.verdict, body.comment, user.name)


@router.post("/alerts/{alert_id}/mark", status_code=201, summary="Mark an alert (analysts)")
def mark_alert(request: Request, alert_id: str, body: MarkIn, user: Analyst) -> dict[str, Any]:
    return _mark(request, "alert", alert_id, body, user)


@router.post("/campaigns/{campaign_id}/mark", status_code=201, summary="Mark a campaign (analysts)")
def mark_campaign(request: Request, campaign_id: str, body: MarkIn, user: Analyst) -> dict[str, Any]:
    """A campaign marked ``false_positive`` is left out of ``idwatch notify``."""
    return _mark(request, "campaign", campaign_id, body, user)
