"""SeenIds: exact event-id membership across batches (the ingest's dedupe)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import idwatch.seen_ids as seen_ids
from idwatch.seen_ids import SeenIds, hash_ids


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _ids(*values: str) -> pa.Array:
    return pa.array(list(values), pa.string())


def test_a_new_batch_keeps_every_distinct_id(con: duckdb.DuckDBPyConnection) -> None:
    seen = SeenIds(con)
    keep = seen.first_unseen(_ids("a", "b", "c"), np.array([1, 2, 3]))
    assert keep.tolist() == [True, True, True]
    assert seen.size == 3


def test_an_id_seen_in_an_earlier_batch_is_dropped(con: duckdb.DuckDBPyConnection) -> None:
    seen = SeenIds(con)
    seen.first_unseen(_ids("a", "b"), np.array([1, 2]))
    assert seen.first_unseen(_ids("c", "b", "a", "d"), np.array([3, 4, 5, 6])).tolist() == [
        True,
        False,
        False,
        True,
    ]


def test_within_a_batch_the_first_by_order_wins_not_the_first_by_position(
    con: duckdb.DuckDBPyConnection,
) -> None:
    seen = SeenIds(con)
    # rows of a chunk need not be in line order (fast path rows, then careful ones)
    keep = seen.first_unseen(_ids("x", "y", "x", "x"), np.array([9, 2, 4, 7]))
    assert keep.tolist() == [False, True, True, False]


def test_many_batches_merge_runs_and_stay_exact(con: duckdb.DuckDBPyConnection) -> None:
    seen = SeenIds(con)
    for b in range(20):
        values = [f"ev-{b * 50 + i}" for i in range(50)]
        assert seen.first_unseen(pa.array(values), np.arange(50)).all()
    assert seen.size == 1000
    assert len(seen.runs) <= 5  # merged: O(log N) runs, not one per batch
    again = pa.array([f"ev-{i}" for i in range(990, 1010)])
    assert seen.first_unseen(again, np.arange(20)).tolist() == [False] * 10 + [True] * 10


def test_different_ids_with_the_same_hash_are_not_duplicates(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every id hashes alike: only the text can tell them apart
    monkeypatch.setattr(seen_ids, "hash_ids", lambda _con, ids: np.zeros(len(ids), dtype=np.uint64))
    seen = SeenIds(con)
    assert seen.first_unseen(_ids("a", "b", "a"), np.array([1, 2, 3])).tolist() == [True, True, False]
    assert seen.first_unseen(_ids("c", "b", "a", "c"), np.array([4, 5, 6, 7])).tolist() == [
        True,
        False,
        False,
        False,
    ]
    assert seen.size == 3


def test_string_and_large_string_batches_compare_equal(con: duckdb.DuckDBPyConnection) -> None:
    seen = SeenIds(con)
    seen.add(pa.chunked_array([pa.array(["a", "b"], pa.string())]))
    keep = seen.first_unseen(pa.array(["b", "z"], pa.large_string()), np.array([1, 2]))
    assert keep.tolist() == [False, True]


def test_hashes_line_up_with_ids_and_ordering_is_left_on(con: duckdb.DuckDBPyConnection) -> None:
    """Row i of the hashes is id i even on a connection that did not ask for order; the setting
    stays on afterwards, since it is global to a database that other threads query meanwhile."""
    con.execute("SET preserve_insertion_order = false")
    ids = pa.chunked_array([[f"id-{i}" for i in range(k, k + 50_000)] for k in range(0, 200_000, 50_000)])
    hashes = hash_ids(con, ids)
    picks = (0, 123_456, 199_999)
    one_by_one = [con.execute("SELECT hash(?)", [f"id-{i}"]).fetchall()[0][0] for i in picks]
    assert [int(hashes[i]) for i in picks] == one_by_one
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0] is True
