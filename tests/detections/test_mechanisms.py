"""Mechanisms behind false and missed takeovers: sessions, links, tenant egress, late evidence.

Each pair: the attack fires, its look-alike stays quiet, and the look-alike is the one the rule
would get wrong without the mechanism.
"""

from __future__ import annotations

from det_kit import UA_EVIL_BROWSER, UA_OWNER, UA_PHONE, alerted_accounts, ev, history, wrong_passwords

UNFAMILIAR = "compromise_unfamiliar_signin_after_attack"
TRAVEL = "compromise_impossible_travel"
LATE = "compromise_signin_from_later_attack_source"


def _works_through(hours: float, net: str, n: int, ua: str = UA_EVIL_BROWSER, **kw) -> list[dict]:
    """The source fails to sign in to ``n`` other accounts (a target list being worked)."""
    return [
        ev(
            hours + i * 0.1,
            f"t{i}@corp.org",
            "sign_in",
            "failure",
            net=net,
            ua=ua,
            reason="bad_password",
            **kw,
        )
        for i in range(n)
    ]


def _password_then_mfa(hours: float, mfa_outcome: str, **reason) -> list[dict]:
    """The attacker's password step succeeds (logged first, as many vendors do), then the MFA step."""
    kw = {"net": "evil", "ua": UA_EVIL_BROWSER, "device": "dev-x", "session_id": "sx"}
    return [
        ev(hours - 0.5, "alice@corp.org", "sign_in", "failure", reason="bad_password", **kw),
        ev(hours, "alice@corp.org", "sign_in", "success", **kw),
        ev(hours + 0.02, "alice@corp.org", "mfa_challenge", mfa_outcome, method="push", **kw, **reason),
    ]


def test_password_success_then_passed_mfa_is_a_takeover(build):
    events = _works_through(499, "evil", 3) + history("alice@corp.org") + _password_then_mfa(501, "success")
    assert alerted_accounts(build(events), UNFAMILIAR) == {"alice@corp.org"}


def test_password_success_then_denied_mfa_in_the_session_is_no_sign_in(build):
    events = (
        _works_through(499, "evil", 3)
        + history("alice@corp.org")
        + _password_then_mfa(501, "failure", reason="mfa_denied")
    )
    assert alerted_accounts(build(events), UNFAMILIAR) == set()


def test_password_success_then_timed_out_mfa_is_no_sign_in(build):
    events = (
        _works_through(499, "evil", 3)
        + history("alice@corp.org")
        + _password_then_mfa(501, "failure", reason="mfa_timeout")
    )
    assert alerted_accounts(build(events), UNFAMILIAR) == set()


def test_one_failed_guess_then_the_owner_on_a_new_phone_is_no_takeover(build):
    """A spraying source's single failure, then the owner's own new phone via a VPN days later."""
    events = (
        _works_through(399, "evil", 4)
        + history("bob@corp.org")
        + [
            ev(
                400,
                "bob@corp.org",
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL_BROWSER,
                reason="bad_password",
            ),
            ev(450, "bob@corp.org", "sign_in", net="vpn_nl", ua=UA_PHONE, device="dev-new-phone"),
        ]
    )
    assert alerted_accounts(build(events), UNFAMILIAR) == set()


def test_failed_guesses_then_a_sign_in_from_the_same_block_is_a_takeover(build):
    events = (
        _works_through(399, "evil", 4)
        + history("bob@corp.org")
        + [
            ev(
                400,
                "bob@corp.org",
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL_BROWSER,
                reason="bad_password",
            ),
            ev(450, "bob@corp.org", "sign_in", net="evil", src_ip="5.160.1.77", ua=UA_PHONE, device="dev-y"),
        ]
    )
    assert alerted_accounts(build(events), UNFAMILIAR) == {"bob@corp.org"}


