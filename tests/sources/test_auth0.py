"""Auth0 connector: Panther's log-stream records and Management API log pages."""

from __future__ import annotations

import hashlib

from idwatch.sources import auth0
from idwatch.sources.vendor_sql import NO_ACCOUNT

PANTHER_TYPES = {
    "gd_send_pn": ("mfa_challenge", "pending", None),
    "gd_enrollment_complete": ("mfa_method_change", "success", None),
    "limit_wc": ("account_lock", "success", None),
    "pwd_leak": ("sign_in", "failure", "blocked"),
    "fcoa": ("sign_in", "failure", "other"),
}
PANTHER_SKIPPED = {"sapi", "signup_pwd_leak", "ferrt"}


def test_panther_auth0_records_map_per_type(vx):
    records = [e for e in vx.panther("Auth0.Events") if auth0.sniff(e)]
    assert len(records) == 57  # every Auth0 record of the samples is recognised
    rows = vx.run(auth0, records)
    seen = set()
    for record, row in zip(records, rows, strict=True):
        data = record["data"]
        seen.add(data["type"])
        if data["type"] in PANTHER_SKIPPED:
            assert row["_skip"] == f"auth0:{data['type']}" and row["_error"] is None
            continue
        assert (row["activity"], row["outcome"], row["reason"]) == PANTHER_TYPES[data["type"]]
        assert row["src_ip"] == data["ip"]
        nobody = NO_ACCOUNT if row["outcome"] == "failure" else None  # an attempt naming no one
        assert row["account"] == (data.get("user_name") or data.get("user_id") or nobody)
        assert row["_skip"] is None
    assert seen == set(PANTHER_TYPES) | PANTHER_SKIPPED


def test_management_api_log_page(vx):
    rows = vx.run(auth0, vx.fixture("auth0", "logs_api_page.json"))

    def c(activity, step=None, method=None, outcome=None, reason=None):
        return {"activity": activity, "step": step, "method": method, "outcome": outcome, "reason": reason}

    assert [vx.canon(r) for r in rows] == [
        c("sign_in", None, "password", "success"),  # strategy_type database
        c("sign_in", None, "password", "failure", "bad_password"),
        c("sign_in", None, "password", "failure", "unknown_account"),
        c("sign_in", None, "password", "failure", "blocked"),  # an IP-level block: no account named
        c("mfa_challenge", "start", "sms", "pending"),
        c("mfa_challenge", "verify", "push", "failure", "mfa_denied"),
        c("mfa_method_change", None, "sms", "success"),
        c("password_reset", "start", "email", "pending"),
        c("account_recovery", "verify", None, "success"),
        c(None),
    ]
    assert rows[0]["account"] == "kim.park@example.com"
    assert (rows[0]["tenant"], rows[0]["country"]) == ("newsroom", "NL")
    assert rows[2]["account_exists"] is False and rows[0]["account_exists"] is True
    assert (rows[3]["account"], rows[3]["account_exists"], rows[3]["_skip"]) == (NO_ACCOUNT, None, None)
    assert rows[6]["contact_hash"] == hashlib.sha256(b"+14155550100").hexdigest()
    assert "415" not in (rows[6]["detail"] or "")
    (masked,) = vx.run(
        auth0,
        [{**vx.fixture("auth0", "logs_api_page.json")[4], "description": "SMS sent to +1 415 555 0100"}],
    )
    assert masked["detail"] == "SMS sent to [phone]"  # vendor prose never carries a contact in clear
    assert rows[9]["_skip"] == "auth0:sapi"


def test_log_stream_wrapping_and_end_to_end(vx, ingest):
    (row,) = vx.run(auth0, vx.fixture("auth0", "log_stream.jsonl"))
    assert vx.canon(row, "activity", "outcome") == {"activity": "mfa_challenge", "outcome": "success"}
    assert row["event_id"].endswith("099")
    summary, _ = ingest(vx.fixture("auth0", "logs_api_page.json"), array=True)
    assert summary.formats == {"auth0": 10}
    assert (summary.stored, summary.skipped, summary.quarantined) == (9, 1, 0)
    assert summary.skipped_by_kind == {"auth0:sapi": 1}


