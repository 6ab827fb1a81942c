"""Benchmark the Sigma rules: conversion time for a rule folder and run time on a vendor store.

    python bench/sigma_bench.py --events 2000000                      # synthesize into a temp store
    python bench/sigma_bench.py --events 2000000 --keep /tmp/sigma2m  # and keep it
    python bench/sigma_bench.py --store DIR                           # or measure an existing store

The synthetic store holds vendor-shaped rows as the connectors store them (DuckDB-generated,
no Python loop per event): Entra Graph sign-ins (half of the events), Okta LogEvents, Google
Reports API login activities and Microsoft 365 audit records, each with its record whole in
``raw``, plus kept records in ``other/`` (Entra audits and UserRiskEvents, Okta admin events,
Google government-backed attack warnings; 5 % on top). Values are drawn so that rules have rows
to test and some fire. Conversion is timed over the whole folder (pySigma parse + pipeline +
backend); the run is the engine's Sigma step (stage each vendor's rows with the field columns
the rules use, then one grouped query per rule), in its own process, with its peak memory.
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
from pathlib import Path

# This file is named like the pySigma package: drop its folder from the import path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import duckdb  # noqa: E402

from idwatch.sigma.convert import convert_paths  # noqa: E402
from idwatch.store import Store  # noqa: E402

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "shared" / "data" / "sigma"
DAY_US = 86_400_000_000

#: One event row per i; ``v`` picks the vendor (50 % Entra, 25 % Okta, 15 % Google, 10 % M365).
EVENTS_SQL = """
WITH b AS (
  SELECT i, hash(i * 7 + 1) % {accounts} AS a, hash(i * 13 + 5) % 1000 AS r, hash(i * 17 + 3) % 100 AS v,
         TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(CAST(i * {step_us} AS BIGINT)) AS time
  FROM range({i0}, {i1}) t(i)
), e AS (
  SELECT *, 'user' || CAST(a AS VARCHAR) || '@t' || CAST(a % 50 AS VARCHAR) || '.example' AS account,
         '73.' || CAST(a % 250 AS VARCHAR) || '.' || CAST((a / 250) % 250 AS VARCHAR) || '.'
           || CAST(1 + r % 3 AS VARCHAR) AS src_ip,
         strftime(time, '%Y-%m-%dT%H:%M:%SZ') AS ts,
         CASE WHEN v < 50 THEN 'entra' WHEN v < 75 THEN 'okta' WHEN v < 90 THEN 'gworkspace' ELSE 'm365' END
           AS source
  FROM b
)
SELECT time,
  CASE source WHEN 'gworkspace' THEN 'login:' || ts || ':' || CAST(i AS VARCHAR) || ':'
                   || CASE WHEN r < 990 THEN 'login_success' ELSE 'suspicious_login' END || ':0'
       ELSE 'e' || CAST(i AS VARCHAR) END AS event_id,
  source, 't' || CAST(a % 50 AS VARCHAR) || '.example' AS tenant, account, TRUE AS account_exists,
  'sign_in' AS activity, NULL AS step, 'password' AS method,
  CASE WHEN r < 900 THEN 'success' ELSE 'failure' END AS outcome,
  CASE WHEN r >= 900 THEN 'bad_password' END AS reason, src_ip,
  'Mozilla/5.0 Chrome/120' AS user_agent, 'dev' || CAST(a AS VARCHAR) AS device_id, NULL AS session_id,
  'US' AS country, 7000 + a % 300 AS asn, NULL AS asn_org, 'residential' AS network_type,
  NULL AS contact_hash, NULL AS detail,
  CASE source
    WHEN 'entra' THEN CAST(json_object(
      'id', 'e' || CAST(i AS VARCHAR), 'createdDateTime', ts, 'userPrincipalName', account,
      'appDisplayName', 'Office 365 Exchange Online', 'ipAddress', src_ip,
      'clientAppUsed', CASE WHEN r % 50 = 0 THEN 'IMAP' ELSE 'Browser' END,
      'userAgent', CASE WHEN r = 7 THEN 'azurehound/2.0' WHEN r = 8 THEN 'BAV2ROPC'
                        ELSE 'Mozilla/5.0 Chrome/120' END,
      'conditionalAccessStatus', CASE WHEN r % 10 = 0 THEN 'failure' ELSE 'success' END,
      'authenticationRequirement', CASE WHEN r % 3 = 0 THEN 'multiFactorAuthentication'
                                        ELSE 'singleFactorAuthentication' END,
      'riskState', CASE WHEN r % 97 = 0 THEN 'atRisk' ELSE 'none' END,
      'resourceDisplayName', CASE WHEN r % 40 = 0 THEN 'Device Registration Service' ELSE 'Office 365' END,
      'networkLocationDetails', json('[]'),
      'status', json_object(
        'errorCode', CASE WHEN r < 900 THEN 0 WHEN r < 950 THEN 50126 WHEN r < 960 THEN 50053
                          WHEN r < 970 THEN 53003 WHEN r < 980 THEN 50074 ELSE 500121 END,
        'failureReason', CASE WHEN r >= 960 AND r < 970 THEN 'Blocked by Conditional Access'
                              WHEN r >= 900 THEN 'Other.' END,
        'additionalDetails', CASE WHEN r >= 980 THEN 'MFA denied; user declined' END),
      'deviceDetail', json_object(
        'deviceId', CASE WHEN r % 20 = 0 THEN '' ELSE 'dev' || CAST(a AS VARCHAR) END,
        'isCompliant', r % 30 <> 0,
        'trustType', CASE WHEN r % 25 = 0 THEN '' ELSE 'Azure AD joined' END),
      'location', json_object('countryOrRegion', 'US')) AS VARCHAR)
    WHEN 'okta' THEN CAST(json_object(
      'uuid', 'e' || CAST(i AS VARCHAR), 'published', ts,
      'eventType', CASE WHEN r < 980 THEN 'user.session.start' ELSE 'user.authentication.auth_via_mfa' END,
      'legacyEventType', CASE WHEN r >= 900 THEN 'core.user_auth.login_failed'
                              ELSE 'core.user_auth.login_success' END,
      'displayMessage', CASE WHEN r = 3 THEN 'Max sign in attempts exceeded' ELSE 'User login to Okta' END,
      'actor', json_object('alternateId', CASE WHEN r = 901 THEN 'Hunter2!' ELSE account END, 'type', 'User'),
      'client', json_object('ipAddress', src_ip),
      'outcome', json_object('result', CASE WHEN r < 900 THEN 'SUCCESS' ELSE 'FAILURE' END),
      'target', json('[{{"type": "AppInstance", "displayName": "Okta Dashboard"}}]'),
      'debugContext', json_object('debugData', json_object('requestUri', '/api/v1/authn',
                                  'behaviors', '{{New Geo-Location=NEGATIVE}}')),
      'securityContext', json_object('isProxy', r % 200 = 0)) AS VARCHAR)
    WHEN 'gworkspace' THEN CAST(json_object(
      'kind', 'admin#reports#activity',
      'id', json_object('time', ts, 'uniqueQualifier', CAST(i AS VARCHAR), 'applicationName', 'login',
                        'customerId', 'C01'),
      'actor', json_object('email', account), 'ipAddress', src_ip,
      'events', json_array(json_object('type', 'login',
                  'name', CASE WHEN r < 990 THEN 'login_success' ELSE 'suspicious_login' END))) AS VARCHAR)
    ELSE CAST(json_object(
      'CreationTime', ts, 'Id', 'e' || CAST(i AS VARCHAR), 'Operation', 'UserLoggedIn', 'RecordType', 15,
      'ResultStatus', 'Success', 'Workload', 'AzureActiveDirectory', 'ClientIP', src_ip, 'UserId', account,
      'ObjectId', '00000002-0000-0ff1-ce00-000000000000',
      'ApplicationId', CASE WHEN r % 100 = 0 THEN '9ba1a5c7-f17a-4de9-a1f1-6178c8d51223'
                            ELSE '00000002-0000-0ff1-ce00-000000000000' END,
      'ExtendedProperties', json_array(json_object('Name', 'RequestType',
                              'Value', CASE WHEN r % 100 = 0 THEN 'Cmsi:Cmsi' ELSE 'OAuth2:Authorize' END)))
      AS VARCHAR) END AS raw,
  'Chrome' AS ua_family, 'Windows' AS ua_os, TIMESTAMPTZ '2026-02-01 00:00:00+00' AS ingested_at
