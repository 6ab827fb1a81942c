"""The store's own record of which Kafka offsets it holds (``state/stream_offsets.json``).

Kafka's committed offset is written after the store, so a crash between the two replays a
batch. Its events are then duplicates (event_id), but a quarantined record would be
quarantined twice. So the store notes the offset ranges of the batch in flight *before*
ingesting it and the next offset per partition *after*: a restart first re-reads exactly the
range in flight (same records, same spool name, so the same quarantine file is rewritten) and
skips what lies below the stored mark. Together: every message ends in the store once.
"""

from __future__ import annotations

from typing import Any

from idwatch.store import Store

STATE = "stream_offsets"

Ranges = dict[int, tuple[int, int]]  #: partition -> (first offset, last offset), inclusive


class OffsetLedger:
    """Per topic: ``done`` (next offset to read, per partition) and ``pending`` (ranges in flight)."""

    def __init__(self, store: Store, topic: str) -> None:
        self.store, self.topic = store, topic
        entry = self._all().get(topic, {})
        self.done: dict[int, int] = {int(p): int(o) for p, o in entry.get("done", {}).items()}
        self.pending: Ranges = {int(p): (int(a), int(b)) for p, (a, b) in entry.get("pending", {}).items()}

    def _all(self) -> dict[str, Any]:
        return self.store.read_state_json(STATE, {}) or {}

    def _write(self) -> None:
        everything = self._all()
        everything[self.topic] = {
            "done": {str(p): o for p, o in sorted(self.done.items())},
            "pending": {str(p): list(r) for p, r in sorted(self.pending.items())},
        }
        self.store.write_state_json(STATE, everything)

    def begin(self, ranges: Ranges) -> None:
        """Note the batch about to be ingested (durably, before the ingest writes anything)."""
        self.pending = dict(ranges)
        self._write()

    def finish(self) -> None:
        """The pending batch is in the store: advance ``done`` past it."""
        for p, (_, last) in self.pending.items():
            self.done[p] = max(self.done.get(p, 0), last + 1)
        self.pending = {}
        self._write()

    def already_stored(self, partition: int, offset: int) -> bool:
        return offset < self.done.get(partition, 0)
