"""Recovery detections: the attacker's reset vs. the owner's forgotten password / the traveller."""

from __future__ import annotations

import pytest
from det_kit import (
    UA_EVIL,
    UA_EVIL_BROWSER,
    UA_OWNER,
    UA_PHONE,
    alerted_accounts,
    alerts_of,
    ev,
    history,
    sha,
)

PHONE = sha("+15551234567")
DIRECTORY = [
    {
        "account": "alice@corp.org",
        "tenant": "corp.org",
        "category": "government",
        "watchlist": False,
        "contact_hash": PHONE,
    }
]


def _reset(
    hours: float,
    account: str,
    *,
    net: str = "home",
    ua: str = "owner",
    device: str | None = "dev-owner",
    complete: bool = False,
    contact: str | None = PHONE,
    **kw,
) -> list[dict]:
    """start -> verify (-> complete) of a self-service reset."""
    ua_kw = {} if ua == "owner" else {"ua": ua}
    rows = [
        ev(
            hours,
            account,
            "password_reset",
            "pending",
            net=net,
            device=device,
            step="start",
            method="sms",
            contact_hash=contact,
            **ua_kw,
            **kw,
        ),
        ev(
            hours + 0.05,
            account,
            "password_reset",
            "success",
            net=net,
            device=device,
            step="verify",
            method="sms",
            contact_hash=contact,
            **ua_kw,
            **kw,
        ),
    ]
    if complete:
        rows.append(
            ev(
                hours + 0.1,
                account,
                "password_reset",
                "success",
                net=net,
                device=device,
                step="complete",
                **ua_kw,
                **kw,
            )
        )
    return rows


def _works_through(hours: float, net: str, n: int, *, ua: str = UA_EVIL_BROWSER) -> list[dict]:
    """The source fails to sign in to ``n`` other accounts first (a target list being worked)."""
    return [
        ev(
            hours + i * 0.2,
            f"target{i}@corp.org",
            "sign_in",
            "failure",
            net=net,
            ua=ua,
            reason="bad_password",
        )
        for i in range(n)
    ]


def _regulars(net: str, n: int) -> list[dict]:
    """``n`` people who sign in from ``net`` every day (a shared VPN exit / office egress)."""
    return [e for i in range(n) for e in history(f"regular{i}@corp.org", net=net, device=f"dev-r{i}")]


def test_reset_from_new_infrastructure_fires(build):
    events = history("alice@corp.org") + _works_through(480, "evil", 5)
    events += _reset(500, "alice@corp.org", net="evil", ua=UA_EVIL_BROWSER, device="dev-x")
    alerts = alerts_of(build(events), "recovery_new_infrastructure")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert alerts[0]["src_ips"] == ["5.160.1.10"] and alerts[0]["contact_hashes"] == [PHONE]


def test_reset_from_new_infrastructure_needs_fewer_accounts_for_watchlisted_people(build):
    directory = [{"account": "alice@corp.org", "tenant": "corp.org", "watchlist": True}]
    events = history("alice@corp.org") + _works_through(480, "evil", 3)
    events += _reset(500, "alice@corp.org", net="evil", ua=UA_EVIL_BROWSER, device="dev-x")
    assert alerted_accounts(build(events, directory=directory), "recovery_new_infrastructure") == {
        "alice@corp.org"
    }
    assert alerted_accounts(build(events), "recovery_new_infrastructure") == set()


def test_reset_quiet_on_forgotten_password_and_traveller(build):
    events = history("alice@corp.org") + _reset(500, "alice@corp.org", complete=True)
    # the traveller resets from a hotel in France on their own laptop
    events += history("bob@corp.org") + _reset(500, "bob@corp.org", net="hotel_fr", complete=True)
    assert alerted_accounts(build(events), "recovery_new_infrastructure") == set()


