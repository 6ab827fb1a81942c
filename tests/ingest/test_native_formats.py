"""Every container reads the same native events: JSONL, JSON array / object, CSV, Parquet, gz, stdin."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from idwatch.ingest import ingest_paths
from idwatch.store import Store


def stored(store: Store, cols: str = "event_id") -> list[tuple]:
    con = store.connect()
    return con.execute(f"SELECT {cols} FROM events ORDER BY event_id").fetchall()


def test_jsonl_stores_canonical_events(store, tmp_path, event, jsonl):
    path = jsonl(
        tmp_path / "e.jsonl", [event(1, account="  Alice@Example.ORG "), event(2, time=1709287200000)]
    )
    summary = ingest_paths(store, [str(path)])
    assert (summary.records, summary.stored, summary.duplicates, summary.quarantined, summary.skipped) == (
        2,
        2,
        0,
        0,
        0,
    )
    rows = stored(store, "event_id, account, epoch_ms(time), source, ua_family, raw")
    assert rows[0][:4] == ("ev-1", "alice@example.org", 1709373660000, "native")  # 2024-03-02T10:01Z
    assert rows[0][4] == "Chrome"
    assert json.loads(rows[0][5])["account"] == "  Alice@Example.ORG "  # raw kept whole
    assert rows[1][2] == 1709287200000  # epoch milliseconds


def test_event_id_defaults_to_hash_of_raw_record(store, tmp_path, event, jsonl):
    rec = event(3, event_id=...)
    path = jsonl(tmp_path / "e.jsonl", [rec, rec])
    summary = ingest_paths(store, [str(path)])
    assert (summary.stored, summary.duplicates) == (1, 1)
    import hashlib

    (eid,) = stored(store)[0]
    assert eid == hashlib.sha256(json.dumps(rec).encode()).hexdigest()


def test_json_array_and_pretty_single_object(store, tmp_path, event):
    (tmp_path / "arr.json").write_text(json.dumps([event(1), event(2)], indent=2))
    (tmp_path / "one.json").write_text(json.dumps(event(3), indent=2))
    summary = ingest_paths(store, [str(tmp_path / "arr.json"), str(tmp_path / "one.json")])
    assert (summary.records, summary.stored) == (3, 3)
    assert [r[0] for r in stored(store)] == ["ev-1", "ev-2", "ev-3"]


def test_csv_values_are_text_but_numbers_and_booleans_are_recognized(store, tmp_path, event):
    path = tmp_path / "e.csv"
    rows = [event(1, asn=64500, account_exists=True), event(2)]
    fields = sorted({k for r in rows for k in r})
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("true" if v is True else v) for k, v in r.items()})
    summary = ingest_paths(store, [str(path)])
    assert (summary.records, summary.stored, summary.quarantined) == (2, 2, 0)
    assert stored(store, "event_id, asn, account_exists") == [("ev-1", 64500, True), ("ev-2", None, None)]


def test_parquet_with_timestamp_column(store, tmp_path):
    import datetime as dt

    t = pa.table(
        {
            "time": pa.array(
                [dt.datetime(2024, 3, 2, 8, 30, tzinfo=dt.UTC)] * 2, pa.timestamp("us", tz="UTC")
            ),
            "event_id": ["p1", "p2"],
            "account": ["a@x.org", "b@x.org"],
            "activity": ["sign_in", "account_lookup"],
            "outcome": ["success", "failure"],
            "src_ip": ["1.2.3.4", "2001:db8::2"],
            "asn": pa.array([64501, None], pa.int64()),
        }
    )
    pq.write_table(t, tmp_path / "e.parquet")
    summary = ingest_paths(store, [str(tmp_path / "e.parquet")])
    assert (summary.records, summary.stored) == (2, 2)
    rows = stored(store, "event_id, strftime(time, '%Y-%m-%d %H:%M'), asn")
    assert rows == [("p1", "2024-03-02 08:30", 64501), ("p2", "2024-03-02 08:30", None)]


def test_gzip_folder_bom_crlf_and_blank_lines(store, tmp_path, event):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    with gzip.open(folder / "a.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(event(1)) + "\n" + json.dumps(event(2)) + "\n")
    body = "\r\n".join([json.dumps(event(3)), "", "   ", json.dumps(event(4))]) + "\r\n"
    (folder / "sub" / "b.jsonl").write_bytes(b"\xef\xbb\xbf" + body.encode())
    (folder / ".hidden.jsonl").write_text("not json\n")
    (folder / "README.md").write_text("# these are the logs\n")  # not a data file: not read
    summary = ingest_paths(store, [str(folder)])
    assert (summary.files, summary.records, summary.stored, summary.quarantined) == (2, 4, 4, 0)


def test_stdin_dash(store, event, monkeypatch):
    data = (json.dumps(event(1)) + "\n" + json.dumps(event(2)) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    summary = ingest_paths(store, ["-"])
    assert (summary.records, summary.stored) == (2, 2)


def test_enrichment_fills_network_fields_only_where_missing(store, tmp_path, event, jsonl):
    path = jsonl(
        tmp_path / "e.jsonl",
        [event(1, src_ip="8.8.8.8"), event(2, src_ip="8.8.8.8", country="fr", asn=64512, asn_org="MINE")],
    )
    ingest_paths(store, [str(path)])
    rows = stored(store, "event_id, country, asn, asn_org, network_type")
    assert rows[0] == ("ev-1", "US", 15169, "GOOGLE", "hosting")  # from plevin (offline)
    assert rows[1][:4] == ("ev-2", "FR", 64512, "MINE")


def test_events_are_partitioned_by_day(store, tmp_path, event, jsonl):
    path = jsonl(tmp_path / "e.jsonl", [event(0), event(1), event(29)])
    ingest_paths(store, [str(path)])
    days = sorted(p.parent.name for p in store.event_files())
    assert days == ["day=2024-03-01", "day=2024-03-02"]  # one file per day per batch
    per_day = (
        store.connect()
        .execute("SELECT strftime(time, '%d'), count(*) FROM events GROUP BY 1 ORDER BY 1")
        .fetchall()
    )
    assert per_day == [("01", 1), ("02", 2)]


def test_explicit_format_and_unknown_format(store, tmp_path, event, jsonl):
    import pytest

    from idwatch.sources import UnknownFormatError

    path = jsonl(tmp_path / "e.jsonl", [event(1)])
    assert ingest_paths(store, [str(path)], fmt="native").stored == 1
    with pytest.raises(UnknownFormatError):
        ingest_paths(store, [str(path)], fmt="nope")


def test_missing_path_is_an_error(store, tmp_path):
    import pytest

    from idwatch.sources.base import SourceError

    with pytest.raises(SourceError):
        ingest_paths(store, [str(tmp_path / "missing.jsonl")])


def _unused(_: Path) -> None:  # keeps imports honest for ruff
    return None
