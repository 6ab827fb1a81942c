"""One micro-batch: raw records -> the file-ingest path -> incremental detections -> new alerts.

The batch goes through :func:`idwatch.ingest.ingest_paths` unchanged (a spooled file), so a
streamed record is parsed, validated, quarantined and de-duplicated exactly as a file record.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from idwatch.detections.engine import run_detections
from idwatch.ingest import IngestSummary, ingest_paths
from idwatch.store import Store


class Busy(RuntimeError):
    """The bounded queue is full: the caller must retry later (HTTP 503, Kafka pause)."""


@dataclass
class BatchResult:
    """What one micro-batch did: the ingest counts and the alerts it made new."""

    ingest: IngestSummary
    new_alerts: list[dict] = field(default_factory=list)
    published: int = 0  #: alerts delivered after this batch (new ones and earlier failures)
    publish_error: str | None = None  #: why delivery failed (the alerts are retried next batch)
    stored_at: float = 0.0  #: wall clock (epoch s) when the batch was durably in the store
    detect_seconds: float = 0.0  #: the incremental detection run after it


SPOOL = "tmp"  #: the store's folder for spooled batches (a killed run's leftovers are removed)


def ingest_records(
    store: Store, payload: bytes, fmt: str = "auto", *, name: str | None = None
) -> IngestSummary:
    """Ingest JSON Lines / a JSON array held in memory by the file path (spooled to the store's tmp).

    ``name``: the spool file's name, which quarantined records cite as their ``file``; a
    replayed Kafka batch passes the same name so its quarantine file is rewritten, not doubled.
    """
    spool = store.root / SPOOL
    spool.mkdir(parents=True, exist_ok=True)
    if name is None:
        fd, path = tempfile.mkstemp(prefix="stream-", suffix=".jsonl", dir=spool)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
    else:
        path = str(spool / name)
        Path(path).write_bytes(payload)
    try:
        return ingest_paths(store, [path], fmt=fmt)
    finally:
        Path(path).unlink(missing_ok=True)


def _alert_ids(store: Store) -> set[str]:
    table = store.read_state_table("alerts")
    if table is None or table.num_rows == 0:
        return set()
    return set(table.column("alert_id").to_pylist())


def detect_new(store: Store) -> list[dict]:
    """Run the detections from the watermark; return the alerts that did not exist before."""
    before = _alert_ids(store)
    run_detections(store)
    table = store.read_state_table("alerts")
    if table is None or table.num_rows == 0:
        return []
    fresh = table.filter(pc.invert(pc.is_in(table["alert_id"], pa.array(sorted(before), pa.string()))))
    return fresh.to_pylist()


class Gate:
    """The bounded queue in front of the store: at most ``depth`` batches wait or run.

    A batch that finds it full is refused with :class:`Busy`, never dropped silently; one
    batch at a time writes (the store has one writer).
    """

    def __init__(self, depth: int = 4) -> None:
        self._slots = threading.BoundedSemaphore(depth)
        self._writer = threading.Lock()

    def run(self, store: Store, payload: bytes, fmt: str = "auto", *, detect: bool = True) -> BatchResult:
        if not self._slots.acquire(blocking=False):
            raise Busy("ingest queue full; retry later")
        try:
            with self._writer:
                summary = ingest_records(store, payload, fmt)
                alerts = detect_new(store) if detect and summary.stored else []
            return BatchResult(summary, alerts)
        finally:
            self._slots.release()
