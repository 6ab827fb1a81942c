"""Ground truth computed from the generated events, with the definitions of EVENTS.md section 5.

- probe: an event in which the actor tested whether an identifier exists: any ``account_lookup``, and
  any sign-in / password-reset / account-recovery attempt on an identifier that does not exist;
- attacked: an EXISTING account on which the actor attempted a sign-in, reset, recovery or MFA prompt;
- compromised: an account where the actor's sign-in or MFA challenge succeeded, or its reset /
  recovery completed. Outcomes are judged per session: a password step logged as a success whose
  session then has an MFA challenge is no sign-in unless a challenge of that session succeeded.

Counts are cumulative (``accounts_attacked`` includes the compromised, ``accounts_probed`` every
identifier probed); the per-stage account lists hold each identifier once, at its furthest stage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa

PROBE_SQL = (
    "(activity = 'account_lookup' OR (activity IN ('sign_in', 'password_reset', 'account_recovery') "
    "AND account_exists = false))"
)
ATTACK_SQL = (
    "(account_exists AND activity IN ('sign_in', 'password_reset', 'account_recovery', 'mfa_challenge'))"
)
COMPROMISE_SQL = (
    "(account_exists AND outcome = 'success' AND ((activity = 'sign_in' AND NOT gated) "
    "OR activity = 'mfa_challenge' "
    "OR (activity IN ('password_reset', 'account_recovery') AND step = 'complete')))"
)
#: the attackers' events, each marked whether its session has an MFA challenge (which then decides)
GATED_SQL = """
    SELECT *, coalesce(bool_or(activity = 'mfa_challenge') OVER (
        PARTITION BY campaign, account, session_id), false) AND session_id IS NOT NULL AS gated
    FROM ev_raw"""


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def campaign_truth(events: pa.Table) -> dict[str, dict[str, Any]]:
    """Per campaign id: first/last seen, counts and accounts by furthest stage.

    ``events`` holds the attackers' events (batch columns: integer microsecond ``time``, labels).
    """
    con = duckdb.connect(":memory:")
    con.register("ev_raw", events)
    con.execute(f"CREATE TEMP VIEW ev AS {GATED_SQL}")
    rows = con.execute(f"""
        SELECT campaign, min(time), max(time),
               count(*) FILTER (WHERE {PROBE_SQL}),
               count(DISTINCT account) FILTER (WHERE {PROBE_SQL}),
               count(DISTINCT account) FILTER (WHERE {ATTACK_SQL}),
               count(DISTINCT account) FILTER (WHERE {COMPROMISE_SQL})
        FROM ev WHERE campaign IS NOT NULL GROUP BY campaign ORDER BY campaign
    """).fetchall()
    stages = con.execute(f"""
        SELECT campaign, account,
               CASE WHEN bool_or({COMPROMISE_SQL}) THEN 'compromised'
                    WHEN bool_or({ATTACK_SQL}) THEN 'attacked'
                    WHEN bool_or({PROBE_SQL}) THEN 'probed' END AS stage
        FROM ev WHERE campaign IS NOT NULL GROUP BY campaign, account ORDER BY campaign, account
    """).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for cid, t0, t1, probes, n_probed, n_attacked, n_comp in rows:
        out[cid] = {
            "first_seen": _iso(t0),
            "last_seen": _iso(t1),
            "counts": {
                "probes": probes,
                "accounts_probed": n_probed,
                "accounts_attacked": n_attacked,
                "accounts_compromised": n_comp,
            },
            "accounts": {"probed": [], "attacked": [], "compromised": []},
        }
    for cid, account, stage in stages:
        if stage:
            out[cid]["accounts"][stage].append(account)
    return out
