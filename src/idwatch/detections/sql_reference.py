"""The staging SQL as first written: the straightforward statement of the shared tables.

The engine's :mod:`idwatch.detections.sql` computes the same tables faster (pruned, fewer
rows materialised). This module keeps the plain version of every statement that was changed
for speed, so that a run with ``IDWATCH_DETECT_REFERENCE=1`` (or ``run_detections(...,
reference=True)``) evaluates the suite the plain way, and the tests compare both row for row
(tests/detections/test_engine_parity.py). Statements not redefined here are shared.
"""

from __future__ import annotations

from idwatch.detections import sql
from idwatch.detections.sql import *  # noqa: F403 - the unchanged statements and constants
from idwatch.detections.sql import (
    CLIENT_REPUTATION_SQL,
    RISKY_NETWORK_TYPES,
    SETTLE_HOURS,
    SHARED_EXIT_TYPES,
    SOURCE_REPUTATION_SQL,
    TYPOS_SQL,
)


def stage_known_sql(source: str | None, end: str | None) -> str:
    """``known``: what each account used successfully, with when it was first used.

    ``source`` None means ``ev`` already holds all history (first run): no second scan.
    Plain: the five groupings read every sign-in.
    """
    cols = "time, account, tenant, src_ip, asn, asn_org, country, device_id, user_agent, ua_family, ua_os"
    cond = sql._range(None, end)
    cond = (cond + " AND " if cond else "WHERE ") + sql.ROUTINE_SUCCESS
    ok_rows = f"SELECT * FROM ev {cond}" if source is None else sql._with_nets(source, cols, cond)
    return f"""
CREATE OR REPLACE TEMP TABLE known AS
WITH ok AS (
  SELECT account, tenant, time, net, country, device_id, user_agent,
         COALESCE(ua_family, '?') || '/' || COALESCE(ua_os, '?') AS uafam
  FROM ({ok_rows}) r
), g AS (
  SELECT account, tenant, net, country, device_id, user_agent, uafam,
         GROUPING(net) AS g_net, GROUPING(country) AS g_country, GROUPING(device_id) AS g_dev,
         GROUPING(user_agent) AS g_ua, MIN(time) AS first_seen, COUNT(*) AS n
  FROM ok
  GROUP BY GROUPING SETS ((account, tenant, net), (account, tenant, country),
                          (account, tenant, device_id), (account, tenant, user_agent),
                          (account, tenant, uafam))
)
SELECT account, tenant,
       CASE WHEN g_net = 0 THEN 'net' WHEN g_country = 0 THEN 'country'
            WHEN g_dev = 0 THEN 'device' WHEN g_ua = 0 THEN 'ua' ELSE 'uafam' END AS kind,
       CASE WHEN g_net = 0 THEN net WHEN g_country = 0 THEN country
            WHEN g_dev = 0 THEN device_id WHEN g_ua = 0 THEN user_agent ELSE uafam END AS value,
       first_seen, n
FROM g
WHERE CASE WHEN g_net = 0 THEN net WHEN g_country = 0 THEN country
           WHEN g_dev = 0 THEN device_id WHEN g_ua = 0 THEN user_agent ELSE uafam END IS NOT NULL
"""


