"""The notebook API: ``s = idwatch.open(store)``, then Arrow tables of the analysis.

Analysts explore in Jupyter; they want the campaigns, accounts and alerts as tables they can
turn into pandas or polars (``.to_pandas()``, ``polars.from_arrow``), and SQL over the events,
without being able to change the store. Everything here reads ``state/`` (EVENTS.md section 5
shapes, flattened where a table needs it) or runs on the read-only connection of ``idwatch query``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pyarrow as pa

from idwatch.analyst_marks import current_marks
from idwatch.query import check_read_only, read_only_connection
from idwatch.store import Store, StoreError

#: One row per campaign: the section 5 scalars, its counts as columns, lists kept as lists and
#: the nested parts (actor aliases, evidence, hypotheses) as JSON text so every row has one type.
CAMPAIGN_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("actor", pa.string()),
        ("actor_stix_id", pa.string()),
        ("confidence", pa.int64()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")),
        ("probes", pa.int64()),
        ("accounts_probed", pa.int64()),
        ("accounts_attacked", pa.int64()),
        ("accounts_compromised", pa.int64()),
        ("ips", pa.list_(pa.string())),
        ("asns", pa.list_(pa.int64())),
        ("techniques", pa.list_(pa.string())),
        ("tenants", pa.list_(pa.string())),
        ("mark", pa.string()),
        ("evidence_json", pa.string()),
        ("hypotheses_json", pa.string()),
    ]
)
ACCOUNT_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("tenant", pa.string()),
        ("status", pa.string()),
        ("risk", pa.int64()),
        ("campaigns", pa.list_(pa.string())),
        ("alerts", pa.int64()),
    ]
)


def _ts(text: str | None) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class Session:
    """One store, opened for reading. Cheap; each call reads the current state again."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"idwatch.open({str(self.store.root)!r})"

    def campaigns(self) -> pa.Table:
        """One row per campaign (``state/campaigns.json``), state actors first as correlate ranks them."""
        marks = current_marks(self.store, "campaign")
        rows = []
        for c in self.store.read_state_json("campaigns", []) or []:
            actor, counts, infra = c.get("actor") or {}, c.get("counts") or {}, c.get("infrastructure") or {}
            rows.append(
                {
                    "id": c["id"],
                    "kind": c.get("kind"),
                    "actor": actor.get("name"),
                    "actor_stix_id": actor.get("stix_id"),
                    "confidence": actor.get("confidence"),
                    "first_seen": _ts(c.get("first_seen")),
                    "last_seen": _ts(c.get("last_seen")),
                    **{k: int(counts.get(k) or 0) for k in CAMPAIGN_SCHEMA.names[7:11]},
                    "ips": infra.get("ips") or [],
                    "asns": infra.get("asns") or [],
                    "techniques": c.get("techniques") or [],
                    "tenants": c.get("tenants") or [],
                    "mark": (marks.get(c["id"]) or {}).get("verdict"),
                    "evidence_json": json.dumps(c.get("evidence") or []),
                    "hypotheses_json": json.dumps(c.get("hypotheses") or []),
                }
            )
        return pa.Table.from_pylist(rows, schema=CAMPAIGN_SCHEMA)

    def accounts(self) -> pa.Table:
        """One row per account any detection touched (EVENTS.md section 5 account objects)."""
        rows = [
            {n: a.get(n) for n in ACCOUNT_SCHEMA.names}
            for a in self.store.read_state_json("accounts", []) or []
        ]
        return pa.Table.from_pylist(rows, schema=ACCOUNT_SCHEMA)

    def alerts(self) -> pa.Table:
        """Every alert (``idwatch.schema.ALERT_SCHEMA``) with the analyst's current ``mark``."""
        return self.events(
            "SELECT a.*, m.verdict AS mark FROM alerts a LEFT JOIN analyst_marks_current m "
            "ON m.target_kind = 'alert' AND m.target_id = a.alert_id ORDER BY a.last_seen DESC, a.alert_id"
        )

    def events(self, sql: str = "SELECT * FROM events ORDER BY time LIMIT 1000") -> pa.Table:
        """A read-only SELECT over the store's views (``events``, ``alerts``, ``directory``, ...).

        The same rules as ``idwatch query``: one SELECT, on a connection that can read only the
        store. ``analyst_marks_current`` holds the latest mark per alert or campaign.
        """
        check_read_only(sql)
        con = read_only_connection(self.store)
        try:
            con.register("analyst_marks_current", current_marks_table(self.store))
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()


def current_marks_table(store: Store) -> pa.Table:
    from idwatch.analyst_marks import MARK_SCHEMA

    rows = [m for kind in ("alert", "campaign") for m in current_marks(store, kind).values()]
    return pa.Table.from_pylist(rows, schema=MARK_SCHEMA)


def open_store(store: str | os.PathLike[str] | None = None) -> Session:
    """Open an existing store for reading (``None``: ``$IDWATCH_STORE``, else ``./idwatch-data``)."""
    st = Store(store, create=False)
    if not st.root.is_dir():
        raise StoreError(f"no store at {st.root}")
    return Session(st)
