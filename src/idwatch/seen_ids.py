"""The event ids an ingest has seen: exact membership in O(n log N) per batch, no growing join.

Dedupe used to semi-join each chunk against one DuckDB table of every id seen so far, which
hashed the whole table again for every chunk: quadratic in the size of the store. Here each
id is kept with a 64-bit hash in sorted *runs* (merged when a run reaches the size of the one
before it, so an id is copied O(log N) times). A batch is looked up with ``searchsorted`` per
run; only hash hits have their text compared, so the answer is exact: two different ids with
the same hash are told apart, never counted as duplicates of each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def hash_ids(con: duckdb.DuckDBPyConnection, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes of ``ids`` (DuckDB's ``hash``, vectorized), in order, as ``uint64``."""
    con.register("_hash_ids", pa.table({"i": ids}))
    try:
        # row i of the result is id i. Left on: the setting is global to the database, and the
        # ingest parses its next chunk in another thread at the same time
        con.execute("SET preserve_insertion_order = true")
        out = con.sql("SELECT hash(i) AS h FROM _hash_ids").to_arrow_table().column("h")
    finally:
        con.unregister("_hash_ids")
    return out.to_numpy().astype(np.uint64, copy=False)


def _text(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous ``large_string`` array (every run and batch compares the same type)."""
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    return ids.cast(pa.large_string())


@dataclass
class _Run:
    hashes: np.ndarray  # uint64, ascending
    ids: pa.Array  # the ids, in the order of ``hashes``


def _sorted_run(hashes: np.ndarray, ids: pa.Array) -> _Run:
    order = np.argsort(hashes, kind="stable")
    return _Run(hashes[order], ids.take(pa.array(order)))


class SeenIds:
    """A set of event ids (strings), added to batch by batch; see the module docstring."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.runs: list[_Run] = []
        self.size = 0

    # ------------------------------------------------------------------ lookups
    def _member(self, hashes: np.ndarray, ids: pa.Array) -> np.ndarray:
        """Mask of the ``ids`` already in the set; ``hashes`` (theirs) ascending, so that each
        run is searched in one sequential pass."""
        found = np.zeros(len(hashes), dtype=bool)
        for run in self.runs:
            pos = np.minimum(np.searchsorted(run.hashes, hashes), len(run.hashes) - 1)
            hit = np.flatnonzero((run.hashes[pos] == hashes) & ~found)
            if not len(hit):
                continue
            same = pc.equal(run.ids.take(pa.array(pos[hit])), ids.take(pa.array(hit)))
            same = same.to_numpy(zero_copy_only=False)
            found[hit[same]] = True
            for i in hit[~same]:  # another id with the same hash: astronomically rare
                found[i] = self._scan_equal_hashes(run, int(pos[i]), hashes[i], ids[int(i)].as_py())
        return found

    @staticmethod
    def _scan_equal_hashes(run: _Run, start: int, value: np.uint64, text: str) -> bool:
        end = int(np.searchsorted(run.hashes, value, side="right"))
        return any(run.ids[j].as_py() == text for j in range(start, end))

    # ------------------------------------------------------------------ the batch API
    def first_unseen(self, ids: pa.Array | pa.ChunkedArray, order: np.ndarray) -> np.ndarray:
        """Mask of the ids to keep, and add them: not in the set, and the first of their text
        in the batch by ``order`` (e.g. line numbers; ties by position)."""
        ids = _text(ids)
        n = len(ids)
        if n == 0:
            return np.zeros(0, dtype=bool)
        raw_hashes = hash_ids(self.con, ids)
        by_hash = np.argsort(raw_hashes, kind="stable")  # work in hash order, map back at the end
        hashes = raw_hashes[by_hash]
        sorted_ids = ids.take(pa.array(by_hash))
        keep = ~self._member(hashes, sorted_ids) if self.runs else np.ones(n, dtype=bool)
        repeats = np.flatnonzero(hashes[1:] == hashes[:-1])
        if len(repeats):  # rows whose hash repeats in the batch: exact on the text
            shared = np.unique(np.concatenate([repeats, repeats + 1]))
            keep[shared[self._later_in_batch(sorted_ids, by_hash, np.asarray(order), shared)]] = False
        kept = np.flatnonzero(keep)
        if len(kept):
            self._add_sorted(hashes[kept], sorted_ids.take(pa.array(kept)) if len(kept) < n else sorted_ids)
        out = np.empty(n, dtype=bool)
        out[by_hash] = keep
        return out

    def add(self, ids: pa.Array | pa.ChunkedArray) -> None:
        """Add ids known to be distinct and not in the set yet (e.g. the store's own)."""
        ids = _text(ids)
        if len(ids):
            hashes = hash_ids(self.con, ids)
            by_hash = np.argsort(hashes, kind="stable")
            self._add_sorted(hashes[by_hash], ids.take(pa.array(by_hash)))

    def _later_in_batch(
        self, sorted_ids: pa.Array, by_hash: np.ndarray, order: np.ndarray, shared: np.ndarray
    ) -> np.ndarray:
        """Of the rows ``shared`` (positions in hash order), a mask of those whose id occurs
        earlier in the batch, by ``order`` and then by position."""
        pos = by_hash[shared]
        ids = sorted_ids.take(pa.array(shared))
        sub = pa.table({"i": ids, "o": pa.array(order[pos]), "p": pa.array(pos)})
        self.con.register("_dup_ids", sub)
        try:
            later = self.con.sql(
                "SELECT p FROM _dup_ids QUALIFY row_number() OVER (PARTITION BY i ORDER BY o, p) > 1"
            ).to_arrow_table()
        finally:
            self.con.unregister("_dup_ids")
        return np.isin(pos, later.column("p").to_numpy())

    def _add_sorted(self, hashes: np.ndarray, ids: pa.Array) -> None:
        """Add a run (``hashes`` ascending, ``ids`` in their order); merge runs of similar size."""
        self.runs.append(_Run(hashes, ids))
        self.size += len(hashes)
        # merge while the newest run is as large as the one before: O(log N) runs
        while len(self.runs) > 1 and len(self.runs[-1].hashes) >= len(self.runs[-2].hashes):
            new, old = self.runs.pop(), self.runs.pop()
            both = pa.concat_arrays([old.ids, new.ids])
            self.runs.append(_sorted_run(np.concatenate([old.hashes, new.hashes]), both))


__all__ = ["SeenIds", "hash_ids"]
