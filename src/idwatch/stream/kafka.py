"""Kafka consumer: micro-batches of a topic into the store, offsets committed after the store.

A fetch thread owns the consumer (every librdkafka call happens there) and fills a bounded
:class:`~idwatch.stream.buffer.Buffer`; when the buffer is full it pauses the partitions and
keeps what it already fetched, and resumes once the buffer is half empty, so a slow store
slows the consumer down and never drops a record. The calling thread cuts micro-batches (M
records or N seconds after the first), stores them through the file-ingest path, notes the
offsets in the store (:mod:`idwatch.stream.offsets`), asks the fetch thread to commit them,
then runs the detections from their watermark and publishes the new alerts. While a backlog
waits in the queue, detection runs at most every ``detect_lag_s`` (catch-up), so the store
keeps up at ingest speed; a batch not yet detected is covered by the next run (the watermark).

At-least-once from Kafka, exactly once into the store: a crash replays from the store's own
offsets; events replayed are duplicates by event_id and a quarantined batch is rewritten in
place. ``assign()`` reads given partitions without a group join (slow on some brokers);
``subscribe`` mode joins the group.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from idwatch.store import Store
from idwatch.stream import outbox
from idwatch.stream.batch import SPOOL, BatchResult, detect_new, ingest_records
from idwatch.stream.buffer import Buffer, Record
from idwatch.stream.offsets import OffsetLedger, Ranges
from idwatch.stream.publish import Publisher, PublishError

log = logging.getLogger(__name__)

ALL = "all"  #: ``partitions``: assign every partition the topic has (from the broker's metadata)


@dataclass
class StreamConfig:
    brokers: str
    topic: str
    group: str = "idwatch"
    fmt: str = "auto"
    max_events: int = 50_000  #: M: a batch closes at this many records ...
    max_seconds: float = 5.0  #: N: ... or this many seconds after its first record
    #: assign these partitions (no group join); "all": every partition of the topic; None: subscribe
    partitions: list[int] | str | None = None
    #: records fetched ahead of the store before the consumer pauses (memory bound: ~2 batches)
    queue_events: int = 100_000
    detect: bool = True  #: run the detections after each stored batch (off: ingest only)
    #: while records wait in the queue (catching up), detection runs at most this often, so a
    #: backlog is stored at ingest speed rather than one detection run per batch; caught up,
    #: it runs after every batch. An operator's bound on how late an alert may come while behind.
    detect_lag_s: float = 30.0


@dataclass
class StreamStats:
    """What the consumer did so far (counts add up: fetched = ingested records + skipped replay)."""

    fetched: int = 0
    already_stored: int = 0  #: messages below the store's offset mark (a replay after a crash)
    pauses: int = 0
    batches: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class KafkaStreamError(RuntimeError):
    """The broker reported an error the consumer cannot continue past."""


def _line(value: bytes | None) -> bytes:
    """One message as one JSON Lines line.

    A newline outside a JSON string is whitespace, so it becomes a space (a pretty-printed
    record stays one record); an empty message or tombstone becomes ``""`` so it is
    quarantined as "not a JSON object" rather than vanishing as a blank line.
    """
    if not value or not value.strip():
        return b'""'
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


def spool_name(topic: str, ranges: Ranges) -> str:
    """The batch's spool file name: which topic and offsets its lines are (line i = i-th offset)."""
    spans = ",".join(f"p{p}@{a}-{b}" for p, (a, b) in sorted(ranges.items()))
    if len(spans) > 120:
        spans = hashlib.sha256(spans.encode()).hexdigest()[:24]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in topic)
    return f"kafka-{safe}-{spans}.jsonl"


