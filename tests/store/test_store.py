"""The store: views that always exist, day partitions, atomic files, state tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from idwatch.schema import ALERT_SCHEMA, STORED_EVENT_SCHEMA
from idwatch.store import Store, resolve_store_path


def _events(n: int, day: int = 1) -> pa.Table:
    rows = [
        {
            "time": dt.datetime(2024, 3, day, 12, i % 60, tzinfo=dt.UTC),
            "event_id": f"e{day}-{i}",
            "source": "native",
            "account": f"u{i}@x.org",
            "activity": "sign_in",
            "outcome": "success",
            "src_ip": "1.1.1.1",
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=STORED_EVENT_SCHEMA)


def test_fresh_store_has_empty_views_with_the_right_columns(tmp_path):
    con = Store(tmp_path / "s").connect()
    assert con.execute("SELECT count(*) FROM events").fetchall() == [(0,)]
    cols = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
    assert cols == STORED_EVENT_SCHEMA.names
    assert [r[0] for r in con.execute("DESCRIBE alerts").fetchall()] == ALERT_SCHEMA.names
    assert con.execute("SELECT count(*) FROM directory").fetchall() == [(0,)]


def test_append_writes_one_file_per_day_and_leaves_no_temporaries(tmp_path):
    store = Store(tmp_path / "s")
    assert store.append_events(pa.concat_tables([_events(3, 1), _events(2, 2)])) == 5
    files = store.event_files()
    assert sorted(f.parent.name for f in files) == ["day=2024-03-01", "day=2024-03-02"]
    assert not list(store.events_dir.glob(".staging-*"))
    assert not list(store.root.rglob("*.tmp"))
    con = store.connect()
    assert con.execute("SELECT count(*), min(time) FROM events").fetchall()[0][0] == 5


def test_state_tables_become_views(tmp_path):
    store = Store(tmp_path / "s")
    store.write_state_table("incidents", pa.table({"account": ["a"], "stage": ["attacked"]}))
    store.write_state_json("campaigns", [{"id": "cmp-1"}])
    con = store.connect()
    assert con.execute("SELECT * FROM incidents").fetchall() == [("a", "attacked")]
    assert store.read_state_json("campaigns") == [{"id": "cmp-1"}]
    assert store.read_state_json("missing", default=[]) == []


def test_store_path_resolution(monkeypatch):
    monkeypatch.delenv("IDWATCH_STORE", raising=False)
    assert resolve_store_path(None) == Path("./idwatch-data")
    monkeypatch.setenv("IDWATCH_STORE", "/data/x")
    assert resolve_store_path(None) == Path("/data/x")
    assert resolve_store_path("/explicit") == Path("/explicit")
