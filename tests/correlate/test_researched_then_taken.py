"""Research is the first step of an account's chain.

A state operator looks its targets up from its own servers weeks before it acts; the takeover
then often comes through a credential relay on a server rented next to them (the same hosting
/24), which no detection flagged and nothing else in the campaign used. The account's own chain
says whose it is: researched by the campaign, then taken over (or tried, when the replayed code
had expired) from the campaign's data-centre neighbourhood. And the other way: a researched
person who later signs in from a new laptop at home, or (after a typo) through her company's
cloud proxy, is still herself.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import STATE_IPS, STATE_UA, T0, build_world, intel_bundle, stages_of

NEIGHBOUR_IP = "203.0.113.77"  # rented next to the operator's research server 203.0.113.10
NEIGHBOUR_2 = "203.0.113.78"  # another relay there, whose replayed code had expired
RELAY_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
LAPTOP_IP, PROXY_IP = "10.99.0.9", "52.20.7.9"


def _person(w, account: str, home: str) -> None:
    w.directory.append({**w.directory[0], "account": account, "display_name": account, "contact_hash": None})
    for day in range(0, 30, 3):
        w.ev(T0 - timedelta(days=40 - day), account, "sign_in", "success", home, method="password")


def _researched_world():
    w = build_world()
    names = ("zora.quill", "ivo.brandt", "lena.vogt", "mara.lind")
    relayed, at_home, proxied, expired = (f"{n}@campaign2020.org" for n in names)
    for k, acc in enumerate((relayed, at_home, proxied, expired)):
        _person(w, acc, f"10.98.{k}.9")
        w.ev(
            T0 + timedelta(hours=6, minutes=5 * k),
            acc,
            "account_lookup",
            "success",
            STATE_IPS[0],
            user_agent=STATE_UA,
            network_type="hosting",
            asn=64500,
            account_exists=True,
        )
    t = T0 + timedelta(days=9, hours=6)
    for step, outcome in (("sign_in", "pending"), ("mfa_challenge", "success")):
        w.ev(
            t,
            relayed,
            step,
            outcome,
            NEIGHBOUR_IP,
            user_agent=RELAY_UA,
            network_type="hosting",
            asn=64500,
            session_id="relay-9",
            method="password" if step == "sign_in" else "totp",
            account_exists=True,
        )
        t += timedelta(seconds=50)
    for step, outcome in (("sign_in", "pending"), ("mfa_challenge", "failure")):
        w.ev(
            t + timedelta(hours=2),
            expired,
            step,
            outcome,
            NEIGHBOUR_2,
            user_agent=RELAY_UA,
            network_type="hosting",
            asn=64500,
            session_id="relay-10",
            reason="expired" if outcome == "failure" else None,
            method="password" if step == "sign_in" else "totp",
            account_exists=True,
        )
    w.ev(
        t + timedelta(days=1),
        at_home,
        "sign_in",
        "success",
        LAPTOP_IP,
        user_agent=RELAY_UA,
        device_id="new-laptop",
    )
    w.ev(
        t + timedelta(days=2, seconds=-20),
        proxied,
        "sign_in",
        "failure",
        PROXY_IP,
        user_agent=RELAY_UA,
        network_type="hosting",
        asn=14618,
        reason="bad_password",
    )
    w.ev(
        t + timedelta(days=2),
        proxied,
        "sign_in",
        "success",
        PROXY_IP,
        user_agent=RELAY_UA,
        network_type="hosting",
        asn=14618,
    )
    return w, relayed, at_home, proxied, expired


@pytest.fixture(scope="module")
def researched(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    w, *accounts = _researched_world()
    store = w.write(tmp_path_factory.mktemp("researched"), [intel_bundle(state_ips=[STATE_IPS[1]])])
    correlate(store)
    state = [c for c in store.read_state_json("campaigns") if STATE_IPS[0] in c["infrastructure"]["ips"]]
    assert len(state) == 1
    return state[0], store.read_state_json("accounts"), accounts


def test_a_takeover_from_the_research_servers_neighbourhood_is_the_campaigns(researched):
    state, _accounts, (relayed, _home, _proxied, _expired) = researched
    assert NEIGHBOUR_IP not in state["infrastructure"]["ips"]  # one account: not infrastructure
    assert stages_of(state, relayed) == {"compromised"}


def test_a_researched_persons_new_laptop_at_home_is_hers(researched):
    state, accounts, (_relayed, at_home, _proxied, _expired) = researched
    assert stages_of(state, at_home) == {"probed"}
    assert {a["status"] for a in accounts if a["account"] == at_home} <= {"probed"}


def test_a_researched_persons_cloud_proxy_elsewhere_is_hers(researched):
    state, _accounts, (_relayed, _home, proxied, _expired) = researched
    assert stages_of(state, proxied) == {"probed"}


def test_a_failed_relay_from_the_neighbourhood_is_the_campaigns_attack(researched):
    state, _accounts, (*_others, expired) = researched
    assert stages_of(state, expired) == {"attacked"}
