"""The audit log of what was sent (or is still owed): what, to whom, when, why, under which key.

Kept in the store (``state/<name>.json``) and rewritten atomically after every delivery
attempt, so a crash mid-run loses at most the record of the message being sent at that
moment (which then goes out again, with the same key and Message-ID, for receivers to
dedupe). A pending record keeps the whole message, so it is retried as it was written
even if the analysis has since changed: a notification is never lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from idwatch.respond.findings import STAGE_RANK
from idwatch.store import Store

SENT = "sent"
PENDING = "pending"
#: Written to an outbox folder for another system to send: not delivered, so a later run with a
#: relay (``--smtp``, ``--webhook``) delivers it; an outbox run does not write it again.
QUEUED = "queued"


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AuditLog:
    """Records keyed by their stable ``key``; ``status`` is ``sent``, ``queued`` or ``pending``."""

    def __init__(self, store: Store, name: str = "notifications") -> None:
        self.store = store
        self.name = name
        data = store.read_state_json(name, default=None) or {}
        self.records: dict[str, dict[str, Any]] = {r["key"]: r for r in data.get("records", [])}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def pending(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r.get("status") == PENDING]

    def queued(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r.get("status") == QUEUED]

    def upsert(self, record: dict[str, Any]) -> None:
        self.records[record["key"]] = record
        self.save()

    def save(self) -> None:
        ordered = sorted(self.records.values(), key=lambda r: (r.get("created_at", ""), r["key"]))
        self.store.write_state_json(self.name, {"version": 1, "records": ordered})

    def told(self) -> dict[tuple[str, str, str, str], int]:
        """``(audience, scope, account, actor) -> furthest stage rank`` over sent, queued and pending
        notices (each is told, or will be by a later run: none is planned a second time)."""
        out: dict[tuple[str, str, str, str], int] = {}
        for r in self.records.values():
            if r.get("status") not in (SENT, QUEUED, PENDING):
                continue
            for account, stage, actor in r.get("facts", []):
                k = (r["audience"], r["scope"], account, actor)
                out[k] = max(out.get(k, -1), STAGE_RANK.get(stage, 0))
        return out
