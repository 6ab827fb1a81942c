"""Entra's typed fast path stores exactly what the careful path stores, record for record.

Graph signIn / directoryAudit objects take the fast path; every other shape (Sentinel rows,
diagnostic records, Event Hub envelopes, ADFS, ID Protection objects), lines whose keys are
spelled with escapes, values of an unexpected type and broken lines go the careful way. Each
fixture is ingested both ways: the stored events, the kept skipped records, the quarantine and
every count must be the same.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from idwatch.sources import entra

from .conftest import FIXTURES, load_fixture, load_helper

ENTRA_FIXTURES = sorted(p.name for p in (FIXTURES / "entra").iterdir())
fp = load_helper("fast_paths")


def _hostile_lines() -> list[str]:
    """Graph-looking lines the fast path must hand to the careful path (or read identically)."""
    signins = load_fixture("entra", "graph_beta_signins.json")
    ok = next(r for r in signins if r["status"]["errorCode"] == 0 and r.get("mfaDetail"))
    audit = load_fixture("entra", "graph_directory_audits.json")[0]
    lines = [
        json.dumps(ok).replace('"status"', '"\\u0073tatus"', 1),  # a key spelled with escapes
        json.dumps({**ok, "id": "x-status-text", "status": "0"}),  # a string where Graph has an object
        json.dumps({**ok, "id": "x-sentinel-key", "Status": {"errorCode": 50126}}),  # another shape's key
        json.dumps({**ok, "id": "x-upper-id", "ID": "other"}),  # a key no shape reads
        json.dumps({k: v for k, v in ok.items() if k != "id"}),  # a second factor without an id
        json.dumps({**ok, "id": "x-numeric", "status": {"errorCode": 5.0126e4}}),
        json.dumps({**ok, "id": "x-auth-text", "authenticationDetails": "Password"}),
        json.dumps({**ok, "id": "x-empty", "userPrincipalName": "", "signInIdentifier": "a@b.example"}),
        json.dumps({**audit, "id": "x-init-text", "initiatedBy": json.dumps(audit["initiatedBy"])}),
        json.dumps({**ok, "id": "x-ids", "sessionId": "s-1", "correlationId": "c-1", "tenantId": "t-1"}),
        json.dumps(ok),  # a duplicate
        json.dumps({"foo": 1}),  # not Entra
        '{"id": "broken", "status": {"errorCode": 0}',  # not JSON
        "[1, 2]",  # not an object
    ]
    return lines


def _lines(name: str) -> list[str]:
    return [json.dumps(r) for r in load_fixture("entra", name)]


@pytest.mark.parametrize("name", ENTRA_FIXTURES)
def test_every_fixture_stores_the_same_rows_fast_and_careful(name, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(_lines(name)) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "entra", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert got[0].records > 0
    if name.startswith("graph_") and name != "graph_risk.json":  # Graph objects: the fast way
        assert fast_rows > 0


def test_mixed_shapes_and_hostile_lines_store_the_same_rows(tmp_path, monkeypatch):
    """All fixtures interleaved with look-alikes and broken lines, the Graph ones replicated
    with fresh ids so that whole blocks parse and the boundaries between the paths move."""
    lines: list[str] = []
    for name in ENTRA_FIXTURES:
        lines += _lines(name)
    lines += _hostile_lines()
    graph = [r for n in ENTRA_FIXTURES if n.startswith("graph_") for r in load_fixture("entra", n)]
    for i in range(6):
        lines += [json.dumps({**r, "id": f"{r.get('id', 'none')}-{i}"}) for r in graph]
        lines += _hostile_lines()[i::6]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "entra", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert fast_rows >= 5 * len(graph)
    assert got[0].quarantined >= 3  # broken, not an object, not Entra


def test_converted_native_events_store_the_same_rows(tmp_path, monkeypatch):
    """The bench's records (native events as Graph objects): sign-ins with second factors,
    failures, resets, security info and recovery contacts."""
    convert = load_helper("entra_convert")

    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    kinds = [
        ("sign_in", None, "password", "success", None),
        ("sign_in", None, "password", "failure", "bad_password"),
        ("sign_in", None, "password", "failure", "unknown_account"),
        ("sign_in", None, "password", "pending", None),
        ("mfa_challenge", None, "push", "failure", "mfa_denied"),
        ("password_reset", "start", "sms", "pending", None),
        ("password_reset", "verify", "sms", "success", None),
        ("password_reset", "complete", None, "success", None),
        ("mfa_method_change", None, "totp", "success", None),
        ("recovery_info_change", None, "sms", "success", None),
        ("password_change", None, "password", "success", None),
    ]
    lines = []
    for i in range(400):
        activity, step, method, outcome, reason = kinds[i % len(kinds)]
        event = {
            "time": (t0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "event_id": f"conv-{i:05d}",
            "tenant": "org.example",
            "account": f"user{i % 17}@org.example",
            "activity": activity,
            "step": step,
            "method": method,
            "outcome": outcome,
            "reason": reason,
            "src_ip": f"198.51.100.{i % 250}",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0",
            "device_id": f"d{i % 17}",
            "session_id": f"s{i}",
            "contact_hash": None,
        }
        record = convert.to_entra(event)
        if record is None:
            continue
        if record.get("status", {}).get("errorCode") == 0 and i % 2:  # passed a second factor
            step = {"authenticationMethod": "Text message", "succeeded": True}
            record["authenticationDetails"].append(step)
            if i % 4 == 1:
                record["mfaDetail"] = {"authMethod": "Mobile app notification"}
        lines.append(json.dumps(record))
    path = tmp_path / "converted.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "entra", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert fast_rows >= len(lines)  # every record the fast way (second factors add rows)
    con = got[1].connect()
    assert con.execute("SELECT count(*) FROM events WHERE event_id LIKE '%:mfa'").fetchall()[0][0] > 0


def test_careful_lines_pattern_names_other_shapes_keys_only():
    """Keys of the Graph objects stay on the fast path; the other shapes' keys do not."""
    pattern = re.compile(entra.CAREFUL_LINES)
    for key in ("Status", "Location", "Id", "properties", "records", "TimeGenerated", "resultType"):
        assert pattern.search(f'{{"{key}": 1}}'), key
    for key in ("status", "location", "id", "category", "type", "targetResources"):
        assert not pattern.search(f'{{"{key}": 1}}'), key
    assert pattern.search('{"\\u0053tatus": 1}')
    assert not pattern.search('{"city": "Z\\u00fcrich"}')
