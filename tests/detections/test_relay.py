"""Credential-relay (adversary-in-the-middle) detections vs. travellers, VPNs, SSO helpers, new phones.

A relay replays the victim's password and one-time code from the operator's infrastructure within
minutes: in the logs a password step and a passed MFA challenge in one session, from a network the
account (and its tenant) never used.
"""

from __future__ import annotations

from typing import Any

from det_kit import UA_EVIL_BROWSER, UA_OWNER, UA_PHONE, alerted_accounts, alerts_of, ev, history

RELAY = "compromise_relay_mfa_signin"
SHARED = "compromise_relay_shared_infrastructure"
OWNER = "compromise_relay_owner_concurrent"
FOLLOW = "persist_after_relay_signin"
ALL = (RELAY, SHARED, OWNER, FOLLOW)


def mfa_login(
    hours: float,
    account: str,
    *,
    net: str,
    session: str,
    ua: str | None = UA_EVIL_BROWSER,
    device: str | None = "dev-operator",
    method: str = "totp",
    **cols: Any,
) -> list[dict[str, Any]]:
    """A password step logged as pending, then the second factor passed, in one session."""
    kw = {"net": net, "ua": ua, "device": device, "session_id": session, **cols}
    return [
        ev(hours, account, "sign_in", "pending", **kw),
        ev(hours + 0.01, account, "mfa_challenge", "success", method=method, **kw),
    ]


def quiet_everywhere(store) -> None:
    for det in ALL:
        assert alerted_accounts(store, det) == set(), det


def test_relay_from_fresh_hosting_abroad_fires(build):
    events = history("alice@corp.org") + mfa_login(500, "alice@corp.org", net="evil_de", session="s1")
    alerts = alerts_of(build(events), RELAY)
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert alerts[0]["src_ips"] == ["51.91.200.147"]
    assert "relay odds 2^6" in alerts[0]["detail"]


def test_relay_quiet_on_phishing_resistant_factor(build):
    """FIDO2 signs the site's origin: a relay cannot complete it, whoever signs in."""
    events = history("alice@corp.org") + mfa_login(
        500, "alice@corp.org", net="evil_de", session="s1", method="fido2"
    )
    assert alerted_accounts(build(events), RELAY) == set()


def test_relay_quiet_on_traveller_on_hotel_wifi(build):
    """Abroad on their own laptop, or on a new phone: a residential network, nothing corroborating."""
    events = (
        history("bob@corp.org")
        + mfa_login(500, "bob@corp.org", net="hotel_fr", session="s1", ua=UA_OWNER, device="dev-owner")
        + mfa_login(501, "bob@corp.org", net="hotel_fr", session="s2", ua=UA_PHONE, device="dev-new-phone")
    )
    quiet_everywhere(build(events))


def test_relay_quiet_on_new_phone_at_home(build):
    """The owner sets up a new phone on the carrier while the laptop signs in at home, and registers
    it as an authenticator: same country, no rented server."""
    acct = "carol@corp.org"
    events = (
        history(acct)
        + [ev(500, acct, "sign_in", device="dev-owner", session_id="s0")]
        + mfa_login(
            500.05, acct, net="mobile", session="s1", ua=UA_PHONE, device="dev-new-phone", method="push"
        )
        + [
            ev(500.1, acct, "mfa_method_change", net="mobile", ua=UA_PHONE, device="dev-new-phone",
               session_id="s1", detail="added authenticator app")
        ]
    )  # fmt: skip
    quiet_everywhere(build(events))


def test_relay_quiet_on_new_account_not_warmed_up(build):
    """An account the store has known for a day has no usual places yet: not judged."""
    events = history("dan@corp.org", days=1, start=480) + mfa_login(
        500, "dan@corp.org", net="evil_de", session="s1"
    )
    assert alerted_accounts(build(events), RELAY) == set()


def _victims() -> list[str]:
    return ["ann@ngo.org", "ben@press.net", "cy@gov.example"]


