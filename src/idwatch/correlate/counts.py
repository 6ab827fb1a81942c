"""Campaign counts, taken from the events of the campaign's infrastructure.

Alerts summarize; the EVENTS.md figures (probes, accounts probed / attacked /
compromised) must be exact, so they are counted on events. An IP that only the campaign
uses ("dedicated": nobody signs in from it legitimately) contributes all its events; a
shared address (VPN exit, carrier NAT) contributes only the events an alert pointed at.
Owners' own events from addresses they already used are never counted.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from idwatch.correlate.campaigns import Cluster
from idwatch.correlate.entities import POPULARITY_SCALE

#: The identifier exists: the event says so, else the directory knows it, else it was not refused as unknown.
EXISTS_SQL = """coalesce(account_exists, in_directory OR NULL,
                         coalesce(reason, '') <> 'unknown_account')"""

PROBE_SQL = """(activity = 'account_lookup'
   OR (activity IN ('sign_in', 'password_reset', 'account_recovery')
       AND (reason = 'unknown_account' OR account_exists = false)))"""

ATTACK_SQL = f"""(activity IN ('sign_in', 'password_reset', 'account_recovery', 'mfa_challenge')
   AND {EXISTS_SQL} AND coalesce(reason, '') <> 'unknown_account')"""

COMPROMISE_SQL = """(outcome = 'success' AND (
      activity IN ('sign_in', 'mfa_challenge', 'mailbox_rule', 'mfa_method_change',
                   'recovery_info_change', 'password_change')
   OR (activity IN ('password_reset', 'account_recovery') AND coalesce(step, 'complete') = 'complete')))"""


def create_campaign_events(con: duckdb.DuckDBPyConnection, clusters: list[Cluster]) -> None:
    """Tables ``camp_ip`` (campaign_id, src_ip, dedicated) and ``camp_events``."""
    rows = [(c.id, ip) for c in clusters for ip in sorted(c.ips)]
    con.register(
        "__camp_ip",
        pa.table(
            {"campaign_id": [r[0] for r in rows], "src_ip": [r[1] for r in rows]},
            schema=pa.schema([("campaign_id", pa.string()), ("src_ip", pa.string())]),
        ),
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE camp_ip AS
        SELECT c.campaign_id, c.src_ip, coalesce(p.n, 0) <= {POPULARITY_SCALE} AS dedicated
        FROM __camp_ip c LEFT JOIN pop_ip p ON p.k = c.src_ip
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE camp_events AS
        WITH ev AS (
            SELECT c.campaign_id, e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity,
                   e.step, e.method, e.outcome, e.reason, e.src_ip, e.user_agent, e.asn, e.network_type,
                   e.country
            FROM events e JOIN camp_ip c ON c.src_ip = e.src_ip AND c.dedicated
            ANTI JOIN familiar f ON f.account = e.account AND f.src_ip = e.src_ip
            UNION ALL BY NAME
            SELECT c.campaign_id, s.time, s.event_id, s.tenant, s.account, s.account_exists, s.activity,
                   s.step, s.method, s.outcome, s.reason, s.src_ip, s.user_agent, s.asn, s.network_type,
                   s.country
            FROM sus s JOIN camp_ip c ON c.src_ip = s.src_ip AND NOT c.dedicated
        ), dir AS (SELECT DISTINCT lower(account) AS account FROM directory)
        SELECT ev.*, dir.account IS NOT NULL AS in_directory
        FROM ev LEFT JOIN dir USING (account)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE camp_events AS
        SELECT *, {PROBE_SQL} AS is_probe, {ATTACK_SQL} AS is_attack,
               {ATTACK_SQL} AND {COMPROMISE_SQL} OR ({COMPROMISE_SQL} AND activity NOT IN
                   ('sign_in', 'mfa_challenge', 'password_reset', 'account_recovery')) AS is_compromise
        FROM camp_events
        """
    )


def create_campaign_alerts(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``camp_alerts`` (campaign_id, alert_id): alerts citing events of the campaign's IPs.

    An alert counts for a campaign when one of its events comes from a dedicated campaign IP,
    or (shared IPs) when that very event is one the alert cites.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE camp_alerts AS
        SELECT DISTINCT c.campaign_id, unnest(s.alert_ids) AS alert_id, c.dedicated
        FROM sus s JOIN camp_ip c USING (src_ip)
        """
    )


def create_campaign_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``camp_accounts``: each account of each campaign once, at its furthest stage."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE camp_accounts AS
        WITH ev AS (
            SELECT campaign_id, account, any_value(tenant) AS tenant, min(time) AS first_seen,
                   max(time) AS last_seen, bool_or(is_probe) AS probed, bool_or(is_attack) AS attacked,
                   bool_or(is_compromise) AS compromised
            FROM camp_events WHERE is_probe OR is_attack OR is_compromise
            GROUP BY 1, 2
        ), al AS (  -- compromise / persistence findings tied to the campaign's own addresses
            SELECT ca.campaign_id, aa.account, any_value(aa.tenant) AS tenant,
                   min(aa.first_seen) AS first_seen, max(aa.last_seen) AS last_seen
            FROM camp_alerts ca JOIN alert_accounts aa USING (alert_id)
            WHERE ca.dedicated AND aa.rank = 3
            GROUP BY 1, 2
        )
        SELECT coalesce(ev.campaign_id, al.campaign_id) AS campaign_id,
               coalesce(ev.account, al.account) AS account,
               coalesce(ev.tenant, al.tenant) AS tenant,
               least(ev.first_seen, al.first_seen) AS first_seen,
               greatest(ev.last_seen, al.last_seen) AS last_seen,
               CASE WHEN coalesce(ev.compromised, false) OR al.account IS NOT NULL THEN 'compromised'
                    WHEN ev.attacked THEN 'attacked' ELSE 'probed' END AS stage
        FROM ev FULL OUTER JOIN al ON ev.campaign_id = al.campaign_id AND ev.account = al.account
        """
    )


def campaign_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """EVENTS.md section 5 ``counts`` per campaign id."""
    out: dict[str, dict[str, int]] = {}
    for cid, probes, probed in con.execute(
        """SELECT campaign_id, count(*) FILTER (WHERE is_probe),
                  count(DISTINCT account) FILTER (WHERE is_probe)
           FROM camp_events GROUP BY 1"""
    ).fetchall():
        out[cid] = {
            "probes": int(probes),
            "accounts_probed": int(probed),
            "accounts_attacked": 0,
            "accounts_compromised": 0,
        }
    for cid, attacked, compromised in con.execute(
        """SELECT campaign_id, count(*) FILTER (WHERE stage IN ('attacked', 'compromised')),
                  count(*) FILTER (WHERE stage = 'compromised')
           FROM camp_accounts GROUP BY 1"""
    ).fetchall():
        entry = out.setdefault(cid, {"probes": 0, "accounts_probed": 0})
        entry["accounts_attacked"] = int(attacked)
        entry["accounts_compromised"] = int(compromised)
    return out
