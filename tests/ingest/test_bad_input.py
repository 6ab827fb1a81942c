"""Bad records are quarantined with file, line, reason and raw bytes; the counts always add up."""

from __future__ import annotations

import json

import pytest

from idwatch.ingest import ingest_paths


def reasons(rows: list[dict]) -> dict[int, str]:
    return {r["line"]: r["reason"] for r in rows}


def test_every_kind_of_bad_record_is_quarantined_with_exact_counts(store, tmp_path, event, quarantined):
    deep = "[" * 100_000 + "]" * 100_000
    deep_object = '{"a":' * 50_000 + "1" + "}" * 50_000
    huge = json.dumps(event(90, detail="x" * (1 << 20)))
    lines: list[str] = [
        json.dumps(event(1)),  # 1 good
        "{not json",  # 2
        "[1, 2]",  # 3 not an object
        json.dumps(event(4, account=...)),  # 4 missing account
        json.dumps(event(5, src_ip=...)),  # 5 missing src_ip
        json.dumps(event(6, asn="AS-x")),  # 6 wrong type
        json.dumps(event(7, account=12345)),  # 7 wrong type (number for a string)
        json.dumps(event(8, activity="teleport")),  # 8 unknown enum
        json.dumps(event(9, method="carrier_pigeon")),  # 9 unknown enum
        json.dumps(event(10, time="last tuesday")),  # 10 unparseable time
        json.dumps(event(11, time="1985-01-01T00:00:00Z")),  # 11 out of range
        json.dumps(event(12, time="2999-01-01T00:00:00Z")),  # 12 out of range
        json.dumps(event(13, src_ip="300.1.2.3")),  # 13 invalid IP
        huge,  # 14 larger than 1 MiB
        deep,  # 15 hostile nesting: valid JSON but not an object
        deep_object,  # 16 hostile nesting inside an object: no required fields
        "",  # blank: not a record
        json.dumps(event(18, outcome="Success")),  # 18 enum values are exact
        json.dumps(event(19, time=True)),  # 19 wrong type
        json.dumps(event(20)),  # 20 good
    ]
    path = tmp_path / "bad.jsonl"
    body = "\n".join(lines).encode() + b"\n" + b'{"account": "\xff\xfe"}\n'  # line 21: not UTF-8
    path.write_bytes(body)

    summary = ingest_paths(store, [str(path)])

    assert summary.records == 20  # 21 lines, one blank
    assert (summary.stored, summary.duplicates, summary.skipped) == (2, 0, 0)
    assert summary.quarantined == 18
    assert summary.balanced
    got = reasons(quarantined())
    assert sorted(got) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 21]
    assert got[2] == "not valid JSON"
    assert got[3] == "not a JSON object"
    assert got[4] == "missing required field: account"
    assert got[5] == "missing required field: src_ip"
    assert got[6].startswith("wrong type: asn must be an integer")
    assert got[7].startswith("wrong type: account must be a string")
    assert got[8] == "unknown activity value: teleport"
    assert got[9] == "unknown method value: carrier_pigeon"
    assert got[10] == "unparseable time: last tuesday"
    assert got[11].startswith("time out of range")
    assert got[12].startswith("time out of range")
    assert got[13] == "invalid IP address: 300.1.2.3"
    assert got[14] == "record larger than 1 MiB"
    assert got[15] == "not a JSON object"
    assert got[16].startswith("missing required field")
    assert got[18] == "unknown outcome value: Success"
    assert got[19].startswith("wrong type: time")
    assert got[21] == "not valid UTF-8"
    assert summary.quarantined_by_reason["wrong type"] == 3


def test_quarantine_keeps_file_line_and_raw_text(store, tmp_path, event, quarantined):
    path = tmp_path / "q.jsonl"
    record = '{"account": "a@x.org", "activity": "sign_in"}'  # an event, its other fields missing
    path.write_bytes(record.encode() + b"\r\n" + b"caf\xe9 au lait\r\n")
    summary = ingest_paths(store, [str(path)])
    assert (summary.records, summary.quarantined) == (2, 2)
    rows = quarantined()
    assert rows[0] == {"file": str(path), "line": 1, "reason": rows[0]["reason"], "raw": record}
    assert rows[1]["raw"] == "caf\\xe9 au lait"  # bytes that are not UTF-8, escaped
    assert rows[1]["reason"] == "not valid UTF-8"


def test_csv_bad_rows_are_quarantined_with_their_line(store, tmp_path, quarantined):
    path = tmp_path / "e.csv"
    path.write_text(
        "time,account,activity,outcome,src_ip,asn\n"
        "2024-03-01T00:00:00Z,a@x.org,sign_in,success,1.1.1.1,13335\n"
        "2024-03-01T00:00:00Z,b@x.org,sign_in,success\n"
        "\n"
        "2024-03-01T00:00:00Z,c@x.org,sign_in,success,1.1.1.1,AS-x\n"
        '2024-03-01T00:00:00Z,"d@x.org",sign_in,failure,1.1.1.2,\n'
    )
    summary = ingest_paths(store, [str(path)])
    assert (summary.records, summary.stored, summary.quarantined) == (4, 2, 2)
    got = reasons(quarantined())
    assert got[3].startswith("bad CSV row: missing columns")
    assert got[5].startswith("wrong type: asn")


@pytest.mark.parametrize("bad", ["not-an-ip", "1.2.3", "01.2.3.4", "1.2.3.4/24", "::g", ""])
def test_invalid_ip_addresses(store, tmp_path, event, jsonl, bad):
    path = jsonl(tmp_path / "e.jsonl", [event(1, src_ip=bad)])
    summary = ingest_paths(store, [str(path)])
    assert (summary.stored, summary.quarantined) == (0, 1)


def test_accepted_time_forms(store, tmp_path, event, jsonl):
    forms = [
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:00:00.123456Z",
        "2024-03-01T13:30:00+03:30",
        "2024-03-01 10:00:00",
        1709287200000,
    ]
    path = jsonl(tmp_path / "e.jsonl", [event(i, time=t) for i, t in enumerate(forms)])
    summary = ingest_paths(store, [str(path)])
    assert summary.stored == 5
    got = store.connect().execute("SELECT epoch_ms(time) FROM events ORDER BY event_id").fetchall()
    assert {r[0] for r in got} == {1709287200000, 1709287200123}