def test_one_relay_replaying_unrelated_accounts_fires_per_block(build):
    """A US rented server (5 bits each: not enough alone) replays three organisations' victims
    within the hour from addresses of one /24."""
    events = []
    for k, acct in enumerate(_victims()):
        events += history(acct)
        events += mfa_login(
            500 + 0.3 * k, acct, net="vps_us", session=f"s{k}", src_ip=f"159.203.40.{11 + k}", method="sms"
        )
    store = build(events)
    alerts = alerts_of(store, SHARED)
    assert len(alerts) == 1 and sorted(alerts[0]["accounts"]) == sorted(_victims())
    assert alerted_accounts(store, RELAY) == set(_victims())


def test_one_relay_victim_alone_on_a_us_server_is_below_the_odds(build):
    events = history("ann@ngo.org") + mfa_login(500, "ann@ngo.org", net="vps_us", session="s1")
    assert alerted_accounts(build(events), RELAY) == set()


def _colleagues(n: int = 6) -> list[str]:
    return [f"u{i}@acme.com" for i in range(n)]


def test_relay_quiet_on_corporate_vpn_serving_colleagues_daily(build):
    """One tenant's staff complete push MFA through the corporate VPN exit every day, on their devices."""
    events = []
    for i, acct in enumerate(_colleagues()):
        events += history(acct, device=f"dev-{i}")
        for day in range(20):
            events += mfa_login(
                day * 24 + 9 + 0.05 * i, acct, net="vpn_nl", session=f"v{i}-{day}", ua=UA_OWNER,
                device=f"dev-{i}", method="push",
            )  # fmt: skip
    quiet_everywhere(build(events))


def test_relay_quiet_on_sso_helper_signing_its_tenant_in(build):
    """A cloud SSO / password-manager helper completes push sign-ins for its tenant's users daily."""
    events = []
    for i, acct in enumerate(_colleagues()):
        events += history(acct, device=f"dev-{i}")
        for day in range(20):
            events += mfa_login(
                day * 24 + 8.5 + 0.02 * i, acct, net="sso_cloud", session=f"h{i}-{day}",
                ua="SSOHelper/3.2", device=None, method="push",
            )  # fmt: skip
    quiet_everywhere(build(events))


def test_owner_at_home_in_the_same_minutes_as_a_relay_fires(build):
    """The victim types into the fake page from home (their attempt is logged) while the operator
    replays the code from a US server: not enough alone, the concurrent owner makes it."""
    acct = "eve@corp.org"
    events = (
        history(acct)
        + [ev(499.95, acct, "sign_in", "pending", device="dev-owner", session_id="s0")]
        + mfa_login(500, acct, net="vps_us", session="s1")
    )
    store = build(events)
    alerts = alerts_of(store, OWNER)
    assert [a["accounts"] for a in alerts] == [[acct]]
    assert "73.10.20.30" in alerts[0]["src_ips"] and len(alerts[0]["event_ids"]) == 2
    assert alerted_accounts(store, RELAY) == {acct}


def test_owner_concurrent_quiet_without_the_owner(build):
    acct = "eve@corp.org"
    events = history(acct) + mfa_login(500, acct, net="vps_us", session="s1")
    assert alerted_accounts(build(events), OWNER) == set()


def test_follow_on_changes_after_a_relay_fire(build):
    """The operator registers their own authenticator and a forwarding rule in the relayed session."""
    acct = "fay@corp.org"
    kw = {"net": "vps_us", "ua": UA_EVIL_BROWSER, "device": "dev-operator", "session_id": "s1"}
    events = (
        history(acct)
        + mfa_login(500, acct, net="vps_us", session="s1")
        + [
            ev(500.2, acct, "mfa_method_change", detail="added authenticator app", **kw),
            ev(500.3, acct, "mailbox_rule", detail="forward to x@proton.me", **kw),
        ]
    )
    alerts = alerts_of(build(events), FOLLOW)
    assert [a["accounts"] for a in alerts] == [[acct]]
    assert len(alerts[0]["event_ids"]) == 3
    assert "mailbox_rule" in alerts[0]["detail"] and "mfa_method_change" in alerts[0]["detail"]


