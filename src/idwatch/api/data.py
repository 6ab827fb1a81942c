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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.analyst_marks import current_marks
from idwatch.notebook import ACCOUNT_SCHEMA
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
#: The notebook's accounts table, with the directory's category to filter on.
ACCOUNT_COLUMNS = ACCOUNT_SCHEMA.append(pa.field("category", pa.string()))


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


def _all(table: pa.Table) -> np.ndarray:
    return np.ones(table.num_rows, dtype=bool)


def _filled(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean column as numpy, null (unknown) as False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool)


def _equal(table: pa.Table, column: str, value: Any) -> np.ndarray:
    return _filled(pc.equal(table.column(column), value))


def _is_in(table: pa.Table, column: str, values: list[str]) -> np.ndarray:
    return _filled(pc.is_in(table.column(column), value_set=pa.array(values, pa.string())))


def _list_has(table: pa.Table, column: str, values: list[str]) -> np.ndarray:
    """Rows whose list column holds any of the values (vectorized over the flattened lists)."""
    lists = table.column(column).combine_chunks()
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    hits = _filled(pc.is_in(flat, value_set=pa.array(values, pa.string())))
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[parents[hits]] = True
    return mask


def _page(table: pa.Table, mask: np.ndarray, limit: int, offset: int) -> Page:
    """The rows of the mask, in the table's order, from ``offset``: only those rows are copied out."""
    rows = np.flatnonzero(mask)
    chosen = rows[offset : offset + limit]
    items = table.take(pa.array(chosen, pa.int64())).to_pylist() if len(chosen) else []
    return Page(int(len(rows)), limit, offset, items)


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
        self._base: tuple[Any, duckdb.DuckDBPyConnection] | None = None

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

    def warm(self) -> None:
        """Load what the first requests need (100k accounts take seconds to read), before serving."""
        self._accounts_table()
        self._alerts_table()
        self.report()
        self._con().close()

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
        table = self._alerts_table()
        if not accounts or table.num_rows == 0:
            return {}
        lists = table.column("accounts").combine_chunks()
        flat = pc.list_flatten(lists)
        hits = pc.fill_null(pc.is_in(flat, value_set=pa.array(accounts, pa.string())), False)
        rows = pc.filter(pc.list_parent_indices(lists), hits)
        steps = table.select(
            ["alert_id", "detection_id", "stage", "title", "score", "first_seen", "last_seen"]
        )
        steps = steps.take(rows).append_column("account", pc.filter(flat, hits))
        steps = steps.sort_by(
            [("account", "ascending"), ("first_seen", "ascending"), ("alert_id", "ascending")]
        )
        marks = self.marks("alert")
        out: dict[str, list[dict[str, Any]]] = {}
        for step in steps.to_pylist():
            step["mark"] = _mark_brief(marks.get(step["alert_id"]))
            out.setdefault(step.pop("account"), []).append(step)
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
        table = self._accounts_table()
        mask = _all(table)
        for column, value in (("status", status), ("tenant", tenant), ("category", category)):
            if value is not None:
                mask &= _equal(table, column, value)
        if campaign is not None:
            mask &= _list_has(table, "campaigns", [campaign])
        if q:
            mask &= _filled(pc.match_substring(table.column("account"), q.lower()))
        return _page(table, mask, limit, offset)

    # ---------------------------------------------------------------- alerts
    def _alerts_table(self) -> pa.Table:
        def load() -> pa.Table:
            # sorted once, newest first: a page is then a filter and a slice
            table = self.store.read_state_table("alerts")
            if table is None:
                return ALERT_SCHEMA.empty_table()
            return table.sort_by([("last_seen", "descending"), ("alert_id", "ascending")])

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
        table = self._alerts_table()
        mask = _all(table)
        for column, value in (("stage", stage), ("detection_id", detection), ("tenant", tenant)):
            if value is not None:
                mask &= _equal(table, column, value)
        if account is not None:
            mask &= _list_has(table, "accounts", [account.lower()])
        if min_score is not None:
            mask &= _filled(pc.greater_equal(table.column("score"), min_score))
        if since is not None:
            mask &= _filled(
                pc.greater_equal(
                    table.column("last_seen"), pa.scalar(since, table.schema.field("last_seen").type)
                )
            )
        if until is not None:
            mask &= _filled(
                pc.less(table.column("first_seen"), pa.scalar(until, table.schema.field("first_seen").type))
            )
        if campaign is not None:
            c = next((c for c in self._campaigns() if c["id"] == campaign), None)
            mask &= _is_in(table, "alert_id", list((c or {}).get("alert_ids") or []))
        marks = self.marks("alert")
        if mark is not None:
            marked = _is_in(
                table, "alert_id", [a for a, m in marks.items() if mark in ("unmarked", m["verdict"])]
            )
            mask &= ~marked if mark == "unmarked" else marked
        page = _page(table, mask, limit, offset)
        spans = [(a["first_seen"], a["last_seen"]) for a in page.items if a["first_seen"] and a["last_seen"]]
        around = (min(f for f, _ in spans), max(last for _, last in spans)) if spans else None
        evidence = self.events_by_ids(
            [e for a in page.items for e in (a["event_ids"] or [])[:EVIDENCE_PER_ALERT]], around=around
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
        """A cursor on the store's read-only connection, made again when files came or went."""
        files = (
            tuple(self.store.event_files()),
            tuple(sorted(p.name for p in self.store.state_dir.glob("*.parquet"))),
        )
        with self._lock:
            if self._base is None or self._base[0] != files:
                # the old connection is not closed: a request may still hold a cursor on it
                self._base = (files, read_only_connection(self.store))
            return self._base[1].cursor()

    def events_by_ids(
        self, ids: list[str], *, raw: bool = False, around: tuple[datetime, datetime] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Events by id. ``around``: where they probably are (the alerts' own time span), looked at
        first, so the day files' time statistics spare the scan of the others; ids not found
        there are then looked for everywhere, so the answer is exact either way."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        cols = "*" if raw else EVIDENCE_COLUMNS
        found: dict[str, dict[str, Any]] = {}
        con = self._con()
        try:
            if around is not None:
                con.register("wanted", pa.table({"event_id": wanted}))
                table = con.sql(
                    f"SELECT {cols} FROM events WHERE time BETWEEN ? AND ? "
                    "AND event_id IN (SELECT event_id FROM wanted)",
                    params=list(around),
                ).to_arrow_table()
                found = {r["event_id"]: r for r in table.to_pylist()}
                wanted = [e for e in wanted if e not in found]
                con.unregister("wanted")
            if wanted:
                con.register("wanted", pa.table({"event_id": wanted}))
                table = con.sql(
                    f"SELECT {cols} FROM events WHERE event_id IN (SELECT event_id FROM wanted)"
                ).to_arrow_table()
                found.update({r["event_id"]: r for r in table.to_pylist()})
        finally:
            con.close()
        return dict(sorted(found.items(), key=lambda kv: (kv[1]["time"] is None, kv[1]["time"])))

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
