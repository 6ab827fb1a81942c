"""Sessions, CSRF tokens, the failed-login rate limit and the security headers of every response.

Sessions live in the server's memory (a restart logs everyone out, nothing secret is written
to disk); the cookie holds only a random session id, HttpOnly and SameSite=Strict. Pages that
change something carry the session's CSRF token (a form field or the ``X-CSRF-Token`` header);
requests authenticated by a bearer token carry no ambient credential and need none.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from idwatch.api.users import User

SESSION_COOKIE = "idwatch_session"
LOGIN_CSRF_COOKIE = "idwatch_login_csrf"
#: A working day: an analyst logs in once per shift, a forgotten browser is logged out by morning.
SESSION_SECONDS = 12 * 3600
#: Failed logins allowed per client address in the window: a person mistyping a token a few
#: times passes, a script trying tokens is stopped after 10 in 5 minutes (429 until the window ends).
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 300

#: Pages: only our own scripts, styles and images; no framing, no form posts elsewhere.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Chart images are matplotlib SVGs with inline styles; loaded as <img>, they can run no script.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass
class Session:
    user: User
    csrf: str
    expires: float


@dataclass
class SessionStore:
    sessions: dict[str, Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, user: User) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), time.monotonic() + SESSION_SECONDS)
        with self.lock:
            self.sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self.lock:
            session = self.sessions.get(sid)
            if session and session.expires < time.monotonic():
                del self.sessions[sid]
                return None
            return session

    def drop(self, sid: str | None) -> None:
        with self.lock:
            self.sessions.pop(sid or "", None)


@dataclass
class FailedLogins:
    """Failures per client address in a sliding window."""

    max_failures: int = MAX_FAILURES
    window: float = FAILURE_WINDOW_SECONDS
    seen: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self.seen.setdefault(client, deque())
        while times and times[0] < now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try again, or None when it may now."""
        now = time.monotonic()
        with self.lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return None
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self.lock:
            self._recent(client, now).append(now)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and secrets.compare_digest(str(a), str(b))


class SecurityHeaders(BaseHTTPMiddleware):
    """CSP, no sniffing, no framing, no referrer, no caching of what an analyst saw."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        svg = response.headers.get("content-type", "").startswith("image/svg")
        response.headers.setdefault("Content-Security-Policy", SVG_CSP if svg else PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response
