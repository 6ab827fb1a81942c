"""A takeover belongs to the campaign whose attack on that account came before it.

The failures this guards against: an operator that gets in from an address, network and
client its campaign never showed (a relay replaying password and one-time code from a fresh
hosting address, a residential proxy per victim) was nobody's compromise, so the campaign
counted 0 of its takeovers; a password accepted and then stopped at MFA counted as a sign-in;
the operator's own device, reused on several days, became "the owner's" and vanished from the
counts. And the other way: one failed spray guess followed by the owner's own sign-in from a
hotel is no takeover, nor is a traveller's sign-in with her own device after an aimed attack.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import STATE_IPS, STATE_UA, T0, build_world, intel_bundle, stages_of

RELAY_IP = "192.0.2.77"  # fresh hosting address, used once, in no intel
RELAY_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
PROXY_IPS = ["100.72.3.4", "100.72.9.8"]  # residential proxy exits, one per visit
OPERATOR_DEVICE = "dev-op-7f3a"
HOTEL_IP = "172.30.44.5"
GATE_IP = "198.18.77.1"  # a sprayer whose right guesses all stop at MFA


def _state_targets(world) -> list[str]:
    return sorted(world.truth["attacked"] - world.truth["compromised"])


def build_chain_world():
    w = build_world()
    targets = _state_targets(w)
    relayed, proxied, travelled = targets[0], targets[1], targets[2]
    kw = {"account_exists": True, "method": "password"}
    # 1. relay: two days after the reset attempts, the operator replays her password and code
    t = T0 + timedelta(days=12, hours=6)
    a = w.ev(
        t,
        relayed,
        "sign_in",
        "pending",
        RELAY_IP,
        user_agent=RELAY_UA,
        network_type="hosting",
        asn=65010,
        session_id="relay-1",
        **kw,
    )
    b = w.ev(
        t + timedelta(seconds=40),
        relayed,
        "mfa_challenge",
        "success",
        RELAY_IP,
        user_agent=RELAY_UA,
        network_type="hosting",
        asn=65010,
        session_id="relay-1",
        method="totp",
    )
    w.alert("compromise.relay_signin", "compromise", ["T1557", "T1078"], [a, b], 85)
    w.relayed = relayed
    # 2. the operator keeps its browser (one device id) across its reset attempts, then gets into
    #    another account from residential proxies on two days: its device is no owner's device
    dev_events = [e for e in w.events if e["user_agent"] == STATE_UA and e["activity"] == "password_reset"]
    for e in dev_events:
        e["device_id"] = OPERATOR_DEVICE
    for day, ip in enumerate(PROXY_IPS):
        e = w.ev(
            T0 + timedelta(days=13 + day, hours=7),
            proxied,
            "sign_in",
            "success",
            ip,
            user_agent=RELAY_UA,
            device_id=OPERATOR_DEVICE,
            network_type="residential",
            asn=65020 + day,
            **kw,
        )
        w.alert("compromise.unfamiliar_signin", "compromise", ["T1078"], [e], 70)
    w.proxied = proxied
    # 3. a traveller (a target of the aimed attack) signs in from a hotel with her own laptop
    for e in w.events:
        if e["account"] == travelled and e["src_ip"].startswith("10."):
            e["device_id"] = "laptop-own"
    e = w.ev(
        T0 + timedelta(days=14, hours=19),
        travelled,
        "sign_in",
        "success",
        HOTEL_IP,
        device_id="laptop-own",
        network_type="business",
        asn=65030,
        **kw,
    )
    w.alert("compromise.unfamiliar_signin", "compromise", ["T1078"], [e], 70)
    w.travelled = travelled
    # 4. a consumer guessed once by the botnet signs in from a hotel with her own browser
    state_targets = {e["account"] for e in w.events if e["user_agent"] == STATE_UA}
    once = [a for a in _guessed_once(w) if a not in state_targets][0]
    e = w.ev(
        T0 + timedelta(days=15, hours=20),
        once,
        "sign_in",
        "success",
        HOTEL_IP,
        network_type="business",
        asn=65030,
        **kw,
    )
    w.alert("compromise.signin_after_attack", "compromise", ["T1078"], [e], 70)
    w.guessed_once = once
    # 5. a sprayer whose password successes are all stopped by the second factor (one session each)
    gated = [f"user{k}@{tenant}" for k, tenant in enumerate(["isp-a.example", "isp-b.example"] * 3)]
    for k, acc in enumerate(gated):  # unrelated people (other tenants), each with a home of her own
        w.directory.append(
            {
                **w.directory[-1],
                "account": acc,
                "tenant": acc.split("@")[1],
                "display_name": acc,
                "contact_hash": None,
            }
        )
        for day in range(0, 30, 5):
            w.ev(T0 - timedelta(days=30 - day), acc, "sign_in", "success", f"10.9.{k}.9", **kw)
    eids = []
    for k, acc in enumerate(gated):
        t = T0 + timedelta(days=16, minutes=7 * k)
        sid = f"gate-{k}"
        eids.append(
            w.ev(
                t,
                acc,
                "sign_in",
                "success",
                GATE_IP,
                network_type="hosting",
                asn=65040,
                user_agent=RELAY_UA,
                session_id=sid,
                **kw,
            )
        )
        eids.append(
            w.ev(
                t + timedelta(seconds=30),
                acc,
                "mfa_challenge",
                "failure",
                GATE_IP,
                method="push",
                reason="mfa_denied",
                network_type="hosting",
                asn=65040,
                user_agent=RELAY_UA,
                session_id=sid,
            )
        )
    w.alert("credential.mfa_gated_spray", "credential", ["T1110.003"], eids, 60)
    w.gated = gated
    return w


def _guessed_once(w) -> list[str]:
    guesses: dict[str, int] = {}
    for e in w.events:
        if e["outcome"] == "failure" and e["reason"] == "bad_password":
            guesses[e["account"]] = guesses.get(e["account"], 0) + 1
    return sorted(a for a, n in guesses.items() if n == 1)


@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_chain_world()
    store = world.write(tmp_path_factory.mktemp("chain"), [intel_bundle(state_ips=[STATE_IPS[1]])])
    summary = correlate(store)
    return world, store.read_state_json("campaigns"), store.read_state_json("accounts"), summary


def _state(campaigns):
    found = [c for c in campaigns if STATE_IPS[0] in c["infrastructure"]["ips"]]
    assert len(found) == 1
    return found[0]


def test_a_relay_replay_from_a_fresh_address_is_the_campaigns_compromise(chained):
    world, campaigns, _accounts, _summary = chained
    state = _state(campaigns)
    assert RELAY_IP not in state["infrastructure"]["ips"]  # one account: not infrastructure
    assert "compromised" in stages_of(state, world.relayed)


def test_the_operators_own_device_on_two_days_is_no_owners_device(chained):
    world, campaigns, _accounts, _summary = chained
    assert "compromised" in stages_of(_state(campaigns), world.proxied)


def test_the_campaign_counts_every_takeover(chained):
    world, campaigns, _accounts, _summary = chained
    state = _state(campaigns)
    expected = world.truth["compromised"] | {world.relayed, world.proxied}
    assert state["counts"]["accounts_compromised"] == len(expected)
    assert state["counts"]["accounts_attacked"] == len(world.truth["attacked"])


def test_a_traveller_with_her_own_laptop_is_not_taken_over(chained):
    world, campaigns, accounts, _summary = chained
    for camp in campaigns:
        assert "compromised" not in stages_of(camp, world.travelled), camp["id"]
    assert {a["status"] for a in accounts if a["account"] == world.travelled} == {"attacked"}


def test_one_spray_guess_then_the_owners_sign_in_is_not_a_compromise(chained):
    world, campaigns, accounts, _summary = chained
    for camp in campaigns:
        assert "compromised" not in stages_of(camp, world.guessed_once), camp["id"]
    assert {a["status"] for a in accounts if a["account"] == world.guessed_once} == {"attacked"}


def test_a_password_stopped_at_mfa_is_no_sign_in(chained):
    world, campaigns, accounts, _summary = chained
    held = [c for c in campaigns if GATE_IP in c["infrastructure"]["ips"]]
    assert len(held) == 1, "an address that passes the password step everywhere is no office"
    assert {a["account"] for a in held[0]["accounts"] if a["stage"] == "attacked"} >= set(world.gated)
    for acc in accounts:
        if acc["account"] in world.gated:
            assert acc["status"] != "compromised"


def test_accounts_tell_the_campaigns_story(chained):
    """One row per account, its status the furthest stage the campaigns give it."""
    _world, campaigns, accounts, summary = chained
    names = [a["account"] for a in accounts]
    assert len(names) == len(set(names))
    furthest: dict[str, str] = {}
    rank = {"probed": 1, "attacked": 2, "compromised": 3}
    for camp in campaigns:
        for acc in camp["accounts"]:
            if rank[acc["stage"]] > rank.get(furthest.get(acc["account"], ""), 0):
                furthest[acc["account"]] = acc["stage"]
    for acc in accounts:
        if acc["account"] in furthest:
            assert acc["status"] == furthest[acc["account"]], acc["account"]
        else:
            assert not acc["campaigns"]


def test_the_headline_is_the_campaigns_plus_what_no_campaign_holds(chained):
    _world, campaigns, accounts, summary = chained
    head = summary.headline
    for key in ("accounts_attacked", "accounts_compromised"):
        assert head["campaign_sum"][key] == sum(c["counts"][key] for c in campaigns)
        assert head["total"][key] == (
            head["campaign_sum"][key] - head["shared"][key] + head["outside_campaigns"][key]
        )
    compromised = sum(1 for a in accounts if a["status"] == "compromised")
    assert head["total"]["accounts_compromised"] == compromised
