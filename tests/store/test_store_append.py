"""Appending events: rows of mixed days land in their day, whole files only, temporaries cleaned."""

from __future__ import annotations

import datetime as dt
import os
import time

import pyarrow as pa
import pytest

import idwatch.store as store_module
from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.store import Store


def _mixed_days(n: int) -> pa.Table:
    """``n`` events whose days cycle 3, 1, 2, 3, 1, 2 ... (not in time order)."""
    rows = [
        {
            "time": dt.datetime(2024, 3, 1 + (i + 2) % 3, 12, i % 60, tzinfo=dt.UTC),
            "event_id": f"e{i}",
            "source": "native",
            "account": f"u{i}@x.org",
            "activity": "sign_in",
            "outcome": "success",
            "src_ip": "1.1.1.1",
            "raw": f'{{"n": {i}}}',
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=STORED_EVENT_SCHEMA)


def test_rows_of_interleaved_days_each_land_in_their_day_with_their_own_columns(tmp_path):
    store = Store(tmp_path / "s")

    assert store.append_events(_mixed_days(300)) == 300

    assert sorted(f.parent.name for f in store.event_files()) == [
        "day=2024-03-01",
        "day=2024-03-02",
        "day=2024-03-03",
    ]
    con = store.connect()
    rows = con.execute("SELECT event_id, raw, account, CAST(time AS DATE)::VARCHAR FROM events").fetchall()
    assert len(rows) == 300
    for eid, raw, account, day in rows:
        i = int(eid[1:])
        assert (raw, account, day) == (f'{{"n": {i}}}', f"u{i}@x.org", f"2024-03-0{1 + (i + 2) % 3}")


def test_a_failed_write_publishes_no_day_and_leaves_no_temporary(tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    real = store_module._write_events_file

    def fail_on_day_two(path, table):  # noqa: ANN001, ANN202 - stands in for the writer
        if "2024-03-02" in str(path):
            raise OSError("disk full")
        real(path, table)

    monkeypatch.setattr(store_module, "_write_events_file", fail_on_day_two)

    with pytest.raises(OSError, match="disk full"):
        store.append_events(_mixed_days(30))

    assert store.event_files() == []
    assert not list(store.root.rglob("*.tmp"))


def test_old_temporaries_of_a_killed_ingest_are_removed_young_ones_kept(tmp_path):
    store = Store(tmp_path / "s")
    store.append_events(_mixed_days(3))
    day = store.events_dir / "day=2024-03-01"
    old, young = day / ".part-old.parquet.tmp", day / ".part-young.parquet.tmp"
    for path in (old, young):
        path.write_bytes(b"half a file")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))

    assert store.connect().execute("SELECT count(*) FROM events").fetchall() == [(3,)]  # never read
    store.clean_staging()

    assert not old.exists() and young.exists()
