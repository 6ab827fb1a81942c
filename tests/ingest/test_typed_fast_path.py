"""The typed fast path for native JSON Lines gives exactly what the careful path gives.

Bad lines among many good ones fall back to the careful path in small blocks: the counts,
line numbers and reasons must not depend on where the boundary between the paths falls.
"""

from __future__ import annotations

import json

import pytest

import idwatch.sources.typed_json as typed_json
from idwatch.ingest import ingest_paths


@pytest.fixture
def small_blocks(monkeypatch):  # noqa: ANN201 - fixture
    """Blocks of 1,000 lines, failing blocks halved down to 64 lines: many boundaries in a small file."""
    monkeypatch.setattr(typed_json, "BLOCK_LINES", 1_000)
    monkeypatch.setattr(typed_json, "MIN_BLOCK_LINES", 64)


def _stored(store) -> list[tuple]:  # noqa: ANN001 - Store
    con = store.connect()
    return con.execute("SELECT event_id, account, src_ip, raw FROM events ORDER BY event_id").fetchall()


def test_one_bad_line_among_ten_thousand_is_quarantined_alone(store, tmp_path, event, jsonl, quarantined):
    records: list = [event(i) for i in range(10_000)]
    records[6_123] = '{"account": "broken"'  # line 6124
    path = jsonl(tmp_path / "big.jsonl", records)

    summary = ingest_paths(store, [str(path)])

    assert (summary.records, summary.stored, summary.quarantined) == (10_000, 9_999, 1)
    assert summary.balanced
    rows = quarantined()
    assert [(r["line"], r["reason"]) for r in rows] == [(6_124, "not valid JSON")]
    assert rows[0]["raw"] == '{"account": "broken"'


def test_bad_lines_at_block_edges_keep_their_lines(store, tmp_path, event, jsonl, quarantined, small_blocks):
    records: list = [event(i) for i in range(5_000)]
    bad = {
        0: "[1]",  # first line: not an object
        999: json.dumps(event(999, asn="123")),  # last line of block 1: a number as a string
        1_000: json.dumps(event(1_000, account=5)),  # first line of block 2
        2_500: '{"a": 1} {"b": 2}',  # two documents on one line
        3_000: json.dumps(event(3_000, activity="teleport")),  # valid JSON, bad value (fast path)
        4_999: '{"account": "x", "account": "y"}',  # a key twice, last line
    }
    for i, text in bad.items():
        records[i] = text
    path = jsonl(tmp_path / "edges.jsonl", records)

    summary = ingest_paths(store, [str(path)])

    assert summary.records == 5_000
    assert summary.quarantined == len(bad)
    assert summary.stored == 5_000 - len(bad)
    got = {r["line"]: r["reason"] for r in quarantined()}
    assert sorted(got) == [i + 1 for i in sorted(bad)]
    assert got[1] == "not a JSON object"
    assert got[1_000].startswith("wrong type: asn must be an integer")
    assert got[1_001].startswith("wrong type: account must be a string")
    assert got[3_001] == "unknown activity value: teleport"
    assert got[5_000].startswith("missing required field")


def test_fast_and_careful_paths_store_the_same_rows(tmp_path, event, jsonl, monkeypatch):
    from idwatch.store import Store

    records = [event(i, asn=64_500 + i % 3, account_exists=i % 2 == 0, country=" de ") for i in range(300)]
    records += [event(300, time=1_709_290_800_000), event(301, event_id=None)]  # epoch ms; no id
    path = jsonl(tmp_path / "same.jsonl", records)

    fast = Store(tmp_path / "fast")
    ingest_paths(fast, [str(path)])
    monkeypatch.setattr(typed_json, "BLOCK_LINES", 10**9)
    monkeypatch.setattr(typed_json.TypedLines, "_statement", lambda self, paths: (None, None))
    careful = Store(tmp_path / "careful")
    ingest_paths(careful, [str(path)])

    query = (
        "SELECT time, event_id, account, account_exists, asn, country, src_ip, raw, ua_family "
        "FROM events ORDER BY event_id"
    )
    fast_rows = fast.connect().execute(query).fetchall()
    assert len(fast_rows) == 302
    assert fast_rows == careful.connect().execute(query).fetchall()
    assert sum(r[5] == "DE" for r in fast_rows) == 300  # the source's country, trimmed and upper-cased


def test_rows_of_many_blocks_keep_their_own_text_and_line(store, tmp_path, event, jsonl, small_blocks):
    records = [event(i, account=f"u{i}@example.org") for i in range(4_500)]
    path = jsonl(tmp_path / "blocks.jsonl", records)

    summary = ingest_paths(store, [str(path)])

    assert summary.stored == 4_500
    rows = _stored(store)
    for eid, account, _, raw in rows:  # 5 blocks read in one statement: row i is still line i
        assert json.loads(raw)["event_id"] == eid
        assert account == f"u{eid[3:]}@example.org"


