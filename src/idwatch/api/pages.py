"""The console: server-rendered pages over the same catalog as the JSON API.

Login takes an API token and gives a session cookie; every other page needs that session and
sends people without one to the login page. Forms that change something carry the session's
CSRF token; the alerts page's script sends it as ``X-CSRF-Token``.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from idwatch.analyst_marks import VERDICTS, add_mark
from idwatch.api.auth import check_rate, client_of
from idwatch.api.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_SECONDS, Session, same_token
from idwatch.api.users import authenticate
from idwatch.report.charts import funnel_svg, timeline_svg
from idwatch.report.jsonreport import json_default

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["when"] = lambda v: (
    json_default(v) if v is not None and not isinstance(v, str) else v or ""
)
templates.env.filters["n"] = lambda v: f"{int(v or 0):,}"
router = APIRouter(include_in_schema=False)
_CHART_LOCK = threading.Lock()
_CHARTS: dict[tuple[int, str, str | None], str] = {}


class LoginRequired(Exception):
    """Raised by pages without a session: the app answers with a redirect to /login."""


def _session(request: Request) -> Session:
    session = request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired()
    return session


def _render(request: Request, name: str, session: Session | None, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": session.user if session else None, "csrf": session.csrf if session else "", **ctx},
    )


@router.get("/login")
def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", None, login_csrf=token, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/login")
def login(request: Request, token: str = Form(""), csrf_token: str = Form("")) -> Response:
    if not same_token(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise HTTPException(403, "the login form expired; reload the page")
    check_rate(request)
    user = authenticate(request.app.state.store, token.strip())
    if user is None:
        request.app.state.failures.failed(client_of(request))
        return RedirectResponse("/login?error=" + quote("That token is not valid."), status_code=303)
    sid, _session_ = request.app.state.sessions.create(user)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    session = _session(request)
    if not same_token(csrf_token, session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    request.app.state.sessions.drop(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def headline_page(request: Request) -> HTMLResponse:
    session = _session(request)
    return _render(request, "headline.html", session, page="headline", h=request.app.state.catalog.headline())


@router.get("/campaigns")
def campaigns_page(request: Request) -> HTMLResponse:
    session = _session(request)
    return _render(
        request, "campaigns.html", session, page="campaigns", campaigns=request.app.state.catalog.campaigns()
    )


@router.get("/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: str) -> HTMLResponse:
    session = _session(request)
    c = request.app.state.catalog.campaign(campaign_id)
    if c is None:
        raise HTTPException(404, f"no campaign {campaign_id!r}")
    return _render(request, "campaign.html", session, page="campaigns", c=c, verdicts=VERDICTS)


@router.post("/campaigns/{campaign_id}/mark")
def campaign_mark_form(
    request: Request,
    campaign_id: str,
    verdict: str = Form(...),
    comment: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    session = _session(request)
    if not same_token(csrf_token, session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    if not session.user.can_mark:
        raise HTTPException(403, "marking needs role 'analyst'")
    if request.app.state.catalog.campaign(campaign_id) is None:
        raise HTTPException(404, f"no campaign {campaign_id!r}")
    if verdict not in VERDICTS:
        raise HTTPException(422, f"verdict must be one of {', '.join(VERDICTS)}")
    add_mark(
        request.app.state.store, "campaign", campaign_id, verdict, comment.strip() or None, session.user.name
    )
    return RedirectResponse(f"/campaigns/{quote(campaign_id)}#mark", status_code=303)


@router.get("/alerts")
def alerts_page(request: Request) -> HTMLResponse:
    session = _session(request)
    return _render(request, "alerts.html", session, page="alerts", verdicts=VERDICTS)


def _views(request: Request, campaign: str | None) -> list[Any]:
    views = request.app.state.catalog.report().campaigns
    if campaign is not None:
        views = [v for v in views if v.id == campaign]
        if not views:
            raise HTTPException(404, f"no campaign {campaign!r}")
    return views


def _chart(request: Request, kind: str, campaign: str | None) -> Response:
    """The HTML report's chart as an image; pyplot is not thread-safe, so one drawing at a time."""
    _session(request)
    views = _views(request, campaign)
    key = (id(request.app.state.catalog.report()), kind, campaign)
    with _CHART_LOCK:
        svg = _CHARTS.get(key)
        if svg is None:
            svg = (timeline_svg if kind == "timeline" else funnel_svg)(views)
            if len(_CHARTS) > 256:
                _CHARTS.clear()
            _CHARTS[key] = svg
    return Response(svg, media_type="image/svg+xml")


@router.get("/charts/timeline.svg")
def timeline_chart(request: Request, campaign: str | None = None) -> Response:
    return _chart(request, "timeline", campaign)


@router.get("/charts/funnel.svg")
def funnel_chart(request: Request, campaign: str | None = None) -> Response:
    return _chart(request, "funnel", campaign)
