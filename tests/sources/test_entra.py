"""Microsoft Entra ID connector: real samples (Panther, msticpy, OTRF) and documented shapes."""

from __future__ import annotations

import hashlib
import json

from idwatch.sources import entra

# What each sign-in error code must mean (EVENTS.md section 1 + issue 6), independent of entra_map.
SIGNIN_CODES = {
    0: ("sign_in", "success", None),
    50126: ("sign_in", "failure", "bad_password"),
    50034: ("sign_in", "failure", "unknown_account"),
    50053: ("sign_in", "failure", "locked"),
    50057: ("sign_in", "failure", "disabled"),
    500121: ("mfa_challenge", "failure", "mfa_denied"),
    50074: ("sign_in", "pending", None),  # password right, MFA next
    50076: ("sign_in", "pending", None),
}


def _code(record: dict) -> object:
    props = record.get("properties") or {}
    status = props.get("status") or record.get("status") or {}
    for value in (status.get("errorCode"), record.get("resultType"), record.get("resulttype")):
        if value is not None:
            return value
    return None


def test_panther_azure_records_map_by_category_and_error_code(vx):
    records = [e for e in vx.panther("Azure.Audit") if entra.sniff(e)]
    rows = vx.run(entra, records)
    kinds = set()
    for record, row in zip(records, rows, strict=True):
        category = record.get("category")
        props = record.get("properties") or {}
        if category in ("SignInLogs", "NonInteractiveUserSignInLogs"):
            code = _code(record)
            if not str(code).lstrip("-").isdigit():
                # hand-made records with resultType "Success" and no status: broken, quarantined
                assert row["_error"] and "error code" in row["_error"]
                kinds.add((category, "no numeric code"))
                continue
            activity, outcome, reason = SIGNIN_CODES[int(code)]
            assert (row["activity"], row["outcome"], row["reason"]) == (activity, outcome, reason)
            assert row["account"] == props["userPrincipalName"].strip().lower()
            assert row["src_ip"] == props.get("ipAddress", record.get("callerIpAddress"))
            assert row["_skip"] is None and row["_error"] is None
            if category == "NonInteractiveUserSignInLogs":
                assert row["method"] == "token"
            kinds.add((category, int(code)))
        elif category == "ServicePrincipalSignInLogs":
            assert row["_skip"] == "entra:ServicePrincipalSignInLogs"
            kinds.add((category, "skip"))
        else:
            # directory audit activities of these samples are role / policy / app administration
            name = props.get("activityDisplayName") or record.get("operationName")
            assert row["_skip"] == f"entra:{name}", name
            assert row["_error"] is None
            kinds.add(("audit", name))
    # every event type occurring in the samples was checked above
    assert {k for k in kinds if k[0] != "audit"} == {
        ("SignInLogs", 0),
        ("SignInLogs", 50126),
        ("SignInLogs", 50053),
        ("SignInLogs", "no numeric code"),
        ("NonInteractiveUserSignInLogs", 0),
        ("ServicePrincipalSignInLogs", "skip"),
    }
    assert len([k for k in kinds if k[0] == "audit"]) >= 15


def test_msticpy_sentinel_signinlogs_rows(vx):
    records = vx.sample("msticpy/aad_logons.jsonl")
    rows = vx.run(entra, records)
    assert len(rows) == 86
    for record, row in zip(records, rows, strict=True):
        assert row["account"] == record["UserPrincipalName"].lower()
        assert row["event_id"] == record["Id"]
        assert row["src_ip"] == record["IPAddress"]
        assert row["country"] == record["LocationDetails"]["countryOrRegion"]
        assert row["tenant"] == record["AADTenantId"]
        assert row["time"].startswith(record["CreatedDateTime"].replace(" ", "T"))
        if record["ResultType"] == "0":
            assert vx.canon(row, "activity", "outcome", "reason") == {
                "activity": "sign_in",
                "outcome": "success",
                "reason": None,
            }
        else:
            # 90072: external account not in the tenant -> not mapped: other, code kept visible
            assert record["ResultType"] == "90072"
            assert (row["activity"], row["outcome"], row["reason"]) == ("sign_in", "failure", "other")
            assert row["detail"].startswith("error 90072")


