"""Benchmark the whole detection suite: events/s, peak memory and seconds per stage, for a
first run over the whole store and for an incremental run after appending new events.

    python bench/detect.py --events 2000000            # synthesize N events into a temp store
    python bench/detect.py --store DIR                 # or measure an existing store
    python bench/detect.py --events 20000000 --threads 2 --keep /tmp/bench20m

Each run is measured in its own process (so peak memory is that run's); the incremental run
follows ``--append`` percent new events (synthesized after the store's last day; default 1).
The load average is printed with the numbers, since the machine may be shared.

The synthetic population is generated in DuckDB (vectorised, no Python loop per event):
accounts with a few home networks and devices signing in daily, mistyped passwords and
resets, plus a slice of spray / enumeration from hosting networks, so every detection has
work to do. It measures the engine, not detection quality (see bench/detect_eval.py).

The anchor: in the same run, on the same store, DuckDB alone runs three queries that any such
analysis needs at least once (:data:`ANCHORS`), each in its own process; the figure that matters
is the ratio (detection suite + correlation) / (sum of the anchors' seconds), for the first run.
Correlation (``idwatch.correlate.pipeline.correlate``) is timed in its own process after each
detection run. Per-detection and per-stage seconds come from the engine's ``seconds_by_step``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idwatch.detections.engine import run_detections
from idwatch.store import Store

SYNTH_SQL = """
WITH base AS (
  SELECT i,
         CAST(hash(i * 7 + 1) % {accounts} AS BIGINT) AS a,
         hash(i * 13 + 5) % 1000 AS r
  FROM range({i0}, {i1}) t(i)
)
SELECT
  TIMESTAMPTZ '2019-08-01 00:00:00+00'
    + to_microseconds({t0_us} + CAST((i - {i0}) * {step_us} + hash(i * 31) % {step_us} AS BIGINT)) AS time,
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


DAY_US = 86_400_000_000

#: The anchor queries (issue #14): what DuckDB alone needs for the three computations any
#: account-takeover analysis of these logs does at least once. Each result is materialised (a
#: temp table or an aggregate over every row), so no operator can be optimised away.
ANCHORS: dict[str, str] = {
    # 1-hour sliding count of distinct accounts per source address, at every event
    "sliding_distinct_accounts_1h": """
        SELECT count(*), max(n) FROM (
          SELECT count(DISTINCT account) OVER (
                   PARTITION BY src_ip ORDER BY time
                   RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW) AS n
          FROM events)
    """,
    # first time each account was seen with each network / country / device, over 30 days
    "first_seen_30d": """
        CREATE OR REPLACE TEMP TABLE anchor_first_seen AS
        SELECT account, tenant, asn, country, device_id, MIN(time) AS first_seen
        FROM events
        WHERE time >= (SELECT MAX(time) FROM events) - INTERVAL 30 DAY
        GROUP BY GROUPING SETS ((account, tenant, asn), (account, tenant, country),
                                (account, tenant, device_id))
    """,
    # per-account likelihood ratio after Freeman et al. (NDSS 2016): for every successful
    # sign-in, sum over country / ASN / browser of ln p(x) - ln p(x | u) (add-one smoothed
    # toward the population), the account's highest kept
    "freeman_llr": """
        CREATE OR REPLACE TEMP TABLE anchor_llr AS
        WITH s AS (
          SELECT account, tenant, country, asn, ua_family FROM events
          WHERE activity = 'sign_in' AND outcome = 'success'
        ), tot AS (SELECT CAST(count(*) AS DOUBLE) AS n FROM s),
        pc AS (SELECT country, count(*) AS c FROM s GROUP BY ALL),
        pa AS (SELECT asn, count(*) AS c FROM s GROUP BY ALL),
        pb AS (SELECT ua_family, count(*) AS c FROM s GROUP BY ALL),
        ut AS (SELECT account, tenant, count(*) AS c FROM s GROUP BY ALL),
        uc AS (SELECT account, tenant, country, count(*) AS c FROM s GROUP BY ALL),
        ua AS (SELECT account, tenant, asn, count(*) AS c FROM s GROUP BY ALL),
        ub AS (SELECT account, tenant, ua_family, count(*) AS c FROM s GROUP BY ALL)
        SELECT s.account, s.tenant, MAX(
                 ln(pc.c / tot.n) - ln((uc.c + pc.c / tot.n) / (ut.c + 1))
               + ln(pa.c / tot.n) - ln((ua.c + pa.c / tot.n) / (ut.c + 1))
               + ln(pb.c / tot.n) - ln((ub.c + pb.c / tot.n) / (ut.c + 1))) AS max_llr
        FROM s CROSS JOIN tot
        JOIN pc ON pc.country IS NOT DISTINCT FROM s.country
        JOIN pa ON pa.asn IS NOT DISTINCT FROM s.asn
        JOIN pb ON pb.ua_family IS NOT DISTINCT FROM s.ua_family
        JOIN ut ON ut.account = s.account AND ut.tenant IS NOT DISTINCT FROM s.tenant
        JOIN uc ON uc.account = s.account AND uc.tenant IS NOT DISTINCT FROM s.tenant
             AND uc.country IS NOT DISTINCT FROM s.country
        JOIN ua ON ua.account = s.account AND ua.tenant IS NOT DISTINCT FROM s.tenant
             AND ua.asn IS NOT DISTINCT FROM s.asn
        JOIN ub ON ub.account = s.account AND ub.tenant IS NOT DISTINCT FROM s.tenant
             AND ub.ua_family IS NOT DISTINCT FROM s.ua_family
        GROUP BY s.account, s.tenant
    """,
}


