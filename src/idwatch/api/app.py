"""The FastAPI application: JSON API, console pages, static files, errors people can read.

No interactive docs page (Swagger UI loads from a CDN); the OpenAPI schema is at
``/api/v1/openapi.json`` for clients and generators, behind the same authentication.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from idwatch import __version__
from idwatch.api import decide_routes, ingest_routes, pages, routes
from idwatch.api.auth import current_user
from idwatch.api.data import Catalog
from idwatch.api.security import FailedLogins, SecurityHeaders, SessionStore
from idwatch.report.jsonreport import json_default
from idwatch.store import Store

HERE = Path(__file__).parent


class RFC3339JSONResponse(JSONResponse):
    """JSON with every time RFC 3339 UTC with ``Z`` (the rule of all idwatch JSON)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=json_default, ensure_ascii=False).encode("utf-8")


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def create_app(store: Store, *, secure_cookies: bool = False) -> FastAPI:
    """The app over one store. ``secure_cookies``: set when served over HTTPS (a TLS proxy)."""
    app = decide_routes.DecideFirst(  # POST /v1/decide answered before FastAPI's stack
        title="idwatch",
        version=__version__,
        description="Campaigns, accounts, alerts and analyst marks of an idwatch store. "
        "Authenticate with `Authorization: Bearer <token>` (`idwatch users add NAME --role viewer|analyst`).",
        default_response_class=RFC3339JSONResponse,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.catalog = Catalog(store)
    app.state.sessions = SessionStore()
    app.state.failures = FailedLogins()
    app.state.secure_cookies = secure_cookies
    app.add_middleware(SecurityHeaders)
    # POST /v1/decide first: routes are matched in order, and it is the one called per login
    app.include_router(decide_routes.router)
    app.include_router(routes.router)
    app.include_router(ingest_routes.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/api/v1/openapi.json", include_in_schema=False, dependencies=[Depends(current_user)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"where": _where(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        text = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
        return RFC3339JSONResponse(
            {"error": f"invalid request: {text}", "problems": problems}, status_code=422
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/v1/")):
            return RFC3339JSONResponse(
                {"error": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        page = pages.templates.get_template("error.html").render(status=exc.status_code, message=exc.detail)
        return HTMLResponse(page, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(pages.LoginRequired)
    async def to_login(request: Request, exc: pages.LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    return app