def test_msticpy_file_ingests_end_to_end_with_auto_detection(vx, ingest):
    records = vx.sample("msticpy/aad_logons.jsonl")
    summary, store = ingest(records)
    assert summary.formats == {"entra": 86}
    assert summary.records == 86
    # the export repeats 41 sign-ins with the same Id: deduplicated, not lost
    assert (summary.stored, summary.duplicates, summary.quarantined, summary.skipped) == (45, 41, 0, 0)
    events = vx.stored(store)
    assert {e["source"] for e in events} == {"entra"}
    assert all(json.loads(e["raw"])["Id"] == e["event_id"] for e in events)


def test_otrf_sentinel_auditlogs_application_changes_are_skipped_by_kind(vx, ingest):
    records = vx.sample("otrf-security-datasets/AADAuditEvents.json")
    summary, _ = ingest(records, fmt="entra")
    assert summary.skipped == 4 and summary.stored == 0 and summary.quarantined == 0
    assert set(summary.skipped_by_kind) == {
        "entra:Update application",
        "entra:Update application – Certificates and secrets management ",
        "entra:Add delegated permission grant",
    }


# ------------------------------------------------------------------ documented shapes


def test_graph_signins_map_error_codes_not_text(vx):
    rows = {r["event_id"][-2:]: r for r in vx.run(entra, vx.fixture("entra", "graph_signins.json"))}
    expect = {
        "01": ("sign_in", None, "password", "success", None),
        "02": ("sign_in", None, "password", "failure", "bad_password"),
        "03": ("sign_in", None, None, "failure", "unknown_account"),
        "04": ("sign_in", None, None, "failure", "locked"),
        "05": ("sign_in", None, None, "failure", "disabled"),
        "06": ("mfa_challenge", None, "push", "failure", "mfa_denied"),
        "07": ("sign_in", None, "password", "pending", None),
        "08": ("sign_in", None, None, "pending", None),  # 50140 "keep me signed in": an interrupt
        "09": ("sign_in", None, "token", "success", None),
    }
    for key, (activity, step, method, outcome, reason) in expect.items():
        assert vx.canon(rows[key]) == {
            "activity": activity,
            "step": step,
            "method": method,
            "outcome": outcome,
            "reason": reason,
        }, key
    assert rows["03"]["account_exists"] is False
    assert rows["02"]["account_exists"] is True
    assert rows["01"]["account"] == "alice.example@contoso.com"  # trimmed, lower-cased
    assert rows["08"]["detail"] == "Office 365 Exchange Online"
    assert rows["01"]["country"] == "DE"
    assert rows["01"]["session_id"] == "c0ffee00-0000-4000-8000-000000000001"


def test_graph_directory_audits_sspr_security_info_and_recovery_contacts(vx):
    records = vx.fixture("entra", "graph_directory_audits.json")
    rows = {r["event_id"][5:9]: r for r in vx.run(entra, records)}
    assert vx.canon(rows["0001"]) == {
        "activity": "password_reset",
        "step": "start",
        "method": "sms",
        "outcome": "pending",  # a started flow goes on
        "reason": None,
    }
    assert vx.canon(rows["0002"], "step", "outcome") == {"step": "verify", "outcome": "success"}
    assert vx.canon(rows["0003"]) == {
        "activity": "password_reset",
        "step": "start",
        "method": "email",
        "outcome": "failure",
        "reason": "other",
    }
    assert vx.canon(rows["0004"], "activity", "step", "outcome") == {
        "activity": "password_reset",
        "step": "complete",
        "outcome": "success",
    }
    assert vx.canon(rows["0005"], "activity", "step") == {"activity": "password_reset", "step": "complete"}
    assert vx.canon(rows["0006"], "activity", "method") == {"activity": "mfa_method_change", "method": "sms"}
    assert vx.canon(rows["0007"], "activity", "method") == {"activity": "mfa_method_change", "method": "push"}
    # "Update user" of the mobile phone / alternate email: about the target, contact hashed
    mobile, other_mail = rows["0008"], rows["0009"]
    assert (mobile["activity"], mobile["account"], mobile["src_ip"]) == (
        "recovery_info_change",
        "dave@contoso.com",
        "192.0.2.44",
    )
    assert mobile["contact_hash"] == hashlib.sha256(b"+447700900123").hexdigest()
    assert (mobile["method"], other_mail["method"]) == ("sms", "email")
    assert mobile["tenant"] == "contoso.com"  # Graph audits carry no tenant id: the account's domain
    assert mobile["user_agent"] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    assert other_mail["contact_hash"] == hashlib.sha256(b"dave.backup@example.net").hexdigest()
    assert rows["0010"]["_skip"] == "entra:Update user"  # job title: not a recovery contact
    assert rows["0011"]["_skip"] == "entra:Add member to group"


