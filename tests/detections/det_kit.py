"""Builders for small hand-made event stores: named networks, benign history, attacks."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.store import DIRECTORY_SCHEMA, Store

T0 = datetime(2019, 8, 1, tzinfo=UTC)

#: Named networks a test can put an event on (keys mirror canonical columns).
NETS: dict[str, dict[str, Any]] = {
    "home": {
        "src_ip": "73.10.20.30",
        "asn": 7922,
        "asn_org": "COMCAST",
        "country": "US",
        "network_type": "residential",
    },
    "home2": {
        "src_ip": "73.44.55.66",
        "asn": 7922,
        "asn_org": "COMCAST",
        "country": "US",
        "network_type": "residential",
    },
    "office": {
        "src_ip": "198.51.100.7",
        "asn": 64500,
        "asn_org": "ACME CORP",
        "country": "US",
        "network_type": "business",
    },
    "mobile": {
        "src_ip": "172.56.1.2",
        "asn": 21928,
        "asn_org": "T-MOBILE",
        "country": "US",
        "network_type": "mobile",
    },
    "hotel_fr": {
        "src_ip": "90.80.70.60",
        "asn": 3215,
        "asn_org": "ORANGE",
        "country": "FR",
        "network_type": "residential",
    },
    "vpn_nl": {
        "src_ip": "185.65.134.10",
        "asn": 39351,
        "asn_org": "31173 SERVICES",
        "country": "NL",
        "network_type": "vpn",
    },
    "evil": {
        "src_ip": "5.160.1.10",
        "asn": 12880,
        "asn_org": "IRAN TELECOM",
        "country": "IR",
        "network_type": "hosting",
    },
    "evil2": {
        "src_ip": "5.160.9.99",
        "asn": 12880,
        "asn_org": "IRAN TELECOM",
        "country": "IR",
        "network_type": "hosting",
    },
    "evil_de": {
        "src_ip": "51.91.200.147",
        "asn": 16276,
        "asn_org": "OVH",
        "country": "DE",
        "network_type": "hosting",
    },
    "vps_us": {
        "src_ip": "159.203.40.11",
        "asn": 14061,
        "asn_org": "DIGITALOCEAN",
        "country": "US",
        "network_type": "hosting",
    },
    "hq_de": {
        "src_ip": "62.156.30.4",
        "asn": 64610,
        "asn_org": "FEDERAL AGENCY HQ",
        "country": "DE",
        "network_type": "business",
    },
    "sso_cloud": {
        "src_ip": "34.120.8.8",
        "asn": 396982,
        "asn_org": "GOOGLE CLOUD",
        "country": "US",
        "network_type": "hosting",
    },
}
UA_OWNER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/76.0.3809.100 Safari/537.36"
UA_PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
UA_EVIL = "python-requests/2.22.0"
UA_EVIL_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:68.0) Gecko/20100101 Firefox/68.0"

_ids = itertools.count()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ev(
    hours: float,
    account: str,
    activity: str,
    outcome: str = "success",
    *,
    net: str = "home",
    ua: str | None = UA_OWNER,
    device: str | None = None,
    **cols: Any,
) -> dict[str, Any]:
    """One canonical event ``hours`` after T0 (net names a NETS entry; cols override anything)."""
    row: dict[str, Any] = {name: None for name in STORED_EVENT_SCHEMA.names}
    row.update(NETS[net])
    family = None if ua is None else ("Chrome" if "Chrome" in ua else "Safari" if "iPhone" in ua else "Other")
    row.update(
        time=T0 + timedelta(hours=hours),
        event_id=f"e{next(_ids):07d}",
        source="native",
        tenant=account.split("@")[-1],
        account=account,
        activity=activity,
        outcome=outcome,
        user_agent=ua,
        device_id=device,
        ua_family=family,
        ua_os=None,
        raw="{}",
    )
    if activity == "sign_in" and "method" not in cols:
        row["method"] = "password"
    row.update(cols)
    return row


def history(
    account: str,
    *,
    days: int = 20,
    net: str = "home",
    ua: str = UA_OWNER,
    device: str | None = "dev-owner",
    start: float = 0.0,
    **cols: Any,
) -> list[dict[str, Any]]:
    """The owner signing in twice a day for ``days`` days (the baseline everything compares to)."""
    return [
        ev(start + d * 24 + h, account, "sign_in", net=net, ua=ua, device=device, **cols)
        for d in range(days)
        for h in (8.0, 19.5)
    ]


def wrong_passwords(account: str, n: int, *, start: float, every: float, **kw: Any) -> list[dict[str, Any]]:
    """``n`` failed password sign-ins, ``every`` hours apart from ``start`` (kw as for :func:`ev`)."""
    return [
        ev(start + k * every, account, "sign_in", "failure", reason="bad_password", **kw) for k in range(n)
    ]


def make_store(
    tmp_path: Path,
    events: list[dict[str, Any]],
    directory: list[dict[str, Any]] | None = None,
    intel: dict[str, Any] | None = None,
) -> Store:
    store = Store(tmp_path / "store")
    store.append_events(pa.Table.from_pylist(events, schema=STORED_EVENT_SCHEMA))
    if directory:
        rows = [{name: r.get(name) for name in DIRECTORY_SCHEMA.names} for r in directory]
        store.write_directory(pa.Table.from_pylist(rows, schema=DIRECTORY_SCHEMA))
    if intel:
        import json

        (store.intel_dir / "bundle.json").write_text(json.dumps(intel))
    return store


@pytest.fixture
def build(tmp_path: Path):
    """``build(events, directory=None, intel=None) -> Store`` in a fresh temp directory."""
    counter = itertools.count()

    def _build(events, directory=None, intel=None) -> Store:
        return make_store(tmp_path / f"s{next(counter)}", events, directory, intel)

    return _build


def alerts_of(store: Store, detection_id: str, **kw: Any) -> list[dict[str, Any]]:
    """Run one detection over the store; its alerts as dicts."""
    from idwatch.detections.engine import run_detections

    run_detections(store, only=[detection_id], **kw)
    table = store.read_state_table("alerts")
    return [a for a in table.to_pylist() if a["detection_id"] == detection_id] if table else []


def alerted_accounts(store: Store, detection_id: str, **kw: Any) -> set[str]:
    return {acc for a in alerts_of(store, detection_id, **kw) for acc in a["accounts"]}
