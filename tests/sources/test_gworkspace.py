"""Google Workspace connector: Panther's (flattened) records and Reports API activities."""

from __future__ import annotations

import json

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
            kind = name if name == "gov_attack_warning" else f"{app}:{name}"
            assert row["_skip"] == f"gworkspace:{kind}"
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
    # application, time, uniqueQualifier, event name and its index in ``events``
    assert first["event_id"] == "login:2024-05-06T07:01:11.512000Z:-7312000000000001:login_success:0"
    assert first["time"] == "2024-05-06T07:01:11.512000Z"
    assert rows[1]["detail"] == "marked suspicious by Google"
    assert rows[4]["account"] == "maria.lopez@example.org"  # affected_email_address
    assert rows[5]["_skip"] == "gworkspace:gov_attack_warning"
    assert rows[8]["detail"] == "disabled: hijacked"
    assert rows[9]["detail"] == "forward to drop.box@example.net"
    assert rows[10]["_skip"] == "gworkspace:drive:view"
    assert rows[6]["contact_hash"] is None  # Google does not log the new recovery phone


def test_activities_ingest_end_to_end(vx, ingest):
    summary, store = ingest(vx.fixture("gworkspace", "activities.json"), array=True)
    assert summary.formats == {"gworkspace": 11}
    assert (summary.stored, summary.skipped, summary.quarantined) == (9, 2, 0)
    assert summary.skipped_by_kind == {"gworkspace:gov_attack_warning": 1, "gworkspace:drive:view": 1}


def _in_order(rows: list[dict]) -> list[dict]:
    """Rows by record, then by the event's index in ``events`` (the last part of its id)."""
    return sorted(rows, key=lambda r: (r["_line"], int(r["event_id"].rsplit(":", 1)[1])))


def test_every_event_of_an_activity_is_its_own_event(vx, ingest):
    """Google logs several events per activity (a challenge, then the sign-in it guards); two
    activities may even share time and uniqueQualifier. Each event is kept, none is a duplicate."""
    records = vx.fixture("gworkspace", "multi_event_activities.json")
    rows = _in_order(vx.run(gworkspace, records))
    assert [vx.canon(r) for r in rows] == [
        {
            "activity": "mfa_challenge",
            "step": "verify",
            "method": "sms",
            "outcome": "success",
            "reason": None,
        },
        {
            "activity": "mfa_challenge",
            "step": "verify",
            "method": "totp",
            "outcome": "failure",
            "reason": "verification_failed",
        },
        {"activity": "sign_in", "step": None, "method": "password", "outcome": "success", "reason": None},
        {
            "activity": "sign_in",
            "step": None,
            "method": "password",
            "outcome": "failure",
            "reason": "bad_password",
        },
        {"activity": None, "step": None, "method": None, "outcome": "pending", "reason": None},
    ]
    assert len({r["event_id"] for r in rows}) == 5
    assert rows[2]["event_id"] == "login:2024-06-03T09:15:00.100000Z:5521000000000001:login_success:2"
    summary, store = ingest(records, array=True)
    assert (summary.records, summary.stored, summary.duplicates, summary.skipped) == (5, 4, 0, 1)
    assert summary.balanced
    again, _ = ingest(records, array=True, name="again.json")
    assert (again.stored, again.duplicates, again.skipped) == (0, 4, 1)


def test_gov_attack_warning_is_kept_for_attribution(vx, ingest):
    """Google's state-actor warning is no attempt (skipped), but it is kept in ``other_events``."""
    records = vx.fixture("gworkspace", "multi_event_activities.json")
    summary, store = ingest(records, array=True)
    assert summary.skipped_by_kind == {"gworkspace:gov_attack_warning": 1}
    query = "SELECT time, source, kind, tenant, account, src_ip FROM other_events"
    (row,) = store.connect().execute(query).fetchall()
    assert row[1:] == (
        "gworkspace",
        "gov_attack_warning",
        "C03az79cb",
        "ana.silva@example.org",
        "198.51.100.7",
    )
    assert row[0].isoformat() == "2024-06-03T10:00:00+00:00"
    ingest(records, array=True, name="again.json")  # idempotent like events
    assert store.connect().execute("SELECT count(*) FROM other_events").fetchone() == (1,)


def test_cloud_logging_entries(vx):
    """Workspace login audit routed to Cloud Logging: protoPayload.metadata.event[], parameter[]."""
    records = vx.fixture("gworkspace", "cloud_logging.jsonl")
    assert all(gworkspace.sniff(r) for r in records)
    rows = _in_order(vx.run(gworkspace, records))
    assert [vx.canon(r) for r in rows] == [
        {
            "activity": "sign_in",
            "step": None,
            "method": "password",
            "outcome": "failure",
            "reason": "bad_password",
        },
        {
            "activity": "mfa_challenge",
            "step": "verify",
            "method": "fido2",
            "outcome": "success",
            "reason": None,
        },
        {"activity": "sign_in", "step": None, "method": "password", "outcome": "success", "reason": None},
        {"activity": None, "step": None, "method": None, "outcome": "pending", "reason": None},
    ]
    first = rows[0]
    assert first["time"] == "2024-06-03T09:15:00.100000Z"  # activityId.timeUsec
    assert first["account"] == "ana.silva@example.org"
    assert first["src_ip"] == "2001:db8::17"
    assert first["tenant"] == "123456789012"
    assert first["detail"] == "marked suspicious by Google"
    assert first["event_id"] == "login:2024-06-03T09:15:00.100000Z:5521000000000003:login_failure:0"
    assert rows[3]["_skip"] == "gworkspace:gov_attack_warning"
    assert all(r["_error"] is None for r in rows)


def test_gov_attack_warnings_of_both_shapes_are_countable_with_their_raw_fields(vx, ingest):
    """The warning from the Reports API and from Cloud Logging: one kept row each, kind
    ``gov_attack_warning``, whose raw record still names the warned account (for attribution)."""
    reports = [a for a in vx.fixture("gworkspace", "multi_event_activities.json") if "gov" in json.dumps(a)]
    cloud = [r for r in vx.fixture("gworkspace", "cloud_logging.jsonl") if "govAttack" in json.dumps(r)]
    summary, store = ingest(reports + cloud)
    assert summary.skipped_by_kind == {"gworkspace:gov_attack_warning": 2} and summary.balanced
    con = store.connect()
    counts = con.execute(
        "SELECT count(*), count(DISTINCT event_id) FROM other_events WHERE kind = 'gov_attack_warning'"
    ).fetchone()
    assert counts == (2, 2)
    warned = con.execute(
        """SELECT coalesce(
             json_extract_string(raw, '$.events[0].parameters[0].value'),
             json_extract_string(raw, '$.protoPayload.metadata.event[0].parameter[0].value'))
           FROM other_events WHERE kind = 'gov_attack_warning' ORDER BY time"""
    ).fetchall()
    assert warned == [("ana.silva@example.org",), ("ana.silva@example.org",)]
    raws = [json.loads(r) for (r,) in con.execute("SELECT raw FROM other_events ORDER BY time").fetchall()]
    assert raws == [cloud[0], reports[0]]  # each record kept whole
