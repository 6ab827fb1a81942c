"""POST /v1/decide over real HTTP (TestClient) on a real store: decision, risk, explanation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from idwatch.api import decide_routes
from idwatch.api.app import create_app
from idwatch.api.users import add_user
from idwatch.decide import state as dstate

from .world import ATTACKER, HOME, HOME_UA, T0, as_table, signin  # noqa: TID252

WHEN = (T0 + timedelta(days=30, hours=2)).isoformat().replace("+00:00", "Z")
USUAL = {
    "account": "alice@example.org",
    "src_ip": HOME["src_ip"],
    "user_agent": HOME_UA["user_agent"],
    "time": WHEN,
}


def ready(c: TestClient) -> TestClient:
    """The client once the app's decide state is loaded (as ``idwatch serve`` starts it)."""
    assert decide_routes.start_loading(c.app).wait(120)
    return c


@pytest.fixture
def client(home_store):
    token = add_user(home_store, "idp", "viewer")
    with TestClient(create_app(home_store)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield ready(c)


def test_the_owners_usual_signin_is_allowed_with_its_explanation(client):
    got = client.post("/v1/decide", json=USUAL)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["decision"] == "allow" and 0 <= body["risk"] <= 100
    assert body["tenant"] == "example.org" and body["history_signins"] >= 29  # filled from the store
    assert {f["feature"] for f in body["features"]} == {"country", "asn", "ip", "os", "browser", "ua"}
    assert not any(f["new_for_account"] for f in body["features"])


def test_a_foreign_server_with_a_script_client_is_blocked(client):
    body = client.post("/v1/decide", json={**USUAL, **ATTACKER}).json()
    assert body["decision"] == "block" and body["risk"] == 100.0
    assert body["features"][0]["new_for_account"]


def test_an_address_of_an_active_campaign_blocks_even_a_familiar_login(home_store, tmp_path):
    camp = {"id": "cmp-x", "last_seen": WHEN, "infrastructure": {"ips": [HOME["src_ip"]], "asns": []}}
    home_store.write_state_json("campaigns", [camp])
    token = add_user(home_store, "idp", "viewer")
    with TestClient(create_app(home_store)) as c:
        body = ready(c).post("/v1/decide", json=USUAL, headers={"Authorization": f"Bearer {token}"}).json()
    assert body["decision"] == "block" and body["campaign"] == "cmp-x"


def test_watchlist_and_tenant_thresholds_come_from_idwatch_toml(home_store):
    (home_store.root / "idwatch.toml").write_text(
        "[decide]\nchallenge = 99.0\nblock = 99.9\n"
        '[decide.tenants."example.org"]\nchallenge = 0.0\nblock = 100.0\n'
    )
    token = add_user(home_store, "idp", "viewer")
    with TestClient(create_app(home_store)) as c:
        body = ready(c).post("/v1/decide", json=USUAL, headers={"Authorization": f"Bearer {token}"}).json()
    assert body["decision"] == "challenge" and "challenge 0.0" in body["reason"]


def test_the_state_is_saved_and_kept_current_by_the_stream_hook(client, home_store):
    client.post("/v1/decide", json=USUAL)
    assert dstate.state_path(home_store).is_file()
    st = client.app.state.decide_state
    spray = [
        signin(f"user{i}@example.org", T0 + timedelta(days=30), outcome="failure", **ATTACKER)
        for i in range(3)
    ]
    before = client.post("/v1/decide", json={**USUAL, **ATTACKER}).json()["log_likelihood_ratio"]
    dstate.update(st, as_table(spray))
    after = client.post("/v1/decide", json={**USUAL, **ATTACKER}).json()["log_likelihood_ratio"]
    assert after > before  # the failures gave the network a bad reputation


@pytest.mark.parametrize(
    "bad",
    [
        {"src_ip": "192.0.2.1"},
        {"account": "a@x.org"},
        {"account": "a@x.org", "src_ip": "1.2.3.4", "time": "soon"},
    ],
)
def test_bad_attempts_get_a_clear_422(client, bad):
    got = client.post("/v1/decide", json=bad)
    assert got.status_code == 422 and "error" in got.json()


def test_no_token_no_decision(home_store):
    with TestClient(create_app(home_store)) as c:
        assert c.post("/v1/decide", content=json.dumps(USUAL)).status_code == 401


def test_invalid_json_and_wrong_types_name_the_field(client):
    got = client.post("/v1/decide", content=b"{not json", headers={"Content-Type": "application/json"})
    assert got.status_code == 422 and "invalid request" in got.json()["error"]
    got = client.post("/v1/decide", json={**USUAL, "asn": "sixty-four"})
    assert got.status_code == 422
    assert [p["where"] for p in got.json()["problems"]] == ["body.asn"]
    got = client.post("/v1/decide", json=[USUAL])
    assert got.status_code == 422


def test_an_oversized_body_is_refused_before_it_is_read(client):
    got = client.post("/v1/decide", json={**USUAL, "user_agent": "x" * 70_000})
    assert got.status_code == 413 and "larger than" in got.json()["error"]


def test_a_removed_token_stops_working_on_the_next_request(home_store):
    from idwatch.api.users import remove_user

    token = add_user(home_store, "idp", "viewer")
    with TestClient(create_app(home_store)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        assert ready(c).post("/v1/decide", json=USUAL).status_code == 200
        remove_user(home_store, "idp")
        got = c.post("/v1/decide", json=USUAL)
        assert got.status_code == 401 and got.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_counts_as_a_failed_login(home_store):
    with TestClient(create_app(home_store)) as c:
        c.headers["Authorization"] = "Bearer idw_wrong"
        codes = [c.post("/v1/decide", json=USUAL).status_code for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_decisions_carry_the_security_headers(client):
    got = client.post("/v1/decide", json=USUAL)
    assert got.headers["x-content-type-options"] == "nosniff" and got.headers["cache-control"] == "no-store"
    assert got.headers["content-security-policy"].startswith("default-src 'none'")


def test_without_a_state_file_the_state_is_built_off_the_event_loop_and_503_answers_meanwhile(
    home_store, monkeypatch
):
    """A rebuild reads the whole store: requests get 503 + Retry-After instead of waiting on it."""
    import threading

    release = threading.Event()
    real_build = dstate.build

    def slow_build(store, **kw):
        assert release.wait(60)  # the build is held until the test lets it go
        return real_build(store, **kw)

    monkeypatch.setattr(dstate, "build", slow_build)
    assert not dstate.state_path(home_store).exists()
    token = add_user(home_store, "idp", "viewer")
    with TestClient(create_app(home_store)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        first = c.post("/v1/decide", json=USUAL)  # starts the build and returns at once
        assert first.status_code == 503 and first.headers["retry-after"] == "5"
        assert "being loaded or built" in first.json()["error"]
        assert c.get("/api/v1/me").status_code == 200  # the server is not stalled meanwhile
        assert c.post("/v1/decide", json=USUAL).status_code == 503
        release.set()
        assert decide_routes.start_loading(c.app).wait(60)
        assert c.post("/v1/decide", json=USUAL).json()["decision"] == "allow"
    assert dstate.state_path(home_store).is_file()  # saved for the next start


def test_a_failed_build_is_reported_in_the_503_and_retried(home_store, monkeypatch):
    real_build = dstate.build
    calls = []

    def failing_once(store, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk unavailable")
        return real_build(store, **kw)

    monkeypatch.setattr(dstate, "build", failing_once)
    token = add_user(home_store, "idp", "viewer")
    with TestClient(create_app(home_store)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        loader = decide_routes.start_loading(c.app)
        assert not loader.wait(60)
        got = c.post("/v1/decide", json=USUAL)  # reports the failure and starts a new build
        assert got.status_code == 503 and "OSError: disk unavailable" in got.json()["error"]
        assert ready(c).post("/v1/decide", json=USUAL).status_code == 200


class _RouteOnly:
    """The same app reached through FastAPI's own stack (the Starlette route), not the fast path."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        from fastapi import FastAPI

        await FastAPI.__call__(self.app, scope, receive, send)


@pytest.mark.parametrize(
    ("body", "token_ok"),
    [
        (USUAL, True),
        ({**USUAL, **ATTACKER}, True),
        ({**USUAL, "asn": "sixty-four"}, True),
        ({**USUAL, "user_agent": "x" * 70_000}, True),
        (USUAL, False),
    ],
)
def test_the_fast_path_answers_exactly_as_the_route(home_store, body, token_ok):
    """POST /v1/decide with a bearer token skips FastAPI's stack: same status, JSON and headers."""
    token = add_user(home_store, "idp", "viewer") if token_ok else "idw_wrong"
    app = create_app(home_store)
    assert decide_routes.start_loading(app).wait(120)
    got = []
    for asgi in (app, _RouteOnly(app)):
        with TestClient(asgi) as c:
            got.append(c.post("/v1/decide", json=body, headers={"Authorization": f"Bearer {token}"}))
    fast, route = got
    assert fast.status_code == route.status_code
    assert fast.json() == route.json()
    assert {k: v for k, v in fast.headers.items() if k != "content-length"} == {
        k: v for k, v in route.headers.items() if k != "content-length"
    }


def test_the_fast_path_is_the_one_taken(home_store, monkeypatch):
    """A bearer request never reaches FastAPI's router (else the fast path would be dead code)."""
    token = add_user(home_store, "idp", "viewer")
    app = create_app(home_store)
    assert decide_routes.start_loading(app).wait(120)

    def no_route(request):
        raise AssertionError("the Starlette route answered a bearer request")

    monkeypatch.setattr(decide_routes, "post_decide", no_route)
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/v1/decide"]
    with TestClient(app) as c:
        got = c.post("/v1/decide", json=USUAL, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.json()["decision"] == "allow"
