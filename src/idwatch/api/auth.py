"""Who is asking: a bearer token (scripts) or a console session cookie (people), never nobody.

401 without credentials or with a wrong token (each wrong token counts as a failed login for
the rate limit), 403 when a viewer tries what only an analyst may, 403 when a cookie-session
request that changes something lacks its CSRF token.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from idwatch.api.security import SESSION_COOKIE, FailedLogins, SessionStore, same_token
from idwatch.api.users import User, authenticate

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def check_rate(request: Request) -> None:
    failures: FailedLogins = request.app.state.failures
    wait = failures.retry_after(client_of(request))
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed logins from this address; try again in {wait} s",
            {"Retry-After": str(wait)},
        )


def current_user(request: Request) -> User:
    """The authenticated user (FastAPI dependency of every API route)."""
    header = request.headers.get("authorization", "")
    if header:
        check_rate(request)
        scheme, _, token = header.partition(" ")
        user = authenticate(request.app.state.store, token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            request.app.state.failures.failed(client_of(request))
            raise HTTPException(401, "invalid API token", {"WWW-Authenticate": "Bearer"})
        return user
    sessions: SessionStore = request.app.state.sessions
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise HTTPException(
            401,
            "authentication required: send 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )
    if request.method in UNSAFE_METHODS and not same_token(request.headers.get("x-csrf-token"), session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token header)")
    return session.user


def analyst(request: Request) -> User:
    """An analyst (may mark); a viewer gets 403."""
    user = current_user(request)
    if not user.can_mark:
        raise HTTPException(403, f"user {user.name!r} has role {user.role!r}; marking needs role 'analyst'")
    return user
