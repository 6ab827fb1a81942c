"""Ingest is idempotent and crash-safe: re-runs store nothing twice, a SIGKILL loses nothing for good."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from idwatch.ingest import ingest_paths
from idwatch.store import Store


def test_reingest_of_the_same_file_stores_nothing_new(store, tmp_path, event, jsonl):
    path = jsonl(tmp_path / "e.jsonl", [event(i) for i in range(50)] + ["broken"])
    first = ingest_paths(store, [str(path)])
    second = ingest_paths(store, [str(path)])
    assert (first.stored, first.duplicates, first.quarantined) == (50, 0, 1)
    assert (second.records, second.stored, second.duplicates, second.quarantined) == (51, 0, 50, 1)
    con = store.connect()
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall() == [(50, 50)]
    # the quarantine of a re-run replaces itself (same content, same name), it does not pile up
    assert len(list(store.quarantine_dir.glob("*.jsonl"))) == 1


def test_duplicates_inside_one_input_count_once(store, tmp_path, event, jsonl):
    path = jsonl(tmp_path / "e.jsonl", [event(1), event(1), event(2), event(1, account="other@x.org")])
    summary = ingest_paths(store, [str(path)])
    assert (summary.records, summary.stored, summary.duplicates) == (4, 2, 2)
    (account,) = store.connect().execute("SELECT account FROM events WHERE event_id = 'ev-1'").fetchall()[0]
    assert account == "user1@example.org"  # the first occurrence wins


def _ingest_cmd(store: Path, path: Path) -> list[str]:
    code = "from idwatch.cli.main import main; main()"
    return [sys.executable, "-c", code, "ingest", str(path), "--store", str(store), "--json"]


def _kill_after_new_files(cmd: list[str], env: dict[str, str], store_dir: Path, seen: int) -> int:
    """Start an ingest, SIGKILL it as soon as it has published a new event file; files now."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(store_dir.glob("events/day=*/*.parquet"))) > seen:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return len(list(store_dir.glob("events/day=*/*.parquet")))


def test_sigkill_mid_ingest_then_rerun_stores_exactly_the_missing_events(tmp_path, event):
    n = 1200
    path = tmp_path / "many.jsonl"
    day = ("2024-03-01", "2024-03-02")
    path.write_text("".join(json.dumps(event(i, time=f"{day[i % 2]}T10:00:00Z")) + "\n" for i in range(n)))
    scratch = tmp_path / "scratch"  # a killed ingest cannot remove its scratch folder: keep it here
    scratch.mkdir()
    env = {**os.environ, "IDWATCH_CHUNK_BYTES": "100000", "TMPDIR": str(scratch)}  # ~5 batches
    store_dir = tmp_path / "store"
    cmd = _ingest_cmd(store_dir, path)
    files = 0
    for _ in range(2):
        files = _kill_after_new_files(cmd, env, store_dir, files)
        con = Store(store_dir).connect()  # still readable after the kill
        total, distinct = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall()[0]
        assert total == distinct <= n
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["records"] == n
    assert summary["stored"] + summary["duplicates"] == n
    assert summary["duplicates"] == total  # exactly what the killed runs had stored
    con = Store(store_dir).connect()
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall() == [(n, n)]
