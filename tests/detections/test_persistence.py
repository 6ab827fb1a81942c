"""Persistence detections: forwarding rules and recovery changes after a risky access."""

from __future__ import annotations

from det_kit import UA_EVIL_BROWSER, alerted_accounts, alerts_of, ev, history, sha


def _attacker_session(account: str) -> list[dict]:
    return [
        ev(500, account, "password_reset", net="evil", ua=UA_EVIL_BROWSER, step="complete"),
        ev(500.2, account, "sign_in", net="evil", ua=UA_EVIL_BROWSER),
    ]


def test_forwarding_rule_after_risky_signin_fires(build):
    events = (
        history("alice@corp.org")
        + _attacker_session("alice@corp.org")
        + [
            ev(
                501,
                "alice@corp.org",
                "mailbox_rule",
                net="evil",
                ua=UA_EVIL_BROWSER,
                detail="New-InboxRule ForwardTo: drop@outlook-verify.net",
            )
        ]
    )
    alerts = alerts_of(build(events), "persist_forwarding_after_risky")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert "outlook-verify.net" in alerts[0]["detail"] and len(alerts[0]["event_ids"]) >= 2


def test_forwarding_rule_quiet_for_owner_forwarding_at_home(build):
    events = history("alice@corp.org") + [
        ev(501, "alice@corp.org", "mailbox_rule", detail="ForwardTo: alice.personal@gmail.com"),
        ev(502, "alice@corp.org", "mailbox_rule", detail="ForwardTo: team@corp.org"),
    ]
    assert alerted_accounts(build(events), "persist_forwarding_after_risky") == set()


def test_recovery_change_after_reset_fires(build):
    events = (
        history("alice@corp.org")
        + _attacker_session("alice@corp.org")
        + [
            ev(
                500.5,
                "alice@corp.org",
                "recovery_info_change",
                net="evil",
                ua=UA_EVIL_BROWSER,
                method="sms",
                contact_hash=sha("+989000000000"),
            )
        ]
    )
    alerts = alerts_of(build(events), "persist_recovery_change_after_risky")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert alerts[0]["contact_hashes"] == [sha("+989000000000")]


def test_recovery_change_quiet_on_new_phone_number_at_home(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "recovery_info_change", method="sms", contact_hash=sha("+15550009999"))
    ]
    assert alerted_accounts(build(events), "persist_recovery_change_after_risky") == set()


def test_persistence_quiet_for_owner_on_own_laptop_behind_a_vpn_exit_attackers_also_use(build):
    # the exit is busy with someone's password guessing, but alice is on her own laptop
    events = [
        ev(
            700 + i * 0.1,
            f"t{i}@corp.org",
            "sign_in",
            "failure",
            net="vpn_nl",
            ua=UA_EVIL_BROWSER,
            reason="bad_password",
        )
        for i in range(5)
    ]
    events += history("alice@corp.org", days=30) + [
        ev(720, "alice@corp.org", "sign_in", net="vpn_nl", device="dev-owner"),
        ev(
            720.2,
            "alice@corp.org",
            "recovery_info_change",
            net="vpn_nl",
            device="dev-owner",
            method="sms",
            contact_hash=sha("+3361234567"),
        ),
        ev(
            720.3,
            "alice@corp.org",
            "mailbox_rule",
            net="vpn_nl",
            device="dev-owner",
            detail="ForwardTo: alice.personal@gmail.com",
        ),
    ]
    store = build(events)
    assert alerted_accounts(store, "persist_recovery_change_after_risky") == set()
    assert alerted_accounts(store, "persist_forwarding_after_risky") == set()
