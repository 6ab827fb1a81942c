"""``POST /v1/decide``: the login-risk decision from the in-memory state (``idwatch.decide``).

A lean route: the identity provider asks once per login, so the framework's cost must stay
below the decision's own (~0.1 ms). A plain Starlette endpoint (no FastAPI dependency and
body machinery), the body validated by one prebuilt pydantic validator straight from the
JSON bytes, bearer tokens checked against the users file re-read only when it changes, and
the answer written by orjson. Errors stay clear: 401 / 429 as the rest of the API, 413 for
an oversized body, 422 naming each bad field, 503 while the state is loaded or built.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import os
import threading
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from idwatch.api.auth import client_of, current_user
from idwatch.api.security import _secured
from idwatch.api.users import FILE as USERS_FILE
from idwatch.api.users import User
from idwatch.config import load_config
from idwatch.decide import state as dstate
from idwatch.decide.engine import decide
from idwatch.decide.policy import Policy

#: A login attempt is a few hundred bytes; 64 KiB is generous and keeps a client from making
#: the server buffer megabytes per request.
MAX_BODY_BYTES = 64 * 1024


class Attempt(BaseModel):
    """A login attempt in canonical column names; enrichment fields are optional."""

    account: str
    src_ip: str
    user_agent: str | None = None
    time: str | int | None = None
    tenant: str | None = None
    device_id: str | None = None
    asn: int | None = None
    asn_org: str | None = None
    country: str | None = None
    ua_family: str | None = None
    ua_os: str | None = None
    watchlist: bool = False


class _Tokens:
    """Token digest -> user, from the store's users file, re-read only when the file changes.

    A stat per request instead of a read and JSON parse; adding or removing a user rewrites
    the file (new inode and mtime), so it takes effect on the next request.
    """

    def __init__(self) -> None:
        self.stamp: tuple[int, int, int] | None = None
        self.users: dict[str, User] = {}
        self.lock = threading.Lock()

    def user(self, state_dir: Any, token: str) -> User | None:
        path = os.path.join(state_dir, USERS_FILE)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self.stamp:
            with open(path, encoding="utf-8") as fh:
                rows = json.load(fh)
            with self.lock:
                self.users = {u["token_sha256"]: User(u["name"], u["role"]) for u in rows}
                self.stamp = stamp
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        for known, user in self.users.items():  # constant-time comparison, as users.authenticate
            if hmac.compare_digest(known, digest):
                return user
        return None


class AuthError(Exception):
    """401 / 429 of a bearer token, rendered by either path as the API renders HTTPException."""

    def __init__(self, status: int, detail: str, headers: dict[str, str]) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def _bearer_user(app: Any, client: str, token: str) -> User:
    """The user of a bearer token: the API's rate limit and failed-login count, as ``current_user``."""
    wait = app.state.failures.retry_after(client)
    if wait is not None:
        detail = f"too many failed logins from this address; try again in {wait} s"
        raise AuthError(429, detail, {"Retry-After": str(wait)})
    tokens: _Tokens | None = getattr(app.state, "decide_tokens", None)
    if tokens is None:
        tokens = app.state.decide_tokens = _Tokens()
    user = tokens.user(app.state.store.state_dir, token.strip())
    if user is None:
        app.state.failures.failed(client)
        raise AuthError(401, "invalid API token", {"WWW-Authenticate": "Bearer"})
    return user


def _caller(request: Request) -> User:
    """The API's authentication (a bearer token, else a console session with CSRF token)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return current_user(request)  # sessions, wrong schemes: the API's own checks and errors
    try:
        return _bearer_user(request.app, client_of(request), token)
    except AuthError as exc:
        raise HTTPException(exc.status, exc.detail, exc.headers) from exc


class StateLoader:
    """Loads the state file, else rebuilds the state from the store, in a thread of its own.

    A rebuild reads the whole store (seconds to minutes); done on the event loop it would
    stall every request of the server, so ``POST /v1/decide`` answers 503 with Retry-After
    until the state is ready. ``idwatch serve`` starts it at start-up; a first request starts
    it otherwise. A failed build is reported in the 503 and retried on the next request.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.thread: threading.Thread | None = None
        self.error: str | None = None
        self.lock = threading.Lock()

    def start(self) -> StateLoader:
        with self.lock:
            if self.thread is None or (self.error is not None and not self.thread.is_alive()):
                self.error = None
                self.thread = threading.Thread(target=self._run, name="idwatch-decide-state", daemon=True)
                self.thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the state is ready (or failed); whether it is ready."""
        if self.thread is not None:
            self.thread.join(timeout)
        return getattr(self.app.state, "decide_state", None) is not None

    def _run(self) -> None:
        try:
            store = self.app.state.store
            st = dstate.load(store)
            if st is None:
                st = dstate.build(store)
                st.save(dstate.state_path(store))
            policy = Policy(load_config(store))
            # millions of small count objects: keep the cyclic GC from walking them on every
            # full collection (seconds-long pauses at 1 M accounts); they live as long as the app
            gc.freeze()
            self.app.state.decide_policy = policy
            self.app.state.decide_state = st  # last: the route reads the policy once this is set
        except Exception as exc:  # noqa: BLE001 - reported to the caller in the 503, then retried
            self.error = f"{type(exc).__name__}: {exc}"


def start_loading(app: Any) -> StateLoader:
    """Start loading or building the app's decide state in the background (idempotent)."""
    with _LOADERS_LOCK:
        loader = getattr(app.state, "decide_loader", None)
        if loader is None:
            loader = app.state.decide_loader = StateLoader(app)
    return loader.start()