FROM e
"""

#: Kept records (other/): one per i, 5 % as many as events.
OTHER_SQL = """
WITH b AS (
  SELECT i, hash(i * 11 + 2) % {accounts} AS a, hash(i * 19 + 7) % 100 AS v,
         TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(CAST(i * {step_us} AS BIGINT)) AS time
  FROM range({i0}, {i1}) t(i)
), e AS (
  SELECT *, 'user' || CAST(a AS VARCHAR) || '@t' || CAST(a % 50 AS VARCHAR) || '.example' AS account,
         strftime(time, '%Y-%m-%dT%H:%M:%SZ') AS ts
  FROM b
)
SELECT time, 'k' || CAST(i AS VARCHAR) AS event_id,
  CASE WHEN v < 60 THEN 'entra' WHEN v < 90 THEN 'okta' ELSE 'gworkspace' END AS source,
  CASE WHEN v < 40 THEN (['Add member to role', 'Update user', 'Add service principal',
                           'Consent to application'])[1 + CAST(i % 4 AS INTEGER)]
       WHEN v < 60 THEN 'UserRiskEvents'
       WHEN v < 90 THEN (['user.mfa.factor.deactivate', 'policy.lifecycle.update', 'system.api_token.create',
                          'group.user_membership.add'])[1 + CAST(i % 4 AS INTEGER)]
       WHEN v < 99 THEN 'drive:edit' ELSE 'gov_attack_warning' END AS kind,
  't' || CAST(a % 50 AS VARCHAR) || '.example' AS tenant, account, NULL AS src_ip,
  CASE
    WHEN v < 40 THEN CAST(json_object(
      'id', 'k' || CAST(i AS VARCHAR), 'activityDateTime', ts,
      'activityDisplayName', (['Add member to role', 'Update user', 'Add service principal',
                               'Consent to application'])[1 + CAST(i % 4 AS INTEGER)],
      'category', (['RoleManagement', 'UserManagement', 'ApplicationManagement',
                    'ApplicationManagement'])[1 + CAST(i % 4 AS INTEGER)],
      'loggedByService', 'Core Directory', 'result', 'success', 'resultReason', '',
      'initiatedBy', json_object('user', json_object('userPrincipalName', 'admin@t1.example')),
      'targetResources', json_array(json_object('type', 'User', 'userPrincipalName', account,
        'displayName', CASE WHEN i % 8 = 0 THEN 'Global Administrator' ELSE 'Alice' END,
        'modifiedProperties', json_array(json_object('displayName', 'ConsentContext.IsAdminConsent',
                                                     'newValue', '"False"'))))) AS VARCHAR)
    WHEN v < 60 THEN CAST(json_object('time', ts, 'category', 'UserRiskEvents', 'properties', json_object(
      'id', 'k' || CAST(i AS VARCHAR), 'userPrincipalName', account,
      'riskEventType', (['unfamiliarFeatures', 'anonymizedIPAddress', 'unlikelyTravel', 'leakedCredentials',
                         'nationStateIP'])[1 + CAST(i % 5 AS INTEGER)])) AS VARCHAR)
    WHEN v < 90 THEN CAST(json_object('uuid', 'k' || CAST(i AS VARCHAR), 'published', ts,
      'eventType', (['user.mfa.factor.deactivate', 'policy.lifecycle.update', 'system.api_token.create',
                     'group.user_membership.add'])[1 + CAST(i % 4 AS INTEGER)],
      'actor', json_object('alternateId', 'admin@t1.example')) AS VARCHAR)
    ELSE CAST(json_object('kind', 'admin#reports#activity',
      'id', json_object('time', ts, 'uniqueQualifier', 'k' || CAST(i AS VARCHAR),
                        'applicationName', CASE WHEN v < 99 THEN 'drive' ELSE 'login' END),
      'actor', json_object('email', account),
      'events', json_array(json_object('name', CASE WHEN v < 99 THEN 'edit' ELSE 'gov_attack_warning' END)))
      AS VARCHAR) END AS raw,
  TIMESTAMPTZ '2026-02-01 00:00:00+00' AS ingested_at