#: Familiarity of one event as of its time: joins against ``known`` with ``first_seen < time``.
STAGE_EVF_TEMPLATE = f"""
CREATE OR REPLACE TEMP TABLE evf0 AS
WITH unusual AS (
  SELECT e.*
  FROM ev e
  WHERE NOT {sql.ROUTINE_SUCCESS.replace("activity", "e.activity").replace("outcome", "e.outcome")}
), suspect AS (
  SELECT DISTINCT u.account, u.tenant
  FROM unusual u
  LEFT JOIN known k ON k.account = u.account AND k.tenant IS NOT DISTINCT FROM u.tenant
       AND k.kind = 'net' AND k.value = u.net AND k.first_seen < u.time - INTERVAL '{{settle}}' HOUR
  WHERE (k.account IS NULL AND (u.outcome = 'failure' OR u.activity = 'account_lookup'))
     OR u.activity IN ('password_reset', 'account_recovery', 'mfa_method_change',
                       'recovery_info_change', 'mailbox_rule', 'password_change')
), rows_ AS (
  SELECT * FROM unusual
  UNION ALL
  SELECT e.* FROM ev e
  JOIN suspect s ON s.account = e.account AND s.tenant IS NOT DISTINCT FROM e.tenant
  WHERE {sql.ROUTINE_SUCCESS.replace("activity", "e.activity").replace("outcome", "e.outcome")}
)
SELECT r.*,
       a.exists_ AS acct_exists, COALESCE(a.watchlist, FALSE) AS watchlist, a.category,
       a.dir_contact_hash, a.home_country,
       (a.first_ok IS NOT NULL AND a.first_ok < r.time - INTERVAL '{{settle}}' HOUR) AS has_baseline,
       (kn.account IS NOT NULL) AS net_known,
       (kc.account IS NOT NULL OR (r.country IS NOT NULL AND r.country = a.home_country)) AS country_known,
       (kd.account IS NOT NULL) AS dev_known,
       (ku.account IS NOT NULL) AS ua_known,
       (kf.account IS NOT NULL) AS uafam_known,
       sr.risk AS risk
FROM rows_ r
LEFT JOIN acct a ON a.account = r.account AND a.tenant IS NOT DISTINCT FROM r.tenant
LEFT JOIN known kn ON kn.account = r.account AND kn.tenant IS NOT DISTINCT FROM r.tenant
     AND kn.kind = 'net' AND kn.value = r.net AND kn.first_seen < r.time - INTERVAL '{{settle}}' HOUR
LEFT JOIN known kc ON kc.account = r.account AND kc.tenant IS NOT DISTINCT FROM r.tenant
     AND kc.kind = 'country' AND kc.value = r.country AND kc.first_seen < r.time - INTERVAL '{{settle}}' HOUR
LEFT JOIN known kd ON kd.account = r.account AND kd.tenant IS NOT DISTINCT FROM r.tenant
     AND kd.kind = 'device' AND kd.value = r.device_id AND kd.first_seen < r.time - INTERVAL '{{settle}}' HOUR
LEFT JOIN known ku ON ku.account = r.account AND ku.tenant IS NOT DISTINCT FROM r.tenant
     AND ku.kind = 'ua' AND ku.value = r.user_agent AND ku.first_seen < r.time - INTERVAL '{{settle}}' HOUR
LEFT JOIN known kf ON kf.account = r.account AND kf.tenant IS NOT DISTINCT FROM r.tenant
     AND kf.kind = 'uafam' AND kf.value = COALESCE(r.ua_family, '?') || '/' || COALESCE(r.ua_os, '?')
     AND kf.first_seen < r.time - INTERVAL '{{settle}}' HOUR
LEFT JOIN signin_risk sr ON sr.event_id = r.event_id
"""


#: ``own_ok``: successful sign-ins on a client the account had already used for ``SETTLE_HOURS``
#: (its device id, or without one its network): people's everyday clients. An event from such a
#: device, or without a device id from a non-anonymising address with such a sign-in that UTC day,
#: is ``own_client`` in ``evf``: somebody's own phone or office line, whose failed lookups are
#: typos and forgotten addresses rather than enumeration.
OWN_CLIENTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE own_ok AS
SELECT s.device_id, s.src_ip, s.network_type, CAST(FLOOR(EPOCH(s.time) / 86400) AS BIGINT) AS day
FROM ev s
JOIN known k ON k.account = s.account AND k.tenant IS NOT DISTINCT FROM s.tenant
 AND k.kind = CASE WHEN s.device_id IS NULL THEN 'net' ELSE 'device' END
 AND k.value = COALESCE(s.device_id, s.net)
 AND k.first_seen < s.time - INTERVAL '{SETTLE_HOURS}' HOUR
