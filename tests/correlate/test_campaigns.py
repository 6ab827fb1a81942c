"""Clustering: one campaign per operator, exact counts from the operator's events."""

from __future__ import annotations

import correlate_scenario as sc


def _campaigns(analysed):
    store, _summary = analysed
    return store.read_state_json("campaigns")


def _state(analysed):
    return next(c for c in _campaigns(analysed) if sc.STATE_IPS[0] in c["infrastructure"]["ips"])


def _botnet(analysed):
    return next(c for c in _campaigns(analysed) if sc.BOTNET_IPS[0] in c["infrastructure"]["ips"])


def test_the_state_operator_is_one_campaign_with_all_its_addresses(analysed):
    state = _state(analysed)
    assert set(sc.STATE_IPS) <= set(state["infrastructure"]["ips"])
    assert not set(sc.BOTNET_IPS) & set(state["infrastructure"]["ips"])


def test_the_botnet_is_its_own_campaign_even_though_one_bot_hit_a_state_target(analysed):
    botnet = _botnet(analysed)
    assert set(botnet["infrastructure"]["ips"]) == set(sc.BOTNET_IPS)
    assert botnet["id"] != _state(analysed)["id"]
    assert len(_campaigns(analysed)) == 2


def test_counts_come_from_the_events_of_the_infrastructure(analysed, world):
    counts = _state(analysed)["counts"]
    assert counts == {
        "probes": world.probe_events,
        "accounts_probed": len(world.truth["probed"]),
        "accounts_attacked": len(world.truth["attacked"]),
        "accounts_compromised": len(world.truth["compromised"]),
    }


def test_each_account_appears_once_at_its_furthest_stage(analysed, world):
    accounts = _state(analysed)["accounts"]
    assert len({a["account"] for a in accounts}) == len(accounts)
    stage = {a["account"]: a["stage"] for a in accounts}
    assert {a for a, s in stage.items() if s == "compromised"} == world.truth["compromised"]
    assert {a for a, s in stage.items() if s == "attacked"} == world.truth["attacked"] - world.truth[
        "compromised"
    ]


def test_kinds_are_explained_by_the_campaign_profile(analysed):
    state, botnet = _state(analysed), _botnet(analysed)
    assert state["kind"] == "state"
    assert botnet["kind"] == "criminal"
    details = " ".join(e["detail"] for e in botnet["evidence"] if e["kind"] == "campaign_profile")
    assert "botnet-like" in details and "random" in details


def test_a_shared_vpn_exit_does_not_glue_operators(tmp_path, world):
    """Benign users and the state actor share a VPN exit: it must not pull benign accounts in."""
    from idwatch.correlate.pipeline import correlate

    store = world.write(tmp_path / "s")
    correlate(store)
    state = next(
        c for c in store.read_state_json("campaigns") if sc.STATE_IPS[0] in c["infrastructure"]["ips"]
    )
    victims = {a["account"] for a in state["accounts"]}
    benign_vpn_users = (
        {r["account"] for r in world.directory[::3]} - world.truth["attacked"] - world.truth["probed"]
    )
    assert not victims & benign_vpn_users


def test_outputs_are_written_and_incidents_know_their_campaigns(analysed):
    store, summary = analysed
    incidents = store.read_state_table("incidents").to_pylist()
    assert summary.incidents == len(incidents)
    compromised = [i for i in incidents if i["status"] == "compromised"]
    assert len(compromised) == 2
    assert all(i["campaigns"] for i in compromised)
    assert all(i["persistence"] for i in compromised)
    accounts = store.read_state_json("accounts")
    assert {a["status"] for a in accounts} <= {"probed", "attacked", "compromised"}
    assert all(0 <= a["risk"] <= 100 for a in accounts)
