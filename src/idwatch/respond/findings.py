"""What the analysis found, joined with who the accounts are.

Notifications and protective actions both start from the same facts: each account a
campaign touched, at its furthest stage, with the directory row that says who owns it and
whom to tell. This module reads only the store's outputs (``state/campaigns.json`` and the
``directory`` view), so it never depends on how correlation or detection work inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from idwatch.store import Store

STAGE_RANK = {"probed": 0, "attacked": 1, "compromised": 2}


@dataclass(frozen=True)
class Actor:
    """The attributed actor of a campaign (EVENTS.md section 5 ``actor``)."""

    name: str
    aliases: tuple[str, ...] = ()
    stix_id: str | None = None
    confidence: int | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any] | None) -> Actor | None:
        if not obj or not obj.get("name"):
            return None
        conf = obj.get("confidence")
        return cls(
            name=str(obj["name"]),
            aliases=tuple(str(a) for a in obj.get("aliases") or ()),
            stix_id=obj.get("stix_id"),
            confidence=int(conf) if conf is not None else None,
        )


@dataclass(frozen=True)
class TargetedAccount:
    """One account of one campaign, with its directory facts (None when not in the directory)."""

    campaign_id: str
    account: str
    tenant: str | None
    stage: str
    first_seen: str | None
    last_seen: str | None
    display_name: str | None = None
    category: str | None = None
    watchlist: bool = False
    notify: str | None = None
    in_directory: bool = False


@dataclass
class Campaign:
    """A campaign as correlation wrote it, plus the directory-joined accounts."""

    id: str
    actor: Actor | None
    kind: str | None
    first_seen: str | None
    last_seen: str | None
    counts: dict[str, int]
    infrastructure: dict[str, list[Any]]
    techniques: list[str]
    evidence: list[dict[str, Any]]
    raw: dict[str, Any]
    accounts: list[TargetedAccount] = field(default_factory=list)

    @property
    def is_state(self) -> bool:
        """Attributed, and not marked as a non-state (criminal) actor by correlation."""
        return self.actor is not None and (self.kind in (None, "state"))


def load_campaigns(store: Store) -> list[Campaign]:
    """Campaigns from ``state/campaigns.json`` with each account joined to the directory."""
    raw = store.read_state_json("campaigns", default=[]) or []
    rows = [
        {
            "campaign_id": str(c.get("id")),
            "account": str(a.get("account", "")).strip().lower(),
            "tenant": a.get("tenant"),
            "stage": str(a.get("stage") or "probed"),
            "first_seen": _str_or_none(a.get("first_seen")),
            "last_seen": _str_or_none(a.get("last_seen")),
        }
        for c in raw
        for a in c.get("accounts") or []
        if a.get("account")
    ]
    joined = _join_directory(store, rows)
    by_campaign: dict[str, list[TargetedAccount]] = {}
    for row in joined:
        by_campaign.setdefault(row.campaign_id, []).append(row)
    out = []
    for c in raw:
        cid = str(c.get("id"))
        out.append(
            Campaign(
                id=cid,
                actor=Actor.from_json(c.get("actor")),
                kind=c.get("kind"),
                first_seen=_str_or_none(c.get("first_seen")),
                last_seen=_str_or_none(c.get("last_seen")),
                counts={k: int(v or 0) for k, v in (c.get("counts") or {}).items()},
                infrastructure={
                    "ips": [str(i) for i in (c.get("infrastructure") or {}).get("ips") or []],
                    "asns": [
                        int(a) for a in (c.get("infrastructure") or {}).get("asns") or [] if a is not None
                    ],
                },
                techniques=[str(t) for t in c.get("techniques") or []],
                evidence=list(c.get("evidence") or []),
                raw=c,
                accounts=sorted(by_campaign.get(cid, []), key=lambda a: (a.tenant or "", a.account)),
            )
        )
    return out


def tenant_contacts(store: Store, tenants: list[str]) -> dict[str, str]:
    """The security contact of each tenant: the most common ``notify`` value of its accounts."""
    if not tenants:
        return {}
    con = store.connect()
    con.register("wanted", pa.table({"tenant": pa.array(sorted(set(tenants)), pa.string())}))
    rows = con.execute(
        """
        SELECT tenant, notify FROM (
            SELECT d.tenant, d.notify,
                   row_number() OVER (PARTITION BY d.tenant ORDER BY count(*) DESC, d.notify) AS rn
            FROM directory d JOIN wanted w USING (tenant)
            WHERE d.notify IS NOT NULL AND trim(d.notify) <> ''
            GROUP BY d.tenant, d.notify
        ) WHERE rn = 1
        """
    ).fetchall()
    con.close()
    return {t: n.strip() for t, n in rows}


def _join_directory(store: Store, rows: list[dict[str, Any]]) -> list[TargetedAccount]:
    """Join campaign accounts with the directory in DuckDB (the directory may be large)."""
    if not rows:
        return []
    con = store.connect()
    con.register("cacc", pa.Table.from_pylist(rows, schema=_CACC_SCHEMA))
    result = con.execute(
        """
        SELECT c.campaign_id, c.account, coalesce(c.tenant, d.tenant) AS tenant, c.stage,
               c.first_seen, c.last_seen, d.display_name, d.category,
               coalesce(d.watchlist, false) AS watchlist, d.notify, d.account IS NOT NULL AS in_dir
        FROM cacc c
        LEFT JOIN (SELECT DISTINCT ON (lower(account)) * FROM directory) d
               ON lower(d.account) = c.account
        """
    ).fetchall()
    con.close()
    return [
        TargetedAccount(
            campaign_id=r[0],
            account=r[1],
            tenant=r[2],
            stage=r[3],
            first_seen=r[4],
            last_seen=r[5],
            display_name=r[6],
            category=r[7],
            watchlist=bool(r[8]),
            notify=r[9],
            in_directory=bool(r[10]),
        )
        for r in result
    ]


_CACC_SCHEMA = pa.schema(
    [
        pa.field("campaign_id", pa.string()),
        pa.field("account", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("first_seen", pa.string()),
        pa.field("last_seen", pa.string()),
    ]
)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
