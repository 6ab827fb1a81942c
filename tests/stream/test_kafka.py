"""The Kafka consumer against a real broker: a SIGKILL mid-stream loses nothing, stores nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from idwatch.store import Store
from idwatch.stream.kafka import ALL, StreamConfig, consume

from .conftest import create_topic, native_events, produce, quarantined_lines

GOOD = 3_000
BAD = [b"{not json", b"[1, 2]", b"", b'{"time": "2026-03-01T00:00:00Z"}']  # each must be quarantined


def _stream_of(good: int) -> list[bytes]:
    """``good`` events with a bad message after every 500th, so several batches quarantine."""
    out: list[bytes] = []
    for i, ev in enumerate(native_events(good)):
        out.append(ev)
        if i % 500 == 499:
            out.append(BAD[(i // 500) % len(BAD)])
    return out


def _counts(root: Path) -> tuple[int, int]:
    if not (root / "events").exists():
        return 0, 0
    con = Store(str(root)).connect()
    try:
        return con.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events").fetchall()[0]
    finally:
        con.close()


def test_a_consumer_killed_mid_stream_resumes_and_every_message_lands_once(broker, tmp_path):
    messages = _stream_of(GOOD)
    bad = len(messages) - GOOD
    create_topic(broker, "crash", partitions=1)
    produce(broker, "crash", messages)
    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    cmd = [sys.executable, "-m", "idwatch.cli.main", "stream", "--kafka", broker, "--topic", "crash",
           "--partitions", "all", "--batch-events", "400", "--batch-seconds", "0.3",
           "--store", str(root)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "err").open("wb"))
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
    while _counts(root)[0] == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored_before_kill = _counts(root)[0]
    assert 0 < stored_before_kill < GOOD, (tmp_path / "err").read_text()[-2000:]

    seen = []
    deadline = time.monotonic() + 120
    stats = consume(
        Store(str(root)),
        StreamConfig(broker, "crash", partitions=ALL, max_events=1_000, max_seconds=0.5, detect=False),
        stop=lambda: (
            _counts(root)[0] + quarantined_lines(root) >= len(messages) or time.monotonic() > deadline
        ),
        on_batch=lambda result, batch: seen.append(result),
    )
    rows, distinct = _counts(root)
    assert (rows, distinct) == (GOOD, GOOD)
    assert quarantined_lines(root) == bad
    assert all(r.ingest.balanced for r in seen)
    # what the restart read = what it found already stored (mark) + the records it ingested
    assert stats.already_stored + sum(r.ingest.records for r in seen) == stats.fetched
    assert sum(r.ingest.stored for r in seen) == GOOD - stored_before_kill


def test_a_store_slower_than_the_topic_pauses_the_consumer_and_loses_nothing(broker, tmp_path):
    total = 2_000
    create_topic(broker, "slow", partitions=2)
    produce(broker, "slow", native_events(total, start=10_000))
    root = tmp_path / "store"
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
    stats = consume(
        Store(str(root)),
        # room for 150 records ahead: the fetch thread fills it long before a batch is stored
        StreamConfig(
            broker, "slow", partitions=ALL, max_events=100, max_seconds=0.2, queue_events=150, detect=False
        ),  # fmt: skip
        stop=lambda: _counts(root)[0] >= total or time.monotonic() > deadline,
    )
    assert stats.pauses > 0
    assert _counts(root) == (total, total)
    assert stats.fetched == total and stats.already_stored == 0
