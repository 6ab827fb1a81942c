"""What the API and the console read: the analysis results of ``state/``, marks attached.

The JSON files and tables are loaded once per change of their file (mtime and size), so a page
of 100k accounts is a filter and a slice of an Arrow table in DuckDB, not a re-read of the file.
Shapes are EVENTS.md section 5; times leave as datetimes and are written RFC 3339 by the app.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from idwatch.analyst_marks import current_marks
from idwatch.query import read_only_connection
from idwatch.report.model import Report, build_report
from idwatch.schema import ALERT_SCHEMA
from idwatch.store import Store

T = TypeVar("T")
STATUS_ORDER = {"compromised": 0, "attacked": 1, "probed": 2}
#: Evidence events shown with each alert in a list; the rest are one pivot away (`event_ids`).
EVIDENCE_PER_ALERT = 20
EVIDENCE_COLUMNS = (
    "event_id, time, account, tenant, activity, outcome, src_ip, country, asn, asn_org, "
    "network_type, user_agent, ua_family, ua_os, device_id, session_id, source"
)
ACCOUNT_COLUMNS = pa.schema(
    [
        ("account", pa.string()),
        ("tenant", pa.string()),
        ("status", pa.string()),
        ("risk", pa.int64()),
        ("campaigns", pa.list_(pa.string())),
        ("alerts", pa.int64()),
        ("category", pa.string()),
    ]
)


@dataclass
class Page:
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        nxt = self.offset + self.limit if self.offset + self.limit < self.total else None
        return {
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "next_offset": nxt,
            "items": self.items,
        }


def _mark_brief(mark: dict[str, Any] | None) -> dict[str, Any] | None:
    if not mark:
        return None
    return {k: mark[k] for k in ("verdict", "comment", "author", "created_at")}


class Catalog:
    """The store's analysis results for the server, cached per file version."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[int, int], Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, files: list[str], load: Callable[[], T]) -> T:
        stamp = []
        for name in files:
            path = self.store.state_dir / name
            st = path.stat() if path.exists() else None
            stamp.append((st.st_mtime_ns, st.st_size) if st else (0, 0))
        version = tuple(stamp)
        with self._lock:
            hit = self._cache.get(key)
        if hit and hit[0] == version:
            return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (version, value)
        return value

    # ---------------------------------------------------------------- marks
    def marks(self, kind: str) -> dict[str, dict[str, Any]]:
        return self._cached(
            f"marks-{kind}", ["analyst_marks.parquet"], lambda: current_marks(self.store, kind)
        )

    # ---------------------------------------------------------------- headline
    def report(self) -> Report:
        """The HTML report's model (headline sentences, top evidence, per-day timeline)."""
        files = ["campaigns.json", "accounts.json", "campaign_timeline.parquet"]
        return self._cached("report", files, lambda: build_report(self.store))

    def headline(self) -> dict[str, Any]:
        report = self.report()
        marks = self.marks("campaign")
        return {
            "totals": report.totals,
            "adds_up": self.store.read_state_json("headline", None),
            "campaigns": [
                {
                    "id": v.id,
                    "kind": v.kind,
                    "name": v.name,
                    "actor": v.actor,
                    "headline": v.headline,
                    "attribution": v.attribution,
                    "counts": v.counts,
                    "confidence": (v.actor or {}).get("confidence"),
                    "closest": {k: (v.closest or {}).get(k) for k in ("name", "confidence", "words")}
                    if v.closest
                    else None,
                    "top_evidence": v.top_evidence,
                    "first_seen": v.first_seen,
                    "last_seen": v.last_seen,
                    "mark": _mark_brief(marks.get(v.id)),
                }
                for v in report.campaigns
            ],
        }

    # ---------------------------------------------------------------- campaigns
    def _campaigns(self) -> list[dict[str, Any]]:
        return self._cached(
            "campaigns", ["campaigns.json"], lambda: self.store.read_state_json("campaigns", []) or []
        )

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign, section 5 keys without the account list (see :meth:`campaign`)."""
        marks = self.marks("campaign")
        out = []
        for c in self._campaigns():
            item = {k: v for k, v in c.items() if k not in ("accounts", "hypotheses", "alert_ids")}
            item["n_accounts"] = len(c.get("accounts") or [])
            item["mark"] = _mark_brief(marks.get(c["id"]))
            out.append(item)
        return out

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """One campaign with its story: timeline, funnel, targets, infrastructure, hypotheses, chains."""
        raw = next((c for c in self._campaigns() if c["id"] == campaign_id), None)
        if raw is None:
            return None
        view = next((v for v in self.report().campaigns if v.id == campaign_id), None)
        chains = self.chains([a["account"] for a in raw.get("accounts") or []])
        counts = raw.get("counts") or {}
        tenants = {a["account"]: a["tenant"] for a in (view.accounts if view else [])}
        return {
            **{k: v for k, v in raw.items() if k != "accounts"},
            "headline": view.headline if view else None,
            "attribution": view.attribution if view else None,
            "mark": _mark_brief(self.marks("campaign").get(campaign_id)),
            "timeline": view.timeline if view else [],
            "funnel": [
                {"stage": "probes", "count": int(counts.get("probes") or 0)},
                {"stage": "accounts_attacked", "count": int(counts.get("accounts_attacked") or 0)},
                {"stage": "accounts_compromised", "count": int(counts.get("accounts_compromised") or 0)},
            ],
            "targets": {
                "categories": raw.get("categories") or {},
                "tenants": view.tenants if view else raw.get("tenants") or [],
            },
            "accounts": [
                {
                    **a,
                    "tenant": tenants.get(a["account"], a.get("tenant")),
                    "chain": chains.get(a["account"], []),
                }
                for a in raw.get("accounts") or []
            ],
        }

    def chains(self, accounts: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Each account's alerts in time order: the steps of what happened to it."""
        if not accounts:
            return {}
        con = self._con()
        try:
            con.register("wanted", pa.table({"account": accounts}))
            rows = con.execute(
                """SELECT w.account, a.alert_id, a.detection_id, a.stage, a.title, a.score,
                          a.first_seen, a.last_seen
                   FROM alerts a, unnest(a.accounts) AS u(account) JOIN wanted w ON w.account = u.account
                   ORDER BY w.account, a.first_seen, a.alert_id"""
            ).fetchall()
        finally:
            con.close()
        marks = self.marks("alert")
        out: dict[str, list[dict[str, Any]]] = {}
        for acc, aid, det, stage, title, score, first, last in rows:
            out.setdefault(acc, []).append(
                {
                    "alert_id": aid,
                    "detection_id": det,
                    "stage": stage,
                    "title": title,
                    "score": score,
                    "first_seen": first,
                    "last_seen": last,
                    "mark": _mark_brief(marks.get(aid)),
                }
            )
        return out

    # ---------------------------------------------------------------- accounts
    def _accounts_table(self) -> pa.Table:
        def load() -> pa.Table:
            rows = [
                {n: a.get(n) for n in ACCOUNT_COLUMNS.names}
                for a in self.store.read_state_json("accounts", []) or []
            ]
            table = pa.Table.from_pylist(rows, schema=ACCOUNT_COLUMNS)
            con = self.store.connect()
            try:
                con.register("acc", table.drop(["category"]))
                return con.sql(
                    """SELECT acc.*, d.category FROM acc LEFT JOIN
                         (SELECT lower(account) AS account, any_value(category) AS category
                          FROM directory GROUP BY 1) d
                       ON d.account = lower(acc.account)
                       ORDER BY CASE acc.status WHEN 'compromised' THEN 0 WHEN 'attacked' THEN 1 ELSE 2 END,
                                acc.risk DESC NULLS LAST, acc.account"""
                ).to_arrow_table()
            finally:
                con.close()

        return self._cached("accounts", ["accounts.json"], load)

    def accounts(
        self,
        *,
        status: str | None,
        tenant: str | None,
        category: str | None,
        campaign: str | None,
        q: str | None,
        limit: int,
        offset: int,
    ) -> Page:
        where, params = ["TRUE"], []
        for column, value in (("status", status), ("tenant", tenant), ("category", category)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if campaign is not None:
            where.append("list_contains(campaigns, ?)")
            params.append(campaign)
        if q:
            where.append("contains(account, lower(?))")
            params.append(q)
        return self._page("acc", self._accounts_table(), " AND ".join(where), params, limit, offset, "")

    def _page(
        self, name: str, table: pa.Table, where: str, params: list[Any], limit: int, offset: int, order: str
    ) -> Page:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register(name, table)
            total = con.sql(f"SELECT count(*) FROM {name} WHERE {where}", params=params).fetchall()[0][0]
            rows = (
                con.sql(
                    f"SELECT * FROM {name} WHERE {where} {order} LIMIT ? OFFSET ?",
                    params=[*params, limit, offset],
                )
                .to_arrow_table()
                .to_pylist()
            )
        finally:
            con.close()
        return Page(int(total), limit, offset, rows)

    # ---------------------------------------------------------------- alerts
    def _alerts_table(self) -> pa.Table:
        def load() -> pa.Table:
            table = self.store.read_state_table("alerts")
            return table if table is not None else ALERT_SCHEMA.empty_table()

        return self._cached("alerts", ["alerts.parquet"], load)

    def alert_ids(self) -> set[str]:
        return self._cached(
            "alert-ids", ["alerts.parquet"], lambda: set(self._alerts_table().column("alert_id").to_pylist())
        )

    def alerts(
        self,
        *,
        stage: str | None,
        detection: str | None,
        account: str | None,
        tenant: str | None,
        campaign: str | None,
        min_score: int | None,
        mark: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> Page:
        where, params = ["TRUE"], []
        for column, value in (("stage", stage), ("detection_id", detection), ("tenant", tenant)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if account is not None:
            where.append("list_contains(accounts, lower(?))")
            params.append(account)
        if min_score is not None:
            where.append("score >= ?")
            params.append(min_score)
        if since is not None:
            where.append("last_seen >= ?")
            params.append(since)
        if until is not None:
            where.append("first_seen < ?")
            params.append(until)
        if campaign is not None:
            c = next((c for c in self._campaigns() if c["id"] == campaign), None)
            where.append("list_contains(?, alert_id)")
            params.append(list((c or {}).get("alert_ids") or []))
        marks = self.marks("alert")
        if mark is not None:
            ids = [a for a, m in marks.items() if m["verdict"] == mark] if mark != "unmarked" else list(marks)
            where.append(("NOT " if mark == "unmarked" else "") + "list_contains(?, alert_id)")
            params.append(ids)
        page = self._page(
            "al",
            self._alerts_table(),
            " AND ".join(where),
            params,
            limit,
            offset,
            "ORDER BY last_seen DESC, alert_id",
        )
        evidence = self.events_by_ids(
            [e for a in page.items for e in (a["event_ids"] or [])[:EVIDENCE_PER_ALERT]]
        )
        for a in page.items:
            ids = a["event_ids"] or []
            a["mark"] = _mark_brief(marks.get(a["alert_id"]))
            a["evidence_total"] = len(ids)
            a["evidence"] = [evidence[e] for e in ids[:EVIDENCE_PER_ALERT] if e in evidence]
        return page

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        con = duckdb.connect()
        try:
            con.register("al", self._alerts_table())
            rows = (
                con.sql("SELECT * FROM al WHERE alert_id = ?", params=[alert_id]).to_arrow_table().to_pylist()
            )
        finally:
            con.close()
        if not rows:
            return None
        alert = rows[0]
        evidence = self.events_by_ids(alert["event_ids"] or [])
        alert["evidence_total"] = len(alert["event_ids"] or [])
        alert["evidence"] = [evidence[e] for e in alert["event_ids"] or [] if e in evidence]
        alert["mark"] = _mark_brief(self.marks("alert").get(alert_id))
        alert["campaigns"] = [c["id"] for c in self._campaigns() if alert_id in (c.get("alert_ids") or [])]
        return alert

    # ---------------------------------------------------------------- events
    def _con(self) -> duckdb.DuckDBPyConnection:
        return read_only_connection(self.store)

    def events_by_ids(self, ids: list[str], *, raw: bool = False) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        con = self._con()
        try:
            con.register("wanted", pa.table({"event_id": list(dict.fromkeys(ids))}))
            cols = "*" if raw else EVIDENCE_COLUMNS
            table = con.sql(
                f"SELECT {cols} FROM events WHERE event_id IN (SELECT event_id FROM wanted) ORDER BY time"
            ).to_arrow_table()
        finally:
            con.close()
        return {r["event_id"]: r for r in table.to_pylist()}

    def event(self, event_id: str) -> dict[str, Any] | None:
        row = self.events_by_ids([event_id], raw=True).get(event_id)
        if row and isinstance(row.get("raw"), str):
            with contextlib.suppress(ValueError):  # a CSV row or non-JSON text stays the text it was
                row["raw"] = json.loads(row["raw"])
        return row

    # ---------------------------------------------------------------- search
    def search(self, q: str, limit: int) -> dict[str, list[dict[str, Any]]]:
        """Campaigns by id, actor, alias or address; accounts, alerts, events by id or text."""
        needle = q.strip().lower()
        campaigns = []
        for c in self._campaigns():
            actor = c.get("actor") or {}
            hay = [
                c["id"],
                actor.get("name") or "",
                *(actor.get("aliases") or []),
                *((c.get("infrastructure") or {}).get("ips") or []),
            ]
            if any(needle in h.lower() for h in hay):
                campaigns.append({"id": c["id"], "kind": c.get("kind"), "actor": actor.get("name")})
        accounts = self.accounts(
            status=None, tenant=None, category=None, campaign=None, q=needle, limit=limit, offset=0
        )
        con = duckdb.connect()
        try:
            con.register("al", self._alerts_table())
            alerts = (
                con.sql(
                    """SELECT alert_id, detection_id, stage, title, last_seen FROM al
                   WHERE alert_id = ? OR contains(lower(detection_id), ?) OR list_contains(src_ips, ?)
                   ORDER BY last_seen DESC LIMIT ?""",
                    params=[q.strip(), needle, q.strip(), limit],
                )
                .to_arrow_table()
                .to_pylist()
            )
        finally:
            con.close()
        events = [self.events_by_ids([q.strip()]).get(q.strip())]
        return {
            "campaigns": campaigns[:limit],
            "accounts": [{k: a[k] for k in ("account", "tenant", "status")} for a in accounts.items],
            "alerts": alerts,
            "events": [e for e in events if e],
        }
