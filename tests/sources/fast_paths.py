"""Test helper: ingest one file through a format's typed fast path and through its careful path.

The careful path is forced by making every typed block fail (``TypedLines._statement``), so
each line is read by the format's ``select_sql``; :func:`assert_same` then compares what the
two stores hold (events, kept skipped records, quarantine) and every count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import idwatch.sources.typed_json as typed_json
from idwatch.ingest import IngestSummary, ingest_paths
from idwatch.store import Store

COUNTS = ("records", "stored", "skipped", "quarantined", "duplicates")

Run = tuple[IngestSummary, Store]


def ingest_both(
    path: Path, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Run, Run, int]:
    """(fast run, careful run, rows the fast path produced) of ingesting ``path`` as ``fmt``."""
    reads: list[int] = []
    real_read = typed_json.TypedLines.read

    def counting_read(self: Any, chunk: Any) -> Any:  # spy on the real reader
        fast, rest = real_read(self, chunk)
        reads.append(0 if fast is None else fast.num_rows)
        return fast, rest

    monkeypatch.setattr(typed_json.TypedLines, "read", counting_read)
    monkeypatch.setattr(typed_json, "BLOCK_LINES", 32)  # bad lines cost small blocks only
    monkeypatch.setattr(typed_json, "MIN_BLOCK_LINES", 2)
    fast = Store(tmp_path / "fast")
    got = ingest_paths(fast, [str(path)], fmt=fmt)
    monkeypatch.setattr(typed_json.TypedLines, "_statement", lambda self, paths: (None, None))
    careful = Store(tmp_path / "careful")
    want = ingest_paths(careful, [str(path)], fmt=fmt)
    return (got, fast), (want, careful), sum(reads)


def quarantined(store: Store) -> list[tuple]:
    rows = []
    for path in sorted(store.quarantine_dir.glob("*.jsonl")):
        rows += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return sorted((r["line"], r["reason"], r["raw"]) for r in rows)


def assert_same(got: Run, want: Run) -> None:
    """Both stores hold the same rows and both runs counted the same."""
    (gs, fast), (ws, careful) = got, want
    assert [getattr(gs, c) for c in COUNTS] == [getattr(ws, c) for c in COUNTS]
    assert gs.balanced and ws.balanced
    assert (gs.skipped_by_kind, gs.quarantined_by_reason) == (ws.skipped_by_kind, ws.quarantined_by_reason)
    for query in (
        "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY event_id",
        "SELECT * EXCLUDE (ingested_at) FROM other_events ORDER BY event_id",
    ):
        assert fast.connect().execute(query).fetchall() == careful.connect().execute(query).fetchall()
    assert quarantined(fast) == quarantined(careful)
