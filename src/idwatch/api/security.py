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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


_FIXED_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """CSP, no sniffing, no framing, no referrer, no caching of what an analyst saw.

    A pure ASGI middleware that edits the response-start message: Starlette's
    ``BaseHTTPMiddleware`` runs every request through an extra task and memory stream, which
    cost more than a whole login decision (``POST /v1/decide``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = _secured(list(message.get("headers", [])), static)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secured(headers: list[tuple[bytes, bytes]], static: bool) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours set (a CSP the response chose itself is kept)."""
    ours = {name for name, _ in _FIXED_HEADERS}
    if not static:
        ours.add(b"cache-control")
    kept = [(k, v) for k, v in headers if k.lower() not in ours]
    names = {k.lower(): v for k, v in kept}
    if b"content-security-policy" not in names:
        svg = names.get(b"content-type", b"").startswith(b"image/svg")
        kept.append((b"content-security-policy", (SVG_CSP if svg else PAGE_CSP).encode()))
    kept.extend(_FIXED_HEADERS)
    if not static:
        kept.append((b"cache-control", b"no-store"))
    return kept
