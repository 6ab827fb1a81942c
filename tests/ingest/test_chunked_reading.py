"""JSON Lines are read in chunks, one chunk ahead: line numbers and records never depend on the cut."""

from __future__ import annotations

import gzip
import io
import json

import pytest

import idwatch.sources.base as base
from idwatch.ingest import ingest_paths


@pytest.fixture
def tiny_chunks(monkeypatch):  # noqa: ANN201 - fixture
    """Chunks of 1,000 bytes: a few records each, and records longer than a chunk."""
    monkeypatch.setattr(base, "CHUNK_BYTES", 1_000)


def test_chunk_cuts_keep_every_record_and_its_line(store, tmp_path, event, quarantined, tiny_chunks):
    lines = [json.dumps(event(i)) for i in range(120)]
    lines[7] = json.dumps(event(7, detail="x" * 5_000))  # longer than a chunk
    lines[50] = "{broken"
    lines.insert(30, "")  # blank: not a record, but it has a line number
    body = "\ufeff" + "\r\n".join(lines)  # BOM, CRLF, no final newline
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(body.encode()))

    summary = ingest_paths(store, [str(path)])

    assert (summary.records, summary.stored, summary.quarantined) == (120, 119, 1)
    assert [(r["line"], r["raw"]) for r in quarantined()] == [(52, "{broken")]
    con = store.connect()
    long_detail = con.execute("SELECT length(detail) FROM events WHERE event_id = 'ev-7'").fetchall()
    assert long_detail == [(5_000,)]


def test_read_chunks_hand_out_whole_lines_and_the_tail():
    data = b"".join(b'{"n": %d}\n' % i for i in range(500)) + b'{"last": true}'

    chunks = [bytes(c) for c in base._read_chunks(io.BytesIO(data), 64)]

    assert b"".join(chunks) == data
    assert all(c.endswith(b"\n") for c in chunks[:-1])
    assert chunks[-1] == b'{"last": true}'


def test_read_ahead_yields_in_order_and_passes_errors_on():
    def items():  # noqa: ANN202 - generator
        yield from range(5)
        raise ValueError("unreadable")

    got: list[int] = []
    with pytest.raises(ValueError, match="unreadable"):
        for item in base.read_ahead(items()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_read_ahead_stops_when_the_caller_stops():
    produced: list[int] = []

    def items():  # noqa: ANN202 - generator
        for i in range(1_000):
            produced.append(i)
            yield i

    ahead = base.read_ahead(items())
    assert [next(ahead), next(ahead)] == [0, 1]
    ahead.close()

    assert len(produced) <= 3  # at most one item beyond what was taken


def test_newlines_are_found_across_search_blocks(monkeypatch):
    import numpy as np

    monkeypatch.setattr(base, "_NEWLINE_BLOCK", 7)
    data = b"ab\ncdefgh\n\n" + b"x" * 20 + b"\nyz\n"
    buf = np.frombuffer(data, dtype=np.uint8)

    assert base._newlines(buf).tolist() == [i for i, b in enumerate(data) if b == 10]
    assert base._last_newline(buf, 0, len(data)) == len(data) - 1
    assert base._last_newline(buf, 0, 11) == 10
    assert base._last_newline(buf, 11, 30) == -1
