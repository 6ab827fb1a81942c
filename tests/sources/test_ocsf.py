"""OCSF Authentication (3002) and Account Change (3001) become canonical events; other kinds are skipped."""

from __future__ import annotations

import json
from pathlib import Path

from idwatch.ingest import ingest_paths
from idwatch.sources import ocsf, sniff_format
from idwatch.store import Store


def _auth(uid: str, **over: object) -> dict:
    rec: dict = {
        "class_uid": 3002,
        "category_uid": 3,
        "activity_id": 1,
        "time": 1709287200000,
        "status_id": 2,
        "status_detail": "Invalid password",
        "metadata": {"uid": uid, "product": {"name": "idp"}, "version": "1.1.0"},
        "user": {"email_addr": "Alice@Example.org", "org": {"name": "example.org"}},
        "src_endpoint": {"ip": "185.220.101.1", "autonomous_system": {"number": 60729, "name": "TOR"}},
        "http_request": {"user_agent": "curl/8.4.0"},
        "session": {"uid": "s-1"},
        "auth_factors": [{"factor_type_id": 11}],
    }
    rec.update(over)
    return rec


def _ingest(tmp_path: Path, records: list[dict]) -> tuple[Store, object]:
    path = tmp_path / "ocsf.json"
    path.write_text(json.dumps(records))  # a JSON array, as OCSF exports often are
    store = Store(tmp_path / "store")
    return store, ingest_paths(store, [str(path)])


def test_sniffs_ocsf_not_native():
    assert ocsf.sniff(_auth("x"))
    assert sniff_format([_auth("x")]).NAME == "ocsf"


def test_authentication_failure_maps_to_sign_in(tmp_path):
    store, summary = _ingest(tmp_path, [_auth("o1")])
    assert (summary.records, summary.stored) == (1, 1)
    row = (
        store.connect()
        .execute(
            "SELECT event_id, source, account, tenant, activity, method, outcome, reason, src_ip, asn, "
            "session_id, epoch_ms(time) FROM events"
        )
        .fetchall()[0]
    )
    assert row == (
        "o1",
        "ocsf",
        "alice@example.org",
        "example.org",
        "sign_in",
        "password",
        "failure",
        "bad_password",
        "185.220.101.1",
        60729,
        "s-1",
        1709287200000,
    )


def test_account_changes_and_skipped_kinds(tmp_path):
    records = [
        _auth("a1", class_uid=3001, activity_id=4, status_id=1, auth_factors=[]),  # password reset
        _auth("a2", class_uid=3001, activity_id=10, status_id=1, auth_factors=[{"factor_type_id": 1}]),
        _auth("a3", class_uid=3001, activity_id=1),  # account create: not modelled
        _auth("a4", activity_id=2),  # logoff: not modelled
        {"class_uid": 4001, "activity_id": 1, "metadata": {"uid": "n1"}},  # network activity
        _auth("bad1", activity_id=42),  # unknown activity id
        _auth("bad2", src_endpoint={"ip": 17}),  # wrong type
    ]
    store, summary = _ingest(tmp_path, records)
    assert (summary.records, summary.stored, summary.skipped, summary.quarantined) == (7, 2, 3, 2)
    assert summary.skipped_by_kind == {"ocsf_account_create": 1, "ocsf_logoff": 1, "ocsf_class_4001": 1}
    rows = (
        store.connect()
        .execute("SELECT event_id, activity, step, method, outcome, detail FROM events ORDER BY event_id")
        .fetchall()
    )
    assert rows == [
        ("a1", "password_reset", "complete", None, "success", "password reset"),
        ("a2", "mfa_method_change", None, "sms", "success", "mfa factor enable"),
    ]
