"""MFA detections: push fatigue, attacker's new method, one phone on many accounts."""

from __future__ import annotations

from det_kit import UA_EVIL_BROWSER, UA_PHONE, alerted_accounts, alerts_of, ev, history, sha


def test_push_fatigue_fires_on_burst_then_approval(build):
    events = history("alice@corp.org")
    events += [
        ev(
            500 + k * 0.05,
            "alice@corp.org",
            "mfa_challenge",
            "failure",
            net="evil",
            ua=UA_EVIL_BROWSER,
            method="push",
            reason="mfa_denied" if k % 2 else "mfa_timeout",
        )
        for k in range(7)
    ]
    events.append(ev(500.4, "alice@corp.org", "mfa_challenge", net="evil", ua=UA_EVIL_BROWSER, method="push"))
    alerts = alerts_of(build(events), "mfa_push_fatigue")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]
    assert "approved" in alerts[0]["detail"] and alerts[0]["score"] >= 85


def test_push_fatigue_quiet_on_a_couple_of_missed_prompts(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "mfa_challenge", "failure", method="push", reason="mfa_timeout"),
        ev(500.1, "alice@corp.org", "mfa_challenge", "failure", method="push", reason="mfa_timeout"),
        ev(500.2, "alice@corp.org", "mfa_challenge", method="push"),
    ]
    assert alerted_accounts(build(events), "mfa_push_fatigue") == set()


def test_new_method_after_reset_from_unfamiliar_infrastructure_fires(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "password_reset", net="evil", ua=UA_EVIL_BROWSER, step="complete"),
        ev(500.5, "alice@corp.org", "sign_in", net="evil", ua=UA_EVIL_BROWSER),
        ev(
            501,
            "alice@corp.org",
            "mfa_method_change",
            net="evil",
            ua=UA_EVIL_BROWSER,
            method="totp",
            detail="registered authenticator app",
        ),
    ]
    alerts = alerts_of(build(events), "mfa_new_method_after_risk")
    assert [a["accounts"] for a in alerts] == [["alice@corp.org"]]


def test_new_method_quiet_on_new_phone_at_home(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "sign_in", ua=UA_PHONE, device="dev-newphone"),
        ev(
            500.1,
            "alice@corp.org",
            "mfa_method_change",
            ua=UA_PHONE,
            device="dev-newphone",
            method="push",
            detail="registered authenticator app",
        ),
    ]
    assert alerted_accounts(build(events), "mfa_new_method_after_risk") == set()


def test_one_phone_on_several_accounts_fires(build):
    phone = sha("+989121234567")
    users = ["a@corp.org", "b@corp.org", "c@news.org"]
    events = [e for u in users for e in history(u, days=3)]
    events += [
        ev(100 + i, u, "mfa_method_change", net="evil", method="sms", contact_hash=phone)
        for i, u in enumerate(users)
    ]
    alerts = alerts_of(build(events), "mfa_phone_shared")
    assert alerts and set(alerts[0]["accounts"]) == set(users) and alerts[0]["contact_hashes"] == [phone]


def test_one_phone_quiet_for_a_couple_sharing_a_phone(build):
    phone = sha("+15550001111")
    events = [e for u in ("a@home.net", "b@home.net") for e in history(u, days=3)]
    events += [
        ev(100 + i, u, "recovery_info_change", method="sms", contact_hash=phone)
        for i, u in enumerate(("a@home.net", "b@home.net"))
    ]
    assert alerted_accounts(build(events), "mfa_phone_shared") == set()
    # ... but two watch-listed accounts sharing a newly registered phone are worth a look
    directory = [{"account": "a@home.net", "tenant": "home.net", "watchlist": True}]
    assert alerted_accounts(build(events, directory=directory), "mfa_phone_shared") == {
        "a@home.net",
        "b@home.net",
    }
