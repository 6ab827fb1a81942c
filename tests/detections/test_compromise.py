"""Compromise detections: the attacker getting in vs. travellers, VPN users and IPv6 noise."""

from __future__ import annotations

import json

import pytest
from det_kit import NETS, UA_EVIL_BROWSER, UA_OWNER, UA_PHONE, alerted_accounts, alerts_of, ev, history

from idwatch.detections.indicators import indicator_rows


def _works_through(hours: float, net: str, n: int) -> list[dict]:
    """The source fails to sign in to ``n`` other accounts (a target list being worked)."""
    return [
        ev(
            hours + i * 0.1,
            f"t{i}@corp.org",
            "sign_in",
            "failure",
            net=net,
            ua=UA_EVIL_BROWSER,
            reason="bad_password",
        )
        for i in range(n)
    ]


def test_unfamiliar_signin_after_attack_fires(build):
    events = (
        _works_through(499, "evil", 3)
        + history("alice@corp.org")
        + [
            ev(
                500 + k * 0.1,
                "alice@corp.org",
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL_BROWSER,
                reason="bad_password",
            )
            for k in range(3)
        ]
    )
    events.append(ev(501, "alice@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER, device="dev-x"))
    alerts = alerts_of(build(events), "compromise_unfamiliar_signin_after_attack")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert "5.160.1.10" in alerts[0]["src_ips"] and len(alerts[0]["event_ids"]) == 4


def test_unfamiliar_signin_quiet_on_traveller_who_mistyped(build):
    events = history("bob@corp.org") + [
        ev(
            500,
            "bob@corp.org",
            "sign_in",
            "failure",
            net="hotel_fr",
            device="dev-owner",
            reason="bad_password",
        ),
        ev(500.1, "bob@corp.org", "sign_in", net="hotel_fr", device="dev-owner"),
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_unfamiliar_signin_after_sustained_attack_on_one_account_fires(build):
    events = history("alice@corp.org") + [
        ev(
            500 + k * 0.1,
            "alice@corp.org",
            "sign_in",
            "failure",
            net="evil",
            ua=UA_EVIL_BROWSER,
            reason="bad_password",
        )
        for k in range(6)
    ]
    events.append(ev(501, "alice@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER, device="dev-x"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {"alice@corp.org"}


def test_unfamiliar_signin_quiet_on_owner_typos_then_new_phone_behind_vpn(build):
    # two typos from a friend's network, then days later the owner's new phone through a VPN
    events = history("bob@corp.org") + [
        ev(
            500 + k * 0.01,
            "bob@corp.org",
            "sign_in",
            "failure",
            net="hotel_fr",
            ua="Other/1.0",
            reason="bad_password",
        )
        for k in range(2)
    ]
    events.append(ev(550, "bob@corp.org", "sign_in", net="vpn_nl", ua="NewPhone/1.0", device="dev-new"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_unfamiliar_signin_with_a_phished_password_from_a_probing_source_fires(build):
    # no failure at all: the source looked up alice and others, then signed in with her password
    events = _works_through(499, "evil", 3) + history("alice@corp.org")
    events.append(ev(499.5, "alice@corp.org", "account_lookup", net="evil", ua=UA_EVIL_BROWSER, device=None))
    events.append(ev(501, "alice@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER, device="dev-x"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {"alice@corp.org"}


def test_signin_to_a_dormant_account_from_a_probing_source_fires(build):
    # no history in the store at all: the source's behaviour is the evidence
    events = _works_through(499, "evil", 4)
    events.append(
        ev(499.5, "dormant@corp.org", "account_lookup", net="evil", ua=UA_EVIL_BROWSER, device="dev-x")
    )
    events.append(ev(501, "dormant@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER, device="dev-x"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {
        "dormant@corp.org"
    }


def test_first_signins_of_vpn_users_behind_one_exit_are_quiet(build):
    # no history yet; three users of one VPN exit sign in identifier-first (lookup, then password)
    # and a fourth fumbles an account recovery there: the exit serves its users, it probes nobody
    users = [f"vpn{i}@corp.org" for i in range(3)]
    events = []
    for i, u in enumerate(users):
        events.append(ev(500 + i * 0.1, u, "account_lookup", net="vpn_nl", device=f"dev-{i}"))
        events.append(ev(500 + i * 0.1 + 0.01, u, "sign_in", net="vpn_nl", device=f"dev-{i}"))
    events.append(ev(500.05, "fumble@corp.org", "account_recovery", "failure", net="vpn_nl", device="dev-f"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_unfamiliar_signin_quiet_on_locked_out_traveller_who_reset_the_password(build):
    # abroad on a new laptop she fails six times and is locked out, resets by SMS and signs in:
    # the success used the new password; the failures before the reset are no attack on it
    events = history("paula@corp.org")
    hotel = {"net": "hotel_fr", "ua": UA_EVIL_BROWSER, "device": "dev-new-laptop"}
    events += [
        ev(500 + k * 0.01, "paula@corp.org", "sign_in", "failure", reason="bad_password", **hotel)
        for k in range(6)
    ]
    events += [
        ev(500.3, "paula@corp.org", "password_reset", "pending", step="start", method="sms", **hotel),
        ev(500.32, "paula@corp.org", "password_reset", step="verify", method="sms", **hotel),
        ev(500.34, "paula@corp.org", "password_reset", step="complete", **hotel),
        ev(500.35, "paula@corp.org", "sign_in", **hotel),
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_unfamiliar_signin_quiet_on_stale_password_then_owner_days_later(build):
    # a laptop's mail client fails for hours from home with a stale password; two days later the
    # owner signs in on a new phone over the carrier network
    events = history("dana@corp.org")
    events += [
        ev(
            500 + k * 0.3,
            "dana@corp.org",
            "sign_in",
            "failure",
            net="home",
            src_ip="108.20.1.1",
            asn=701,
            asn_org="VERIZON",
            ua="Thunderbird/60",
            reason="bad_password",
        )
        for k in range(10)
    ]
    events.append(ev(552, "dana@corp.org", "sign_in", net="mobile", ua=UA_PHONE, device="dev-newphone"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_unfamiliar_signin_after_campaign_reset_fires_despite_the_reset(build):
    # the source works through other accounts, resets alice's password and signs in
    events = _works_through(499, "evil", 4) + history("alice@corp.org")
    attacker = {"net": "evil", "ua": UA_EVIL_BROWSER, "device": "dev-x"}
    events += [
        ev(500, "alice@corp.org", "password_reset", "pending", step="start", method="sms", **attacker),
        ev(500.1, "alice@corp.org", "password_reset", step="complete", **attacker),
        ev(500.2, "alice@corp.org", "sign_in", **attacker),
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {"alice@corp.org"}


def test_signin_through_a_vpn_exit_an_attacker_also_uses_is_quiet_when_nobody_attacked_the_account(build):
    # an actor works through accounts from one VPN exit; a customer of the same VPN signs in to
    # her own account there on a new laptop. The exit's reputation is not hers
    # her own client, identifier first (the lookup makes the account worth a look)
    events = _works_through(499, "vpn_nl", 6) + history("yasmin@corp.org", net="home")
    mac = {"net": "vpn_nl", "ua": "Safari/Mac", "device": "dev-mac"}
    events += [
        ev(499.99, "yasmin@corp.org", "account_lookup", **mac),
        ev(500, "yasmin@corp.org", "sign_in", **mac),
    ]
    # and a dormant account's first sign-in through a Tor exit attackers probe from
    tor = {
        "src_ip": "185.220.101.186",
        "asn": 60729,
        "asn_org": "TOR EXIT",
        "country": "DE",
        "network_type": "tor",
    }
    events += [
        ev(
            480 + i * 0.1,
            f"nobody{i}@corp.org",
            "sign_in",
            "failure",
            reason="unknown_account",
            account_exists=False,
            ua=UA_EVIL_BROWSER,
            **tor,
        )
        for i in range(4)
    ]
    phone = {"ua": UA_PHONE, "device": "dev-lisa", **tor}
    events += [
        ev(489.99, "lisa@corp.org", "account_lookup", **phone),
        ev(490, "lisa@corp.org", "sign_in", **phone),
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_signin_through_a_tor_exit_by_the_client_that_attacked_other_accounts_from_it_fires(build):
    # the actor's browser fails on other accounts through a Tor exit, then gets into alice's
    # with a phished password: on a shared exit the client, not the address, links them
    tor = {
        "src_ip": "185.220.101.117",
        "asn": 60729,
        "asn_org": "TOR EXIT",
        "country": "DE",
        "network_type": "tor",
    }
    events = history("alice@corp.org")
    events += [
        ev(
            499 + i * 0.1,
            f"t{i}@corp.org",
            "sign_in",
            "failure",
            ua=UA_EVIL_BROWSER,
            reason="bad_password",
            **tor,
        )
        for i in range(5)
    ]
    events.append(ev(500.99, "alice@corp.org", "account_lookup", ua=UA_EVIL_BROWSER, device="dev-x", **tor))
    events.append(ev(501, "alice@corp.org", "sign_in", ua=UA_EVIL_BROWSER, device="dev-x", **tor))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {"alice@corp.org"}


def test_signin_to_a_dormant_account_through_a_vpn_exit_that_attacked_it_fires(build):
    # the exit probed and reset this account before signing in to it
    events = _works_through(499, "vpn_nl", 6)
    attacker = {"net": "vpn_nl", "ua": UA_EVIL_BROWSER, "device": "dev-x"}
    events += [
        ev(499.5, "dormant@corp.org", "account_lookup", **attacker),
        ev(500, "dormant@corp.org", "password_reset", step="complete", **attacker),
        ev(500.1, "dormant@corp.org", "sign_in", **attacker),
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {
        "dormant@corp.org"
    }


def test_first_signin_of_a_new_account_from_home_is_quiet(build):
    events = [ev(501, "newbie@corp.org", "sign_in", device="dev-n")]
    events += [ev(500 + i, "newbie@corp.org", "sign_in", "failure", reason="bad_password") for i in range(2)]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_unfamiliar_signin_quiet_without_prior_attack(build):
    # a new phone on holiday, nothing attacked the account before
    events = history("bob@corp.org") + [
        ev(500, "bob@corp.org", "sign_in", net="hotel_fr", ua="NewPhone/1.0", device="dev-new")
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_recovery_takeover_fires_on_completed_reset_from_attacker(build):
    events = (
        _works_through(490, "evil", 5)
        + history("alice@corp.org")
        + [
            ev(500, "alice@corp.org", "account_recovery", net="evil", ua=UA_EVIL_BROWSER, step="complete"),
        ]
    )
    assert alerted_accounts(build(events), "compromise_recovery_takeover") == {"alice@corp.org"}


def test_recovery_takeover_quiet_for_owner_on_new_phone_at_a_hotel(build):
    events = history("alice@corp.org") + [
        ev(
            500,
            "alice@corp.org",
            "password_reset",
            net="hotel_fr",
            ua="NewPhone/1.0",
            device="d-new",
            step="complete",
        )
    ]
    assert alerted_accounts(build(events), "compromise_recovery_takeover") == set()


def test_recovery_takeover_quiet_for_owner_and_traveller(build):
    events = history("alice@corp.org") + [ev(500, "alice@corp.org", "password_reset", step="complete")]
    events += history("bob@corp.org") + [
        ev(500, "bob@corp.org", "password_reset", net="hotel_fr", device="dev-owner", step="complete")
    ]
    assert alerted_accounts(build(events), "compromise_recovery_takeover") == set()


def test_impossible_travel_fires_us_to_iran_in_one_hour(build):
    events = history("alice@corp.org")
    events += [
        ev(48 * 24 + 10, "alice@corp.org", "sign_in", device="dev-owner"),
        ev(
            48 * 24 + 11,
            "alice@corp.org",
            "sign_in",
            net="evil_de",
            network_type="residential",
            ua=UA_EVIL_BROWSER,
        ),
    ]
    alerts = alerts_of(build(events), "compromise_impossible_travel")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert "US -> DE" in alerts[0]["detail"] and len(alerts[0]["event_ids"]) == 2


def test_impossible_travel_quiet_when_own_phone_abroad_and_desktop_at_home(build):
    # the phone (known device) signs in from a French hotel while the desktop polls from home
    events = history("alice@corp.org", device="dev-desk") + history(
        "alice@corp.org", device="dev-phone", ua=UA_PHONE
    )
    events += [
        ev(48 * 24 + 10, "alice@corp.org", "sign_in", device="dev-desk"),
        ev(48 * 24 + 11, "alice@corp.org", "sign_in", net="hotel_fr", device="dev-phone", ua=UA_PHONE),
        ev(48 * 24 + 12, "alice@corp.org", "sign_in", device="dev-desk"),
    ]
    assert alerts_of(build(events), "compromise_impossible_travel") == []


UA_OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.11929; Pro)"


def test_impossible_travel_quiet_when_the_same_mail_client_is_at_both_ends(build):
    """The owner's Outlook (no device id logged) signs in at the office for the first time, and the
    same client an hour later from a home line abroad (VPN toggled, a laptop of the same build on
    a trip): one client at both ends is one machine whose egress moved."""
    events = history("linda@corp.org", device="dev-phone", ua=UA_PHONE)
    events += [
        ev(48 * 24 + 10, "linda@corp.org", "sign_in", net="office", ua=UA_OUTLOOK),
        ev(48 * 24 + 11.25, "linda@corp.org", "sign_in", net="hotel_fr", ua=UA_OUTLOOK),
    ]
    assert alerts_of(build(events), "compromise_impossible_travel") == []


def test_impossible_travel_still_fires_when_another_client_follows_the_mail_client(build):
    """The same hop, but the later sign-in is a browser the account never used: a second person."""
    events = history("linda@corp.org", device="dev-phone", ua=UA_PHONE)
    events += [
        ev(48 * 24 + 10, "linda@corp.org", "sign_in", net="office", ua=UA_OUTLOOK),
        ev(48 * 24 + 11.25, "linda@corp.org", "sign_in", net="hotel_fr", ua=UA_EVIL_BROWSER),
    ]
    assert alerted_accounts(build(events), "compromise_impossible_travel") == {"linda@corp.org"}


def test_impossible_travel_quiet_on_first_day_when_the_phone_was_home_hours_before(build):
    # the store starts today: the phone signed in at home this morning, the desktop polls from
    # home at noon, the phone (with its owner) lands in France: it travelled, nobody stole it
    events = [
        ev(2, "steve@corp.org", "sign_in", device="dev-phone", ua=UA_PHONE),
        ev(14, "steve@corp.org", "sign_in", device="dev-desk"),
        ev(15.5, "steve@corp.org", "sign_in", net="hotel_fr", device="dev-phone", ua=UA_PHONE),
    ]
    events += history("other@corp.org")  # someone with a second country, so the store has two
    assert alerts_of(build(events), "compromise_impossible_travel") == []


def test_impossible_travel_quiet_while_the_account_is_new_to_the_store(build):
    # the store first saw carol this morning, on her desktop at home; an hour later her phone
    # signs in from an address that geolocates to France: she has no usual places yet
    events = [
        ev(9, "carol@corp.org", "sign_in", device="dev-desk"),
        ev(10.4, "carol@corp.org", "sign_in", net="hotel_fr", device="dev-phone", ua=UA_PHONE),
    ]
    events += history("other@corp.org")  # someone with a second country, so the store has two
    assert alerts_of(build(events), "compromise_impossible_travel") == []


def test_impossible_travel_quiet_on_flight_vpn_mobile_and_ipv6(build):
    # a real flight: US evening, France 16 hours later
    events = history("traveller@corp.org") + [
        ev(20 * 24 + 12, "traveller@corp.org", "sign_in", net="hotel_fr", device="dev-owner")
    ]
    # a VPN user hopping between home and a VPN exit in the Netherlands every hour
    events += history("vpn@corp.org") + [
        ev(20 * 24 + k, "vpn@corp.org", "sign_in", net="vpn_nl" if k % 2 else "home") for k in range(6)
    ]
    # a mobile user whose carrier IP geolocates abroad for a moment
    events += history("phone@corp.org") + [
        ev(20 * 24 + 2, "phone@corp.org", "sign_in", net="mobile", country="MX")
    ]
    # dual-stack: same ISP, IPv6 geolocated in another country
    events += history("v6@corp.org") + [
        ev(20 * 24 + 3, "v6@corp.org", "sign_in", src_ip="2601:1c0:4a01:3b20::1f", country="CA"),
        ev(20 * 24 + 3.2, "v6@corp.org", "sign_in", src_ip="2601:1c0:4a01:3b20:aaaa::2", country="GB"),
    ]
    assert alerts_of(build(events), "compromise_impossible_travel") == []


INTEL = {
    "type": "bundle",
    "id": "bundle--1",
    "objects": [
        {"type": "intrusion-set", "id": "intrusion-set--p", "name": "Phosphorus"},
        {"type": "campaign", "id": "campaign--c", "name": "2019"},
        {
            "type": "indicator",
            "id": "indicator--i",
            "pattern_type": "stix",
            "pattern": "[ipv4-addr:value = '51.91.200.147'] OR [domain-name:value = 'outlook-verify.net']",
        },
        {
            "type": "indicator",
            "id": "indicator--j",
            "pattern_type": "stix",
            "pattern": "[ipv4-addr:value = '5.160.0.0/16'] OR [autonomous-system:number = 64999]",
        },
        {
            "type": "relationship",
            "id": "relationship--1",
            "relationship_type": "indicates",
            "source_ref": "indicator--i",
            "target_ref": "campaign--c",
        },
        {
            "type": "relationship",
            "id": "relationship--2",
            "relationship_type": "attributed-to",
            "source_ref": "campaign--c",
            "target_ref": "intrusion-set--p",
        },
    ],
}


def test_intel_bundle_flattens_to_network_indicators():
    rows = indicator_rows([INTEL]).to_pylist()
    kinds = {(r["kind"], r["value"], r["intrusion_set"]) for r in rows}
    assert ("ipv4", "51.91.200.147", "Phosphorus") in kinds
    assert ("domain", "outlook-verify.net", "Phosphorus") in kinds
    assert ("asn", "64999", None) in kinds
    # a /16 becomes its 256 /24s, which events carry in ipnet
    assert {v for k, v, _ in kinds if k == "ipnet"} == {f"5.160.{i}.0/24" for i in range(256)}


def test_signin_from_intel_infrastructure_fires(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "sign_in", net="evil_de", ua=UA_EVIL_BROWSER, device="dev-x")
    ]
    alerts = alerts_of(build(events, intel=INTEL), "compromise_intel_infrastructure")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]] and "Phosphorus" in alerts[0]["detail"]
    assert alerts[0]["src_ips"] == [NETS["evil_de"]["src_ip"]]


def test_intel_hit_on_a_dedicated_address_needs_no_corroboration(build):
    bundle = json.loads(json.dumps(INTEL).replace("51.91.200.147", NETS["hotel_fr"]["src_ip"]))
    events = history("alice@corp.org") + [ev(500, "alice@corp.org", "sign_in", net="hotel_fr", ua=UA_OWNER)]
    alerted = alerted_accounts(build(events, intel=bundle), "compromise_intel_infrastructure")
    assert alerted == {"alice@corp.org"}


def test_intel_quiet_on_vpn_user_signing_in_on_own_laptop_from_a_listed_exit(build):
    # an actor once used this commercial VPN exit; its regular users sign in through it daily
    bundle = json.loads(json.dumps(INTEL).replace("51.91.200.147", NETS["vpn_nl"]["src_ip"]))
    events = history("alice@corp.org") + [
        ev(500 + d * 24, "alice@corp.org", "sign_in", net="vpn_nl", device="dev-owner") for d in range(3)
    ]
    # and someone with no history in the store at all, signing in there
    events += [ev(500, "bob@corp.org", "sign_in", net="vpn_nl", device="dev-bob")]
    assert alerts_of(build(events, intel=bundle), "compromise_intel_infrastructure") == []


def test_intel_quiet_on_vpn_user_with_a_new_laptop_at_a_listed_exit_the_actor_works_from(build):
    # the actor works through accounts from a listed VPN exit; a customer of that VPN signs in on
    # a new laptop there. A shared exit's victims and a new client do not single her out
    bundle = json.loads(json.dumps(INTEL).replace("51.91.200.147", NETS["vpn_nl"]["src_ip"]))
    events = _works_through(499, "vpn_nl", 5) + history("alice@corp.org")
    events.append(ev(500, "alice@corp.org", "sign_in", net="vpn_nl", device="dev-new-laptop"))
    assert alerts_of(build(events, intel=bundle), "compromise_intel_infrastructure") == []


def test_intel_hit_on_a_rented_server_with_a_new_client_fires(build):
    # the same sign-in from a listed hosting address (a rented server, not a shared exit)
    events = _works_through(499, "evil_de", 5) + history("alice@corp.org")
    events.append(ev(500, "alice@corp.org", "sign_in", net="evil_de", device="dev-new-laptop"))
    assert {
        a
        for x in alerts_of(build(events, intel=INTEL), "compromise_intel_infrastructure")
        for a in x["accounts"]
    } == {"alice@corp.org"}


def test_intel_quiet_without_a_match_or_on_failures(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "sign_in", "failure", net="evil_de", reason="bad_password")
    ]
    assert alerts_of(build(events, intel=INTEL), "compromise_intel_infrastructure") == []


def test_unfamiliar_signin_from_a_vpn_exit_whose_client_worked_through_accounts_that_week_fires(build):
    """A patient actor guessed at alice's password once, weeks ago, and at three other accounts
    through a busy VPN exit days ago; now it signs in to alice there with the same browser. The
    exit's regulars outnumber what it did, but its client's week on the exit is all attack. Bob, who
    mistyped at home weeks ago, signing in there on a new phone stays quiet."""
    regulars = [e for i in range(8) for e in history(f"regular{i}@corp.org", net="vpn_nl", device=f"d-r{i}")]
    events = regulars + _works_through(430, "vpn_nl", 3) + history("alice@corp.org") + history("bob@corp.org")
    events.append(ev(300, "alice@corp.org", "sign_in", "failure", net="evil_de", reason="bad_password"))
    events.append(ev(300, "bob@corp.org", "sign_in", "failure", reason="bad_password"))
    events.append(ev(501, "alice@corp.org", "sign_in", net="vpn_nl", ua=UA_EVIL_BROWSER, device="dev-x"))
    events.append(ev(501, "bob@corp.org", "sign_in", net="vpn_nl", ua=UA_PHONE, device="dev-new"))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {"alice@corp.org"}


def test_an_organisations_cloud_proxy_on_the_stores_first_day_is_no_attack_source(build):
    """The store starts today; the vendor logs the password step pending and the second factor as
    the sign-in. A few colleagues mistype behind the tenant's cloud security proxy: it served
    everyone (their second factors passed), so it is no source working through accounts, and a
    colleague's identifier-first sign-in through it is no takeover."""
    events = []
    for i in range(8):
        acct = f"u{i}@agency.gov"
        kw = {"net": "sso_cloud", "ua": UA_PHONE, "device": f"d{i}", "session_id": f"s{i}"}
        if i < 5:
            events.append(ev(1 + i * 0.2, acct, "sign_in", "failure", reason="bad_password", **kw))
        events += [
            ev(1.05 + i * 0.2, acct, "sign_in", "pending", **kw),
            ev(1.06 + i * 0.2, acct, "mfa_challenge", method="sms", **kw),
        ]
    kw = {"net": "sso_cloud", "ua": UA_OWNER, "device": "d7b", "session_id": "x"}
    events += [ev(3, "u7@agency.gov", "account_lookup", **kw), ev(3.001, "u7@agency.gov", "sign_in", **kw)]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


#: A botnet's residential proxy (or an attacker on a carrier's NAT) goes through lines many people
#: share: a home or hotel line abroad, a mobile carrier whose address geolocates abroad.
_SHARED_LINES = {
    "hotel_fr": {"net": "hotel_fr"},
    "carrier_mx": {"net": "mobile", "src_ip": "172.56.7.7", "country": "MX"},
}


def _bot_works_through(hours: float, line: dict, n: int) -> list[dict]:
    """A bot's client fails on ``n`` accounts through a shared line (non-rented)."""
    return [
        ev(
            hours + i * 0.1,
            f"t{i}@corp.org",
            "sign_in",
            "failure",
            ua=UA_EVIL_BROWSER,
            reason="bad_password",
            **line,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("line", sorted(_SHARED_LINES))
def test_unfamiliar_signin_quiet_on_a_traveller_on_a_line_a_bot_also_works_through(build, line):
    """The traveller mistypes once, then signs in on her new phone from the hotel (or carrier) line
    a bot worked through accounts from that week: the line's record is not her client's."""
    kw = _SHARED_LINES[line]
    events = _bot_works_through(480, kw, 5) + history("jason@corp.org")
    phone = {"ua": UA_PHONE, "device": "dev-new-phone", **kw}
    events += [
        ev(499.9, "jason@corp.org", "account_lookup", **phone),
        ev(499.95, "jason@corp.org", "sign_in", "failure", reason="bad_password", **phone),
        ev(500, "jason@corp.org", "sign_in", **phone),
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


@pytest.mark.parametrize("line", sorted(_SHARED_LINES))
def test_unfamiliar_signin_by_the_bots_own_client_on_a_shared_line_fires(build, line):
    """The same line, but the client that worked through the accounts gets in (a phished password):
    its own record on the address is an attacker's."""
    kw = _SHARED_LINES[line]
    events = _bot_works_through(480, kw, 5) + history("alice@corp.org")
    events.append(ev(499.5, "alice@corp.org", "account_lookup", ua=UA_EVIL_BROWSER, device=None, **kw))
    events.append(ev(500, "alice@corp.org", "sign_in", ua=UA_EVIL_BROWSER, device="dev-x", **kw))
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == {"alice@corp.org"}


def _egress_abroad(home_country: str) -> tuple[list[dict], list[dict]]:
    """An employee whose organisation egresses through its head office in Germany signs in at
    home in the US on a new laptop two hours after a sign-in through the head office."""
    acct = "paul@ngo.org"
    events = history(acct, net="hq_de", days=6)
    events += [
        ev(6 * 24 + 10, acct, "sign_in", net="hq_de", device="dev-owner"),
        ev(6 * 24 + 12, acct, "sign_in", net="home", ua=UA_PHONE, device="dev-new-laptop"),
    ]
    directory = [{"account": acct, "tenant": "ngo.org", "category": "ngo", "home_country": home_country}]
    return events, directory


def test_impossible_travel_quiet_when_the_hop_lands_in_the_directorys_home_country(build):
    events, directory = _egress_abroad("US")
    assert alerts_of(build(events, directory=directory), "compromise_impossible_travel") == []


def test_impossible_travel_fires_on_the_same_hop_to_a_country_that_is_not_home(build):
    events, directory = _egress_abroad("DE")
    assert alerted_accounts(build(events, directory=directory), "compromise_impossible_travel") == {
        "paul@ngo.org"
    }
