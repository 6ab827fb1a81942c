"""A stranger's own password reset through an exit the operator also used is not an attack.

The failure this guards against: a person who forgot her password resets it through a Tor
exit on a new laptop, with the same common browser the operator uses. A detection flagged
the exit (the operator worked through it that day), so her steps carry an alert, and the
campaign counted her account as attacked: her company, which the operator never touched,
would have been told it was targeted by a state actor. A session that ends signed in from
the same browser is either the owner's own or the campaign getting in - never a failed try.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import (
    RU_UA,
    STATE_IPS,
    T0,
    TOR_EXITS,
    build_two_operator_world,
    intel_bundle,
    sha,
    stages_of,
)

STRANGER = "erin.moss@quiet-corp.example"


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_two_operator_world()
    world.directory.append(
        {
            "account": STRANGER,
            "tenant": "quiet-corp.example",
            "display_name": "Erin Moss",
            "category": "consumer",
            "watchlist": False,
            "home_country": "US",
            "contact_hash": sha("+15559990001"),
            "notify": "soc@quiet-corp.example",
        }
    )
    for day in range(0, 30, 3):  # her own phone at home
        world.ev(
            T0 - timedelta(days=40 - day),
            STRANGER,
            "sign_in",
            "success",
            "10.9.9.9",
            method="password",
            account_exists=True,
            device_id="her-phone",
        )
    # weeks later, a new laptop, through an exit the second operator guessed passwords from
    exit_ip, t = TOR_EXITS[4], T0 + timedelta(days=3, hours=20)
    kw = {
        "user_agent": RU_UA,
        "network_type": "tor",
        "asn": 64900,
        "account_exists": True,
        "device_id": "her-laptop",
    }
    lookup = world.ev(t, STRANGER, "account_lookup", "success", exit_ip, **kw)
    start = world.own_reset(t + timedelta(seconds=14), STRANGER, exit_ip, **kw)
    world.ev(t + timedelta(minutes=5), STRANGER, "sign_in", "success", exit_ip, method="password", **kw)
    # a per-address alert cites every lookup and reset start on the exit that day
    world.alert("recon.account_enumeration", "recon", ["T1589.002"], [lookup, start], 50)
    intel = intel_bundle(state_ips=[STATE_IPS[1]], second_ips=TOR_EXITS[3:6])
    store = world.write(tmp_path_factory.mktemp("stranger"), [intel])
    correlate(store)
    return store.read_state_json("campaigns")


def test_her_reset_is_in_no_campaign_as_an_attack(campaigns):
    for camp in campaigns:
        assert not stages_of(camp, STRANGER) & {"attacked", "compromised"}, camp["id"]


def test_her_company_is_not_a_targeted_tenant(campaigns):
    for camp in campaigns:
        if camp["actor"]:
            assert "quiet-corp.example" not in camp["tenants"]


def test_the_operators_keep_their_own_targets(campaigns):
    first = [c for c in campaigns if STATE_IPS[0] in c["infrastructure"]["ips"]]
    second = [c for c in campaigns if exit_of_second_operator() in c["infrastructure"]["ips"]]
    assert len(first) == 1 and len(second) == 1
    assert first[0]["counts"]["accounts_attacked"] == 12
    assert first[0]["counts"]["accounts_compromised"] == 2
    assert second[0]["counts"]["accounts_attacked"] == 16
    assert second[0]["counts"]["accounts_compromised"] == 1


def exit_of_second_operator() -> str:
    return TOR_EXITS[4]