def test_relay_quiet_on_an_sso_helpers_first_day(build):
    """The day a tenant deploys a cloud SSO helper it signs all its staff in, new to each and to the
    tenant: colleagues signed in together are the organisation's doing, not unrelated victims."""
    events, directory = [], []
    for i, acct in enumerate(_colleagues()):
        events += history(acct, device=f"dev-{i}")
        directory.append({"account": acct, "tenant": "acme.com", "category": "business"})
        events += mfa_login(
            500 + 0.02 * i, acct, net="sso_cloud", session=f"h{i}", ua="SSOHelper/3.2", device=None,
            method="push",
        )  # fmt: skip
    quiet_everywhere(build(events, directory=directory))


def test_one_relay_replaying_a_mail_providers_users_fires(build):
    """Individuals of one consumer mail provider are unrelated people, whatever their shared domain."""
    victims = ["ann@mail.example", "ben@mail.example", "cy@mail.example"]
    events, directory = [], []
    for k, acct in enumerate(victims):
        events += history(acct)
        directory.append({"account": acct, "tenant": "mail.example", "category": "consumer"})
        events += mfa_login(500 + 0.3 * k, acct, net="vps_us", session=f"s{k}", method="sms")
    alerts = alerts_of(build(events, directory=directory), SHARED)
    assert len(alerts) == 1 and sorted(alerts[0]["accounts"]) == victims


# ------------------------------------------------- relayed attempts that did not complete

ATTEMPT = "cred_relay_attempt_owner_concurrent"


def test_relayed_wrong_password_with_the_owner_at_home_fires(build):
    """The victim mistypes into the fake page, the server replays it, the victim lands on the real
    sign-in from home: no takeover, but the relay and its target are in the logs."""
    acct = "gil@corp.org"
    events = history(acct) + [
        ev(500, acct, "sign_in", "failure", net="evil_de", ua=UA_EVIL_BROWSER, reason="bad_password"),
        ev(500.05, acct, "sign_in", device="dev-owner"),
    ]
    alerts = alerts_of(build(events), ATTEMPT)
    assert [a["accounts"] for a in alerts] == [[acct]]
    assert "51.91.200.147" in alerts[0]["src_ips"] and len(alerts[0]["event_ids"]) == 2
    assert alerts[0]["detail"].startswith("failure password attempt from hosting DE")


def test_an_abandoned_attempt_from_a_rented_server_fires_without_the_owner(build):
    """The relay's victim typed a wrong password and did not come back: nobody ever signs in from
    the server, the owner only hours later from home."""
    acct = "gil@corp.org"
    events = history(acct) + [
        ev(500, acct, "sign_in", "failure", net="evil_de", ua=UA_EVIL_BROWSER, reason="bad_password"),
        ev(503, acct, "sign_in", device="dev-owner"),
    ]
    alerts = alerts_of(build(events), ATTEMPT)
    assert [a["accounts"] for a in alerts] == [[acct]]
    assert "abandoned" in alerts[0]["detail"] and "owner" not in alerts[0]["detail"]


def test_a_relayed_password_whose_code_expired_fires(build):
    """The password was right (the step passed), the one-time code expired before the replay."""
    acct = "gil@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER, "session_id": "r1"}
    events = history(acct) + [
        ev(500, acct, "sign_in", "success", **kw),
        ev(500.03, acct, "mfa_challenge", "failure", method="sms", reason="expired", **kw),
    ]
    assert alerted_accounts(build(events), ATTEMPT) == {acct}