def test_reset_quiet_on_owner_with_new_phone_on_a_new_network(build):
    # everything is new, but nothing else came from that address: one person, not a campaign
    events = history("alice@corp.org") + _reset(
        500, "alice@corp.org", net="hotel_fr", ua=UA_EVIL_BROWSER, device="dev-new", complete=True
    )
    events += history("bob@corp.org") + _reset(
        500, "bob@corp.org", net="evil_de", ua=UA_EVIL_BROWSER, device="dev-new2", complete=True
    )
    assert alerted_accounts(build(events), "recovery_new_infrastructure") == set()


def test_reset_quiet_on_vpn_exit_whose_regulars_outnumber_its_failures(build):
    # a shared exit: 8 regulars sign in daily, 5 people mistype passwords there, alice resets
    # from it on a new laptop
    events = _regulars("vpn_nl", 8) + _works_through(480, "vpn_nl", 5, ua=UA_OWNER)
    events += history("alice@corp.org") + _reset(
        500, "alice@corp.org", net="vpn_nl", ua=UA_EVIL_BROWSER, device="dev-new", complete=True
    )
    assert alerted_accounts(build(events), "recovery_new_infrastructure") == set()


def _probes(idents: list[str], existing: set[str], *, net: str) -> list[dict]:
    """An enumerator's lookups, six minutes apart from hour 300: ``existing`` ones succeed."""
    return [
        ev(
            300 + i * 0.1,
            ident,
            "account_lookup",
            "success" if ident in existing else "failure",
            net=net,
            ua=UA_EVIL,
            account_exists=ident in existing,
            reason=None if ident in existing else "unknown_account",
        )
        for i, ident in enumerate(idents)
    ]


def test_reset_after_probe_fires(build):
    events = history("alice@corp.org") + history("carol@corp.org")
    probed = ["alice@corp.org", "carol@corp.org", "nobody@corp.org", "x@corp.org", "y@corp.org"]
    events += _probes(probed, {"alice@corp.org", "carol@corp.org"}, net="evil")
    events += _reset(400, "alice@corp.org", net="evil2", ua=UA_EVIL_BROWSER)
    alerts = alerts_of(build(events), "recovery_after_probe")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert set(alerts[0]["src_ips"]) == {"5.160.1.10", "5.160.9.99"}


def test_reset_after_probe_quiet_on_owner_forgot_password_flow(build):
    events = history("alice@corp.org")
    events.append(ev(399.9, "alice@corp.org", "account_lookup"))
    events += _reset(400, "alice@corp.org", complete=True)
    assert alerted_accounts(build(events), "recovery_after_probe") == set()


def test_reset_after_probe_quiet_on_vpn_users_own_flow_through_an_enumerators_exit(build):
    # an enumerator probes identifiers through a VPN exit; hours later a customer of that VPN
    # forgets her password there: her own lookup and reset start (same address and client,
    # moments before) are steps of her flow, not a probe of her account
    events = history("alice@corp.org")
    probed = ["carol@corp.org", "nobody@corp.org", "x@corp.org", "y@corp.org", "z@corp.org"]
    events += _probes(probed, {"carol@corp.org"}, net="vpn_nl")
    own = {"net": "vpn_nl", "ua": "Outlook/16.0", "device": None}
    events.append(ev(305, "alice@corp.org", "account_lookup", **own))
    events += _reset(305.01, "alice@corp.org", complete=True, **own)
    assert alerted_accounts(build(events), "recovery_after_probe") == set()


def test_registered_contact_from_unfamiliar_infrastructure_fires(build):
    events = history("alice@corp.org") + _works_through(480, "evil_de", 5)
    events += _reset(500, "alice@corp.org", net="evil_de", ua=UA_EVIL_BROWSER, device=None)
    alerts = alerts_of(build(events, directory=DIRECTORY), "recovery_contact_match_unfamiliar")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]] and alerts[0]["contact_hashes"] == [PHONE]


def test_registered_contact_quiet_when_owner_travels_with_own_browser(build):
    events = history("alice@corp.org") + _reset(500, "alice@corp.org", net="hotel_fr")
    assert alerts_of(build(events, directory=DIRECTORY), "recovery_contact_match_unfamiliar") == []