WHERE s.activity = 'sign_in' AND s.outcome = 'success'
"""

_BY_CLIENT = (
    "f.user_agent IS NOT NULL AND (x.src_ip IS NOT NULL OR COALESCE(f.network_type, 'unknown') <> 'hosting')"
)
UNFAMILIARITY_SQL = f"""
CREATE OR REPLACE TEMP TABLE evf AS
SELECT f.*,
       COALESCE(f.network_type, 'unknown') IN {RISKY_NETWORK_TYPES} AS risky_net,
       CASE WHEN f.net_known THEN 0 ELSE 1 END + CASE WHEN f.country_known THEN 0 ELSE 1 END
       + CASE WHEN f.device_id IS NOT NULL AND f.dev_known THEN -2
              WHEN f.device_id IS NOT NULL OR NOT f.uafam_known THEN 1 ELSE 0 END
       + CASE WHEN COALESCE(f.network_type, 'unknown') IN {RISKY_NETWORK_TYPES} THEN 1 ELSE 0 END
         AS unfam_score,
       (f.dev_known OR (f.device_id IS NULL AND f.ua_known)) AS client_known
FROM evf0 f;
{SOURCE_REPUTATION_SQL};
CREATE OR REPLACE TEMP TABLE shared_exits AS
SELECT e.src_ip FROM ev e JOIN (SELECT DISTINCT src_ip FROM evf) i ON i.src_ip = e.src_ip
WHERE e.network_type IN {SHARED_EXIT_TYPES}
GROUP BY e.src_ip;
{CLIENT_REPUTATION_SQL};
{OWN_CLIENTS_SQL};
{TYPOS_SQL};
CREATE OR REPLACE TEMP TABLE evf AS
SELECT f.*, COALESCE(s.bad_accts, 0) AS src_bad_accts, COALESCE(s.ok_accts, 0) AS src_ok_accts,
       (x.src_ip IS NOT NULL) AS shared_exit,
       CASE WHEN {_BY_CLIENT}
            THEN COALESCE(c.bad_accts, 0)
            ELSE COALESCE(s.bad_accts, 0) END AS rep_bad_accts,
       CASE WHEN {_BY_CLIENT}
            THEN COALESCE(c.ok_accts, 0)
            ELSE COALESCE(s.ok_accts, 0) END AS rep_ok_accts,
       (t.event_id IS NOT NULL) AS typo,
       (od.device_id IS NOT NULL OR oi.src_ip IS NOT NULL) AS own_client
FROM evf f
LEFT JOIN src_rep s ON s.src_ip = f.src_ip AND s.day = CAST(FLOOR(EPOCH(f.time) / 86400) AS BIGINT)
LEFT JOIN shared_exits x ON x.src_ip = f.src_ip
LEFT JOIN client_rep c ON c.src_ip = f.src_ip AND c.user_agent = f.user_agent
      AND c.day = CAST(FLOOR(EPOCH(f.time) / 86400) AS BIGINT)
LEFT JOIN typos t ON t.event_id = f.event_id
LEFT JOIN (SELECT DISTINCT device_id FROM own_ok WHERE device_id IS NOT NULL) od
       ON od.device_id = f.device_id
LEFT JOIN (SELECT DISTINCT src_ip, day FROM own_ok
           WHERE device_id IS NULL AND COALESCE(network_type, 'unknown') NOT IN {RISKY_NETWORK_TYPES}) oi
       ON f.device_id IS NULL AND oi.src_ip = f.src_ip
      AND oi.day = CAST(FLOOR(EPOCH(f.time) / 86400) AS BIGINT);
"""


def stage_evf_sql(settle_hours: float = SETTLE_HOURS) -> str:
    """``evf`` with familiarity flags; values first used less than ``settle_hours`` ago are new."""
    return STAGE_EVF_TEMPLATE.replace("{settle}", str(int(settle_hours)))