def test_recovery_contacts_never_appear_in_clear_outside_raw(vx):
    rows = vx.run(entra, vx.fixture("entra", "graph_directory_audits.json"))
    for row in rows:
        visible = json.dumps({k: v for k, v in row.items() if k != "_raw"}, default=str).lower()
        assert "7700" not in visible and "dave.backup" not in visible


def test_azure_diagnostic_records(vx):
    rows = vx.run(entra, vx.fixture("entra", "diagnostic.jsonl"))
    signin, noninteractive, reset, service_principal, risk = rows
    assert vx.canon(signin, "activity", "outcome", "reason") == {
        "activity": "sign_in",
        "outcome": "failure",
        "reason": "bad_password",
    }
    assert signin["time"] == "2024-03-06T09:00:00.123456Z"  # properties.createdDateTime, 7 digits cut
    assert signin["tenant"] == "7a1b2c3d-0000-4000-8000-000000000001"
    assert vx.canon(noninteractive, "activity", "method", "outcome") == {
        "activity": "sign_in",
        "method": "token",
        "outcome": "success",
    }
    assert vx.canon(reset, "activity", "step", "outcome") == {
        "activity": "password_reset",
        "step": "complete",
        "outcome": "failure",
    }
    assert reset["account"] == "erin@contoso.com"
    assert service_principal["_skip"] == "entra:ServicePrincipalSignInLogs"
    assert risk["_skip"] == "entra:UserRiskEvents"


def test_sentinel_rows_with_json_text_columns(vx):
    mfa, noninteractive, registered = vx.run(entra, vx.fixture("entra", "sentinel.jsonl"))
    assert vx.canon(mfa) == {
        "activity": "mfa_challenge",
        "step": None,
        "method": "push",
        "outcome": "failure",
        "reason": "mfa_denied",
    }
    assert (mfa["device_id"], mfa["country"], mfa["session_id"]) == ("dev-42", "IR", "sess-77")
    assert mfa["account"] == "frank@contoso.com"
    assert vx.canon(noninteractive, "activity", "method", "outcome") == {
        "activity": "sign_in",
        "method": "token",
        "outcome": "success",
    }
    assert vx.canon(registered, "activity", "method", "outcome") == {
        "activity": "mfa_method_change",
        "method": "push",
        "outcome": "success",
    }
    assert registered["src_ip"] == "203.0.113.99"


def test_graph_page_as_json_array_ingests_with_raw_kept_whole(vx, ingest):
    records = vx.fixture("entra", "graph_signins.json")
    summary, store = ingest(records, array=True)
    assert summary.formats == {"entra": len(records)}
    assert summary.stored == len(records)
    by_id = {r["id"]: r for r in records}
    for event in vx.stored(store):
        assert json.loads(event["raw"]) == by_id[event["event_id"]]