def test_registered_contact_quiet_for_owner_on_new_phone_behind_a_vpn(build):
    events = _regulars("vpn_nl", 8) + _works_through(480, "vpn_nl", 5, ua=UA_OWNER)
    events += history("alice@corp.org") + _reset(
        500, "alice@corp.org", net="vpn_nl", ua=UA_EVIL_BROWSER, device="dev-new", complete=True
    )
    assert alerts_of(build(events, directory=DIRECTORY), "recovery_contact_match_unfamiliar") == []


def test_repeated_verification_failures_fire(build):
    events = history("alice@corp.org") + [
        ev(
            500 + k * 0.1,
            "alice@corp.org",
            "account_recovery",
            "failure",
            net="evil",
            ua=UA_EVIL_BROWSER,
            step="verify",
            reason="verification_failed",
            method="kba",
        )
        for k in range(4)
    ]
    assert alerted_accounts(build(events), "recovery_verification_failures") == {"alice@corp.org"}


def test_verification_failures_quiet_on_one_mistyped_code_at_home(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "password_reset", "failure", step="verify", reason="verification_failed"),
        ev(500.1, "alice@corp.org", "password_reset", "failure", step="verify", reason="verification_failed"),
        ev(500.2, "alice@corp.org", "password_reset", "success", step="verify"),
    ]
    assert alerted_accounts(build(events), "recovery_verification_failures") == set()


def _verify_fail(hours: float, account: str, net: str, ua: str, device: str | None) -> dict:
    return ev(
        hours,
        account,
        "account_recovery",
        "failure",
        net=net,
        ua=ua,
        device=device,
        step="verify",
        reason="verification_failed",
        method="sms",
    )


def test_one_verification_failure_of_a_watchlisted_person_from_a_campaign_source_fires(build):
    directory = [{"account": "alice@corp.org", "tenant": "corp.org", "watchlist": True}]
    events = history("alice@corp.org") + _works_through(480, "evil", 3)
    events.append(_verify_fail(500, "alice@corp.org", "evil", UA_EVIL_BROWSER, None))
    assert alerted_accounts(build(events, directory=directory), "recovery_verification_failures") == {
        "alice@corp.org"
    }


def test_verification_failures_quiet_on_watchlisted_owner_with_new_phone_abroad(build):
    directory = [{"account": "alice@corp.org", "tenant": "corp.org", "watchlist": True}]
    events = history("alice@corp.org") + [
        _verify_fail(500 + k * 0.1, "alice@corp.org", "hotel_fr", UA_EVIL_BROWSER, "dev-new")
        for k in range(2)
    ]
    assert alerted_accounts(build(events, directory=directory), "recovery_verification_failures") == set()


def test_many_accounts_reset_from_one_source_fires(build):
    users = [f"u{i}@corp.org" for i in range(4)]
    events = [e for u in users for e in history(u, days=5)]
    for i, u in enumerate(users):
        events += _reset(200 + i, u, net="evil", ua=UA_EVIL, device=None, contact=None)
    alerts = alerts_of(build(events), "recovery_many_accounts_one_source")
    assert alerts and set(alerts[0]["accounts"]) == set(users)


def test_many_accounts_reset_quiet_on_office_password_expiry_day(build):
    users = [f"u{i}@corp.org" for i in range(10)]
    events = [e for u in users for e in history(u, days=5, net="office")]
    for i, u in enumerate(users):
        events += _reset(200 + i * 0.1, u, net="office", complete=True)
    assert alerted_accounts(build(events), "recovery_many_accounts_one_source") == set()


def test_many_accounts_reset_quiet_on_campus_nat_where_a_few_of_many_forget(build):
    # 8 people use the campus NAT every day; 3 newcomers (history at home) reset there on new
    # phones the same afternoon
    events = _regulars("office", 8)
    for i in range(3):
        events += history(f"new{i}@corp.org", days=5)
        events += _reset(300 + i, f"new{i}@corp.org", net="office", ua=UA_EVIL_BROWSER, device=f"d{i}")
    assert alerted_accounts(build(events), "recovery_many_accounts_one_source") == set()


