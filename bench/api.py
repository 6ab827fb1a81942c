"""Pagination latency of the REST API on a store with 100k accounts (issue #16: p95 < 300 ms a page).

    python bench/api.py [--accounts 100000] [--requests 40] [--keep DIR]

Builds a synthetic analysed store (accounts, one alert per account with three evidence events,
a few campaigns; made with DuckDB, not the simulator, so that the size is exact and quick),
starts the real server (`idwatch serve`) on a free 127.0.0.1 port, and times pages over HTTP:
the first page, a deep page, filters by status / tenant / category, alert pages with their
evidence events. Prints p50 / p95 / max milliseconds per kind of page; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from idwatch.api.users import add_user  # noqa: E402
from idwatch.schema import ALERT_SCHEMA, STORED_EVENT_SCHEMA  # noqa: E402
from idwatch.store import Store  # noqa: E402


def build(root: Path, n: int) -> Store:
    store = Store(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""CREATE TABLE acc AS SELECT i, 'user' || i || '@tenant' || (i % 500) || '.example' AS account,
              'tenant' || (i % 500) || '.example' AS tenant,
              CASE WHEN i % 1000 = 0 THEN 'compromised' WHEN i % 10 = 0 THEN 'attacked' ELSE 'probed' END
                AS status,
              CAST((i * 7919) % 101 AS BIGINT) AS risk,
              ['cmp-' || (i % 5)] AS campaigns, CAST(1 AS BIGINT) AS alerts,
              (['journalist', 'ngo', 'government', 'academic', 'consumer'])[1 + i % 5] AS category
            FROM range({n}) t(i)"""
    )
    events = con.sql(
        """SELECT TIMESTAMPTZ '2019-08-01 00:00:00+00' + to_seconds(j * 17 % (61 * 86400)) AS time,
                  'ev-' || j AS event_id, 'native' AS source, a.tenant, a.account, TRUE AS account_exists,
                  'sign_in' AS activity, NULL AS step, 'password' AS method,
                  CASE WHEN e = 2 THEN 'success' ELSE 'failure' END AS outcome, NULL AS reason,
                  '203.0.' || (j % 250) || '.' || (j % 200) AS src_ip, 'Mozilla/5.0' AS user_agent,
                  NULL AS device_id, NULL AS session_id, 'IR' AS country, CAST(64500 AS BIGINT) AS asn,
                  NULL AS asn_org, 'hosting' AS network_type, NULL AS contact_hash, NULL AS detail,
                  '{}' AS raw, 'Firefox' AS ua_family, 'Windows' AS ua_os,
                  TIMESTAMPTZ '2019-10-01 00:00:00+00' AS ingested_at
           FROM (SELECT acc.*, e, acc.i * 3 + e AS j FROM acc, range(3) r(e)) a"""
    ).to_arrow_table()
    store.append_events(events.cast(STORED_EVENT_SCHEMA))
    alerts = con.sql(
        """SELECT 'al-' || i AS alert_id, 'credential.password_spray' AS detection_id,
                  'password spray' AS title,
                  'credential' AS stage, ['T1110.003'] AS techniques, 'medium' AS severity,
                  CAST(40 + i % 60 AS INTEGER) AS score,
                  TIMESTAMPTZ '2019-08-01 00:00:00+00' + to_seconds(i * 51 % (61 * 86400)) AS first_seen,
                  TIMESTAMPTZ '2019-08-01 00:00:00+00' + to_seconds(i * 51 % (61 * 86400) + 600) AS last_seen,
                  tenant, [account] AS accounts, ['203.0.' || (i % 250) || '.1'] AS src_ips,
                  [64500::BIGINT] AS asns, ['Mozilla/5.0'] AS user_agents, []::VARCHAR[] AS device_ids,
                  []::VARCHAR[] AS contact_hashes,
                  ['ev-' || (i * 3), 'ev-' || (i * 3 + 1), 'ev-' || (i * 3 + 2)] AS event_ids, NULL AS detail,
                  TIMESTAMPTZ '2019-10-01 00:00:00+00' AS created_at
           FROM acc"""
    ).to_arrow_table()
    store.write_state_table("alerts", alerts.cast(ALERT_SCHEMA))
    rows = con.sql("SELECT * EXCLUDE (i, category) FROM acc").to_arrow_table().to_pylist()
    store.write_state_json("accounts", rows)
    store.write_directory(
        con.sql(
            "SELECT account, tenant, NULL AS display_name, category, FALSE AS watchlist, "
            "NULL AS home_country, NULL AS contact_hash, NULL AS notify FROM acc"
        ).to_arrow_table()
    )
    campaigns = []
    for k in range(5):
        mine = [r for r in rows if r["campaigns"] == [f"cmp-{k}"]][:2000]
        campaigns.append(
            {
                "id": f"cmp-{k}",
                "kind": "state" if k == 0 else "criminal",
                "actor": None,
                "first_seen": "2019-08-01T00:00:00Z",
                "last_seen": "2019-09-30T00:00:00Z",
                "counts": {
                    "probes": n // 5,
                    "accounts_probed": n // 5,
                    "accounts_attacked": n // 50,
                    "accounts_compromised": n // 5000,
                },
                "infrastructure": {"ips": [], "asns": [64500]},
                "techniques": ["T1110.003"],
                "accounts": [
                    {
                        "account": r["account"],
                        "tenant": r["tenant"],
                        "stage": r["status"],
                        "first_seen": None,
                        "last_seen": None,
                    }
                    for r in mine
                ],
                "evidence": [],
            }
        )
    store.write_state_json("campaigns", campaigns)
    return store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> float:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    elapsed = (time.perf_counter() - t0) * 1000
    json.loads(body)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=40, help="Requests per kind of page.")
    ap.add_argument("--keep", type=Path, help="Build the store here and keep it.")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="idwatch-bench-api-"))
    t0 = time.perf_counter()
    store = build(root, args.accounts)
    print(
        f"built a store of {args.accounts:,} accounts, alerts and {3 * args.accounts:,} events "
        f"in {time.perf_counter() - t0:.1f} s: {root}"
    )
    token = add_user(store, "bench", "viewer")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "idwatch.cli.main", "serve", "--store", str(root), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        deep = max(0, args.accounts - 50)
        kinds = {
            "accounts, first page (cold: loads accounts.json)": [f"{base}/accounts?limit=50"],
            "accounts, first page": [f"{base}/accounts?limit=50"],
            "accounts, pages across the whole list": [
                f"{base}/accounts?limit=50&offset={o}" for o in range(0, deep + 1, max(1, deep // 20))
            ],
            f"accounts, last page (offset {deep:,})": [f"{base}/accounts?limit=50&offset={deep}"],
            "accounts, 500 a page": [f"{base}/accounts?limit=500&offset=50000"],
            "accounts by status=attacked": [f"{base}/accounts?status=attacked&limit=50&offset=5000"],
            "accounts by tenant": [f"{base}/accounts?tenant=tenant7.example&limit=50"],
            "accounts by category": [f"{base}/accounts?category=ngo&limit=50&offset=10000"],
            "alerts, first page with evidence (cold)": [f"{base}/alerts?limit=50"],
            "alerts, pages with evidence events": [
                f"{base}/alerts?limit=50&offset={o}" for o in range(0, deep + 1, max(1, deep // 20))
            ],
            "alerts of one account": [f"{base}/alerts?account=user77@tenant77.example"],
            "a campaign's story (2,000 accounts, chains)": [f"{base}/campaigns/cmp-{k}" for k in range(5)],
            "campaigns list": [f"{base}/campaigns"],
            "search": [f"{base}/search?q=user1234"],
        }
        print(f"{'page':52} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, urls in kinds.items():
            count = 1 if "cold" in name else args.requests
            times = sorted(_get(urls[i % len(urls)], token) for i in range(count))
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            print(f"{name:52} {count:4d} {times[len(times) // 2]:8.1f} {p95:8.1f} {times[-1]:8.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