FROM e
"""


def synthesize(root: Path, n: int, days: int = 30) -> Store:
    """``n`` events and ``n / 20`` kept records over ``days`` days, one Parquet file per day."""
    store = Store(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for sql, total, folder, tag in (
        (EVENTS_SQL, n, store.events_dir, "ev"),
        (OTHER_SQL, n // 20, store.other_dir, "ot"),
    ):
        step_us = max(1, days * DAY_US // max(1, total))
        per_day = max(1, DAY_US // step_us)
        for lo in range(0, total, per_day):
            con.execute(
                "CREATE OR REPLACE TABLE synth AS "
                + sql.format(i0=lo, i1=min(total, lo + per_day), accounts=max(1000, n // 40), step_us=step_us)
            )
            for (day,) in con.execute("SELECT DISTINCT CAST(time AS DATE) FROM synth").fetchall():
                out = folder / f"day={day}"
                out.mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"COPY (SELECT * FROM synth WHERE CAST(time AS DATE) = DATE '{day}' ORDER BY time) "
                    f"TO '{out / f'part-{tag}-{lo}.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
                )
    return store


def _cpu() -> float:
    """CPU seconds of this process, all threads (wall time alone misleads on a shared machine)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _run_child(store_dir: str, rules_dir: str, threads: int | None, min_level: str) -> None:
    """The measured run, in this process: print one JSON line."""
    from idwatch.detections.engine import _limit_resources
    from idwatch.sigma.registry import runs
    from idwatch.sigma.run import run_rules

    rules = [r for r in convert_paths([rules_dir]) if runs(r, min_level)]
    store = Store(store_dir)
    con = store.connect(threads=threads)
    _limit_resources(con)
    steps: dict[str, float] = {}
    t0, c0 = time.perf_counter(), _cpu()
    tables = run_rules(con, rules, seconds=steps)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    fired = {k: t.num_rows for k, t in tables.items() if t.num_rows}
    print(
        json.dumps(
            {
                "run_seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "stage_seconds": {k: v for k, v in steps.items() if k.startswith("sigma_stage_")},
                "slowest_rules": sorted(
                    ((k, v) for k, v in steps.items() if not k.startswith("sigma_stage_")),
                    key=lambda kv: -kv[1],
                )[:5],
                "rules_run": len(tables),
                "rules_with_alerts": len(fired),
                "alerts": sum(fired.values()),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--store", help="measure this store instead of synthesizing one")
    ap.add_argument("--rules", default=str(DEFAULT_RULES))
    ap.add_argument("--keep", help="synthesize into this folder and keep it")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--min-level", default="medium", help="lowest rule level run (as a store's default)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _run_child(args.store, args.rules, args.threads, args.min_level)
        return

    t0 = time.perf_counter()
    rules = convert_paths([args.rules])
    convert_s = time.perf_counter() - t0
    ok = sum(r.converted for r in rules)
    print(f"conversion: {len(rules)} rules ({ok} converted, {len(rules) - ok} not) in {convert_s:.2f} s")

    tmp = None
    root = args.store or args.keep
    if root is None:
        tmp = tempfile.mkdtemp(prefix="sigma-bench-", dir=os.environ.get("IDWATCH_BENCH_DIR"))
        root = tmp
    try:
        if not args.store:
            t1 = time.perf_counter()
            synthesize(Path(root), args.events)
            took = time.perf_counter() - t1
            print(f"synthesized {args.events:,} events + {args.events // 20:,} kept records in {took:.1f} s")
        con = Store(root).connect()
        n_ev = con.execute("SELECT count(*) FROM events").fetchone()[0]
        n_ot = con.execute("SELECT count(*) FROM other_events").fetchone()[0]
        con.close()
        cmd = [sys.executable, __file__, "--child", "--store", str(root), "--rules", args.rules]
        cmd += ["--min-level", args.min_level]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        res = json.loads(out)
        load = os.getloadavg()
        secs = res["run_seconds"]
        print(
            f"run: {res['rules_run']} rules over {n_ev:,} events + {n_ot:,} kept records in {secs} s "
            f"(CPU {res['cpu_seconds']} s) "
            f"({(n_ev + n_ot) / max(secs, 1e-9):,.0f} rows/s), peak RSS {res['peak_rss_mb']} MB, "
            f"{res['alerts']:,} alerts from {res['rules_with_alerts']} rules; load average {load[0]:.1f}"
        )
        print("stage per vendor (s):", json.dumps(res["stage_seconds"]))
        print("slowest rules (s):", json.dumps(res["slowest_rules"]))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
