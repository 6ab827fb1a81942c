"""Ingest progress: one big file shows bytes read against its size (issue #19, item 8)."""

from __future__ import annotations

import gzip
import json

import pytest

from idwatch.ingest import ingest_paths
from idwatch.ingest_progress import IngestProgress, chunk_bytes
from idwatch.sources.base import InputFile
from idwatch.store import Store


def _lines(n: int) -> bytes:
    rows = [
        {
            "time": "2024-03-01T10:00:00Z",
            "event_id": f"e{i}",
            "account": f"u{i}@x.org",
            "activity": "sign_in",
            "outcome": "success",
            "src_ip": "192.0.2.1",
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_a_single_plain_file_is_measured_in_bytes_read_against_its_size(tmp_path, monkeypatch):
    path = tmp_path / "one.jsonl"
    path.write_bytes(_lines(500))
    seen: list[tuple[int | None, int]] = []
    advance = IngestProgress.advance

    def spy(self, chunk):
        advance(self, chunk)
        seen.append((self._size, self._read))

    monkeypatch.setattr(IngestProgress, "advance", spy)
    summary = ingest_paths(Store(tmp_path / "st"), [str(path)], progress=True)
    assert summary.stored == 500
    assert seen and seen[-1] == (path.stat().st_size, path.stat().st_size)


def test_a_gzip_file_shows_bytes_read_without_a_total(tmp_path):
    path = tmp_path / "one.jsonl.gz"
    path.write_bytes(gzip.compress(_lines(10)))
    shown = IngestProgress([InputFile(str(path), path=path)], enabled=True)
    try:
        shown.start_file(InputFile(str(path), path=path))
        assert shown._size is None
    finally:
        shown.stop()


@pytest.mark.parametrize("n", [0, 3])
def test_chunk_bytes_counts_the_bytes_of_the_lines(n):
    import pyarrow as pa

    from idwatch.sources.base import Chunk

    lines = pa.table({"_line": list(range(1, n + 1)), "_bytes": [b"{}\n"] * n})
    assert chunk_bytes(Chunk(file="f", view="v", records=n, rejected=0, lines=lines)) == 3 * n
