"""Compromise detections: the attacker getting in vs. travellers, VPN users and IPv6 noise."""

from __future__ import annotations

from det_kit import NETS, UA_EVIL_BROWSER, UA_OWNER, alerted_accounts, alerts_of, ev, history

from idwatch.detections.indicators import indicator_rows


def test_unfamiliar_signin_after_attack_fires(build):
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
        for k in range(3)
    ]
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


def test_unfamiliar_signin_quiet_without_prior_attack(build):
    # a new phone on holiday, nothing attacked the account before
    events = history("bob@corp.org") + [
        ev(500, "bob@corp.org", "sign_in", net="hotel_fr", ua="NewPhone/1.0", device="dev-new")
    ]
    assert alerted_accounts(build(events), "compromise_unfamiliar_signin_after_attack") == set()


def test_recovery_takeover_fires_on_completed_reset_from_attacker(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "account_recovery", net="evil", ua=UA_EVIL_BROWSER, step="complete"),
    ]
    assert alerted_accounts(build(events), "compromise_recovery_takeover") == {"alice@corp.org"}


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
    assert ("asn", "64999", None) in kinds and ("ipv4_cidr", "5.160.0.0/16", None) in kinds


def test_signin_from_intel_infrastructure_fires(build):
    events = history("alice@corp.org") + [ev(500, "alice@corp.org", "sign_in", net="evil_de", ua=UA_OWNER)]
    alerts = alerts_of(build(events, intel=INTEL), "compromise_intel_infrastructure")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]] and "Phosphorus" in alerts[0]["detail"]
    assert alerts[0]["src_ips"] == [NETS["evil_de"]["src_ip"]]


def test_intel_quiet_without_a_match_or_on_failures(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "sign_in", "failure", net="evil_de", reason="bad_password")
    ]
    assert alerts_of(build(events, intel=INTEL), "compromise_intel_infrastructure") == []