def test_a_source_that_passed_the_password_links_a_sign_in_from_elsewhere(build):
    """The attacker's source got the password right (pending MFA), then signed in from another server."""
    events = (
        _works_through(399, "evil", 4)
        + history("bob@corp.org")
        + [
            ev(
                399.9,
                "bob@corp.org",
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL_BROWSER,
                reason="bad_password",
            ),
            ev(400, "bob@corp.org", "sign_in", "pending", net="evil", ua=UA_EVIL_BROWSER),
            ev(450, "bob@corp.org", "sign_in", net="evil_de", ua=UA_PHONE, device="dev-y"),
        ]
    )
    assert alerted_accounts(build(events), UNFAMILIAR) == {"bob@corp.org"}


def _agency(n: int = 4) -> list[dict]:
    """An agency whose staff sign in at home in the US and through the head office in Germany."""
    events = []
    for i in range(n):
        acct = f"s{i}@agency.gov"
        events += history(acct, device=f"dev-{i}")
        events += history(acct, net="hq_de", device=f"dev-office-{i}", start=2.0)
    return events


def test_employee_first_sign_in_through_the_organisations_egress_abroad_is_no_trip(build):
    acct = "new@agency.gov"
    events = (
        _agency()
        + history(acct, days=6, start=300)
        + [ev(428.5, acct, "sign_in", net="hq_de", ua=UA_PHONE, device="dev-office-new")]
    )
    assert alerted_accounts(build(events), TRAVEL) == set()


def test_hop_to_a_network_the_tenant_never_used_is_still_impossible_travel(build):
    acct = "new@agency.gov"
    events = (
        _agency()
        + history(acct, days=6, start=300)
        + [ev(428.5, acct, "sign_in", net="hotel_fr", ua=UA_PHONE, device="dev-office-new")]
    )
    assert alerted_accounts(build(events), TRAVEL) == {acct}


def test_sign_in_from_a_server_that_attacks_afterwards_is_re_judged(build):
    """The operator signs in to its first victim, then works through the rest from the same server."""
    events = (
        history("carol@corp.org")
        + [ev(300, "carol@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER, device="dev-x")]
        + _works_through(330, "evil", 5)
    )
    store = build(events)
    assert alerted_accounts(store, UNFAMILIAR) == set()
    assert alerted_accounts(store, LATE) == {"carol@corp.org"}


def test_vpn_exit_a_sprayer_uses_later_does_not_re_judge_its_users(build):
    """The owner's new phone signed in through a VPN exit; a sprayer with its own client uses it later."""
    events = (
        history("carol@corp.org")
        + [ev(300, "carol@corp.org", "sign_in", net="vpn_nl", ua=UA_PHONE, device="dev-new-phone")]
        + _works_through(330, "vpn_nl", 5)
    )
    assert alerted_accounts(build(events), LATE) == set()


def test_traveller_on_own_laptop_is_not_re_judged(build):
    events = (
        history("carol@corp.org")
        + [ev(300, "carol@corp.org", "sign_in", net="hotel_fr", ua=UA_OWNER, device="dev-owner")]
        + _works_through(330, "hotel_fr", 5, ua=UA_OWNER)
    )
    assert alerted_accounts(build(events), LATE) == set()


def _botnet_guesses(account: str, n: int, start: float) -> list[dict]:
    """``n`` wrong passwords on one account, each from another residential proxy address."""
    return [
        ev(start + 0.2 * k, account, "sign_in", "failure", net="home2", src_ip=f"81.{k}.7.9", asn=3300 + k,
           ua="python-requests/2.22.0", reason="bad_password")
        for k in range(n)
    ]  # fmt: skip


def test_botnet_guesses_then_the_owners_new_phone_is_no_guessed_password(build):
    events = (
        history("dora@corp.org")
        + _botnet_guesses("dora@corp.org", 6, 400)
        + [ev(405, "dora@corp.org", "sign_in", net="vpn_nl", ua=UA_PHONE, device="dev-new-phone")]
    )
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()


def test_guesses_then_a_success_from_the_guessing_address_is_a_guessed_password(build):
    events = (
        history("dora@corp.org")
        + wrong_passwords("dora@corp.org", 6, start=400, every=0.2, net="evil", ua=UA_EVIL_BROWSER)
        + [ev(402, "dora@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER)]
    )
    assert alerted_accounts(build(events), "cred_success_after_attack") == {"dora@corp.org"}