def test_sniff_tells_entra_shapes_from_other_vendors(vx):
    for name in ("graph_signins.json", "graph_directory_audits.json", "diagnostic.jsonl", "sentinel.jsonl"):
        assert all(entra.sniff(r) for r in vx.fixture("entra", name)), name
    assert not entra.sniff({"time": "2024-01-01T00:00:00Z", "account": "a@b.c", "activity": "sign_in"})
    assert not entra.sniff({"eventType": "user.session.start", "published": "2024-01-01T00:00:00Z"})


def test_broken_records_are_errors_not_skips(vx):
    rows = vx.run(
        entra,
        [
            {"foo": 1},
            {
                "userPrincipalName": "a@b.c",
                "createdDateTime": "2024-01-01T00:00:00Z",
                "status": {"failureReason": "x"},
                "ipAddress": "192.0.2.1",
                "appDisplayName": "x",
            },
        ],
    )
    assert rows[0]["_error"] == "not an Entra ID sign-in or audit record"
    assert rows[1]["_error"] and rows[1]["_skip"] is None


def test_single_pretty_printed_object_file(vx, tmp_path):
    from idwatch.ingest import ingest_paths
    from idwatch.store import Store

    record = vx.fixture("entra", "graph_signins.json")[5]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record, indent=2))
    summary = ingest_paths(Store(tmp_path / "s"), [str(path)])
    assert (summary.formats, summary.stored) == ({"entra": 1}, 1)


def test_sentinel_csv_export(vx, tmp_path):
    """Log Analytics exports CSV too: every value text, nested columns as JSON text."""
    import csv

    from idwatch.ingest import ingest_paths
    from idwatch.store import Store

    rows = vx.sample("msticpy/aad_logons.jsonl")[:12]
    cols = list(rows[0])
    path = tmp_path / "SigninLogs.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for r in rows:
            writer.writerow(
                [
                    json.dumps(r[c]) if isinstance(r[c], dict | list) else ("" if r[c] is None else r[c])
                    for c in cols
                ]
            )
    store = Store(tmp_path / "s")
    summary = ingest_paths(store, [str(path)])
    assert summary.formats == {"entra": 12} and summary.quarantined == 0
    events = {e["event_id"]: e for e in vx.stored(store)}
    for r in rows:
        event = events[r["Id"]]
        assert (event["account"], event["country"], event["activity"]) == (
            r["UserPrincipalName"].lower(),
            r["LocationDetails"]["countryOrRegion"],
            "sign_in",
        )


def test_graph_beta_second_factors_interrupts_and_unknown_tenants(vx):
    """Graph beta signIn (authenticationDetails, mfaDetail, signInEventTypes), by documented code."""
    records = vx.fixture("entra", "graph_beta_signins.json")
    # key: the id's last two digits, ":mfa" for the second-factor event
    rows = {r["event_id"][34:]: r for r in vx.run(entra, records)}

    def c(activity, step, method, outcome, reason=None):
        return {"activity": activity, "step": step, "method": method, "outcome": outcome, "reason": reason}

    # a sign-in that passed a second factor is also that factor's success (id <id>:mfa)
    assert vx.canon(rows["01"]) == c("sign_in", None, "password", "success")
    assert vx.canon(rows["01:mfa"]) == c("mfa_challenge", "verify", "push", "success")
    assert vx.canon(rows["02:mfa"]) == c("mfa_challenge", "verify", "sms", "success")  # mfaDetail
    assert rows["01:mfa"]["time"] == rows["01"]["time"]
    assert rows["01:mfa"]["account"] == rows["01"]["account"] == "alice.example@contoso.com"
    # MFA satisfied by the token, or a non-interactive sign-in: no challenge
    assert "03:mfa" not in rows and "04:mfa" not in rows
    assert vx.canon(rows["04"]) == c("sign_in", None, "token", "success")  # nonInteractiveUser
    # 500121: declined vs no response / not completed
    assert vx.canon(rows["05"]) == c("mfa_challenge", None, None, "failure", "mfa_denied")
    assert vx.canon(rows["06"]) == c("mfa_challenge", None, None, "failure", "mfa_timeout")
    assert vx.canon(rows["07"]) == c("mfa_challenge", None, None, "failure", "mfa_timeout")
    # interrupts are not failures: the flow goes on
    for key in ("08", "09", "10", "11", "12", "13", "14"):
        assert (rows[key]["outcome"], rows[key]["reason"]) == ("pending", None), key
    # no tenant for the domain / no tenant information: an identifier that is no account
    for key in ("15", "16"):
        assert (rows[key]["outcome"], rows[key]["reason"], rows[key]["account_exists"]) == (
            "failure",
            "unknown_account",
            False,
        ), key
    assert len(rows) == 18


