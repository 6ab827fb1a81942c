"""Benchmark the whole detection suite: events/s and peak memory.

    python bench/detect.py --events 2000000            # synthesize N events into a temp store
    python bench/detect.py --store DIR                 # or measure an existing store
    python bench/detect.py --events 20000000 --threads 2 --keep /tmp/bench20m

The synthetic population is generated in DuckDB (vectorised, no Python loop per event):
accounts with a few home networks and devices signing in daily, mistyped passwords and
resets, plus a slice of spray / enumeration from hosting networks, so every detection has
work to do. It measures the engine, not detection quality (see bench/detect_eval.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from idwatch.detections.engine import run_detections
from idwatch.store import Store

SYNTH_SQL = """
WITH base AS (
  SELECT i,
         CAST(hash(i * 7 + 1) % {accounts} AS BIGINT) AS a,
         hash(i * 13 + 5) % 1000 AS r
  FROM range({n}) t(i)
)
SELECT
  TIMESTAMPTZ '2019-08-01 00:00:00+00' + to_microseconds(CAST(hash(i * 31) % {span_us} AS BIGINT)) AS time,
  'b' || CAST(i AS VARCHAR) AS event_id,
  'native' AS source,
  't' || CAST(a % 50 AS VARCHAR) || '.example' AS tenant,
  CASE WHEN r < 985 THEN 'user' || CAST(a AS VARCHAR) || '@t' || CAST(a % 50 AS VARCHAR) || '.example'
       ELSE 'probe' || CAST(hash(i) % 200000 AS VARCHAR) || '@t' || CAST(a % 50 AS VARCHAR) || '.example' END
    AS account,
  CASE WHEN r < 985 THEN TRUE ELSE FALSE END AS account_exists,
  CASE WHEN r < 800 THEN 'sign_in' WHEN r < 900 THEN 'account_lookup' WHEN r < 940 THEN 'mfa_challenge'
       WHEN r < 960 THEN 'sign_in' WHEN r < 975 THEN 'password_reset' WHEN r < 985 THEN 'sign_in'
       ELSE 'account_lookup' END AS activity,
  CASE WHEN r >= 960 AND r < 975 THEN (['start', 'verify', 'complete'])[1 + CAST(r % 3 AS INTEGER)] END
    AS step,
  CASE WHEN r < 800 OR (r >= 940 AND r < 985) THEN 'password' END AS method,
  CASE WHEN r < 940 THEN 'success' WHEN r < 960 THEN 'failure' WHEN r < 975 THEN 'success'
       ELSE 'failure' END AS outcome,
  CASE WHEN r >= 940 AND r < 960 THEN 'bad_password' WHEN r >= 975 AND r < 985 THEN 'bad_password'
       WHEN r >= 985 THEN 'unknown_account' END AS reason,
  CASE WHEN r >= 975 THEN '45.' || CAST(hash(i) % 20 AS VARCHAR) || '.1.' || CAST(hash(i) % 200 AS VARCHAR)
       ELSE '73.' || CAST(a % 250 AS VARCHAR) || '.' || CAST((a / 250) % 250 AS VARCHAR) || '.'
            || CAST(1 + r % 3 AS VARCHAR) END AS src_ip,
  CASE WHEN r >= 975 THEN 'python-requests/2.22'
       ELSE 'Mozilla/5.0 Chrome/' || CAST(70 + a % 8 AS VARCHAR) END AS user_agent,
  CASE WHEN r < 975 THEN 'dev' || CAST(a AS VARCHAR) || '-' || CAST(r % 2 AS VARCHAR) END AS device_id,
  NULL AS session_id,
  CASE WHEN r >= 975 THEN 'NL' WHEN r % 97 = 0 THEN 'FR' ELSE 'US' END AS country,
  CASE WHEN r >= 975 THEN 64500 + CAST(hash(i) % 20 AS BIGINT) ELSE 7000 + a % 300 END AS asn,
  NULL AS asn_org,
  CASE WHEN r >= 975 THEN 'hosting' ELSE 'residential' END AS network_type,
  NULL AS contact_hash, NULL AS detail, '{{}}' AS raw,
  CASE WHEN r >= 975 THEN 'Python Requests' ELSE 'Chrome' END AS ua_family,
  'Windows' AS ua_os,
  TIMESTAMPTZ '2019-10-01 00:00:00+00' AS ingested_at
FROM base
"""


def synthesize(root: Path, n: int, days: int = 30) -> Store:
    """Write ``n`` synthetic events (one Parquet file per day) into a store at ``root``."""
    store = Store(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = SYNTH_SQL.format(n=n, accounts=max(1000, n // 40), span_us=days * 86_400_000_000)
    con.execute(f"CREATE TABLE synth AS {sql}")
    for (day,) in con.execute("SELECT DISTINCT CAST(time AS DATE) FROM synth ORDER BY 1").fetchall():
        out = store.events_dir / f"day={day}"
        out.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT * FROM synth WHERE CAST(time AS DATE) = DATE '{day}' ORDER BY time) "
            f"TO '{out / 'part-bench.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
        )
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000, help="synthetic events to generate")
    ap.add_argument("--store", type=Path, help="measure this existing store instead")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    ap.add_argument("--keep", type=Path, help="build the synthetic store here and keep it")
    args = ap.parse_args()
    tmp = None
    if args.store:
        store = Store(args.store)
    else:
        root = args.keep or Path(tempfile.mkdtemp(prefix="idwatch-bench-"))
        tmp = None if args.keep else root
        t0 = time.perf_counter()
        if not any((root / "events").glob("day=*/*.parquet")):
            synthesize(root, args.events)
        print(f"built store with {args.events:,} events in {time.perf_counter() - t0:.1f} s")
        store = Store(root)
    (store.state_dir / "detect_watermark.json").unlink(missing_ok=True)
    (store.state_dir / "alerts.parquet").unlink(missing_ok=True)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    summary = run_detections(store, threads=args.threads)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    result = {
        "events": summary.events_scanned,
        "detections": len(summary.detections_run),
        "alerts": summary.alerts_total,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_second": round(summary.events_scanned / wall) if wall else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "seconds_by_step": summary.seconds_by_step,
        "warnings": summary.warnings,
    }
    print(json.dumps(result, indent=2))
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
