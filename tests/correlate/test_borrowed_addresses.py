"""Addresses a detection lumped in with an operator's are not the operator's own.

Detections group events by what they share, and a popular browser string is shared by
thousands: a spray alert keyed on it also cites office workers who mistyped their passwords
behind the company NAT, and a distributed-enumeration alert also cites a visitor who reset
her forgotten password on a family's home line. Two failures this guards against:

- the NAT (used by 1,500 people) sat in the operator's campaign on a thread, and the
  worker's company was told a state actor had attacked it;
- the home line (two people sign in there every few days) counted as the operator's own
  address, so the visitor's completed reset counted as the operator getting in;
- a line where one person mistyped her address, typed it right and signed in "touched two
  accounts", so it counted as the operator's address and her sign-in as a compromise;
- a stranger's sign-in through a server the operator also used counted as the operator
  getting into an account it had never tried, with a phone it had never used.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import (
    RU_UA,
    STATE_IPS,
    STATE_UA,
    T0,
    TOR_EXITS,
    build_two_operator_world,
    intel_bundle,
    stages_of,
)

OFFICE_NAT = "192.0.2.50"
WORKERS = ["ben.ortiz@bigcorp.example", "ada.wong@bigcorp.example"]
HOME_LINE = "198.51.100.77"
FAMILY = ["pat.lee@homemail.example", "sam.lee@homemail.example"]
VISITOR = "kim.lee@homemail.example"
TYPIST_LINE = "198.51.100.90"
TYPIST = "linda.ward@homemail.example"
STRANGER = "joy.park@elsewhere.example"
PHONE_UA = "Mozilla/5.0 (Linux; Android 9; Pixel 3) AppleWebKit/537.36 Chrome/76.0 Mobile Safari/537.36"


@pytest.fixture(scope="module")
def world():
    w = build_two_operator_world()
    # an office NAT: 1,500 people sign in through it every working day
    for i in range(1500):
        w.ev(
            T0 - timedelta(days=20, minutes=i),
            f"staff{i}@bigcorp.example",
            "sign_in",
            "success",
            OFFICE_NAT,
            method="password",
            account_exists=True,
            network_type="hosting",
            asn=16509,
        )
    for day in range(0, 30, 2):  # two of the staff usually work from home
        for k, worker in enumerate(WORKERS):
            w.ev(
                T0 - timedelta(days=30 - day, hours=3),
                worker,
                "sign_in",
                "success",
                f"10.50.0.{k + 1}",
                method="password",
                account_exists=True,
                device_id=worker + "-pc",
            )
    # in the office one day, they mistype their passwords on new laptops, with the browser the
    # second operator uses
    typos = [
        w.ev(
            T0 + timedelta(days=4, hours=15, minutes=9 * k),
            worker,
            "sign_in",
            "failure",
            OFFICE_NAT,
            method="password",
            reason="bad_password",
            user_agent=RU_UA,
            account_exists=True,
            network_type="hosting",
            asn=16509,
        )
        for k in range(6)
        for worker in WORKERS
    ]
    guesses = [e["event_id"] for e in w.events if e["user_agent"] == RU_UA and e["outcome"] == "failure"][:20]
    w.alert("credential.password_spray", "credential", ["T1110.003"], guesses + typos, 55)
    # a family's home line; a visitor resets her own forgotten password there, typo first
    for day in range(0, 40, 3):
        for person in FAMILY:
            w.ev(
                T0 - timedelta(days=40 - day, hours=2),
                person,
                "sign_in",
                "success",
                HOME_LINE,
                method="password",
                account_exists=True,
                network_type="residential",
                asn=7922,
            )
    t = T0 + timedelta(days=1, hours=20)
    kw = {"user_agent": STATE_UA, "network_type": "residential", "asn": 7922, "device_id": "kim-laptop"}
    typo = w.ev(
        t,
        "kim.le@homemail.example",
        "password_reset",
        "failure",
        HOME_LINE,
        step="start",
        reason="unknown_account",
        account_exists=False,
        **kw,
    )
    start = w.own_reset(t + timedelta(minutes=1), VISITOR, HOME_LINE, account_exists=True, **kw)
    probes = [
        e["event_id"] for e in w.events if e["src_ip"] in STATE_IPS[:2] and e["activity"] == "account_lookup"
    ]
    # someone mistypes her address, types it right and signs in, on a line nobody else uses
    t = T0 + timedelta(days=2, hours=21)
    kw = {"user_agent": STATE_UA, "network_type": "residential", "asn": 7922, "device_id": "lin-pc"}
    wrong = w.ev(
        t,
        "inda.ward@homemail.example",
        "account_lookup",
        "failure",
        TYPIST_LINE,
        reason="unknown_account",
        account_exists=False,
        **kw,
    )
    right = w.ev(
        t + timedelta(seconds=7), TYPIST, "account_lookup", "success", TYPIST_LINE, account_exists=True, **kw
    )
    w.ev(
        t + timedelta(seconds=20),
        TYPIST,
        "sign_in",
        "success",
        TYPIST_LINE,
        method="password",
        account_exists=True,
        **kw,
    )
    w.alert("recon.distributed_enumeration", "recon", ["T1589.002"], probes + [typo, start, wrong, right], 50)
    # a stranger on her phone signs in through one of the operator's own servers (a VPN service
    # rents from the same host); a detection flags the unfamiliar sign-in
    lone = w.ev(
        T0 + timedelta(days=9, hours=15),
        STRANGER,
        "sign_in",
        "success",
        STATE_IPS[2],
        method="password",
        account_exists=True,
        network_type="hosting",
        asn=64500,
        user_agent=PHONE_UA,
        device_id="joy-phone",
    )
    w.alert("compromise.unfamiliar_signin", "compromise", ["T1078"], [lone], 70)
    return w


@pytest.fixture(scope="module")
def campaigns(world, tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    intel = intel_bundle(state_ips=[STATE_IPS[1]], second_ips=TOR_EXITS[3:6])
    store = world.write(tmp_path_factory.mktemp("borrowed"), [intel])
    correlate(store)
    return store.read_state_json("campaigns")


def test_the_office_nat_is_no_campaigns_infrastructure(campaigns):
    for camp in campaigns:
        assert OFFICE_NAT not in camp["infrastructure"]["ips"], camp["id"]


def test_the_workers_company_is_not_told_of_an_attack(campaigns):
    for camp in campaigns:
        if camp["actor"]:
            assert "bigcorp.example" not in camp["tenants"]


def test_the_visitors_own_reset_is_not_a_compromise(campaigns):
    for camp in campaigns:
        assert not stages_of(camp, VISITOR) & {"attacked", "compromised"}, camp["id"]


def test_a_typo_then_a_sign_in_is_one_person_not_infrastructure(campaigns):
    for camp in campaigns:
        assert TYPIST_LINE not in camp["infrastructure"]["ips"], camp["id"]
        assert "compromised" not in stages_of(camp, TYPIST), camp["id"]


def test_a_strangers_sign_in_on_the_operators_server_is_no_compromise(campaigns):
    """The operator never tried her account, and never used her phone or browser."""
    for camp in campaigns:
        assert not stages_of(camp, STRANGER) & {"attacked", "compromised"}, camp["id"]
        if camp["actor"]:
            assert "elsewhere.example" not in camp["tenants"]


def test_the_operators_counts_are_unchanged(campaigns, world):
    first = [c for c in campaigns if STATE_IPS[0] in c["infrastructure"]["ips"]]
    second = [c for c in campaigns if TOR_EXITS[4] in c["infrastructure"]["ips"]]
    assert len(first) == 1 and len(second) == 1
    assert first[0]["counts"]["accounts_attacked"] == len(world.truth["attacked"])
    assert first[0]["counts"]["accounts_compromised"] == len(world.truth["compromised"])
    assert second[0]["counts"]["accounts_attacked"] == len(world.second_attacked)
    assert second[0]["counts"]["accounts_compromised"] == len(world.second_compromised)