_LOADERS_LOCK = threading.Lock()
#: Seconds a client is asked to wait while the state is built (a store rebuild takes seconds).
RETRY_AFTER_SECONDS = 5


def _not_ready_body(app: Any) -> tuple[bytes, dict[str, str]]:
    loader: StateLoader | None = getattr(app.state, "decide_loader", None)
    failed = loader.error if loader is not None else None
    start_loading(app)  # first request without `idwatch serve`'s start, or a retry after a failure
    if failed is not None:
        text = f"the decision state could not be built ({failed}); retrying"
    else:
        text = "the decision state is being loaded or built from the store; retry shortly"
    return orjson.dumps({"error": text}), {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _invalid_body(exc: ValidationError) -> bytes:
    """422 in the API's shape: one problem per bad field, located in the body."""
    problems = [
        {"where": ".".join(str(p) for p in ("body", *e["loc"])), "message": e["msg"]} for e in exc.errors()
    ]
    text = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
    return orjson.dumps({"error": f"invalid request: {text}", "problems": problems})


def _answer(app: Any, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON bytes and extra headers of one authenticated decide request (both paths)."""
    if len(body) > MAX_BODY_BYTES:
        return 413, orjson.dumps({"error": f"request body larger than {MAX_BODY_BYTES} bytes"}), {}
    try:
        attempt = Attempt.model_validate_json(body)
    except ValidationError as exc:
        return 422, _invalid_body(exc), {}
    st = getattr(app.state, "decide_state", None)
    if st is None:
        return 503, *_not_ready_body(app)
    try:
        result = decide(st, app.state.decide_policy, attempt.model_dump())
    except ValueError as exc:
        return 422, orjson.dumps({"error": f"invalid request: {exc}"}), {}
    return 200, orjson.dumps(result), {}


def _too_long(length: str | None) -> bool:
    return length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES)


async def post_decide(request: Request) -> Response:
    """allow | challenge | block, the risk and the per-feature explanation of one attempt."""
    _caller(request)
    if _too_long(request.headers.get("content-length")):
        return _json({"error": f"request body larger than {MAX_BODY_BYTES} bytes"}, 413)
    status, content, headers = _answer(request.app, await request.body())
    return Response(content, status_code=status, media_type="application/json", headers=headers or None)


router = APIRouter()
# a Starlette route (no FastAPI dependency solving, body parsing or response encoding)
router.add_route("/v1/decide", post_decide, methods=["POST"], include_in_schema=False)


#: The response headers of every fast-path answer: the API's security headers (as the
#: SecurityHeaders middleware sets them) and the JSON content type.
_FAST_HEADERS = tuple(_secured([(b"content-type", b"application/json")], False))


class DecideFirst(FastAPI):
    """The API app, with ``POST /v1/decide`` + bearer token answered before FastAPI's stack.

    The identity provider asks once per login; FastAPI's middleware, telemetry check, router
    and Request objects cost ~3x the decision itself. This pure-ASGI path reads the body, checks
    the token (same rate limit, failed-login count and errors), and writes the same JSON and
    security headers as the Starlette route, which still serves console sessions and the rest.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/decide" and scope["method"] == "POST":
            auth = length = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    auth = value
                elif name == b"content-length":
                    length = value
            if auth is not None and auth[:7].lower() == b"bearer ":
                await self._decide(scope, receive, send, auth[7:].decode("latin-1"), length)
                return
        await super().__call__(scope, receive, send)

    async def _decide(
        self, scope: Scope, receive: Receive, send: Send, token: str, length: bytes | None
    ) -> None:
        client = scope["client"][0] if scope.get("client") else "?"
        try:
            _bearer_user(self, client, token)
        except AuthError as exc:
            await _send(send, exc.status, orjson.dumps({"error": exc.detail}), exc.headers)
            return
        too_big = orjson.dumps({"error": f"request body larger than {MAX_BODY_BYTES} bytes"})
        if _too_long(None if length is None else length.decode("latin-1")):
            await _send(send, 413, too_big, {})
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _send(send, 413, too_big, {})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        status, content, headers = _answer(self, chunks[0] if len(chunks) == 1 else b"".join(chunks))
        await _send(send, status, content, headers)


async def _send(send: Send, status: int, content: bytes, headers: dict[str, str]) -> None:
    raw = [*_FAST_HEADERS, (b"content-length", str(len(content)).encode())]
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})
