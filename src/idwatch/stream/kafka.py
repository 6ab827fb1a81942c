"""Kafka consumer: micro-batches of a topic into the store, offsets committed after the store.

At-least-once: the offsets of a batch are committed only after its ingest returned (the
store is durable); a crash before that replays the batch and idempotent ingest (event_id)
drops what was already stored. ``assign()`` reads given partitions without a group join
(slow on some brokers); ``subscribe`` mode joins the group.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from idwatch.store import Store
from idwatch.stream.batch import BatchResult, Busy, Gate, detect_new
from idwatch.stream.publish import Publisher


@dataclass
class StreamConfig:
    brokers: str
    topic: str
    group: str = "idwatch"
    fmt: str = "auto"
    max_events: int = 50_000  #: M: a batch closes at this many records ...
    max_seconds: float = 5.0  #: N: ... or this many seconds after its first record
    partitions: list[int] | None = None  #: assign these partitions (no group join); None: subscribe


def _consumer(cfg: StreamConfig):  # noqa: ANN202 - confluent_kafka.Consumer
    from confluent_kafka import Consumer, TopicPartition

    con = Consumer(
        {
            "bootstrap.servers": cfg.brokers,
            "group.id": cfg.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
        }
    )
    if cfg.partitions is None:
        con.subscribe([cfg.topic])
    else:
        # resume from the group's committed offsets (earliest when none)
        wanted = [TopicPartition(cfg.topic, p) for p in cfg.partitions]
        committed = con.committed(wanted, timeout=10)
        con.assign(
            [tp if tp.offset >= 0 else TopicPartition(cfg.topic, tp.partition, -2) for tp in committed]
        )
    return con


def consume(
    store: Store,
    cfg: StreamConfig,
    publisher: Publisher | None = None,
    *,
    stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> None:
    """Consume until ``stop()`` is true: batch, store, commit, detect, publish."""
    from confluent_kafka import KafkaError

    con = _consumer(cfg)
    gate = Gate(depth=1)
    try:
        while not stop():
            lines: list[bytes] = []
            started: float | None = None
            while len(lines) < cfg.max_events and not stop():
                wait = 0.5 if started is None else max(0.0, cfg.max_seconds - (time.monotonic() - started))
                if started is not None and wait == 0.0:
                    break
                msgs = con.consume(min(cfg.max_events - len(lines), 10_000), timeout=min(wait, 0.5))
                for m in msgs:
                    if m.error() is not None:
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            raise RuntimeError(f"kafka: {m.error()}")
                        continue
                    lines.append(m.value().rstrip(b"\n"))
                if lines and started is None:
                    started = time.monotonic()
            if not lines:
                continue
            while True:
                try:
                    result = gate.run(store, b"\n".join(lines) + b"\n", cfg.fmt, detect=False)
                    break
                except Busy:  # cannot happen with one consumer thread; pause rather than drop
                    con.pause(con.assignment())
                    time.sleep(0.1)
                    con.resume(con.assignment())
            con.commit(asynchronous=False)  # only now: the batch is in the store
            if result.ingest.stored:
                result.new_alerts = detect_new(store)
                if publisher is not None:
                    publisher.publish(result.new_alerts)
            if on_batch is not None:
                on_batch(result)
    finally:
        con.close()
