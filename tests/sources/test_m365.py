"""Microsoft 365 Management Activity connector: Panther's records, the API's and Sentinel's shapes."""

from __future__ import annotations

import hashlib

from idwatch.sources import m365


def _get(record: dict, key: str):
    for k, v in record.items():
        if k.lower() == key.lower():
            return v
    return None


def test_panther_m365_records(vx):
    records = [
        e
        for e in vx.panther(
            "Microsoft365.Audit.AzureActiveDirectory",
            "Microsoft365.Audit.Exchange",
            "Microsoft365.Audit.SharePoint",
        )
        if m365.sniff(e)
    ]
    rows = vx.run(m365, records)
    seen = set()
    for record, row in zip(records, rows, strict=True):
        op = _get(record, "Operation")
        seen.add(op)
        params = {p["Name"]: p["Value"] for p in (_get(record, "Parameters") or [])}
        if op == "UserLoginFailed":
            assert (row["activity"], row["outcome"], row["reason"]) == ("sign_in", "failure", "bad_password")
        elif op == "UserLoggedIn":
            assert (row["activity"], row["outcome"]) == ("sign_in", "success")
        elif op == "Update user.":
            # StrongAuthenticationMethod changed: an MFA method change
            assert row["activity"] == "mfa_method_change"
        elif op in ("New-InboxRule", "Set-Mailbox"):
            assert row["activity"] == "mailbox_rule"
            for name in ("ForwardTo", "ForwardingSmtpAddress", "RedirectTo"):
                if name in params:
                    assert f"{name}={params[name]}" in row["detail"]
        else:
            assert row["_skip"] == f"m365:{op}"
    assert {"UserLoginFailed", "Update user.", "New-InboxRule", "Set-Mailbox", "AddedToSecureLink"} <= seen


def test_otrf_officeactivity_mail_access_is_skipped(vx, ingest):
    summary, _ = ingest(vx.sample("otrf-security-datasets/OfficeActivityEvents.json"))
    assert summary.formats == {"m365": 1}
    assert summary.skipped_by_kind == {"m365:MailItemsAccessed": 1}


def test_management_activity_records(vx):
    rows = vx.run(m365, vx.fixture("m365", "management_activity.json"))

    def c(activity, step=None, method=None, outcome=None, reason=None):
        return {"activity": activity, "step": step, "method": method, "outcome": outcome, "reason": reason}

    assert [vx.canon(r) for r in rows] == [
        c("sign_in", None, None, "success"),
        c("sign_in", None, "password", "failure", "bad_password"),  # ErrorNumber
        c("sign_in", None, None, "failure", "unknown_account"),  # LogonError, no ErrorNumber
        c("mfa_challenge", None, None, "failure", "mfa_denied"),  # ErrorNumber wins over LogonError
        c("mailbox_rule", None, None, "success"),
        c(None, None, None, "success"),
        c("password_reset", "complete", None, "success"),
        c("recovery_info_change", None, None, "success"),
        c(None, None, None, "success"),
    ]
    assert rows[0]["user_agent"] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/125.0"
    assert rows[2]["account_exists"] is False
    assert rows[4]["src_ip"] == "198.51.100.3"  # port cut
    assert rows[4]["detail"] == "New-InboxRule Name=.., ForwardTo=archive.box@example.net, DeleteMessage=True"
    assert rows[5]["_skip"] == "m365:Set-Mailbox" and rows[5]["src_ip"] == "2001:db8::44"
    update = rows[7]
    assert update["account"] == "sam.reyes@contoso.onmicrosoft.com"  # the changed user, not the helpdesk
    assert update["contact_hash"] == hashlib.sha256(b"+491701234567").hexdigest()
    assert rows[8]["_skip"] == "m365:Add member to group."


def test_sentinel_officeactivity_inbox_rule(vx):
    (row,) = vx.run(m365, vx.fixture("m365", "sentinel_officeactivity.jsonl"))
    assert (row["activity"], row["account"]) == ("mailbox_rule", "sam.reyes@contoso.onmicrosoft.com")
    assert row["detail"] == "Set-InboxRule RedirectTo=accounts@example.org"
    assert row["time"] == "2024-07-08T15:00:00.000000Z"


def test_ingest_end_to_end(vx, ingest):
    summary, store = ingest(vx.fixture("m365", "management_activity.json"), array=True)
    assert summary.formats == {"m365": 9}
    assert (summary.stored, summary.skipped, summary.quarantined) == (7, 2, 0)
    assert {e["activity"] for e in vx.stored(store)} >= {"sign_in", "mailbox_rule", "recovery_info_change"}


def test_sign_outs_are_not_sign_ins_and_interrupts_are_pending(vx, ingest):
    """Azure AD logs a sign-out as UserLoggedIn (RequestType OAuth2:Logout, user often "Unknown")."""
    records = vx.fixture("m365", "logout_and_interrupts.json")
    logout, unknown, kmsi = vx.run(m365, records)
    assert logout["_skip"] == "m365:UserLoggedIn:logout"
    assert unknown["_skip"] == "m365:UserLoggedIn:no_user"
    assert kmsi["_skip"] is None
    assert vx.canon(kmsi, "activity", "outcome", "reason") == {
        "activity": "sign_in",
        "outcome": "pending",  # 50140 "keep me signed in": the flow goes on
        "reason": None,
    }
    summary, store = ingest(records)
    assert (summary.stored, summary.skipped, summary.quarantined) == (1, 2, 0)
    kinds = store.connect().execute("SELECT kind FROM other_events ORDER BY kind").fetchall()
    assert kinds == [("UserLoggedIn:logout",), ("UserLoggedIn:no_user",)]
