"""Where new alerts go: a Kafka topic and/or a webhook POST (one JSON object per alert)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from idwatch.report.jsonreport import json_default


def _body(alert: dict[str, Any]) -> bytes:
    return json.dumps({**alert, "published_at": time.time()}, default=json_default).encode("utf-8")


class Publisher:
    """Sends each new alert to ``topic`` on ``brokers`` and/or POSTs it to ``webhook``."""

    def __init__(
        self, brokers: str | None = None, topic: str | None = None, webhook: str | None = None
    ) -> None:
        self.topic, self.webhook = topic, webhook
        self._producer = None
        if brokers and topic:
            from confluent_kafka import Producer

            self._producer = Producer({"bootstrap.servers": brokers, "linger.ms": 5})

    def publish(self, alerts: list[dict[str, Any]]) -> int:
        for alert in alerts:
            body = _body(alert)
            if self._producer is not None:
                self._producer.produce(self.topic, body, key=str(alert.get("alert_id", "")).encode())
            if self.webhook:
                req = urllib.request.Request(
                    self.webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
                )
                with urllib.request.urlopen(req, timeout=10):
                    pass
        if self._producer is not None:
            self._producer.flush(30)
        return len(alerts)
