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
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from idwatch.api.auth import check_rate, client_of, current_user
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


def _caller(request: Request) -> User:
    """The API's authentication (a bearer token, else a console session with CSRF token)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return current_user(request)  # sessions, wrong schemes: the API's own checks and errors
    check_rate(request)
    tokens: _Tokens | None = getattr(request.app.state, "decide_tokens", None)
    if tokens is None:
        tokens = request.app.state.decide_tokens = _Tokens()
    user = tokens.user(request.app.state.store.state_dir, token.strip())
    if user is None:
        request.app.state.failures.failed(client_of(request))
        raise HTTPException(401, "invalid API token", {"WWW-Authenticate": "Bearer"})
    return user


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


def _not_ready(app: Any) -> Response:
    loader: StateLoader | None = getattr(app.state, "decide_loader", None)
    failed = loader.error if loader is not None else None
    start_loading(app)  # first request without `idwatch serve`'s start, or a retry after a failure
    if failed is not None:
        text = f"the decision state could not be built ({failed}); retrying"
    else:
        text = "the decision state is being loaded or built from the store; retry shortly"
    response = _json({"error": text}, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _invalid(exc: ValidationError) -> Response:
    """422 in the API's shape: one problem per bad field, located in the body."""
    problems = [
        {"where": ".".join(str(p) for p in ("body", *e["loc"])), "message": e["msg"]} for e in exc.errors()
    ]
    text = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
    return _json({"error": f"invalid request: {text}", "problems": problems}, 422)


async def post_decide(request: Request) -> Response:
    """allow | challenge | block, the risk and the per-feature explanation of one attempt."""
    _caller(request)
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        return _json({"error": f"request body larger than {MAX_BODY_BYTES} bytes"}, 413)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _json({"error": f"request body larger than {MAX_BODY_BYTES} bytes"}, 413)
    try:
        attempt = Attempt.model_validate_json(body)
    except ValidationError as exc:
        return _invalid(exc)
    st = getattr(request.app.state, "decide_state", None)
    if st is None:
        return _not_ready(request.app)
    try:
        result = decide(st, request.app.state.decide_policy, attempt.model_dump())
    except ValueError as exc:
        return _json({"error": f"invalid request: {exc}"}, 422)
    return _json(result)


router = APIRouter()
# a Starlette route (no FastAPI dependency solving, body parsing or response encoding)
router.add_route("/v1/decide", post_decide, methods=["POST"], include_in_schema=False)