class Fetcher(threading.Thread):
    """The consumer's thread: fetch into the buffer, pause when full, commit what it is given."""

    def __init__(self, cfg: StreamConfig, ledger: OffsetLedger, buffer: Buffer, stats: StreamStats) -> None:
        super().__init__(name="idwatch-kafka-fetch", daemon=True)
        self.cfg, self.ledger, self.buffer, self.stats = cfg, ledger, buffer, stats
        self.commits: queue.Queue[Ranges] = queue.Queue()
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def _start_offset(self, partition: int, committed: int) -> int:
        """Where a partition resumes: the range in flight, else the store's mark, else Kafka's."""
        if partition in self.ledger.pending:
            return self.ledger.pending[partition][0]
        if partition in self.ledger.done:
            return self.ledger.done[partition]
        return committed if committed >= 0 else -2  # -2: OFFSET_BEGINNING

    def _open(self):  # noqa: ANN202 - confluent_kafka.Consumer
        from confluent_kafka import Consumer, TopicPartition

        con = Consumer(
            {
                "bootstrap.servers": self.cfg.brokers,
                "group.id": self.cfg.group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 50,
            }
        )
        parts = self.cfg.partitions
        if parts is None:

            def on_assign(consumer, assigned) -> None:  # noqa: ANN001
                consumer.assign(self._positions(consumer.committed(assigned, timeout=10)))

            con.subscribe([self.cfg.topic], on_assign=on_assign)
            return con
        if parts == ALL:
            meta = con.list_topics(self.cfg.topic, timeout=10).topics[self.cfg.topic]
            if meta.error is not None:
                raise KafkaStreamError(f"topic {self.cfg.topic}: {meta.error}")
            parts = sorted(meta.partitions)
        wanted = [TopicPartition(self.cfg.topic, p) for p in parts]
        con.assign(self._positions(con.committed(wanted, timeout=10)))
        return con

    def _positions(self, committed: list) -> list:  # TopicPartition lists
        from confluent_kafka import TopicPartition

        return [
            TopicPartition(t.topic, t.partition, self._start_offset(t.partition, t.offset)) for t in committed
        ]

    def _commit_due(self, con) -> None:  # noqa: ANN001
        from confluent_kafka import TopicPartition

        while True:
            try:
                ranges = self.commits.get_nowait()
            except queue.Empty:
                return
            con.commit(
                offsets=[TopicPartition(self.cfg.topic, p, last + 1) for p, (_, last) in ranges.items()],
                asynchronous=False,
            )

    def run(self) -> None:
        from confluent_kafka import KafkaError

        try:
            con = self._open()
        except BaseException as exc:  # reported to the batcher, which raises it
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        held: list[Record] = []  # fetched but not yet in the buffer: kept, never dropped
        paused = False
        try:
            while not self._halt.is_set():
                self._commit_due(con)
                if held:
                    held = held[self.buffer.offer(held) :]
                if held and not paused:
                    con.pause(con.assignment())
                    paused = True
                    self.stats.pauses += 1
                elif paused and not held and self.buffer.has_room():
                    con.resume(con.assignment())
                    paused = False
                # polled even while paused: it serves the group's callbacks and heartbeats
                msgs = con.consume(min(10_000, self.buffer.capacity), timeout=0.05 if paused else 0.2)
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise KafkaStreamError(f"kafka: {err}")
                    held.append(
                        Record(m.partition(), m.offset(), _line(m.value()), m.timestamp()[1], m.key())
                    )
                self.stats.fetched += len(msgs)
            self._commit_due(con)
        except BaseException as exc:
            self.error = exc
        finally:
            con.close()


class Batcher:
    """Cuts micro-batches from the buffer; replays the store's batch in flight first."""

    def __init__(self, cfg: StreamConfig, ledger: OffsetLedger, buffer: Buffer, stats: StreamStats) -> None:
        self.cfg, self.ledger, self.buffer, self.stats = cfg, ledger, buffer, stats
        self._carry: list[Record] = []

    def _fresh(self, recs: list[Record]) -> list[Record]:
        keep = [r for r in recs if not self.ledger.already_stored(r.partition, r.offset)]
        self.stats.already_stored += len(recs) - len(keep)
        return keep

    def _pull(self, most: int, timeout: float) -> list[Record]:
        if self._carry:
            got, self._carry = self._carry[:most], self._carry[most:]
            return got
        return self._fresh(self.buffer.take(most, timeout))

    def next_batch(self, stop: Callable[[], bool]) -> list[Record]:
        """The next batch: the pending range exactly, else up to M records or N seconds."""
        if self.ledger.pending:
            return self._replay(stop)
        out: list[Record] = []
        started: float | None = None
        while len(out) < self.cfg.max_events and not stop():
            left = 0.5 if started is None else self.cfg.max_seconds - (time.monotonic() - started)
            if left <= 0:
                break
            out += self._pull(self.cfg.max_events - len(out), min(left, 0.5))
            if out and started is None:
                started = time.monotonic()
        return out

    def _replay(self, stop: Callable[[], bool]) -> list[Record]:
        want = dict(self.ledger.pending)
        out: list[Record] = []
        reached = {p: False for p in want}
        while not all(reached.values()) and not stop():
            for r in self._fresh(self.buffer.take(10_000, 0.5)):  # the carry is empty here
                span = want.get(r.partition)
                if span is not None and span[0] <= r.offset <= span[1]:
                    out.append(r)
                    reached[r.partition] = reached[r.partition] or r.offset == span[1]
                else:
                    self._carry.append(r)
        return out if all(reached.values()) else []


