"""Incidents: for each account, the ordered chain of alerts about it and how far it got.

An alert can name many accounts (an enumeration alert lists every probed identifier), so
alerts are exploded per account in DuckDB; one incident row per account (its one tenant) then
carries the chain (alert ids in time order), the detection stages seen, and the furthest
status on the EVENTS.md scale probed < attacked < compromised (persistence counts as
compromised, and is flagged separately).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

#: Detection stage -> account status (EVENTS.md section 5) and its rank.
STAGE_STATUS_SQL = """
CASE stage
  WHEN 'recon' THEN 1
  WHEN 'credential' THEN 2 WHEN 'recovery' THEN 2 WHEN 'mfa' THEN 2
  WHEN 'compromise' THEN 3 WHEN 'persistence' THEN 3
  ELSE 1 END
"""
STATUS_BY_RANK = {1: "probed", 2: "attacked", 3: "compromised"}
STAGE_ORDER = ["recon", "credential", "recovery", "mfa", "compromise", "persistence"]

INCIDENT_SCHEMA = pa.schema(
    [
        pa.field("account", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("status", pa.string()),
        pa.field("furthest_stage", pa.string()),
        pa.field("persistence", pa.bool_()),
        pa.field("first_seen", pa.timestamp("us", tz="UTC")),
        pa.field("last_seen", pa.timestamp("us", tz="UTC")),
        pa.field("n_alerts", pa.int64()),
        pa.field("max_score", pa.int32()),
        pa.field("risk", pa.int32()),
        pa.field("alert_ids", pa.list_(pa.string())),
        pa.field("detection_ids", pa.list_(pa.string())),
        pa.field("stages", pa.list_(pa.string())),
        pa.field("techniques", pa.list_(pa.string())),
        pa.field("campaigns", pa.list_(pa.string())),
    ]
)


def create_alert_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``alert_accounts``: one row per (alert, account) with the account's tenant.

    The tenant comes from the directory, else the identifier's domain, else (a bare user
    name) from the alert or the events where it appears: one tenant per account, so that the
    account is one row wherever it is counted (an alert's or an event's tenant can be a tenant
    id where the directory has a domain).
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE alert_accounts AS
        WITH x AS (
            SELECT alert_id, detection_id, stage, techniques, severity, coalesce(score, 0) AS score,
                   first_seen, last_seen, tenant AS alert_tenant,
                   lower(trim(unnest(accounts))) AS account
            FROM alerts
        ), ev_tenant AS (
            SELECT account, any_value(tenant) AS tenant FROM events
            WHERE tenant IS NOT NULL AND account IN (SELECT account FROM x) GROUP BY account
        ), dir_tenant AS (
            SELECT lower(account) AS account, any_value(tenant) AS tenant FROM directory GROUP BY 1
        )
        SELECT x.* EXCLUDE (alert_tenant),
               coalesce(d.tenant, nullif(split_part(x.account, '@', 2), ''),
                        x.alert_tenant, e.tenant) AS tenant,
               {STAGE_STATUS_SQL} AS rank
        FROM x LEFT JOIN dir_tenant d USING (account) LEFT JOIN ev_tenant e USING (account)
        WHERE x.account IS NOT NULL AND x.account <> ''
        """
    )


def build_incidents(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One incident per account from ``alert_accounts`` (see :func:`create_alert_accounts`)."""
    stage_rank = "list_position(" + str(STAGE_ORDER).replace('"', "'") + ", stage)"
    table = con.sql(
        f"""
        SELECT account, min(tenant) AS tenant,
               CASE max(rank) WHEN 3 THEN 'compromised' WHEN 2 THEN 'attacked' ELSE 'probed' END AS status,
               arg_max(stage, {stage_rank}) AS furthest_stage,
               bool_or(stage = 'persistence') AS persistence,
               min(first_seen) AS first_seen, max(last_seen) AS last_seen,
               count(*) AS n_alerts,
               max(score)::INTEGER AS max_score,
               least(100, greatest(
                   max(score) + 5 * (count(*) - 1),
                   CASE max(rank) WHEN 3 THEN 85 WHEN 2 THEN 40 ELSE 10 END))::INTEGER AS risk,
               list(alert_id ORDER BY first_seen, alert_id) AS alert_ids,
               list(DISTINCT detection_id ORDER BY detection_id) AS detection_ids,
               list(stage ORDER BY first_seen, alert_id) AS stages,
               list_sort(list_distinct(flatten(list(coalesce(techniques, []))))) AS techniques,
               []::VARCHAR[] AS campaigns
        FROM alert_accounts
        GROUP BY account
        ORDER BY account
        """
    ).to_arrow_table()
    return table.cast(INCIDENT_SCHEMA)
