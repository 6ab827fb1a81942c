"""A small real world: alice and colleagues sign in daily from home; helpers to add sign-ins."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.store import Store

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
HOME = {"src_ip": "198.51.100.7", "asn": 64500, "country": "US", "asn_org": "Home ISP"}
HOME_UA = {
    "user_agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120",
    "ua_family": "Chrome",
    "ua_os": "Windows",
}
ATTACKER = {
    "country": "IR",
    "asn": 64666,
    "asn_org": "Rented Servers",
    "src_ip": "192.0.2.66",
    "user_agent": "python-requests/2.31",
    "ua_family": "Python Requests",
    "ua_os": "Other",
}
_ids = itertools.count()


def signin(account: str, at: datetime, *, outcome: str = "success", **over: Any) -> dict[str, Any]:
    row = {
        "time": at,
        "event_id": f"ev-{next(_ids)}",
        "source": "native",
        "tenant": "example.org",
        "account": account,
        "activity": "sign_in",
        "outcome": outcome,
        **HOME,
        **HOME_UA,
        "raw": "{}",
    }
    row.update(over)
    return row


def population(days: int = 30) -> list[dict[str, Any]]:
    rows = []
    for d in range(days):
        day = T0 + timedelta(days=d)
        rows.append(signin("alice@example.org", day))
        for i in range(4):
            rows.append(
                signin(f"user{i}@example.org", day + timedelta(minutes=5 + i), src_ip=f"198.51.100.{20 + i}")
            )
    return rows


def as_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{n: r.get(n) for n in STORED_EVENT_SCHEMA.names} for r in rows], schema=STORED_EVENT_SCHEMA
    )


def make_store(tmp_path: Path, rows: list[dict[str, Any]]) -> Store:
    store = Store(tmp_path / "store")
    store.append_events(as_table(rows))
    return store
