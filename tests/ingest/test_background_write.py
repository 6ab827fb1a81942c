"""Chunks are written in the background: a failed write stops the ingest, and no chunk is lost or doubled."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import idwatch.sources.base as base
import idwatch.sources.typed_json as typed_json
from idwatch.ingest import ingest_paths
from idwatch.store import Store


@pytest.fixture
def small_chunks(monkeypatch):  # noqa: ANN201 - fixture
    """Chunks of ~8 KB: a few dozen records each, so one file makes many writes."""
    monkeypatch.setattr(base, "CHUNK_BYTES", 8_000)


def failing_on_call(n: int, real: Callable[..., Any], error: Exception) -> Callable[..., Any]:
    """``real``, except that its ``n``-th call raises ``error`` (a disk or a parser giving out)."""
    calls = {"n": 0}

    def stand_in(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            raise error
        return real(*args)

    return stand_in


def test_every_chunk_is_written_once(store, tmp_path, event, jsonl, small_chunks):
    path = jsonl(tmp_path / "e.jsonl", [event(i) for i in range(600)])

    summary = ingest_paths(store, [str(path)])

    assert (summary.records, summary.stored) == (600, 600)
    assert "write" in summary.stages
    con = store.connect()
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall() == [(600, 600)]


def test_a_failed_write_stops_the_ingest_and_a_rerun_stores_the_rest(
    store, tmp_path, event, jsonl, monkeypatch, small_chunks
):
    path = jsonl(tmp_path / "e.jsonl", [event(i) for i in range(600)])
    real = Store.append_events
    monkeypatch.setattr(Store, "append_events", failing_on_call(3, real, OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        ingest_paths(store, [str(path)])
    monkeypatch.setattr(Store, "append_events", real)

    stored = store.connect().execute("SELECT count(*) FROM events").fetchall()[0][0]
    assert 0 < stored < 600  # whole chunks only, the ones before the failure (and one in flight)
    again = ingest_paths(store, [str(path)])
    assert (again.stored + again.duplicates, again.duplicates) == (600, stored)
    ids = store.connect().execute("SELECT count(DISTINCT event_id), count(*) FROM events").fetchall()
    assert ids == [(600, 600)]
    assert json.dumps(again.to_dict())  # the summary still serializes


def test_a_chunk_parses_while_the_one_before_it_is_stored(
    store, tmp_path, event, jsonl, monkeypatch, small_chunks
):
    """The parse thread hands chunks back in order; a parse that fails stops the ingest with its error."""
    path = jsonl(tmp_path / "e.jsonl", [event(i) for i in range(600)])
    real = typed_json.TypedLines.read
    monkeypatch.setattr(
        typed_json.TypedLines, "read", failing_on_call(4, real, MemoryError("parse thread ran out"))
    )
    with pytest.raises(MemoryError, match="parse thread ran out"):
        ingest_paths(store, [str(path)])
    monkeypatch.setattr(typed_json.TypedLines, "read", real)

    again = ingest_paths(store, [str(path)])
    assert again.stored + again.duplicates == 600
    rows = store.connect().execute("SELECT event_id, raw FROM events").fetchall()
    assert sorted(eid for eid, _ in rows) == sorted(f"ev-{i}" for i in range(600))
    assert all(json.loads(raw)["event_id"] == eid for eid, raw in rows)  # each row kept its own text
