"""Deliver messages: SMTP, signed webhooks, or an outbox folder; retry with exponential back-off.

A transport either delivers or raises ``DeliveryError``; the caller decides what a failure
means (``notify`` records it as pending so the next run retries it). Webhook bodies are
signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` so the receiver can check both who
sent a message and that it is fresh (see :func:`verify_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from idwatch.store import atomic_write_bytes

SIGNATURE_HEADER = "X-Idwatch-Signature"
TIMESTAMP_HEADER = "X-Idwatch-Timestamp"
KEY_HEADER = "X-Idwatch-Notification-Key"


class DeliveryError(RuntimeError):
    """A message could not be delivered (this attempt)."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex>`` HMAC of ``"<timestamp>.<body>"`` with the shared secret."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, body: bytes, timestamp: str, signature: str, *, max_age: int = 300) -> bool:
    """Receiver side: constant-time check of the signature and of the timestamp's age."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(time.time() - ts) > max_age:
        return False
    return hmac.compare_digest(sign(secret, body, ts), signature or "")


@dataclass
class SmtpTransport:
    """Send mail through an SMTP relay (``host:port``); STARTTLS and login when configured."""

    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    @classmethod
    def parse(cls, spec: str, **kwargs: Any) -> SmtpTransport:
        host, _, port = spec.rpartition(":") if ":" in spec else (spec, "", "25")
        return cls(host=host or "localhost", port=int(port or 25), **kwargs)

    def send_email(self, msg: EmailMessage) -> str:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise DeliveryError(f"smtp refused recipients: {sorted(refused)}")
        return f"smtp://{self.host}:{self.port}"


@dataclass
class WebhookTransport:
    """POST JSON to a URL, signed with HMAC-SHA256 when a secret is configured."""

    secret: str | None = None
    timeout: float = 10.0

    def post_json(self, url: str, payload: dict[str, Any], *, key: str | None = None) -> str:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "idwatch", TIMESTAMP_HEADER: str(ts)}
        if key:
            headers[KEY_HEADER] = key
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body, ts)
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - URLs come from config
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook {url}: HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"webhook {url}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook {url}: HTTP {status}")
        return url


@dataclass
class OutboxTransport:
    """Write each message to a folder (``<key>.eml`` and ``<key>.json``) for another system to send."""

    folder: Path

    def write(self, key: str, payload: dict[str, Any], msg: EmailMessage | None) -> str:
        try:
            atomic_write_bytes(self.folder / f"{key}.json", json.dumps(payload, indent=2).encode())
            if msg is not None:
                atomic_write_bytes(self.folder / f"{key}.eml", bytes(msg))
        except OSError as exc:
            raise DeliveryError(f"outbox {self.folder}: {exc}") from exc
        return str(self.folder)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per run and the exponential back-off between them."""

    attempts: int = 3
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0

    def delays(self) -> list[float]:
        return [
            min(self.base_delay * self.factor**i, self.max_delay) for i in range(max(self.attempts - 1, 0))
        ]


def with_retry(
    send: Callable[[], str], retry: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep
) -> tuple[str | None, int, str | None]:
    """Run ``send`` until it succeeds or the attempts run out: (where, attempts, last error)."""
    delays = retry.delays()
    error: str | None = None
    for attempt in range(1, retry.attempts + 1):
        try:
            return send(), attempt, None
        except DeliveryError as exc:
            error = str(exc)
            if attempt <= len(delays):
                sleep(delays[attempt - 1])
    return None, retry.attempts, error
