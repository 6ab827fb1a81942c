"""``POST /v1/decide``: the login-risk decision from the in-memory state (``idwatch.decide``)."""

from __future__ import annotations

import gc
import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel

from idwatch.api.auth import current_user
from idwatch.config import load_config
from idwatch.decide import state as dstate
from idwatch.decide.engine import decide
from idwatch.decide.policy import Policy


async def _caller(request: Request) -> None:
    """The same authentication as the API, run on the event loop: a sync dependency would
    cost a thread hop per decision (a token check is a hash and a small file read)."""
    current_user(request)


router = APIRouter(dependencies=[Depends(_caller)])


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


def ensure_state(app: Any) -> dstate.RiskState:
    """The app's state: loaded from the state file, else rebuilt from the store and saved."""
    st = getattr(app.state, "decide_state", None)
    if st is None:
        store = app.state.store
        st = dstate.load(store)
        if st is None:
            st = dstate.build(store)
            st.save(dstate.state_path(store))
        # millions of small count objects: keep the cyclic GC from walking them on every
        # full collection (seconds-long pauses at 1 M accounts); they live as long as the app
        gc.freeze()
        app.state.decide_state = st
        app.state.decide_policy = Policy(load_config(store))
    return st


@router.post("/v1/decide")
async def post_decide(attempt: Attempt, request: Request) -> Response:
    st = getattr(request.app.state, "decide_state", None) or ensure_state(request.app)
    try:
        result = decide(st, request.app.state.decide_policy, attempt.model_dump())
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    # plain values only (the time is already RFC 3339 text): skip FastAPI's generic encoder
    return Response(json.dumps(result, ensure_ascii=False), media_type="application/json")