def test_attempt_quiet_on_the_owner_mistyping_on_their_own_cloud_server(build):
    """Someone on a cloud desktop they rented mistypes, then signs in from it: not abandoned."""
    acct = "gil@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER}
    events = history(acct) + [
        ev(500, acct, "sign_in", "failure", reason="bad_password", **kw),
        ev(500.02, acct, "sign_in", **kw),
    ]
    assert alerted_accounts(build(events), ATTEMPT) == set()


def test_attempt_quiet_on_a_forgotten_password_reset_from_the_own_cloud_server(build):
    """The owner forgot the password on a cloud desktop, resets it and is back on it the same day."""
    acct = "gil@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER}
    events = history(acct) + [
        *[ev(500 + 0.01 * k, acct, "sign_in", "failure", reason="bad_password", **kw) for k in range(3)],
        ev(500.1, acct, "password_reset", "success", step="complete", **kw),
        ev(502, acct, "sign_in", **kw),
    ]
    assert alerted_accounts(build(events), ATTEMPT) == set()


def test_attempt_quiet_on_a_traveller_mistyping_on_hotel_wifi(build):
    """Hotel Wi-Fi abroad is no rented server, whether or not the traveller gets in."""
    acct = "gil@corp.org"
    events = history(acct) + [
        ev(500, acct, "sign_in", "failure", net="hotel_fr", reason="bad_password", device="dev-owner"),
    ]
    assert alerted_accounts(build(events), ATTEMPT) == set()


def test_relayed_attempt_quiet_on_the_tenants_own_cloud_proxy(build):
    """A security proxy in a data centre that two colleagues already sign in through is the
    organisation's egress: a colleague's first sign-in through it, phone at home, is routine."""
    events = []
    for i, acct in enumerate(_colleagues()):
        events += history(acct, device=f"dev-{i}")
        if i < 2:
            events += [ev(24 * d + 10, acct, "sign_in", net="sso_cloud") for d in range(3, 20)]
    newcomer = _colleagues()[2]
    events += [ev(500, newcomer, "sign_in", net="sso_cloud"), ev(500.05, newcomer, "sign_in", device="dev-2")]
    assert alerted_accounts(build(events), ATTEMPT) == set()


def test_relayed_attempt_quiet_on_a_commercial_vpn_exit(build):
    """VPN users sign in through exits new to them while their phone polls at home."""
    acct = "gil@corp.org"
    events = history(acct) + [
        ev(500, acct, "sign_in", net="vpn_nl", device="dev-owner"),
        ev(500.05, acct, "sign_in", net="mobile", ua=UA_PHONE),
    ]
    assert alerted_accounts(build(events), ATTEMPT) == set()


def test_a_sprayers_server_is_no_relay_when_an_owner_happens_to_sign_in(build):
    """A server that works through many accounts meets some owners signing in by chance."""
    events = []
    for i, acct in enumerate(_colleagues(8)):
        events += history(acct, device=f"dev-{i}")
        events.append(
            ev(500 + i, acct, "sign_in", "failure", net="evil_de", ua=UA_EVIL_BROWSER, reason="bad_password")
        )
    events.append(ev(500.05, _colleagues(8)[0], "sign_in", device="dev-0"))
    assert alerted_accounts(build(events), ATTEMPT) == set()


def test_an_abandoned_attempt_on_a_dormant_mailbox_fires(build):
    """A directory account that has not signed in for the whole period: nothing is new to it,
    but a rented server abroad its tenant never used, and nobody got in from there, still is."""
    acct = "old.hand@corp.org"
    directory = [{"account": acct, "tenant": "corp.org", "category": "ngo", "home_country": "US"}]
    events = history("colleague@corp.org") + [
        ev(500, acct, "sign_in", "failure", net="evil_de", ua=UA_EVIL_BROWSER, reason="bad_password"),
    ]
    assert alerted_accounts(build(events, directory=directory), ATTEMPT) == {acct}


