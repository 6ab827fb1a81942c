"""``idwatch notify``: tell the targeted organisations (and, by policy, people) exactly once.

One run: retry what earlier runs could not deliver, plan the notices still owed (see
:mod:`idwatch.respond.plan`), render them, deliver each with back-off, and record every
outcome in the audit log. A failed delivery is recorded as pending with its whole message,
reported in the summary, and retried by the next run; nothing is silently dropped. A message
written to an outbox folder is *queued*, not sent: it keeps its message, and the next run
with a relay (SMTP or a webhook) delivers it and takes its files out of the outbox.
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from idwatch.analyst_marks import false_positive_campaigns
from idwatch.respond.audit import PENDING, QUEUED, SENT, AuditLog, utcnow
from idwatch.respond.delivery import (
    DeliveryError,
    OutboxTransport,
    RetryPolicy,
    SmtpTransport,
    WebhookTransport,
    webhook_key,
    with_retry,
)
from idwatch.respond.findings import load_campaigns, tenant_contacts
from idwatch.respond.plan import plan_notices, qualifying, tenant_worthy
from idwatch.respond.policy import NotifyPolicy
from idwatch.respond.render import render, to_email, to_json
from idwatch.store import Store


@dataclass
class NotifyOptions:
    """Where messages go. ``outbox`` wins over ``webhook_url``, which wins over direct delivery."""

    policy: NotifyPolicy = field(default_factory=NotifyPolicy)
    dry_run: bool = False
    outbox: Path | None = None
    smtp: SmtpTransport | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.webhook_secret:
            webhook_key(self.webhook_secret)  # a bad secret is an error now, not on every message


@dataclass
class NotifySummary:
    """What one run did: ``planned + earlier == sent + queued + pending`` (outside a dry run).

    ``planned`` are this run's new notices, ``earlier`` the messages of earlier runs it tried
    again (pending ones; queued ones too when it delivers), ``retried`` those of them that went
    out. ``queued`` > 0: messages are files in the outbox, not delivered; ``pending`` > 0: some
    failed and wait for a later run.
    """

    dry_run: bool
    planned: int = 0
    earlier: int = 0
    sent: int = 0
    queued: int = 0
    retried: int = 0
    pending: int = 0
    unreachable: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "planned": self.planned,
            "earlier": self.earlier,
            "sent": self.sent,
            "queued": self.queued,
            "retried": self.retried,
            "pending": self.pending,
            "unreachable": self.unreachable,
            "notices": self.notices,
        }


def run_notify(
    store: Store,
    options: NotifyOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifySummary:
    """Plan, render, deliver and audit the notifications owed for the store's campaigns."""
    audit = AuditLog(store)
    summary = NotifySummary(dry_run=options.dry_run)

    # An outbox run leaves queued messages where they are; a run that delivers sends them
    # (a dry run lists them either way).
    delivers = options.outbox is None or options.dry_run
    earlier = audit.pending() + (audit.queued() if delivers else [])
    for record in earlier:
        if options.dry_run:
            summary.notices.append(_brief(record, record["status"]))
        else:
            summary.earlier += 1
            _attempt(record, options, audit, summary, sleep, retry_of_earlier_run=True)

    dismissed = false_positive_campaigns(store)  # an analyst's "false positive" mark: nobody is told
    campaigns = [c for c in load_campaigns(store) if c.id not in dismissed]
    tenants = [
        a.tenant
        for c in campaigns
        if qualifying(c, options.policy)
        for a in c.accounts
        if a.tenant and tenant_worthy(a, options.policy)
    ]
    contacts = tenant_contacts(store, tenants)
    notices, summary.unreachable = plan_notices(campaigns, contacts, options.policy, audit.told())
    summary.planned = len(notices)
    now = datetime.now(UTC)
    for notice in notices:
        rendered = render(notice)
        payload = to_json(notice, rendered)
        msg = (
            to_email(notice, rendered, options.policy.sender, now=now) if notice.channel == "email" else None
        )
        record: dict[str, Any] = {
            "key": notice.key,
            "status": PENDING,
            "audience": notice.audience,
            "scope": notice.scope,
            "tenant": notice.tenant,
            "to": notice.address,
            "channel": notice.channel,
            "facts": [f.as_list() for f in notice.facts],
            "campaigns": notice.campaigns,
            "why": notice.why,
            "subject": rendered.subject,
            "created_at": utcnow(),
            "attempts": 0,
            "message": {"payload": payload, "eml": msg.as_string() if msg is not None else None},
        }
        if options.dry_run:
            summary.notices.append(_brief(record, "dry_run"))
            continue
        _attempt(record, options, audit, summary, sleep, retry_of_earlier_run=False)
    return summary


def _attempt(
    record: dict[str, Any],
    options: NotifyOptions,
    audit: AuditLog,
    summary: NotifySummary,
    sleep: Callable[[float], None],
    *,
    retry_of_earlier_run: bool,
) -> None:
    message = record["message"]
    eml = (
        email.message_from_string(message["eml"], policy=email.policy.default) if message.get("eml") else None
    )

    def send() -> str:
        return _deliver(options, record, message["payload"], eml)  # type: ignore[arg-type]

    where, attempts, error = with_retry(send, options.retry, sleep=sleep)
    record["attempts"] = int(record.get("attempts", 0)) + attempts
    record["last_attempt_at"] = utcnow()
    if where is not None and options.outbox is not None:
        record.update(status=QUEUED, queued_at=utcnow(), outbox=where, last_error=None)
        summary.queued += 1
        summary.retried += int(retry_of_earlier_run)
    elif where is not None:
        if record.get("status") == QUEUED:
            OutboxTransport(Path(record["outbox"])).remove(record["key"])
        record.update(status=SENT, sent_at=utcnow(), delivered_via=where, last_error=None)
        record.pop("message", None)
        summary.sent += 1
        summary.retried += int(retry_of_earlier_run)
    else:
        record.update(status=PENDING, last_error=error)
        summary.pending += 1
    audit.upsert(record)
    summary.notices.append(_brief(record, record["status"]))


def _deliver(
    options: NotifyOptions, record: dict[str, Any], payload: dict[str, Any], eml: EmailMessage | None
) -> str:
    key = record["key"]
    if options.outbox is not None:
        return OutboxTransport(options.outbox).write(key, payload, eml)
    hook = WebhookTransport(secret=options.webhook_secret)
    if options.webhook_url:
        return hook.post_json(options.webhook_url, payload, key=key)
    if record["channel"] == "webhook":
        return hook.post_json(record["to"], payload, key=key)
    if options.smtp is None or eml is None:
        raise DeliveryError("no SMTP relay configured (give --smtp HOST:PORT, --webhook URL or --outbox DIR)")
    return options.smtp.send_email(eml)


def _brief(record: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "key": record["key"],
        "status": status,
        "audience": record["audience"],
        "tenant": record["tenant"],
        "to": record["to"],
        "channel": record["channel"],
        "why": record["why"],
        "subject": record["subject"],
        "error": record.get("last_error"),
    }
