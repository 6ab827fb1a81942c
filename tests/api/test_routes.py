"""The JSON API: every endpoint answers in EVENTS.md section 5 shapes, RFC 3339 times, pages."""

from __future__ import annotations

import re

import pytest


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SECTION5_CAMPAIGN = {
    "id",
    "actor",
    "first_seen",
    "last_seen",
    "counts",
    "infrastructure",
    "techniques",
    "evidence",
}


@pytest.fixture
def get(client, tokens):
    def call(path: str, role: str = "viewer", **params):
        return client.get(path, params=params, headers=bearer(tokens[role]))

    return call


def _times(obj, key=""):
    """Every value under a key ending in _seen / _at / time, anywhere in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _times(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _times(v, key)
    elif (key.endswith(("_seen", "_at")) or key == "time") and obj is not None:
        yield obj


def test_campaigns_list_has_the_section_5_keys_and_rfc3339_times(get):
    body = get("/api/v1/campaigns").json()
    assert body and all(set(c) >= SECTION5_CAMPAIGN for c in body)
    assert body[0]["kind"] == "state" and body[0]["actor"]["name"] == "Phosphorus"
    times = list(_times(body))
    assert times and all(RFC3339.match(t) for t in times)


def test_campaigns_filter_by_kind(get):
    kinds = {c["kind"] for c in get("/api/v1/campaigns", kind="state").json()}
    assert kinds == {"state"}


def test_one_campaign_tells_its_story(get):
    cid = get("/api/v1/campaigns").json()[0]["id"]
    c = get(f"/api/v1/campaigns/{cid}").json()
    assert [f["stage"] for f in c["funnel"]] == ["probes", "accounts_attacked", "accounts_compromised"]
    assert c["funnel"][0]["count"] == c["counts"]["probes"]
    assert c["timeline"] and {"day", "probes", "attacks", "compromises"} <= set(c["timeline"][0])
    assert c["hypotheses"][0]["evidence"] and c["infrastructure"]["ips"]
    assert c["targets"]["categories"] and c["targets"]["tenants"]
    compromised = [a for a in c["accounts"] if a["stage"] == "compromised"]
    assert len(compromised) == c["counts"]["accounts_compromised"]
    chain = compromised[0]["chain"]
    assert chain and [s["first_seen"] for s in chain] == sorted(s["first_seen"] for s in chain)
    assert "compromise" in {s["stage"] for s in chain}
    assert all(RFC3339.match(t) for t in _times(c))


def test_unknown_campaign_alert_and_event_are_404_with_the_id(get):
    for path in ("/api/v1/campaigns/cmp-nope", "/api/v1/alerts/nope", "/api/v1/events/nope"):
        r = get(path)
        assert r.status_code == 404 and "nope" in r.json()["error"]


def test_accounts_are_paginated_and_add_up(get):
    first = get("/api/v1/accounts", limit=5).json()
    assert first["total"] > 5 and len(first["items"]) == 5 and first["next_offset"] == 5
    everyone = []
    offset = 0
    while offset is not None:
        page = get("/api/v1/accounts", limit=7, offset=offset).json()
        everyone += [a["account"] for a in page["items"]]
        offset = page["next_offset"]
    assert len(everyone) == len(set(everyone)) == first["total"]
    statuses = [a["status"] for a in get("/api/v1/accounts", limit=500).json()["items"]]
    order = {"compromised": 0, "attacked": 1, "probed": 2}
    assert statuses == sorted(statuses, key=order.get)  # the furthest stage first


def test_accounts_filter_by_status_tenant_and_category(get):
    compromised = get("/api/v1/accounts", status="compromised").json()
    assert compromised["total"] == 2 and {a["status"] for a in compromised["items"]} == {"compromised"}
    one = compromised["items"][0]
    by_tenant = get("/api/v1/accounts", tenant=one["tenant"], limit=500).json()["items"]
    assert by_tenant and {a["tenant"] for a in by_tenant} == {one["tenant"]}
    journalists = get("/api/v1/accounts", category="journalist", limit=500).json()["items"]
    assert journalists and {a["category"] for a in journalists} == {"journalist"}


def test_alerts_carry_their_evidence_events(get):
    page = get("/api/v1/alerts", limit=3).json()
    assert page["total"] >= 3 and len(page["items"]) == 3
    a = page["items"][0]
    assert a["evidence"] and a["evidence_total"] == len(a["event_ids"])
    assert {e["event_id"] for e in a["evidence"]} <= set(a["event_ids"])
    lasts = [x["last_seen"] for x in page["items"]]
    assert lasts == sorted(lasts, reverse=True)
    assert all(RFC3339.match(t) for t in _times(page))


def test_alerts_filter_by_stage_account_campaign_and_time(get):
    compromise = get("/api/v1/alerts", stage="compromise", limit=500).json()["items"]
    assert compromise and {a["stage"] for a in compromise} == {"compromise"}
    account = compromise[0]["accounts"][0]
    mine = get("/api/v1/alerts", account=account, limit=500).json()["items"]
    assert mine and all(account in a["accounts"] for a in mine)
    cid = get("/api/v1/campaigns").json()[0]["id"]
    in_campaign = get("/api/v1/alerts", campaign=cid, limit=500).json()
    assert 0 < in_campaign["total"] < get("/api/v1/alerts").json()["total"]
    late = get("/api/v1/alerts", since="2030-01-01T00:00:00Z").json()
    assert late["total"] == 0


def test_an_event_by_id_is_the_pivot_back_to_the_raw_record(get):
    alert = get("/api/v1/alerts", limit=1).json()["items"][0]
    ev = get(f"/api/v1/events/{alert['event_ids'][0]}").json()
    assert ev["event_id"] == alert["event_ids"][0] and "raw" in ev and RFC3339.match(ev["time"])
    assert get(f"/api/v1/alerts/{alert['alert_id']}").json()["evidence_total"] == len(alert["event_ids"])


def test_search_finds_campaigns_by_actor_and_address_and_accounts_by_name(get):
    c = get("/api/v1/campaigns").json()[0]
    assert c["id"] in [x["id"] for x in get("/api/v1/search", q="charming").json()["campaigns"]]
    assert c["id"] in [
        x["id"] for x in get("/api/v1/search", q=c["infrastructure"]["ips"][0]).json()["campaigns"]
    ]
    account = get("/api/v1/accounts", limit=1).json()["items"][0]["account"]
    assert account in [
        a["account"] for a in get("/api/v1/search", q=account.split("@")[0]).json()["accounts"]
    ]


def test_headline_reuses_the_reports_sentences(get, store):
    from idwatch.report.model import build_report

    h = get("/api/v1/headline").json()
    report = build_report(store)
    assert [c["headline"] for c in h["campaigns"]] == [v.headline for v in report.campaigns]
    assert h["campaigns"][0]["counts"]["accounts_compromised"] == 2 and h["campaigns"][0]["confidence"]


def test_me_says_the_role(get):
    assert get("/api/v1/me", role="analyst").json() == {"name": "ana", "role": "analyst", "can_mark": True}
    assert get("/api/v1/me").json()["can_mark"] is False


def test_openapi_schema_is_published_to_users(get):
    schema = get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.") and "/api/v1/alerts/{alert_id}/mark" in schema["paths"]
    assert "limit" in {p["name"] for p in schema["paths"]["/api/v1/accounts"]["get"]["parameters"]}


@pytest.mark.parametrize(
    ("path", "params", "where"),
    [
        ("/api/v1/accounts", {"limit": 0}, "query.limit"),
        ("/api/v1/accounts", {"limit": 501}, "query.limit"),
        ("/api/v1/accounts", {"offset": -1}, "query.offset"),
        ("/api/v1/accounts", {"status": "owned"}, "query.status"),
        ("/api/v1/alerts", {"stage": "lunch"}, "query.stage"),
        ("/api/v1/alerts", {"since": "last tuesday"}, "query.since"),
        ("/api/v1/alerts", {"min_score": "high"}, "query.min_score"),
        ("/api/v1/search", {}, "query.q"),
        ("/api/v1/search", {"q": "x"}, "query.q"),
    ],
)
def test_malformed_parameters_are_422_naming_the_parameter(get, path, params, where):
    r = get(path, **params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"].startswith("invalid request: ") and where in body["error"]
    assert body["problems"][0]["where"] == where and body["problems"][0]["message"]


def test_a_time_without_zone_is_422_asking_for_rfc3339(get):
    r = get("/api/v1/alerts", since="2019-08-01T00:00:00")
    assert r.status_code == 422 and "RFC 3339" in r.json()["error"]