def _ranges(batch: list[Record]) -> Ranges:
    spans: Ranges = {}
    for r in batch:
        a, b = spans.get(r.partition, (r.offset, r.offset))
        spans[r.partition] = (min(a, r.offset), max(b, r.offset))
    return spans


def publish_pending(store: Store, publisher: Publisher, result: BatchResult) -> None:
    """Send every alert not yet published; a failure is kept for the next batch, never fatal."""
    pending = outbox.unpublished(store)
    if not pending:
        return
    try:
        ids = publisher.publish(pending)
    except PublishError as exc:
        result.publish_error = str(exc)
        log.warning("publishing %d alerts failed (retried after the next batch): %s", len(pending), exc)
        return
    outbox.mark_published(store, ids)
    result.published = len(ids)


def consume(
    store: Store,
    cfg: StreamConfig,
    publisher: Publisher | None = None,
    *,
    stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[BatchResult, list[Record]], None] | None = None,
    stats: StreamStats | None = None,
) -> StreamStats:
    """Consume until ``stop()`` is true: batch, store, note offsets, commit, detect, publish."""
    for left in (store.root / SPOOL).glob("kafka-*.jsonl"):  # spooled by a killed run
        left.unlink(missing_ok=True)
    stats = stats or StreamStats()
    if publisher is not None:
        outbox.start(store)
    ledger = OffsetLedger(store, cfg.topic)
    buffer = Buffer(cfg.queue_events)
    fetcher = Fetcher(cfg, ledger, buffer, stats)
    batcher = Batcher(cfg, ledger, buffer, stats)
    fetcher.start()
    fetcher.ready.wait()

    def halted() -> bool:
        if fetcher.error is not None:
            raise KafkaStreamError(f"the fetch thread failed: {fetcher.error}") from fetcher.error
        return stop()

    undetected = False  # stored batches the detections have not run over yet
    last_detect = time.monotonic()
    try:
        while not halted():
            batch = batcher.next_batch(halted)
            if not batch:
                continue
            batch.sort(key=lambda r: (r.partition, r.offset))  # line i of the spool = i-th offset
            ranges = _ranges(batch)
            ledger.begin(ranges)
            payload = b"\n".join(r.value for r in batch) + b"\n"
            summary = ingest_records(store, payload, cfg.fmt, name=spool_name(cfg.topic, ranges))
            ledger.finish()
            fetcher.commits.put(ranges)  # only now: the batch is in the store
            result = BatchResult(summary, stored_at=time.time())
            undetected = undetected or (summary.stored > 0 and cfg.detect)
            behind = len(buffer) > 0
            if undetected and (not behind or time.monotonic() - last_detect >= cfg.detect_lag_s):
                t0 = time.perf_counter()
                result.new_alerts = detect_new(store)
                result.detect_seconds = time.perf_counter() - t0
                undetected, last_detect = False, time.monotonic()
            if publisher is not None:
                publish_pending(store, publisher, result)
            stats.batches += 1
            if on_batch is not None:
                on_batch(result, batch)
    finally:
        fetcher.stop()
        fetcher.join()
    if fetcher.error is not None:
        raise KafkaStreamError(f"the fetch thread failed: {fetcher.error}") from fetcher.error
    return stats
