"""Google Workspace connector: Panther's (flattened) records and Reports API activities."""

from __future__ import annotations

from idwatch.sources import gworkspace

# Event name -> (activity, outcome, reason) for the login / user_accounts events in the samples.
PANTHER_EVENTS = {
    "login_success": ("sign_in", "success", None),
    "login_failure": ("sign_in", "failure", "other"),
    "suspicious_login": ("sign_in", "failure", "blocked"),
    "account_disabled_spamming": ("account_lock", "success", None),
    "account_disabled_password_leak": ("account_lock", "success", None),
    "2sv_enroll": ("mfa_method_change", "success", None),
    "2sv_disable": ("mfa_method_change", "success", None),
    "titanium_enroll": ("mfa_method_change", "success", None),
    "titanium_unenroll": ("mfa_method_change", "success", None),
    "recovery_email_edit": ("recovery_info_change", "success", None),
    "email_forwarding_out_of_domain": ("mailbox_rule", "success", None),
}
SKIPPED_IN_SCOPE = {"gov_attack_warning", "logout"}


def test_panther_gsuite_records_map_per_event_name(vx):
    records = [e for e in vx.panther("GSuite.ActivityEvent") if gworkspace.sniff(e)]
    rows = vx.run(gworkspace, records)
    seen = set()
    for record, row in zip(records, rows, strict=True):
        app = record["id"]["applicationName"]
        name = (record.get("name") or "").strip()
        if app not in ("login", "user_accounts"):
            assert row["_skip"] == f"gworkspace:{app}:{name or '?'}"
            continue
        if not name:
            assert row["_error"] == "activity without an event name"
            continue
        seen.add(name)
        if name in SKIPPED_IN_SCOPE:
            assert row["_skip"] == f"gworkspace:{app}:{name}"
            continue
        assert (row["activity"], row["outcome"], row["reason"]) == PANTHER_EVENTS[name], name
        params = record.get("parameters") or {}
        expected_account = params.get("affected_email_address") or (record.get("actor") or {}).get("email")
        assert row["account"] == (expected_account.strip().lower() if expected_account else None)
        if name == "email_forwarding_out_of_domain":
            assert row["detail"] == "forward to " + params["email_forwarding_destination_address"]
    assert seen == set(PANTHER_EVENTS) | SKIPPED_IN_SCOPE


def test_reports_api_activities(vx):
    rows = vx.run(gworkspace, vx.fixture("gworkspace", "activities.json"))

    def c(activity, step=None, method=None, outcome=None, reason=None):
        return {"activity": activity, "step": step, "method": method, "outcome": outcome, "reason": reason}

    assert [vx.canon(r) for r in rows] == [
        c("sign_in", None, "password", "success"),
        c("sign_in", None, "password", "failure", "bad_password"),
        c("mfa_challenge", "verify", "sms", "failure", "verification_failed"),
        c("mfa_challenge", "verify", "totp", "success"),
        c("sign_in", None, None, "failure", "blocked"),
        c(None, None, None, "pending"),
        c("recovery_info_change", None, "sms", "success"),
        c("mfa_method_change", None, None, "success"),
        c("account_lock", None, None, "success"),
        c("mailbox_rule", None, None, "success"),
        c(None, None, None, "pending"),
    ]
    first = rows[0]
    assert first["account"] == "maria.lopez@example.org"
    assert first["tenant"] == "C03az79cb"
    assert first["event_id"] == "login:2024-05-06T07:01:11.512Z:-7312000000000001"
    assert first["time"] == "2024-05-06T07:01:11.512000Z"
    assert rows[1]["detail"] == "marked suspicious by Google"
    assert rows[4]["account"] == "maria.lopez@example.org"  # affected_email_address
    assert rows[5]["_skip"] == "gworkspace:login:gov_attack_warning"
    assert rows[8]["detail"] == "disabled: hijacked"
    assert rows[9]["detail"] == "forward to drop.box@example.net"
    assert rows[10]["_skip"] == "gworkspace:drive:view"
    assert rows[6]["contact_hash"] is None  # Google does not log the new recovery phone


def test_activities_ingest_end_to_end(vx, ingest):
    summary, store = ingest(vx.fixture("gworkspace", "activities.json"), array=True)
    assert summary.formats == {"gworkspace": 11}
    assert (summary.stored, summary.skipped, summary.quarantined) == (9, 2, 0)
    assert summary.skipped_by_kind == {"gworkspace:login:gov_attack_warning": 1, "gworkspace:drive:view": 1}