def test_attempt_quiet_on_a_newcomers_first_day_on_a_cloud_desktop(build):
    """A new employee's first sign-ins come from the cloud desktop they were given: a typo, then in."""
    acct = "new.hire@corp.org"
    directory = [{"account": acct, "tenant": "corp.org", "category": "ngo", "home_country": "US"}]
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER}
    events = history("colleague@corp.org") + [
        ev(500, acct, "sign_in", "failure", reason="bad_password", **kw),
        ev(500.01, acct, "sign_in", **kw),
    ]
    assert alerted_accounts(build(events, directory=directory), ATTEMPT) == set()


def test_attempt_quiet_on_an_identifier_that_does_not_exist(build):
    """A typo'd address nobody owns is no one's relay victim (the lookup rules see enumeration)."""
    events = history("gil@corp.org") + [
        ev(500, "gli@corp.org", "sign_in", "failure", net="evil_de", reason="unknown_account",
           account_exists=False),
    ]  # fmt: skip
    assert alerted_accounts(build(events), ATTEMPT) == set()


# ------------------------------------------- accounts without a second factor: the password alone


def test_a_relayed_password_on_an_account_without_mfa_with_follow_on_changes_fires(build):
    """No second factor to relay: the replayed password is the sign-in, and the operator adds an
    authenticator and a forwarding rule in that session."""
    acct = "hal@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER, "device": "dev-operator", "session_id": "p1"}
    events = history(acct) + [
        ev(500, acct, "sign_in", **kw),
        ev(500.1, acct, "mailbox_rule", detail="forward to x@proton.me", **kw),
        ev(500.2, acct, "mfa_method_change", method="totp", **kw),
    ]
    store = build(events)
    assert alerted_accounts(store, RELAY) == {acct}
    assert alerted_accounts(store, FOLLOW) == {acct}


def test_a_password_sign_in_after_an_abandoned_attempt_from_the_same_server_fires(build):
    """The server's first relayed password was wrong; days later the victim typed the right one."""
    acct = "hal@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER}
    events = history(acct) + [
        ev(450, acct, "sign_in", "failure", reason="bad_password", **kw),
        ev(500, acct, "sign_in", session_id="p2", **kw),
    ]
    alerts = alerts_of(build(events), RELAY)
    assert [a["accounts"] for a in alerts] == [[acct]]
    assert "1 abandoned attempts before" in alerts[0]["detail"] and len(alerts[0]["event_ids"]) == 2


def test_password_only_sign_in_from_a_cloud_desktop_abroad_alone_is_quiet(build):
    """New network, tenant, country and browser on a rented server (6 bits), nothing corroborating:
    a password alone proves nothing was relayed live."""
    acct = "hal@corp.org"
    events = history(acct) + [ev(500, acct, "sign_in", net="evil_de", ua=UA_EVIL_BROWSER, session_id="p3")]
    assert alerted_accounts(build(events), RELAY) == set()


def test_password_only_vpn_user_adding_an_authenticator_is_quiet(build):
    """A VPN user on a new exit signs in with the password and enrols their first authenticator."""
    acct = "ida@corp.org"
    kw = {"net": "vpn_nl", "ua": UA_PHONE, "session_id": "v1"}
    events = history(acct) + [
        ev(500, acct, "sign_in", **kw),
        ev(500.1, acct, "mfa_method_change", method="totp", detail="added authenticator app", **kw),
    ]
    quiet_everywhere(build(events))


def test_password_only_sign_in_through_a_tor_exit_in_a_data_centre_is_quiet(build):
    """A Tor relay hosted in a data centre is logged as hosting on some events and as Tor on
    others: an exit many people share, not a server rented for one victim, owner nearby or not."""
    acct = "ida@corp.org"
    tor = {"src_ip": "185.220.100.65", "asn": 208294, "asn_org": "TOR EXIT", "country": "DE"}
    events = history(acct) + [
        ev(400, "someone@else.org", "sign_in", network_type="tor", **tor),
        ev(499.95, acct, "sign_in", device="dev-owner"),
        ev(500, acct, "sign_in", ua=UA_EVIL_BROWSER, session_id="t1", network_type="hosting", **tor),
    ]
    quiet_everywhere(build(events))


