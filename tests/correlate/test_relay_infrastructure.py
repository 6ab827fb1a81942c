"""A credential relay is not an office, and an address the intel names is never dropped.

The failures this guards against: an address that completed sign-ins (password and one-time
code, replayed from a phishing page) for many unrelated accounts was taken for a shared office
and left out of the campaign graph, so the takeovers were nobody's; and the operator's
single-use address, named in the intel, dropped out because it touched one account, leaving the
campaign without the indicator its attribution needed. An office line where one organization's
people sign in stays out.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import STATE_IPS, STATE_UA, T0, build_world, intel_bundle, stages_of

RELAY_IP = "192.0.2.90"
RELAY_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15"
OFFICE_LINE = "192.0.2.140"
SINGLE_USE = "198.18.44.4"
PERSIST_SERVER = "198.18.90.9"
PERSIST_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:91.0) Gecko/20100101 Firefox/91.0"


def build_relay_world():
    w = build_world()
    kw = {"account_exists": True}
    base = w.directory[-1]
    # four unrelated people, each at home until the relay replays her password and code
    victims = [
        f"v{k}@{d}"
        for k, d in enumerate(["isp-a.example", "isp-b.example", "isp-c.example", "isp-d.example"])
    ]
    colleagues = [f"c{k}@bigorg.example" for k in range(4)]
    for k, acc in enumerate(victims + colleagues):
        w.directory.append({**base, "account": acc, "tenant": acc.split("@")[1], "contact_hash": None})
        for day in range(0, 30, 5):
            w.ev(
                T0 - timedelta(days=30 - day),
                acc,
                "sign_in",
                "success",
                f"10.8.{k}.9",
                method="password",
                **kw,
            )
    eids = []
    for k, acc in enumerate(victims):
        t = T0 + timedelta(days=10, hours=3 * k)
        sid = f"relay-{k}"
        common = {"network_type": "hosting", "asn": 65050, "user_agent": RELAY_UA, "session_id": sid}
        eids.append(w.ev(t, acc, "sign_in", "pending", RELAY_IP, method="password", **common, **kw))
        eids.append(
            w.ev(
                t + timedelta(seconds=50), acc, "mfa_challenge", "success", RELAY_IP, method="totp", **common
            )
        )
    w.alert("compromise.relay_signin", "compromise", ["T1557", "T1078"], eids, 85)
    # the organization moves to a new office line: its people sign in from it, a detection flags it
    office = [
        w.ev(
            T0 + timedelta(days=11, hours=8, minutes=k),
            acc,
            "sign_in",
            "success",
            OFFICE_LINE,
            method="password",
            network_type="business",
            asn=65060,
            **kw,
        )
        for k, acc in enumerate(colleagues)
    ]
    w.alert("compromise.unfamiliar_signin", "compromise", ["T1078"], office, 60)
    # the state operator resets one more target's password from a fresh, single-use server
    target = sorted(w.truth["attacked"])[-1]
    once = w.ev(
        T0 + timedelta(days=8, hours=6),
        target,
        "password_reset",
        "failure",
        SINGLE_USE,
        step="verify",
        method="sms",
        reason="verification_failed",
        user_agent=STATE_UA,
        network_type="hosting",
        asn=64500,
        **kw,
    )
    w.alert("recovery.reset_abuse", "recovery", ["T1586.002"], [once], 70)
    # ... and signs in to a taken-over account from another intel-named server, once, to plant a rule
    victim = sorted(w.truth["compromised"])[0]
    got_in = [
        w.ev(
            T0 + timedelta(days=9, hours=6, minutes=m),
            victim,
            act,
            "success",
            PERSIST_SERVER,
            user_agent=PERSIST_UA,
            network_type="hosting",
            asn=64510,
            detail=detail,
            **kw,
        )
        for m, act, detail in (
            (0, "sign_in", None),
            (3, "mailbox_rule", "forward to keep.copy@outlook-verify.net"),
        )
    ]
    w.alert("persistence.forwarding_rule", "persistence", ["T1114.003"], got_in, 85)
    w.victims, w.colleagues = victims, colleagues
    return w


@pytest.fixture(scope="module")
def relayed(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_relay_world()
    intel = intel_bundle(state_ips=[STATE_IPS[1], SINGLE_USE, PERSIST_SERVER])
    store = world.write(tmp_path_factory.mktemp("relay"), [intel])
    correlate(store)
    return world, store.read_state_json("campaigns")


def test_a_relay_that_completes_mfa_sign_ins_for_unrelated_accounts_is_infrastructure(relayed):
    world, campaigns = relayed
    held = [c for c in campaigns if RELAY_IP in c["infrastructure"]["ips"]]
    assert len(held) == 1
    assert {a["account"] for a in held[0]["accounts"] if a["stage"] == "compromised"} == set(world.victims)


def test_one_organizations_new_office_line_is_no_infrastructure(relayed):
    world, campaigns = relayed
    for camp in campaigns:
        assert OFFICE_LINE not in camp["infrastructure"]["ips"], camp["id"]
        for acc in world.colleagues:
            assert not stages_of(camp, acc), camp["id"]


def test_an_intel_named_single_use_address_stays_in_its_campaign(relayed):
    _world, campaigns = relayed
    state = [c for c in campaigns if STATE_IPS[0] in c["infrastructure"]["ips"]]
    assert len(state) == 1
    assert SINGLE_USE in state[0]["infrastructure"]["ips"]
    refs = [r for e in state[0]["evidence"] if e["kind"] == "indicator_match" for r in e.get("refs", [])]
    assert SINGLE_USE in refs


def test_an_intel_named_server_that_only_planted_persistence_stays_too(relayed):
    """It does something else than the rest of the infrastructure (no probes, no resets), and
    links to it by nothing but the account: the intel's word keeps it in."""
    _world, campaigns = relayed
    held = [c for c in campaigns if PERSIST_SERVER in c["infrastructure"]["ips"]]
    assert len(held) == 1 and STATE_IPS[0] in held[0]["infrastructure"]["ips"]
