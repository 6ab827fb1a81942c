"""Deliver messages: SMTP, signed webhooks, or an outbox folder; retry with exponential back-off.

A transport either delivers or raises ``DeliveryError``; the caller decides what a failure
means (``notify`` records it as pending so the next run retries it). Webhooks follow the
Standard Webhooks specification (https://www.standardwebhooks.com/), so receivers verify
them with a stock library: ``webhook-id`` (the notice's or action's key, the same on every
retry so the receiver can drop duplicates), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, keyed with the
bytes of a ``whsec_<base64>`` secret (:func:`generate_secret` makes one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from idwatch.store import atomic_write_bytes

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
KEY_HEADER = "X-Idwatch-Notification-Key"
SECRET_PREFIX = "whsec_"
# The spec's receivers reject timestamps more than five minutes off their clock (replay window).
MAX_AGE_SECONDS = 300
# The spec asks for secrets of 24 to 64 random bytes; fewer is guessable offline from one signed body.
_MIN_SECRET_BYTES = 24


class DeliveryError(RuntimeError):
    """A message could not be delivered (this attempt)."""


class WebhookSecretError(ValueError):
    """The webhook secret is not a Standard Webhooks ``whsec_<base64>`` secret."""


def generate_secret() -> str:
    """A new ``whsec_`` secret (32 random bytes) to configure on both sides."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; a clear error for anything else."""
    text = secret.strip()
    encoded = text.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not text.startswith(SECRET_PREFIX) or len(key) < _MIN_SECRET_BYTES:
        raise WebhookSecretError(
            "the webhook secret must be a Standard Webhooks secret, 'whsec_' + base64 of 24-64 random "
            "bytes (make one with: python -c 'from idwatch.respond.delivery import generate_secret; "
            "print(generate_secret())')"
        )
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>``: HMAC-SHA256 of ``"<id>.<timestamp>.<body>"`` with the secret's key."""
    mac = hmac.new(webhook_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one message."""
    ts = int(time.time() if now is None else now)
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, msg_id, ts, body)}


def verify_signature(
    secret: str, body: bytes, headers: Mapping[str, str], *, max_age: int = MAX_AGE_SECONDS
) -> bool:
    """Receiver side (for Python receivers without the ``standardwebhooks`` package): constant-time."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, given = lower.get(ID_HEADER), lower.get(TIMESTAMP_HEADER), lower.get(SIGNATURE_HEADER)
    try:
        ts = int(stamp or "")
    except ValueError:
        return False
    if not msg_id or not given or abs(time.time() - ts) > max_age:
        return False
    expected = sign(secret, msg_id, ts, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in given.split(" "))


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
    """POST JSON to a URL, signed per Standard Webhooks when a secret is configured."""

    secret: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.secret:
            webhook_key(self.secret)  # fail before the first message, not on each one

    def post_json(self, url: str, payload: dict[str, Any], *, key: str | None = None) -> str:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        msg_id = key or "msg_" + hashlib.sha256(body).hexdigest()[:32]
        headers = {"Content-Type": "application/json", "User-Agent": "idwatch", ID_HEADER: msg_id}
        if key:
            headers[KEY_HEADER] = key
        if self.secret:
            headers |= signed_headers(self.secret, msg_id, body)
        else:
            headers[TIMESTAMP_HEADER] = str(int(time.time()))
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

    def remove(self, key: str) -> None:
        """Take a message out once delivered, so the folder holds only what still waits."""
        for suffix in (".json", ".eml"):
            (self.folder / f"{key}{suffix}").unlink(missing_ok=True)


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
