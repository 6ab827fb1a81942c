"""No anonymous access; viewers read, analysts also mark; wrong tokens are rate limited."""

from __future__ import annotations

import pytest


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


READ_PATHS = [
    "/api/v1/me",
    "/api/v1/headline",
    "/api/v1/campaigns",
    "/api/v1/campaigns/x",
    "/api/v1/accounts",
    "/api/v1/alerts",
    "/api/v1/alerts/x",
    "/api/v1/events/x",
    "/api/v1/search?q=ab",
    "/api/v1/marks",
    "/api/v1/openapi.json",
]


@pytest.mark.parametrize("path", READ_PATHS)
def test_every_endpoint_is_401_without_a_token(client, path):
    r = client.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in r.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/alerts/x/mark", "/api/v1/campaigns/x/mark"])
def test_marking_is_401_without_a_token(client, path):
    assert client.post(path, json={"verdict": "benign"}).status_code == 401


def test_a_wrong_token_is_401(client, tokens):
    r = client.get("/api/v1/campaigns", headers=bearer(tokens["viewer"] + "x"))
    assert r.status_code == 401 and r.json()["error"] == "invalid API token"
    assert (
        client.get("/api/v1/campaigns", headers={"Authorization": f"Basic {tokens['viewer']}"}).status_code
        == 401
    )


def test_a_viewer_reads_but_may_not_mark(client, tokens):
    alert = client.get("/api/v1/alerts", headers=bearer(tokens["viewer"])).json()["items"][0]
    r = client.post(
        f"/api/v1/alerts/{alert['alert_id']}/mark",
        json={"verdict": "benign"},
        headers=bearer(tokens["viewer"]),
    )
    assert r.status_code == 403 and "analyst" in r.json()["error"]
    cid = client.get("/api/v1/campaigns", headers=bearer(tokens["viewer"])).json()[0]["id"]
    r = client.post(
        f"/api/v1/campaigns/{cid}/mark", json={"verdict": "benign"}, headers=bearer(tokens["viewer"])
    )
    assert r.status_code == 403


def test_pages_send_people_without_a_session_to_the_login_page(client):
    for path in ("/", "/campaigns", "/campaigns/x", "/alerts", "/charts/timeline.svg"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_login_page_needs_its_csrf_token(client, tokens):
    client.get("/login")
    r = client.post(
        "/login", data={"token": tokens["viewer"], "csrf_token": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403


def _login(client, token):
    import re

    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False)


def test_login_gives_an_httponly_strict_session_cookie(client, tokens):
    r = _login(client, tokens["analyst"])
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "idwatch_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/").status_code == 200


def test_a_session_must_send_its_csrf_token_to_mark(client, tokens):
    _login(client, tokens["analyst"])
    alert = client.get("/api/v1/alerts").json()["items"][0]
    r = client.post(f"/api/v1/alerts/{alert['alert_id']}/mark", json={"verdict": "benign"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    import re

    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/alerts").text).group(1)
    r = client.post(
        f"/api/v1/alerts/{alert['alert_id']}/mark", json={"verdict": "benign"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 201 and r.json()["author"] == "ana"


def test_failed_logins_are_rate_limited_per_address(client, tokens):
    from idwatch.api.security import MAX_FAILURES

    for _ in range(MAX_FAILURES):
        assert _login(client, "idw_wrong").headers["location"].startswith("/login?error=")
    r = _login(client, tokens["analyst"])  # even the right token waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    r = client.get("/api/v1/me", headers=bearer(tokens["analyst"]))
    assert r.status_code == 429 and "too many failed logins" in r.json()["error"]


def test_logout_ends_the_session(client, tokens):
    import re

    _login(client, tokens["viewer"])
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_every_response_has_the_security_headers(client, tokens):
    for r in (client.get("/login"), client.get("/api/v1/me", headers=bearer(tokens["viewer"]))):
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"


def test_no_docs_page_pulls_scripts_from_a_cdn(client):
    assert client.get("/docs").status_code in (303, 404) and client.get("/redoc").status_code in (303, 404)
