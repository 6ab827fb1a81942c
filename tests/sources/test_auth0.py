"""Auth0 connector: Panther's log-stream records and Management API log pages."""

from __future__ import annotations

import hashlib

from idwatch.sources import auth0

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
        assert row["account"] == (data.get("user_name") or data.get("user_id") or None)
    assert seen == set(PANTHER_TYPES) | PANTHER_SKIPPED


def test_management_api_log_page(vx):
    rows = vx.run(auth0, vx.fixture("auth0", "logs_api_page.json"))

    def c(activity, step=None, method=None, outcome=None, reason=None):
        return {"activity": activity, "step": step, "method": method, "outcome": outcome, "reason": reason}

    assert [vx.canon(r) for r in rows] == [
        c("sign_in", None, "password", "success"),  # strategy_type database
        c("sign_in", None, "password", "failure", "bad_password"),
        c("sign_in", None, "password", "failure", "unknown_account"),
        c("sign_in", None, "password", "failure", "blocked"),  # skipped below: no account
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
    assert rows[3]["_skip"] == "auth0:limit_mu:no_account"  # an IP-level block names no account
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
    assert (summary.stored, summary.skipped, summary.quarantined) == (8, 2, 0)
    assert summary.skipped_by_kind == {"auth0:sapi": 1, "auth0:limit_mu:no_account": 1}


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