def test_many_accounts_reset_quiet_on_a_big_carriers_popular_mail_app(build):
    # three strangers on one big carrier, each on their own phone and address with the same
    # popular mail app, start resets on the same day; a dozen others sign in with that pair daily
    app = "Outlook-Android/2.2.32"
    carrier = {"net": "home", "asn": 3320, "asn_org": "DTAG", "country": "DE", "network_type": "residential"}
    events = []
    for i in range(12):
        events += [
            ev(
                300 + h,
                f"reg{i}@corp.org",
                "sign_in",
                ua=app,
                device=f"dr{i}",
                src_ip=f"91.46.{i}.1",
                **carrier,
            )
            for h in (1.0, 20.0)
        ]
    for i in range(3):
        events += history(f"new{i}@corp.org", days=5)
        events += _reset(
            305 + i, f"new{i}@corp.org", ua=app, device=f"dn{i}", src_ip=f"79.2.{i}.9", **carrier
        )
    assert alerted_accounts(build(events), "recovery_many_accounts_one_source") == set()


def test_completed_reset_then_new_signin_fires(build):
    events = history("alice@corp.org") + _reset(
        500, "alice@corp.org", net="evil", ua=UA_EVIL_BROWSER, device=None, complete=True
    )
    events.append(ev(501, "alice@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER))
    alerts = alerts_of(build(events), "recovery_then_new_signin")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]] and len(alerts[0]["event_ids"]) == 2


def test_completed_reset_then_signin_quiet_for_owner_and_traveller(build):
    events = history("alice@corp.org") + _reset(500, "alice@corp.org", complete=True)
    events.append(ev(500.5, "alice@corp.org", "sign_in", device="dev-owner"))
    events += history("bob@corp.org") + _reset(500, "bob@corp.org", net="hotel_fr", complete=True)
    events.append(ev(500.5, "bob@corp.org", "sign_in", net="hotel_fr", device="dev-owner"))
    assert alerted_accounts(build(events), "recovery_then_new_signin") == set()


@pytest.mark.parametrize("net", ["vpn_nl", "hotel_fr"])
@pytest.mark.parametrize(
    "detection",
    [
        "recovery_new_infrastructure",
        "recovery_contact_match_unfamiliar",
        "compromise_recovery_takeover",
    ],
)
def test_recovery_rules_judge_the_client_not_the_shared_address(build, detection, net):
    """An actor works through accounts from a VPN exit (or a home line its residential proxy runs
    through), then takes over bob's account there. Alice resets her own password from the same
    address on a new laptop and signs in: the address's record is the actor's, not hers.
    (``recovery_then_new_signin`` may still fire on her when the login-risk model objects to the
    new laptop in a new country: that is the model's call, not the address's.)"""
    bob_phone = sha("+15557654321")
    directory = DIRECTORY + [{"account": "bob@corp.org", "tenant": "corp.org", "contact_hash": bob_phone}]
    events = _works_through(480, net, 5) + history("alice@corp.org") + history("bob@corp.org")
    events += _reset(
        500,
        "bob@corp.org",
        net=net,
        ua=UA_EVIL_BROWSER,
        device="dev-x",
        complete=True,
        contact=bob_phone,
    )
    events.append(ev(500.3, "bob@corp.org", "sign_in", net=net, ua=UA_EVIL_BROWSER, device="dev-x"))
    events += _reset(500, "alice@corp.org", net=net, ua=UA_PHONE, device="dev-new", complete=True)
    events.append(ev(500.3, "alice@corp.org", "sign_in", net=net, ua=UA_PHONE, device="dev-new"))
    assert alerted_accounts(build(events, directory=directory), detection) == {"bob@corp.org"}
