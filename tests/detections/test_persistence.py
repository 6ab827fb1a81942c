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
