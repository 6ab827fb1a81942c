"""Marks: analysts judge alerts and campaigns; the mark shows everywhere and notify obeys it."""

from __future__ import annotations


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_analyst_marks_an_alert_and_every_view_shows_it(client, tokens):
    h = bearer(tokens["analyst"])
    alert = client.get("/api/v1/alerts", headers=h).json()["items"][0]
    r = client.post(
        f"/api/v1/alerts/{alert['alert_id']}/mark",
        json={"verdict": "false_positive", "comment": "QA"},
        headers=h,
    )
    assert (
        r.status_code == 201
        and r.json()["verdict"] == "false_positive"
        and r.json()["created_at"].endswith("Z")
    )
    assert client.get(f"/api/v1/alerts/{alert['alert_id']}", headers=h).json()["mark"]["comment"] == "QA"
    listed = client.get("/api/v1/alerts", params={"mark": "false_positive"}, headers=h).json()
    assert [a["alert_id"] for a in listed["items"]] == [alert["alert_id"]]
    unmarked = client.get("/api/v1/alerts", params={"mark": "unmarked"}, headers=h).json()
    assert unmarked["total"] == client.get("/api/v1/alerts", headers=h).json()["total"] - 1
    history = client.get("/api/v1/marks", params={"target_id": alert["alert_id"]}, headers=h).json()
    assert len(history) == 1 and history[0]["author"] == "ana"


def test_a_campaign_mark_shows_in_the_list_the_story_and_the_headline(client, tokens):
    h = bearer(tokens["analyst"])
    cid = client.get("/api/v1/campaigns", headers=h).json()[0]["id"]
    assert (
        client.post(f"/api/v1/campaigns/{cid}/mark", json={"verdict": "true_positive"}, headers=h).status_code
        == 201
    )
    assert client.get("/api/v1/campaigns", headers=h).json()[0]["mark"]["verdict"] == "true_positive"
    assert client.get(f"/api/v1/campaigns/{cid}", headers=h).json()["mark"]["verdict"] == "true_positive"
    assert (
        client.get("/api/v1/headline", headers=h).json()["campaigns"][0]["mark"]["verdict"] == "true_positive"
    )


def test_marking_what_does_not_exist_is_404_and_a_bad_verdict_422(client, tokens):
    h = bearer(tokens["analyst"])
    assert client.post("/api/v1/alerts/nope/mark", json={"verdict": "benign"}, headers=h).status_code == 404
    r = client.post("/api/v1/campaigns/x/mark", json={"verdict": "maybe"}, headers=h)
    assert r.status_code == 422 and "body.verdict" in r.json()["error"]
    cid = client.get("/api/v1/campaigns", headers=h).json()[0]["id"]
    r = client.post(
        f"/api/v1/campaigns/{cid}/mark", json={"verdict": "benign", "comment": "x" * 2001}, headers=h
    )
    assert r.status_code == 422 and "body.comment" in r.json()["error"]


def test_notify_tells_no_one_of_a_campaign_marked_false_positive(client, tokens, store):
    from idwatch.respond.notify import NotifyOptions, run_notify

    before = run_notify(store, NotifyOptions(dry_run=True))
    assert before.planned > 0  # the attributed campaign's tenants are owed a notice
    h = bearer(tokens["analyst"])
    state = client.get("/api/v1/campaigns", params={"kind": "state"}, headers=h).json()
    for c in state:
        client.post(f"/api/v1/campaigns/{c['id']}/mark", json={"verdict": "false_positive"}, headers=h)
    assert run_notify(store, NotifyOptions(dry_run=True)).planned == 0
    for c in state:  # judged again as real: the notices are owed again
        client.post(f"/api/v1/campaigns/{c['id']}/mark", json={"verdict": "true_positive"}, headers=h)
    assert run_notify(store, NotifyOptions(dry_run=True)).planned == before.planned