def synthesize(
    root: Path,
    n: int,
    days: float = 30,
    *,
    first: int = 0,
    accounts: int | None = None,
    start_day: float = 0.0,
    tag: str = "bench",
) -> Store:
    """Write events ``first .. first + n`` (one Parquet file per day) into a store at ``root``.

    Event i is a pure function of i, so a later call with ``first`` = the earlier ``n`` and a
    ``start_day`` after the earlier span appends new events of the same population.
    """
    store = Store(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # event i falls at (i - first) * step (plus jitter): each day is one contiguous range of i,
    # generated and written on its own, so memory stays at one day's events
    step_us = max(1, int(days * DAY_US) // max(1, n))
    per_day = max(1, DAY_US // step_us)
    accounts = accounts or max(1000, n // 40)
    for lo in range(first, first + n, per_day):
        sql = SYNTH_SQL.format(
            i0=lo,
            i1=min(first + n, lo + per_day),
            accounts=accounts,
            t0_us=int(start_day * DAY_US) + (lo - first) * step_us,
            step_us=step_us,
        )
        con.execute(f"CREATE OR REPLACE TABLE synth AS {sql}")
        for (day,) in con.execute("SELECT DISTINCT CAST(time AS DATE) FROM synth ORDER BY 1").fetchall():
            out = store.events_dir / f"day={day}"
            out.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT * FROM synth WHERE CAST(time AS DATE) = DATE '{day}' ORDER BY time) "
                f"TO '{out / f'part-{tag}-{lo}.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
            )
    return store


def append_new(root: Path, percent: float) -> int:
    """Append ``percent`` % new synthetic events, in the hours right after the store's last event."""
    store = Store(root)
    con = store.connect()
    n, last = con.execute("SELECT count(*), max(time) FROM events").fetchall()[0]
    origin = datetime(2019, 8, 1, tzinfo=UTC)
    start_day = (last - origin).total_seconds() / 86400 + 1e-6
    extra = max(1, int(n * percent / 100))
    # same density as the store: 1 % of a 30-day store covers about 7 hours
    span = max(1 / 24, 30 * percent / 100)
    synthesize(
        root,
        extra,
        span,
        first=n + 1_000_000_000,
        accounts=max(1000, n // 40),
        start_day=start_day,
        tag=f"append{n}",
    )
    return extra


def _limits(con: duckdb.DuckDBPyConnection, threads: int | None) -> None:
    """The engine's DuckDB settings (memory limit, temp folder, threads), for a fair anchor."""
    from idwatch.detections.engine import _limit_resources

    _limit_resources(con)
    if threads:
        con.execute(f"SET threads = {int(threads)}")


def measure_anchors(root: Path, threads: int | None) -> dict:
    """Seconds of each anchor query on the store (this process does nothing else)."""
    con = Store(root).connect(threads=threads)
    _limits(con, threads)
    out: dict = {}
    for name, sql in ANCHORS.items():
        t0 = time.perf_counter()
        con.execute(sql).fetchall()
        out[name] = round(time.perf_counter() - t0, 2)
    out["sum"] = round(sum(out.values()), 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def measure_correlate(root: Path) -> dict:
    """One correlation run (incidents, campaigns, attribution) over the store's alerts."""
    from idwatch.correlate.pipeline import correlate

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    summary = correlate(Store(root))
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "incidents": summary.incidents,
        "campaigns": summary.campaigns,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def measure(root: Path, threads: int | None) -> dict:
    """One detection run over the store (this process does nothing else)."""
    store = Store(root)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    summary = run_detections(store, threads=threads)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    stages = ("stage_events", "stage_baseline", "risk_model", "stage_familiarity")
    queries = sum(v for k, v in summary.seconds_by_step.items() if k not in stages)
    queries_cpu = sum(v for k, v in summary.cpu_seconds_by_step.items() if k not in stages)
    return {
        "events_scanned": summary.events_scanned,
        "detections": len(summary.detections_run),
        "alerts_new": summary.alerts_new,
        "alerts_total": summary.alerts_total,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_second": round(summary.events_scanned / wall) if wall else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "state": summary.state,
        "seconds_by_stage": {
            **{k: summary.seconds_by_step.get(k) for k in stages},
            "queries": round(queries, 2),
        },
        "cpu_seconds_by_stage": {
            **{k: summary.cpu_seconds_by_step.get(k) for k in stages},
            "queries": round(queries_cpu, 2),
        },
        "seconds_by_detection": dict(
            sorted(
                ((k, v) for k, v in summary.seconds_by_step.items() if k not in stages),
                key=lambda kv: -kv[1],
            )
        ),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "warnings": summary.warnings,
    }


def _measured(root: Path, threads: int | None, what: str = "detect") -> dict:
    """Run one measurement in a fresh interpreter, so peak memory belongs to that run alone."""
    cmd = [sys.executable, __file__, "--measure", str(root), "--what", what]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    last = out.strip().splitlines()[-1]
    return json.loads(last[last.index("{") :])


def _headline(anchors: dict, runs: dict[str, dict], corr: dict[str, dict]) -> dict:
    """The figures of issue #14: suite, correlation, their sum against the anchors' sum."""
    first = runs["first"]
    c1 = corr.get("first", {}).get("wall_seconds", 0.0)
    out = {
        "run": "headline",
        "suite_seconds": first["wall_seconds"],
        "suite_cpu_seconds": first["cpu_seconds"],
        "suite_peak_gb": round(first["peak_rss_mb"] / 1024, 2),
        "correlation_seconds": c1,
        "suite_plus_correlation_seconds": round(first["wall_seconds"] + c1, 2),
        "anchor_seconds": {k: v for k, v in anchors.items() if k not in ("peak_rss_mb", "load_average")},
        "ratio_suite_to_anchors": round(first["wall_seconds"] / anchors["sum"], 2),
        "ratio_suite_plus_correlation_to_anchors": round((first["wall_seconds"] + c1) / anchors["sum"], 2),
        "load_average": first["load_average"],
    }
    if "incremental" in runs:
        inc = runs["incremental"]
        c2 = corr.get("incremental", {}).get("wall_seconds", 0.0)
        out["incremental_seconds"] = inc["wall_seconds"]
        out["incremental_correlation_seconds"] = c2
        out["incremental_share_of_first"] = round(inc["wall_seconds"] / first["wall_seconds"], 3)
        out["incremental_plus_correlation_share_of_first"] = round(
            (inc["wall_seconds"] + c2) / (first["wall_seconds"] + c1), 3
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000, help="synthetic events to generate")
    ap.add_argument("--store", type=Path, help="measure this existing store instead")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    ap.add_argument("--keep", type=Path, help="build the synthetic store here and keep it")
    ap.add_argument("--append", type=float, default=1.0, help="percent new events before the second run")
    ap.add_argument("--no-correlate", action="store_true", help="time the detections only")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one run, JSON out
    ap.add_argument("--what", default="detect", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        if args.what == "anchors":
            print(json.dumps(measure_anchors(args.measure, args.threads)))
        elif args.what == "correlate":
            print(json.dumps(measure_correlate(args.measure)))
        else:
            print(json.dumps(measure(args.measure, args.threads)))
        return
    tmp = None
    if args.store:
        root = args.store
    else:
        root = args.keep or Path(tempfile.mkdtemp(prefix="idwatch-bench-"))
        tmp = None if args.keep else root
        t0 = time.perf_counter()
        if not any((root / "events").glob("day=*/*.parquet")):
            synthesize(root, args.events)
        print(f"built store with {args.events:,} events in {time.perf_counter() - t0:.1f} s", flush=True)
    store = Store(root)
    if not args.store:  # a kept store measured again: drop the previous run's appended events
        for path in store.events_dir.glob("day=*/part-append*.parquet"):
            path.unlink()
    (store.state_dir / "detect_watermark.json").unlink(missing_ok=True)
    (store.state_dir / "alerts.parquet").unlink(missing_ok=True)
    shutil.rmtree(store.state_dir / "detect", ignore_errors=True)
    anchors = _measured(root, args.threads, "anchors")
    print(json.dumps({"run": "anchor queries (DuckDB alone)", **anchors}, indent=2), flush=True)
    runs = [("first", _measured(root, args.threads))]
    print(json.dumps({"run": "first (whole store)", **runs[0][1]}, indent=2), flush=True)
    corr = {} if args.no_correlate else {"first": _measured(root, args.threads, "correlate")}
    if corr:
        print(json.dumps({"run": "correlation after the first run", **corr["first"]}, indent=2), flush=True)
    if args.append > 0:
        added = append_new(root, args.append)
        runs.append(("incremental", _measured(root, args.threads)))
        print(json.dumps({"run": f"incremental (+{added:,} events)", **runs[1][1]}, indent=2), flush=True)
        if corr:
            corr["incremental"] = _measured(root, args.threads, "correlate")
            print(json.dumps({"run": "correlation after it", **corr["incremental"]}, indent=2), flush=True)
    print(json.dumps(_headline(anchors, dict(runs), corr), indent=2), flush=True)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