def test_graph_beta_mfa_success_follows_failures_in_the_store(vx, ingest):
    summary, store = ingest(vx.fixture("entra", "graph_beta_signins.json"), array=True)
    assert (summary.records, summary.stored, summary.quarantined, summary.skipped) == (18, 18, 0, 0)
    con = store.connect()
    got = con.execute(
        "SELECT method FROM events WHERE activity = 'mfa_challenge' AND outcome = 'success' ORDER BY time"
    ).fetchall()
    assert got == [("push",), ("sms",)]


def test_event_hub_messages_one_per_line(vx, ingest):
    """Event Hub delivers ``{"records": [...]}`` messages, one per line: every record is read."""
    messages = vx.fixture("entra", "eventhub_messages.jsonl")
    assert all(entra.sniff(m) for m in messages)
    bare = vx.fixture("entra", "diagnostic.jsonl")
    inner = vx.run(entra, messages)
    direct = vx.run(entra, bare)
    key = ("event_id", "account", "activity", "step", "method", "outcome", "reason", "src_ip", "_skip")
    assert sorted(tuple(str(r[k]) for k in key) for r in inner) == sorted(
        tuple(str(r[k]) for k in key) for r in direct
    )
    assert {json.loads(r["_raw"])["time"] for r in inner} == {b["time"] for b in bare}  # raw: the record
    summary, _ = ingest(messages)
    assert summary.records == len(bare) and summary.balanced and summary.quarantined == 0


def test_adfs_sign_ins_are_sign_ins(vx):
    """Federated (AD FS) sign-ins: Sentinel ADFSSignInLogs rows and diagnostic records."""
    rows = vx.run(entra, vx.fixture("entra", "adfs_signins.jsonl"))
    assert [vx.canon(r, "activity", "method", "outcome", "reason") for r in rows] == [
        {"activity": "sign_in", "method": "password", "outcome": "success", "reason": None},
        {"activity": "sign_in", "method": "password", "outcome": "failure", "reason": "bad_password"},
        {"activity": "sign_in", "method": "password", "outcome": "failure", "reason": "bad_password"},
    ]
    assert [r["src_ip"] for r in rows] == ["198.51.100.90", "198.51.100.90", "198.51.100.91"]
    assert {r["account"] for r in rows} == {"gina@contoso.com"}
    assert all(r["_skip"] is None and r["_error"] is None for r in rows)


def test_graph_risk_detections_and_risky_users_are_kept_not_quarantined(vx, ingest):
    """ID Protection objects are no attempts: skipped by kind, kept whole in ``other_events`` with
    their account and time, so a nation-state risk detection can be attribution evidence."""
    page = vx.fixture("entra", "graph_risk.json")
    summary, store = ingest(page, array=True)
    assert summary.quarantined == 0 and summary.stored == 0
    assert summary.skipped_by_kind == {"entra:riskDetection": 1, "entra:riskyUser": 1}
    rows = (
        store.connect()
        .execute(
            "SELECT kind, account, time, src_ip, json_extract_string(raw, '$.riskEventType') "
            "FROM other_events ORDER BY kind"
        )
        .fetchall()
    )
    assert [(k, a, t.isoformat(), ip, r) for k, a, t, ip, r in rows] == [
        (
            "riskDetection",
            "ana.silva@contoso.com",
            "2024-06-03T09:58:00+00:00",
            "203.0.113.7",
            "nationStateIP",
        ),
        ("riskyUser", "ana.silva@contoso.com", "2024-06-03T10:07:00+00:00", None, None),
    ]
