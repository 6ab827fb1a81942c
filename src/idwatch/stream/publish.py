"""Where new alerts go: a Kafka topic and/or a webhook POST (one JSON object per alert).

Delivery is at least once: the Kafka message key is the ``alert_id``, so a consumer that keys
on it (or a compacted topic) sees each alert once even after a retry or a crash replay.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from idwatch.report.jsonreport import json_default

log = logging.getLogger(__name__)

#: Seconds between webhook attempts: a receiver restarting (seconds) is ridden out, an outage
#: is not waited for (the alerts stay unpublished and are retried after the next batch).
RETRY_BACKOFF = (0.2, 1.0, 3.0)


class PublishError(RuntimeError):
    """An alert could not be delivered; it stays unpublished and is retried later."""


def _body(alert: dict[str, Any]) -> bytes:
    return json.dumps({**alert, "published_at": time.time()}, default=json_default).encode("utf-8")


class Publisher:
    """Sends each new alert to ``topic`` on ``brokers`` and/or POSTs it to ``webhook``."""

    def __init__(
        self, brokers: str | None = None, topic: str | None = None, webhook: str | None = None
    ) -> None:
        if not (webhook or (brokers and topic)):
            raise ValueError("a publisher needs a webhook URL or brokers and a topic")
        self.topic, self.webhook = topic, webhook
        self._producer = None
        if brokers and topic:
            from confluent_kafka import Producer

            self._producer = Producer({"bootstrap.servers": brokers, "linger.ms": 5, "acks": "all"})

    def _post(self, body: bytes) -> None:
        assert self.webhook is not None
        req = urllib.request.Request(
            self.webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        for attempt, pause in enumerate((0.0, *RETRY_BACKOFF)):
            time.sleep(pause)
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    if resp.status < 300:
                        return
            except (urllib.error.URLError, OSError) as exc:
                if attempt == len(RETRY_BACKOFF):
                    raise PublishError(f"webhook {self.webhook}: {exc}") from exc
                log.warning("webhook %s: %s (retrying)", self.webhook, exc)
        raise PublishError(f"webhook {self.webhook}: no success after {len(RETRY_BACKOFF) + 1} attempts")

    def publish(self, alerts: list[dict[str, Any]]) -> list[str]:
        """Deliver every alert everywhere, or raise :class:`PublishError` (then retry them all)."""
        failed: list[str] = []
        if self._producer is not None:

            def delivered(err, msg) -> None:  # noqa: ANN001
                if err is not None:
                    failed.append(f"{msg.key().decode()}: {err}")

            for alert in alerts:
                self._producer.produce(
                    self.topic, _body(alert), key=str(alert["alert_id"]).encode(), on_delivery=delivered
                )
            if self._producer.flush(30) > 0 or failed:
                raise PublishError(f"kafka topic {self.topic}: not all delivered {failed[:3]}")
        if self.webhook:
            for alert in alerts:
                self._post(_body(alert))
        return [str(a["alert_id"]) for a in alerts]
