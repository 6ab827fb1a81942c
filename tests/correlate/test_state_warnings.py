"""A provider's state-actor warning on a campaign's account is evidence for every state
hypothesis of that campaign (not for one actor), against criminal ones, and never attributes
alone. Warnings come from the store's kept records (Google ``gov_attack_warning``, Entra
``nationStateIP`` risk detections), read through the real ingest."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from idwatch.correlate import attribution
from idwatch.correlate.actors import ActorProfile
from idwatch.correlate.features import CampaignProfile
from idwatch.correlate.state_warnings import (
    MANY_WARNED_LR,
    ONE_WARNED_LR,
    merge,
    warned_accounts,
    warning_evidence,
)
from idwatch.ingest import ingest_paths
from idwatch.store import Store

STATE = ActorProfile(name="Phosphorus", stix_id="intrusion-set--1", kind="state", country="IR")
OTHER_STATE = ActorProfile(name="Fancy Bear", stix_id="intrusion-set--2", kind="state", country="RU")
CRIMINAL = ActorProfile(name="Scattered", stix_id="intrusion-set--3", kind="criminal")

GOOGLE_WARNING = {
    "kind": "admin#reports#activity",
    "id": {
        "time": "2024-06-20T08:00:00.000Z",
        "uniqueQualifier": "9001",
        "applicationName": "login",
        "customerId": "C01",
    },
    "actor": {"email": "maria@example.org", "profileId": "1"},
    "ipAddress": "203.0.113.7",
    "events": [{"type": "login", "name": "gov_attack_warning", "parameters": []}],
}


def _entra_risk(event_type: str, rid: str, upn: str) -> dict:
    """An Azure diagnostic UserRiskEvents record (Entra ID Protection)."""
    return {
        "time": "2024-06-21T09:00:00Z",
        "resourceId": "/tenants/11111111-2222-3333-4444-555555555555/providers/Microsoft.aadiam",
        "operationName": "User Risk Detection",
        "category": "UserRiskEvents",
        "tenantId": "11111111-2222-3333-4444-555555555555",
        "properties": {
            "id": rid,
            "riskEventType": event_type,
            "riskLevel": "high",
            "riskState": "atRisk",
            "userPrincipalName": upn,
            "ipAddress": "198.51.100.9",
            "detectedDateTime": "2024-06-21T09:00:00Z",
        },
    }


def _store(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    g = tmp_path / "google.jsonl"
    g.write_text(json.dumps(GOOGLE_WARNING) + "\n")
    e = tmp_path / "entra.jsonl"
    e.write_text(
        json.dumps(_entra_risk("nationStateIP", "r-1", "bob@contoso.com"))
        + "\n"
        + json.dumps(_entra_risk("unfamiliarFeatures", "r-2", "carol@contoso.com"))
        + "\n"
    )
    store = Store(tmp_path / "store")
    ingest_paths(store, [str(g)], fmt="gworkspace")
    ingest_paths(store, [str(e)], fmt="entra")
    con = store.connect()
    # the campaign accounts correlation builds: (campaign, account, first, last activity)
    rows = [
        ("cmp-a", "maria@example.org", "2024-06-01", "2024-06-10"),
        ("cmp-b", "bob@contoso.com", "2024-06-15", "2024-06-22"),
        ("cmp-c", "carol@contoso.com", "2024-06-15", "2024-06-22"),
        ("cmp-d", "maria@example.org", "2024-01-01", "2024-02-01"),
    ]
    con.execute(
        "CREATE TEMP TABLE camp_accounts (campaign_id VARCHAR, account VARCHAR, "
        "first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ)"
    )
    con.executemany(
        "INSERT INTO camp_accounts VALUES (?, ?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ))", rows
    )
    return con


def test_warnings_reach_the_campaign_holding_the_warned_account_around_its_activity(tmp_path: Path) -> None:
    warned = warned_accounts(_store(tmp_path))
    assert warned["cmp-a"] == [("maria@example.org", "Google government-backed attack warning")]
    assert warned["cmp-b"] == [("bob@contoso.com", "Entra ID Protection nation-state risk detection")]
    assert "cmp-c" not in warned  # an unfamiliar-features detection says nothing about a state
    assert "cmp-d" not in warned  # the warning came four months after that campaign ended


def test_every_state_hypothesis_gains_alike_and_criminal_ones_lose() -> None:
    one = warning_evidence(
        [("maria@example.org", "Google government-backed attack warning")], [STATE, CRIMINAL]
    )
    assert one[STATE.stix_id][0].lr == ONE_WARNED_LR
    assert one[CRIMINAL.stix_id][0].lr == 1 / ONE_WARNED_LR
    two = warning_evidence([("a@x.org", "w"), ("b@x.org", "w"), ("c@x.org", "w")], [STATE, OTHER_STATE])
    assert two[STATE.stix_id][0].lr == two[OTHER_STATE.stix_id][0].lr == MANY_WARNED_LR
    assert warning_evidence([], [STATE]) == {}


def test_a_warning_raises_the_state_posterior_but_never_attributes_alone() -> None:
    campaign = CampaignProfile(id="cmp-a")
    actors = [STATE, CRIMINAL]
    without = attribution.score_campaign(campaign, actors)
    warn = warning_evidence([("maria@example.org", "Google government-backed attack warning")], actors)
    with_ = attribution.score_campaign(campaign, actors, extra=warn)

    def post(hyps: list[attribution.Hypothesis], name: str) -> float:
        return next(h.posterior for h in hyps if h.name == name)

    assert post(with_, "Phosphorus") > post(without, "Phosphorus")
    assert post(with_, "Scattered") < post(without, "Scattered")
    assert attribution.verdict(with_) is None  # no infrastructure evidence: no attribution


def test_merge_keeps_both_kinds_of_evidence() -> None:
    a = {"s": [attribution.Evidence("target_lineage", "x", 4.0)]}
    b = {"s": [attribution.Evidence("state_warning", "y", 3.0)], "t": []}
    assert [e.kind for e in merge(a, b)["s"]] == ["target_lineage", "state_warning"]