def test_crlf_bom_blank_lines_and_missing_final_newline(store, tmp_path, event, quarantined):
    lines = [json.dumps(event(i)) for i in range(2_000)]
    lines.insert(1_000, "   ")
    body = "\ufeff" + "\r\n".join(lines)  # no newline after the last record
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(body.encode())

    summary = ingest_paths(store, [str(path)])

    assert (summary.records, summary.stored, summary.quarantined) == (2_000, 2_000, 0)
    raws = [r[3] for r in _stored(store)]
    assert not any(r.endswith("\r") or r.startswith("\ufeff") for r in raws)


def _parquet(tmp_path, columns: dict):  # noqa: ANN001, ANN202 - test helper
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "events.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def test_typed_parquet_columns_are_mapped_without_json(store, tmp_path, quarantined):
    import pyarrow as pa

    path = _parquet(
        tmp_path,
        {
            "time": ["2024-03-02T08:30:00Z", "1985-01-01T00:00:00Z", "2024-03-02T09:00:00Z"],
            "event_id": ["p1", "p2", "p3"],
            "account": [" A@X.org", "b@x.org", "c@x.org"],
            "activity": ["sign_in", "sign_in", "teleport"],
            "outcome": ["success", "failure", "failure"],
            "src_ip": ["1.2.3.4", "1.2.3.5", "1.2.3.6"],
            "asn": pa.array([64501, None, None], pa.int32()),
            "extra": [{"k": 1}, None, None],  # not canonical: kept in raw only
        },
    )

    summary = ingest_paths(store, [str(path)])

    assert (summary.records, summary.stored, summary.quarantined) == (3, 1, 2)
    got = {r["line"]: r["reason"] for r in quarantined()}
    assert got[2].startswith("time out of range") and got[3] == "unknown activity value: teleport"
    row = store.connect().execute("SELECT account, asn, raw FROM events").fetchall()[0]
    assert row[:2] == ("a@x.org", 64501)
    assert json.loads(row[2]) == {
        "time": "2024-03-02T08:30:00Z",
        "event_id": "p1",
        "account": " A@X.org",
        "activity": "sign_in",
        "outcome": "success",
        "src_ip": "1.2.3.4",
        "asn": 64501,
        "extra": {"k": 1},
    }


def test_parquet_column_of_the_wrong_type_is_checked_row_by_row(store, tmp_path, quarantined):
    path = _parquet(
        tmp_path,
        {
            "time": ["2024-03-02T08:30:00Z"] * 2,
            "account": ["a@x.org", "b@x.org"],
            "activity": ["sign_in"] * 2,
            "outcome": ["success"] * 2,
            "src_ip": ["1.2.3.4"] * 2,
            "asn": ["123", None],  # text where an integer belongs: never coerced
        },
    )

    summary = ingest_paths(store, [str(path)])

    assert (summary.records, summary.stored, summary.quarantined) == (2, 1, 1)
    rows = quarantined()
    assert [r["line"] for r in rows] == [1]
    assert rows[0]["reason"].startswith("wrong type: asn must be an integer")


def test_format_is_sniffed_past_leading_bad_lines(store, tmp_path, quarantined):
    auth = {
        "class_uid": 3002,
        "activity_id": 1,
        "time": 1709287200000,
        "status_id": 1,
        "metadata": {"uid": "o-{i}"},
        "user": {"email_addr": "a@example.org"},
        "src_endpoint": {"ip": "185.220.101.1"},
    }
    lines = ["{not json"] * 60  # more than the 50 records a sniffer looks at
    lines += [json.dumps(auth).replace("{i}", str(i)) for i in range(20)]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n")

    summary = ingest_paths(store, [str(path)])

    assert summary.formats == {"ocsf": 20}
    assert (summary.stored, summary.quarantined) == (20, 60)


def test_dictionary_encoded_parquet_columns_are_text(store, tmp_path):
    import pyarrow as pa

    path = _parquet(
        tmp_path,
        {
            "time": ["2024-03-02T08:30:00Z"] * 2,
            "account": ["a@x.org", "b@x.org"],
            "activity": pa.array(["sign_in", "account_lookup"]).dictionary_encode(),  # pandas categorical
            "outcome": pa.array(["success", "failure"]).dictionary_encode(),
            "src_ip": ["1.2.3.4", "1.2.3.5"],
        },
    )

    summary = ingest_paths(store, [str(path)])

    assert (summary.stored, summary.quarantined) == (2, 0)
    rows = store.connect().execute("SELECT activity, outcome FROM events ORDER BY account").fetchall()
    assert rows == [("sign_in", "success"), ("account_lookup", "failure")]
