"""Evaluate the login-risk model on simulated data, and time it.

Quality (``--sim DIR``, the output of ``idwatch simulate``): every successful sign-in gets a
risk from ``build_signin_risk``; attacker sign-ins (labels.parquet kind != benign) are the
positives. Prints ROC AUC, and -- as Wiefling et al. (ACM TOPS 2022) report RBA -- the share
of legitimate sign-ins that would be challenged at the threshold that still catches 99.5 %
of the attackers' successful sign-ins, next to the naive rule "country new for this account".

Speed (``--speed N``): N synthetic canonical events (~45 % successful sign-ins, 100 events
per account) written to a throw-away store, then ``build_signin_risk`` timed (wall and CPU).

    python bench/riskmodel_eval.py --sim /tmp/sim --store /tmp/sim-store   # ingests if empty
    python bench/riskmodel_eval.py --speed 20000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from idwatch.detections.riskmodel import build_signin_risk
from idwatch.detections.riskmodel_sql import SUCCESSFUL_SIGNIN
from idwatch.store import Store

RECALL = 0.995


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted one half."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    values = np.concatenate([pos, neg])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    sorted_vals = values[order]
    _, first, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def challenge_share(pos: np.ndarray, neg: np.ndarray, recall: float = RECALL) -> tuple[float, float]:
    """(threshold, share of negatives at or above it) for the highest threshold with >= recall."""
    k = int(np.floor((1.0 - recall) * len(pos)))  # attackers we may let through
    threshold = float(np.sort(pos)[k])
    return threshold, float((neg >= threshold).mean())


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def timed_build(store: Store, params: dict | None = None) -> tuple[duckdb.DuckDBPyConnection, float, float]:
    con = store.connect()
    wall, cpu = time.perf_counter(), cpu_seconds()
    build_signin_risk(con, params=params)
    return con, time.perf_counter() - wall, cpu_seconds() - cpu


def evaluate(sim: Path, store_dir: Path, params: dict | None = None) -> None:
    store = Store(store_dir)
    if not store.has_events():
        from idwatch.ingest import ingest_paths

        summary = ingest_paths(store, [str(sim / "events.jsonl")])
        print(f"ingested {summary.stored:,} events into {store_dir}")
    con, wall, cpu = timed_build(store, params)
    n_events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    con.execute(f"CREATE TABLE labels AS SELECT * FROM read_parquet('{sim / 'labels.parquet'}')")
    # the naive rule: the account has no earlier successful sign-in from this country
    rows = con.execute(
        f"""
        WITH naive AS (
          SELECT event_id,
            rank() OVER (PARTITION BY tenant, account, coalesce(country, '?') ORDER BY time) = 1 AS new_c
          FROM events WHERE {SUCCESSFUL_SIGNIN}
        )
        SELECT coalesce(l.kind, 'benign') AS kind, r.risk, n.new_c, r.history
        FROM signin_risk r JOIN naive n USING (event_id) LEFT JOIN labels l USING (event_id)
        """
    ).fetchall()
    kind = np.array([r[0] for r in rows])
    risk = np.array([r[1] for r in rows], dtype=float)
    new_country = np.array([bool(r[2]) for r in rows], dtype=float)
    history = np.array([r[3] for r in rows])
    legit = kind == "benign"
    print(
        f"events {n_events:,}; successful sign-ins {len(rows):,}; build_signin_risk {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU"
    )
    print(
        f"legitimate {legit.sum():,}; attacker: "
        + ", ".join(f"{k} {int((kind == k).sum()):,}" for k in sorted(set(kind)) if k != "benign")
    )
    groups = {"all attackers": ~legit}
    groups.update({k: kind == k for k in sorted(set(kind)) if k != "benign"})
    warm = history >= 5
    groups["attackers, history>=5"] = ~legit & warm
    header = ("positives", "n", "AUC risk", "AUC newC", "thr@99.5%", "challenged", "newC TPR", "newC FPR")
    print("\n" + "".join(f"{h:>12}" if i else f"{h:<24}" for i, h in enumerate(header)))
    for name, mask in groups.items():
        neg_mask = legit & warm if "history" in name else legit
        pos, neg = risk[mask], risk[neg_mask]
        if len(pos) == 0:
            continue
        thr, share = challenge_share(pos, neg)
        cells = (
            f"{len(pos):,}",
            f"{roc_auc(pos, neg):.4f}",
            f"{roc_auc(new_country[mask], new_country[neg_mask]):.4f}",
            f"{thr:.2f}",
            f"{share:.2%}",
            f"{new_country[mask].mean():.2%}",
            f"{new_country[neg_mask].mean():.2%}",
        )
        print(f"{name:<24}" + "".join(f"{c:>12}" for c in cells))
    print(
        "\nchallenged = legitimate sign-ins at or above the threshold that catches 99.5 % of attacker "
        "sign-ins;\nthe new-country rule challenges exactly its FPR and catches its TPR (no threshold)."
    )


SYNTHETIC_SQL = """
COPY (
  SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(ts) AS time,
    'e' || i AS event_id, 'native' AS source, 't' || (a % 50) || '.org' AS tenant,
    'user' || a || '@t' || (a % 50) || '.org' AS account, true AS account_exists,
    CASE WHEN r1 < 0.5 THEN 'sign_in' ELSE 'account_lookup' END AS activity,
    NULL AS step, 'password' AS method,
    CASE WHEN r2 < 0.9 THEN 'success' ELSE 'failure' END AS outcome, NULL AS reason,
    CASE WHEN r3 < 0.8 THEN '10.' || (a % 200) || '.' || ((a // 200) % 250) || '.' || (a % 7)
         WHEN r3 < 0.95 THEN '10.' || (a % 200) || '.' || ((a // 200) % 250) || '.' || CAST(r4 * 250 AS INT)
         ELSE CAST(CAST(r4 * 200 AS INT) + 1 AS VARCHAR) || '.1.' || CAST(r5 * 250 AS INT) || '.9'
    END AS src_ip,
    'Mozilla/5.0 (' || (a % 5) || ') Chrome/' || (100 + a % 30) AS user_agent,
    NULL AS device_id, NULL AS session_id,
    CASE WHEN r3 < 0.95 THEN ['US', 'DE', 'FR', 'GB', 'IR'][1 + a % 5]
         ELSE ['US', 'DE', 'FR', 'GB', 'IR', 'CN', 'RU'][1 + CAST(r5 * 6 AS INT)] END AS country,
    CAST(CASE WHEN r3 < 0.95 THEN 1000 + a % 200 ELSE CAST(r4 * 5000 AS INT) END AS BIGINT) AS asn,
    'ORG' AS asn_org, 'residential' AS network_type, NULL AS contact_hash, NULL AS detail, '{{}}' AS raw,
    ['Chrome', 'Firefox', 'Edge'][1 + a % 3] AS ua_family,
    ['Windows', 'Mac OS X', 'Linux', 'iOS', 'Android'][1 + a % 5] AS ua_os,
    NULL::TIMESTAMPTZ AS ingested_at,
    strftime(TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(ts), '%Y-%m-%d') AS day
  FROM (SELECT i, CAST(random() * {accounts} AS INT) AS a, random() AS r1, random() AS r2,
          random() AS r3, random() AS r4, random() AS r5,
          CAST(random() * 30 * 86400e6 AS BIGINT) AS ts
        FROM range({n}) t(i))
) TO '{out}' (FORMAT parquet, PARTITION_BY (day), OVERWRITE_OR_IGNORE)
"""


def speed(n: int, keep: Path | None, params: dict | None = None) -> None:
    root = keep or Path(tempfile.mkdtemp(prefix="riskmodel-speed-"))
    store = Store(root)
    if not store.has_events():
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SELECT setseed(0.42)")
        con.execute(SYNTHETIC_SQL.format(n=n, accounts=max(n // 100, 10), out=store.events_dir))
    con, wall, cpu = timed_build(store, params)
    rows = con.execute("SELECT count(*) FROM signin_risk").fetchall()[0][0]
    events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"{events:,} events, {rows:,} successful sign-ins scored in {wall:.1f} s wall / {cpu:.1f} s CPU "
        f"({events / wall:,.0f} events/s); peak RSS {peak:.2f} GB"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", type=Path, help="directory written by `idwatch simulate`")
    ap.add_argument("--store", type=Path, help="store holding the simulated events (ingested if empty)")
    ap.add_argument("--speed", type=int, metavar="N", help="time the model on N synthetic events")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="model parameter")
    args = ap.parse_args(argv)
    params = {k: float(v) for k, v in (item.split("=", 1) for item in args.param)}
    if args.speed:
        speed(args.speed, args.store, params)
    elif args.sim:
        evaluate(args.sim, args.store or Path(tempfile.mkdtemp(prefix="riskmodel-eval-")), params)
    else:
        ap.error("give --sim DIR or --speed N")
    return 0


if __name__ == "__main__":
    sys.exit(main())
