"""New alerts leave after their micro-batch, once each, to a webhook and a Kafka topic."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from idwatch.store import Store
from idwatch.stream import outbox
from idwatch.stream.batch import BatchResult, detect_new, ingest_records
from idwatch.stream.kafka import ALL, StreamConfig, consume, publish_pending
from idwatch.stream.publish import Publisher

from .conftest import create_topic, office_history, produce, spray, sprays_from


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict]
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.status == 200:
            self.received.append(json.loads(body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Receiver]]]:
    """A real HTTP server on 127.0.0.1 that keeps what it is sent."""
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", handler
    server.shutdown()
    server.server_close()


def _read_topic(brokers: str, topic: str, expected: int) -> list[dict]:
    from confluent_kafka import Consumer, TopicPartition

    con = Consumer({"bootstrap.servers": brokers, "group.id": "reader", "enable.auto.commit": False})
    parts = con.list_topics(topic, timeout=10).topics[topic].partitions
    con.assign([TopicPartition(topic, p, -2) for p in parts])
    out: list[dict] = []
    deadline = time.monotonic() + 30  # a guard against a hang, not a timing assertion
    while len(out) < expected and time.monotonic() < deadline:
        out += [json.loads(m.value()) for m in con.consume(1000, timeout=0.3) if m.error() is None]
    for _ in range(5):  # then look a little longer for anything sent twice
        out += [json.loads(m.value()) for m in con.consume(1000, timeout=0.3) if m.error() is None]
    con.close()
    return out


def _stored(root: Path) -> int:
    con = Store(str(root)).connect()
    try:
        return con.execute("SELECT COUNT(*) FROM events").fetchall()[0][0]
    finally:
        con.close()


def _consume_until(store: Store, broker: str, publisher: Publisher, results: list, records: int) -> None:
    """Stream ``signins`` until the batches have read ``records`` records in all."""
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
    consume(
        store,
        StreamConfig(broker, "signins", partitions=ALL, max_events=10_000, max_seconds=0.5),
        publisher,
        stop=lambda: sum(r.ingest.records for r in results) >= records or time.monotonic() > deadline,
        on_batch=lambda result, batch: results.append(result),
    )


def test_alerts_of_each_batch_reach_the_webhook_and_the_topic_once(broker, webhook, tmp_path):
    url, receiver = webhook
    create_topic(broker, "signins", partitions=1)
    create_topic(broker, "alerts", partitions=1)
    root = tmp_path / "store"
    store = Store(str(root))
    publisher = Publisher(broker, "alerts", url)
    rounds = [
        office_history() + spray(130, "203.0.113.9", "s1"),
        spray(130, "203.0.113.9", "s1"),  # the same spray again: duplicates, nothing new to send
        spray(160, "198.18.7.7", "s2"),
    ]
    results: list[BatchResult] = []
    want = 0
    for records in rounds:
        produce(broker, "signins", records)
        want += len(records)
        _consume_until(store, broker, publisher, results, want)
    alerts = store.read_state_table("alerts").to_pylist()
    ids = sorted(a["alert_id"] for a in alerts)
    assert sprays_from(alerts) == {"203.0.113.9", "198.18.7.7"}
    posted = [a["alert_id"] for a in receiver.received]
    assert sorted(posted) == ids  # every alert, none twice
    on_topic = [a["alert_id"] for a in _read_topic(broker, "alerts", len(ids))]
    assert sorted(on_topic) == ids
    assert sum(r.published for r in results) == len(ids)
    assert _stored(root) == len(rounds[0]) + len(rounds[2])


def test_alerts_a_receiver_refused_go_out_after_a_later_batch(webhook, tmp_path, monkeypatch):
    url, receiver = webhook
    monkeypatch.setattr("idwatch.stream.publish.RETRY_BACKOFF", (0.0,))
    store = Store(str(tmp_path / "s"))
    outbox.start(store)
    publisher = Publisher(webhook=url)
    ingest_records(store, b"\n".join(office_history() + spray(130, "203.0.113.9", "s1")) + b"\n")
    detect_new(store)
    pending = outbox.unpublished(store)
    assert sprays_from(pending) == {"203.0.113.9"}

    receiver.status = 503  # the receiver is down: nothing is marked as sent
    down = BatchResult(ingest_records(store, b"\n".join(spray(131, "203.0.113.9", "s1")) + b"\n"))
    publish_pending(store, publisher, down)
    assert down.publish_error and down.published == 0
    assert len(outbox.unpublished(store)) == len(pending)

    receiver.status = 200
    up = BatchResult(down.ingest)
    publish_pending(store, publisher, up)
    assert up.published == len(pending) and up.publish_error is None
    assert sorted(a["alert_id"] for a in receiver.received) == sorted(a["alert_id"] for a in pending)
    assert outbox.unpublished(store) == []


def test_alerts_already_in_the_store_when_streaming_starts_are_not_sent_again(tmp_path):
    store = Store(str(tmp_path / "s"))
    ingest_records(store, b"\n".join(office_history() + spray(130, "203.0.113.9", "s1")) + b"\n")
    assert detect_new(store)
    outbox.start(store)
    assert outbox.unpublished(store) == []
