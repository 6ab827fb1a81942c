"""``idwatch respond``: the protective actions a provider should take, and (on request) asks for them.

Per account, by how far the attacker got: a compromised account has its sessions revoked,
its password reset and its MFA registered again (the attacker may have added a method); an
attacked account is enrolled in the high-risk protection programme. Per campaign, its
infrastructure is blocked: its IPs outright when the campaign is attributed (challenged
otherwise), its networks (ASNs) only for the campaign's targeted accounts, because blocking
a whole network for everyone would hurt its other users.

Actions are plain JSON. They are sent to the provider's webhook only when asked to
(``execute=True``); each action has a stable id, is recorded in the store's
``state/actions.json`` audit log and is never sent twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from idwatch.respond.audit import PENDING, SENT, AuditLog, utcnow
from idwatch.respond.delivery import RetryPolicy, WebhookTransport, with_retry
from idwatch.respond.findings import Campaign, load_campaigns
from idwatch.store import Store

ACCOUNT_ACTIONS = {
    "compromised": [
        ("revoke_sessions", "critical", "the attacker got in; end every session and token they may hold"),
        ("force_password_reset", "critical", "the attacker may know or have set the password"),
        ("require_mfa_reregistration", "critical", "the attacker may have registered their own MFA method"),
    ],
    "attacked": [
        ("enroll_watchlist", "high", "targeted by {who}: stronger recovery and lower detection thresholds"),
    ],
}


def _action_id(kind: str, *key: Any) -> str:
    return "act-" + hashlib.sha256(json.dumps([kind, *key], default=str).encode()).hexdigest()[:24]


def plan_actions(
    campaigns: list[Campaign], *, campaign_id: str | None = None, account: str | None = None
) -> list[dict[str, Any]]:
    """Protective actions for the chosen campaigns (or one account), deduplicated by action id."""
    account = account.strip().lower() if account else None
    actions: dict[str, dict[str, Any]] = {}
    for camp in campaigns:
        if campaign_id and camp.id != campaign_id:
            continue
        who = camp.actor.name if camp.actor else "an unattributed actor"
        for acc in camp.accounts:
            if account and acc.account != account:
                continue
            for kind, priority, why in ACCOUNT_ACTIONS.get(acc.stage, []):
                if kind == "enroll_watchlist" and (acc.watchlist or not camp.is_state):
                    continue
                aid = _action_id(kind, acc.account)
                actions[aid] = {
                    "id": aid,
                    "type": kind,
                    "priority": priority,
                    "target": {"account": acc.account, "tenant": acc.tenant},
                    "campaign": camp.id,
                    "actor": camp.actor.name if camp.actor else None,
                    "reason": f"{acc.stage} in campaign {camp.id} by {who}: " + why.format(who=who),
                }
        if account:
            continue
        targeted = sorted({a.account for a in camp.accounts if a.stage in ("attacked", "compromised")})
        mode = "block" if camp.actor else "challenge"
        for ip in camp.infrastructure.get("ips", []):
            aid = _action_id("block_ip", ip)
            actions[aid] = {
                "id": aid,
                "type": "block_ip",
                "priority": "high" if camp.actor else "medium",
                "target": {"ip": ip, "mode": mode, "scope": "all"},
                "campaign": camp.id,
                "actor": camp.actor.name if camp.actor else None,
                "reason": f"infrastructure of campaign {camp.id} ({who})",
            }
        for asn in camp.infrastructure.get("asns", []):
            if not targeted or camp.actor is None:
                continue
            aid = _action_id("block_asn", asn, targeted)
            actions[aid] = {
                "id": aid,
                "type": "block_asn",
                "priority": "medium",
                "target": {
                    "asn": int(asn),
                    "mode": "challenge",
                    "scope": "targeted_accounts",
                    "accounts": targeted,
                },
                "campaign": camp.id,
                "actor": camp.actor.name if camp.actor else None,
                "reason": f"network of campaign {camp.id} ({who}); scoped to its targets, not to everyone",
            }
    order = {"critical": 0, "high": 1, "medium": 2}
    return sorted(actions.values(), key=lambda a: (order[a["priority"]], a["type"], a["id"]))


@dataclass
class RespondSummary:
    """The planned actions and, when executed, what the provider's webhook accepted."""

    dry_run: bool
    actions: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    already_done: int = 0
    pending: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "planned": len(self.actions),
            "sent": self.sent,
            "already_done": self.already_done,
            "pending": self.pending,
            "actions": self.actions,
        }


def run_respond(
    store: Store,
    *,
    campaign_id: str | None = None,
    account: str | None = None,
    execute: bool = False,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RespondSummary:
    """Plan the actions; with ``execute`` and a webhook, POST each one not already done (signed)."""
    actions = plan_actions(load_campaigns(store), campaign_id=campaign_id, account=account)
    summary = RespondSummary(dry_run=not (execute and webhook_url))
    audit = AuditLog(store, "actions")
    hook = WebhookTransport(secret=webhook_secret)
    for action in actions:
        done = audit.get(action["id"])
        status = done["status"] if done else "planned"
        if summary.dry_run or status == SENT:
            summary.already_done += int(status == SENT)
            summary.actions.append(dict(action, status="done" if status == SENT else status))
            continue
        payload = {"type": "idwatch.action", "version": 1, "action": action}
        where, attempts, error = with_retry(
            lambda p=payload, a=action: hook.post_json(webhook_url, p, key=a["id"]),  # type: ignore[arg-type]
            retry or RetryPolicy(),
            sleep=sleep,
        )
        record = dict(done or {"key": action["id"], "created_at": utcnow(), "attempts": 0}, action=action)
        record["attempts"] = int(record["attempts"]) + attempts
        if where:
            record.update(status=SENT, sent_at=utcnow(), delivered_via=where, last_error=None)
            summary.sent += 1
        else:
            record.update(status=PENDING, last_error=error)
            summary.pending += 1
        audit.upsert(record)
        summary.actions.append(dict(action, status="sent" if where else "pending", error=error))
    return summary