# ------------------------------------------------ follow-on changes: the operator's, not housekeeping


def test_password_only_cloud_desktop_with_a_housekeeping_rule_is_quiet(build):
    """Someone on a rented cloud desktop signs in with the password and tidies the inbox (delete the
    promotions): a rule that carries no mail out corroborates no relay."""
    acct = "hal@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER, "device": "dev-cloud", "session_id": "h1"}
    events = history(acct) + [
        ev(500, acct, "sign_in", **kw),
        ev(500.1, acct, "mailbox_rule", detail="new rule: delete messages from promotions senders", **kw),
    ]
    quiet_everywhere(build(events))


def test_password_only_cloud_desktop_adding_a_security_key_is_quiet(build):
    """A security key is hardware in the owner's hand: enrolling one is no operator's persistence."""
    acct = "hal@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER, "device": "dev-cloud", "session_id": "h2"}
    events = history(acct) + [
        ev(500, acct, "sign_in", **kw),
        ev(500.1, acct, "mfa_method_change", method="fido2", detail="added security key", **kw),
    ]
    quiet_everywhere(build(events))


def test_removing_a_forwarding_rule_after_a_cloud_desktop_sign_in_is_quiet(build):
    """Taking a forwarding rule away is the owner cleaning up, not mail carried out."""
    acct = "hal@corp.org"
    kw = {"net": "evil_de", "ua": UA_EVIL_BROWSER, "device": "dev-cloud", "session_id": "h3"}
    events = history(acct) + [
        ev(500, acct, "sign_in", **kw),
        ev(500.1, acct, "mailbox_rule", detail="rule removed: forward all messages outside", **kw),
    ]
    quiet_everywhere(build(events))


def test_owner_concurrent_fires_on_a_residential_proxy_abroad_with_the_owner_at_home(build):
    """The operator replays through a residential proxy abroad (no rented server) while the victim
    is at home on the laptop: another country, and neither side a carrier address."""
    acct = "eve@corp.org"
    events = (
        history(acct)
        + [ev(499.95, acct, "sign_in", "pending", device="dev-owner", session_id="s0")]
        + mfa_login(500, acct, net="hotel_fr", session="s1")
    )
    assert alerted_accounts(build(events), OWNER) == {acct}


def test_owner_concurrent_quiet_on_a_traveller_whose_roaming_phone_is_routed_home(build):
    """A traveller signs in on a new laptop on the hotel's Wi-Fi abroad (code by SMS) while their
    phone's data, roaming, leaves through the home carrier: the carrier address says nothing about
    where the phone is."""
    acct = "tom@corp.org"
    events = history(acct) + history(acct, net="mobile", ua=UA_PHONE, device="dev-phone")
    events += [ev(499.97, acct, "sign_in", net="mobile", ua=UA_PHONE, device="dev-phone", session_id="p")]
    events += mfa_login(
        500, acct, net="hotel_fr", session="s1", ua=UA_OWNER, device="dev-new-laptop", method="sms"
    )
    quiet_everywhere(build(events))


def test_owner_concurrent_quiet_when_the_owners_event_is_the_completions_own_phone(build):
    """One new phone, minutes apart on two carriers (a US carrier, then a foreign one it roams on):
    the same device at both ends is one person whose egress changed."""
    acct = "ann@corp.org"
    gb_mobile = {"src_ip": "92.40.0.20", "asn": 206067, "asn_org": "H3G", "country": "GB"}
    events = history(acct) + history(acct, net="office", ua=UA_OWNER, device="dev-desk")
    events += [ev(499.9, acct, "sign_in", net="office", ua=UA_PHONE, device="dev-new-phone", session_id="p")]
    events += mfa_login(
        500, acct, net="mobile", session="s1", ua=UA_PHONE, device="dev-new-phone", method="sms", **gb_mobile
    )
    assert alerted_accounts(build(events), OWNER) == set()