def test_failure_reasons_methods_and_the_identifier_tried(vx, ingest):
    """``f`` reasons from details.error.message; sign-in methods from the connection or prompts."""
    rows = vx.run(auth0, vx.fixture("auth0", "failures_and_methods.json"))
    got = [vx.canon(r, "activity", "method", "outcome", "reason") for r in rows]

    def c(method, outcome, reason=None):
        return {"activity": "sign_in", "method": method, "outcome": outcome, "reason": reason}

    assert got == [
        c("password", "failure", "bad_password"),  # "Wrong email or password."
        c("password", "failure", "locked"),  # "user is blocked"
        c("password", "failure", "verification_failed"),
        c("password", "failure", "other"),
        c("passwordless", "success"),  # strategy_type passwordless
        c("token", "success"),  # social connection
        c("password", "success"),  # no connection named: the password prompt
        c("password", "failure", "bad_password"),
    ]
    # no user_name / user_id, but the identifier tried is in the request: an event, not skipped
    assert rows[7]["account"] == "ghost@example.com" and rows[7]["_skip"] is None
    summary, _ = ingest(vx.fixture("auth0", "failures_and_methods.json"), array=True)
    assert (summary.stored, summary.skipped, summary.quarantined) == (8, 0, 0)


def test_failures_that_name_no_account_are_attempts_from_their_address(vx, ingest):
    """Auth0's schemas make user_name / user_id optional for fu, fp, f and limit_mu
    (auth0.com/docs/tenant-logs/auth-login-fail/*, .../system-notification/limit-mu): such a
    failure is still an attempt from its address, with the reserved account NO_ACCOUNT; an
    account-less record that is not a failure (a code sent to no one named) stays skipped."""
    records = vx.fixture("auth0", "accountless.json")
    rows = vx.run(auth0, records)
    got = [vx.canon(r, "account", "account_exists", "activity", "outcome", "reason") for r in rows[:4]]

    def c(exists, reason):
        return {
            "account": NO_ACCOUNT,
            "account_exists": exists,
            "activity": "sign_in",
            "outcome": "failure",
            "reason": reason,
        }

    assert got == [
        c(False, "unknown_account"),  # fu: Auth0 says the identifier matched no user
        c(None, "bad_password"),
        c(None, "other"),  # f: an error fp / fu do not cover
        c(None, "blocked"),  # limit_mu: the address is blocked
    ]
    assert [r["src_ip"] for r in rows[:4]] == ["203.0.113.40", "203.0.113.40", "203.0.113.41", "203.0.113.40"]
    assert {r["tenant"] for r in rows} == {"newsroom"} and all(r["_skip"] is None for r in rows[:4])
    assert rows[4]["_skip"] == "auth0:cls:no_account" and rows[4]["account"] is None

    summary, store = ingest(records, array=True)
    assert (summary.records, summary.stored, summary.skipped, summary.quarantined, summary.duplicates) == (
        5,
        4,
        1,
        0,
        0,
    )
    assert summary.balanced and summary.skipped_by_kind == {"auth0:cls:no_account": 1}
    kept = store.connect().execute("SELECT kind, src_ip FROM other_events").fetchall()
    assert kept == [("cls:no_account", "198.51.100.23")]


def test_eventbridge_log_stream_is_the_same_event(vx, ingest):
    """Auth0's EventBridge stream delivers the log-stream object as the event's ``detail``."""
    (bridge,) = vx.fixture("auth0", "eventbridge.jsonl")
    (hook,) = vx.fixture("auth0", "log_stream.jsonl")
    assert auth0.sniff(bridge)
    got, want = vx.one(auth0, bridge), vx.one(auth0, hook)
    same = ("time", "event_id", "tenant", "account", "activity", "outcome", "src_ip", "user_agent")
    assert {k: got[k] for k in same} == {k: want[k] for k in same} and got["_error"] is None
    summary, _ = ingest([bridge, hook])
    assert (summary.records, summary.stored, summary.duplicates) == (2, 1, 1)
