"""Staging SQL shared by every detection: one scan of the store, reused by the whole suite.

The engine runs these statements once per run, then each detection query reads the staged
tables instead of the Parquet files (scan sharing + column pruning). The tables are:

``ev``      events in the scan range, pruned to the columns detections read, plus ``net``
            (network key: ASN, else AS organisation, else the IP's /24 or IPv6 /64) and ``ipnet``.
``acct``    one row per identifier seen: does it exist (directory, a success, or the source
            said so), watch-listed, category, home country, registered contact hash, first success.
``known``   per account baseline from successful sign-ins / MFA over all history up to the
            end of the scan: (kind, value, first_seen) for kinds net, country, device, ua, uafam.
``evf``     every event that is not a routine success, plus the routine successes of accounts
            that had any unusual event, each with familiarity flags computed *as of that
            event* (was this network / country / device / user agent used successfully before?)
            and the login risk of successful sign-ins.
``src_rep``  per (source address, UTC day): accounts it touched with attack-like events vs.
            accounts that signed in from it, over the last days (:data:`SOURCE_REPUTATION_SQL`).
``typos``   events on identifiers that do not exist which their typist corrected (:data:`TYPOS_SQL`).
``own_dev`` / ``own_ip``  clients the account had settled on (:data:`OWN_CLIENTS_SQL`).
``intel_indicators``  (kind, value, intrusion_set) from the imported STIX bundles.
``signin_risk``       from the risk model (empty when the model is unavailable).

Everything here except :func:`ipnet_expr` is portable SQL; the network-prefix expression is
engine-specific and lives in one function so a Spark adapter replaces just that.
"""

from __future__ import annotations

from idwatch.sources.vendor_sql import NO_ACCOUNT

#: Columns of ``ev`` read from the ``events`` view (the rest are never read by a detection).
EV_COLUMNS = (
    "time", "event_id", "tenant", "account", "account_exists", "activity", "step", "method",
    "outcome", "reason", "src_ip", "user_agent", "device_id", "country", "asn", "asn_org",
    "network_type", "contact_hash", "detail", "ua_family", "ua_os", "session_id",
)  # fmt: skip

#: Network types whose location and ownership say nothing about the user (anonymising / rented).
RISKY_NETWORK_TYPES = "('hosting', 'vpn', 'proxy', 'tor')"

#: Exits many unrelated people share at once (commercial VPN, proxy, Tor): what one client did from
#: such an address says nothing about the next client on it. A rented server (``hosting``) is not one.
SHARED_EXIT_TYPES = "('vpn', 'proxy', 'tor')"

#: Routine successes: the bulk of the data, kept out of ``evf`` unless the account is unusual.
ROUTINE_SUCCESS = "(activity IN ('sign_in', 'mfa_challenge') AND outcome = 'success')"


def ipnet_expr(col: str = "src_ip") -> str:
    """DuckDB: the /24 of an IPv4 address, or the /64 of an IPv6 address (leading zeros dropped).

    IPv6 addresses compressed with ``::`` inside the first 64 bits are padded with zero groups,
    which is exact whenever at most four groups follow the ``::`` (all realistic client addresses).
    """
    v6_groups = (
        f"list_transform(string_split(split_part(lower({col}), '::', 1), ':'), "
        "lambda g: CASE WHEN ltrim(g, '0') = '' THEN '0' ELSE ltrim(g, '0') END)"
    )
    return (
        f"CASE WHEN {col} LIKE '%:%' THEN "
        f"array_to_string(list_slice(list_concat(list_filter({v6_groups}, lambda g: g <> '') "
        f"|| CASE WHEN {col} LIKE '%::%' THEN ['0', '0', '0', '0'] ELSE [] END, "
        "['0', '0', '0', '0']), 1, 4), ':') || '::/64' "
        f"ELSE regexp_replace({col}, '\\.[0-9]+$', '.0/24') END"
    )


def _range(start: str | None, end: str | None) -> str:
    # an attempt that named no identifier (Auth0's account-less failures) is stored and counted,
    # but it is no account's event: no baseline, alert or campaign target may be built on it
    where = [f"account IS DISTINCT FROM '{NO_ACCOUNT}'"]
    if start:
        where.append(f"time >= CAST('{start}' AS TIMESTAMPTZ)")
    if end:
        where.append(f"time <= CAST('{end}' AS TIMESTAMPTZ)")
    return ("WHERE " + " AND ".join(where)) if where else ""


def _with_nets(source: str, cols: str, cond: str) -> str:
    """Rows of ``source`` with ``net`` and ``ipnet`` (rows without an address are left out).

    An IPv4 prefix is one cheap string operation per row; an IPv6 one (list lambdas, ~20x
    dearer) is computed once per distinct IPv6 address, from a narrow second scan, and looked
    up. A join of every row with every distinct address (and the copy of the rows it needs)
    cost more than the IPv4 prefixes themselves (2M bench store: 2.9 -> 1.8 CPU-s).
    """
    v6_cond = (cond + " AND " if cond else "WHERE ") + "src_ip LIKE '%:%'"
    return f"""
WITH v6 AS (SELECT src_ip, {ipnet_expr()} AS ipnet FROM (SELECT DISTINCT src_ip FROM {source} {v6_cond}) d),
src AS (
  SELECT s.*, CASE WHEN s.src_ip LIKE '%:%' THEN v6.ipnet ELSE {ipnet_expr("s.src_ip")} END AS ipnet
  FROM (SELECT {cols} FROM {source} {cond}) s LEFT JOIN v6 ON v6.src_ip = s.src_ip
  WHERE s.src_ip IS NOT NULL
)
SELECT src.* EXCLUDE (ipnet), COALESCE(CAST(src.asn AS VARCHAR), src.asn_org, src.ipnet) AS net, src.ipnet
FROM src
"""


def stage_events_sql(source: str, start: str | None, end: str | None) -> str:
    """``ev``: pruned events of the scan range with the network keys."""
    cols = ", ".join(EV_COLUMNS)
    return "CREATE OR REPLACE TEMP TABLE ev AS " + _with_nets(source, cols, _range(start, end))


def stage_known_sql(source: str | None, end: str | None) -> str:
    """``known``: what each account used successfully, with when it was first used.

    ``source`` None means ``ev`` already holds all history (first run): no second scan.
    One pass with GROUPING SETS instead of one GROUP BY per kind, over the distinct
    combinations of the sign-ins (with their first time and count) rather than the sign-ins.
    """
    cols = "time, account, tenant, src_ip, asn, asn_org, country, device_id, user_agent, ua_family, ua_os"
    cond = _range(None, end)
    cond = (cond + " AND " if cond else "WHERE ") + ROUTINE_SUCCESS
    ok_rows = f"SELECT * FROM ev {cond}" if source is None else _with_nets(source, cols, cond)
    return f"""
CREATE OR REPLACE TEMP TABLE known AS
WITH ok AS (
  SELECT account, tenant, time, net, country, device_id, user_agent,
         COALESCE(ua_family, '?') || '/' || COALESCE(ua_os, '?') AS uafam
  FROM ({ok_rows}) r
), c AS (
  -- an account's sign-ins repeat a few combinations (~10x fewer than rows): the five
  -- groupings below read those instead of every sign-in five times
  SELECT account, tenant, net, country, device_id, user_agent, uafam, MIN(time) AS t, COUNT(*) AS n
  FROM ok
  GROUP BY account, tenant, net, country, device_id, user_agent, uafam
), g AS (
  SELECT account, tenant, net, country, device_id, user_agent, uafam,
         GROUPING(net) AS g_net, GROUPING(country) AS g_country, GROUPING(device_id) AS g_dev,
         GROUPING(user_agent) AS g_ua, MIN(t) AS first_seen, CAST(SUM(n) AS BIGINT) AS n
  FROM c
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


STAGE_ACCT_SQL = """
CREATE OR REPLACE TEMP TABLE acct AS
WITH seen AS (
  SELECT account, tenant,
         MAX(CASE WHEN account_exists THEN 1 ELSE 0 END) AS said_yes,
         MAX(CASE WHEN account_exists = FALSE OR reason = 'unknown_account' THEN 1 ELSE 0 END) AS said_no,
         MAX(CASE WHEN outcome = 'success' AND activity IN ('sign_in', 'mfa_challenge',
                  'password_change', 'mailbox_rule', 'mfa_method_change', 'recovery_info_change')
                  THEN 1 ELSE 0 END) AS had_success
  FROM ev GROUP BY account, tenant
), base AS (
  SELECT account, tenant, MIN(first_seen) AS first_ok
  FROM known WHERE kind = 'net' GROUP BY account, tenant
), dir AS (
  SELECT account, MAX(tenant) AS tenant, MAX(CASE WHEN watchlist THEN 1 ELSE 0 END) AS wl,
         MAX(category) AS category, MAX(home_country) AS home_country,
         MAX(contact_hash) AS dir_contact_hash
  FROM directory GROUP BY account
)
SELECT s.account, s.tenant,
       CASE WHEN d.account IS NOT NULL OR b.first_ok IS NOT NULL OR s.said_yes = 1 OR s.had_success = 1
                 THEN TRUE
            WHEN s.said_no = 1 THEN FALSE
            WHEN (SELECT COUNT(*) FROM directory) > 0 THEN FALSE
            ELSE NULL END AS exists_,
       COALESCE(d.wl, 0) = 1 AS watchlist,
       d.category, d.home_country, d.dir_contact_hash, b.first_ok
FROM seen s
LEFT JOIN dir d ON d.account = s.account
LEFT JOIN base b ON b.account = s.account AND b.tenant IS NOT DISTINCT FROM s.tenant
"""

#: Familiarity of one event as of its time: joins against ``known`` with ``first_seen < time``.
#: Written straight into ``evf`` with the unfamiliarity columns of :data:`UNFAMILIARITY_SQL`
#: (one copy of the wide rows instead of two). The baseline is looked up once per distinct
#: (account, network, country, client) combination (``evf_fam``: an account's sign-ins repeat a few
#: of them, ~10x fewer than rows) and compared with each event's own time, instead of joining
#: every event with ``known`` five times. ``evf_fam`` is a table of its own, taken over all of
#: ``ev`` (a narrow scan), so that the wide rows are read once, never materialised, and probe it.
_FAM_COLUMNS = ("account", "tenant", "net", "country", "device_id", "user_agent", "ua_family", "ua_os")
_FAM_ON = " AND ".join(f"c.{col} IS NOT DISTINCT FROM r.{col}" for col in _FAM_COLUMNS)
_SETTLED = "< r.time - INTERVAL '{settle}' HOUR"


def _fam_join(alias: str, kind: str, value: str) -> str:
    """The ``known`` row of one kind for a combination ``c`` (its first use, whenever it was)."""
    return (
        f"LEFT JOIN known {alias} ON {alias}.account = c.account "
        f"AND {alias}.tenant IS NOT DISTINCT FROM c.tenant "
        f"AND {alias}.kind = '{kind}' AND {alias}.value = {value}"
    )


STAGE_EVF_TEMPLATE = f"""
CREATE OR REPLACE TEMP TABLE evf_fam AS
SELECT c.*, a.exists_ AS acct_exists, COALESCE(a.watchlist, FALSE) AS watchlist, a.category,
       a.dir_contact_hash, a.home_country, a.first_ok,
       kn.first_seen AS fs_net, kc.first_seen AS fs_country, kd.first_seen AS fs_dev,
       ku.first_seen AS fs_ua, kf.first_seen AS fs_uafam
FROM (SELECT DISTINCT {", ".join(_FAM_COLUMNS)} FROM ev) c
LEFT JOIN acct a ON a.account = c.account AND a.tenant IS NOT DISTINCT FROM c.tenant
{_fam_join("kn", "net", "c.net")}
{_fam_join("kc", "country", "c.country")}
{_fam_join("kd", "device", "c.device_id")}
{_fam_join("ku", "ua", "c.user_agent")}
{_fam_join("kf", "uafam", "COALESCE(c.ua_family, '?') || '/' || COALESCE(c.ua_os, '?')")};
CREATE OR REPLACE TEMP TABLE evf AS
SELECT f.*, {{unfam}}
FROM (
WITH unusual AS (
  SELECT e.*
  FROM ev e
  WHERE NOT {ROUTINE_SUCCESS.replace("activity", "e.activity").replace("outcome", "e.outcome")}
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
  WHERE {ROUTINE_SUCCESS.replace("activity", "e.activity").replace("outcome", "e.outcome")}
)
SELECT r.*, c.acct_exists, c.watchlist, c.category, c.dir_contact_hash, c.home_country,
       (c.first_ok IS NOT NULL AND c.first_ok {_SETTLED}) AS has_baseline,
       COALESCE(c.fs_net {_SETTLED}, FALSE) AS net_known,
       (COALESCE(c.fs_country {_SETTLED}, FALSE)
        OR (r.country IS NOT NULL AND r.country = c.home_country)) AS country_known,
       COALESCE(c.fs_dev {_SETTLED}, FALSE) AS dev_known,
       COALESCE(c.fs_ua {_SETTLED}, FALSE) AS ua_known,
       COALESCE(c.fs_uafam {_SETTLED}, FALSE) AS uafam_known,
       sr.risk AS risk
FROM rows_ r
JOIN evf_fam c ON {_FAM_ON}
LEFT JOIN signin_risk sr ON sr.event_id = r.event_id
) f;
DROP TABLE evf_fam;
"""

#: Events that look like someone else's doing when they come from a network new to the account:
#: failures, reset / recovery / lookup attempts, identifiers that do not exist.
ATTACK_LIKE = (
    "(NOT net_known AND (outcome = 'failure' OR acct_exists = FALSE"
    " OR activity IN ('password_reset', 'account_recovery', 'account_lookup')))"
)

#: Days of history behind a source's reputation (``src_rep``), the current UTC day included.
SOURCE_REPUTATION_DAYS = 7

#: Events judged by their client's record rather than their address's: everything but a rented
#: server (``hosting``) that is no shared exit. A VPN exit, a carrier's NAT, an office line or a
#: home line that a botnet's residential proxy also runs through is many people's, and only what
#: the same client (user agent) did from it says anything about the next attempt; a rented server
#: is its tenant's alone, whatever browser strings it sends.
CLIENT_JUDGED = (
    "(src_ip IN (SELECT src_ip FROM shared_exits) OR COALESCE(network_type, 'unknown') <> 'hosting')"
)


def reputation_sql(table: str, client: bool) -> str:
    """``table`` (src_rep or client_rep): see :data:`SOURCE_REPUTATION_SQL`.

    ``client`` keys the counts by (address, user agent) instead of the address, for the events
    :data:`CLIENT_JUDGED` covers.
    """
    keys = ["src_ip", "user_agent"] if client else ["src_ip"]

    def cols(alias: str) -> str:
        return ", ".join(f"{alias}.{k}" for k in keys)

    def on(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{k} = {b}.{k}" for k in keys)

    only = f" AND user_agent IS NOT NULL AND {CLIENT_JUDGED}" if client else ""
    return f"""
CREATE OR REPLACE TEMP TABLE {table} AS
WITH tgt AS (
  SELECT DISTINCT {", ".join(keys)}, CAST(FLOOR(EPOCH(time) / 86400) AS BIGINT) AS day
  FROM evf
  WHERE NOT net_known AND src_ip IS NOT NULL{only}
), ips AS (
  SELECT DISTINCT src_ip FROM tgt
), ok AS (
  SELECT DISTINCT {cols("e")}, e.account,
         CAST(FLOOR(EPOCH(e.time) / 86400) AS BIGINT) AS day
  FROM ev e JOIN ips USING (src_ip)
  -- a completed sign-in: the password step, or the second factor where the vendor logs the
  -- password step pending (else an office's MFA users look served by nobody)
  WHERE e.activity IN ('sign_in', 'mfa_challenge') AND e.outcome = 'success'
), entered AS (
  -- identifier-first sign-in: the lookup of an account whose password (or MFA step) followed
  -- from the same address that day is the owner's login flow, not a probe
  SELECT DISTINCT e.src_ip, e.account, CAST(FLOOR(EPOCH(e.time) / 86400) AS BIGINT) AS day
  FROM ev e JOIN ips USING (src_ip)
  WHERE e.activity = 'sign_in' AND e.outcome IN ('success', 'pending')
), bad AS (
  SELECT DISTINCT {cols("f")}, f.account,
         CAST(FLOOR(EPOCH(f.time) / 86400) AS BIGINT) AS day
  FROM evf f JOIN ips USING (src_ip)
  LEFT JOIN entered n ON f.activity = 'account_lookup' AND n.src_ip = f.src_ip AND n.account = f.account
   AND n.day = CAST(FLOOR(EPOCH(f.time) / 86400) AS BIGINT)
  WHERE {ATTACK_LIKE} AND n.account IS NULL
), b AS (
  SELECT {cols("t")}, t.day, COUNT(DISTINCT b.account) AS n
  FROM tgt t JOIN bad b ON {on("b", "t")} AND b.day BETWEEN t.day - {SOURCE_REPUTATION_DAYS} + 1 AND t.day
  GROUP BY {cols("t")}, t.day
), o AS (
  SELECT {cols("t")}, t.day, COUNT(DISTINCT o.account) AS n
  FROM tgt t JOIN ok o ON {on("o", "t")} AND o.day BETWEEN t.day - {SOURCE_REPUTATION_DAYS} + 1 AND t.day
  GROUP BY {cols("t")}, t.day
)
SELECT t.*, COALESCE(b.n, 0) AS bad_accts, COALESCE(o.n, 0) AS ok_accts
FROM tgt t
LEFT JOIN b ON {on("b", "t")} AND b.day = t.day
LEFT JOIN o ON {on("o", "t")} AND o.day = t.day
"""


_DAY = "CAST(FLOOR(EPOCH({t}.time) / 86400) AS BIGINT)"


def _rep_counts(table: str, keys: list[str], tgt: str, ok: str, bad: str) -> str:
    """``table``: the (``keys``, day) rows of ``tgt`` with the accounts of ``bad`` / ``ok`` that
    share their keys over the last :data:`SOURCE_REPUTATION_DAYS` days."""
    cols = ", ".join(f"t.{k}" for k in keys)

    def on(a: str) -> str:
        return " AND ".join(f"{a}.{k} = t.{k}" for k in keys)

    window = f"BETWEEN t.day - {SOURCE_REPUTATION_DAYS} + 1 AND t.day"
    return f"""
CREATE OR REPLACE TEMP TABLE {table} AS
WITH tgt AS ({tgt}), ok AS ({ok}), bad AS ({bad}),
b AS (
  SELECT {cols}, t.day, COUNT(DISTINCT b.account) AS n
  FROM tgt t JOIN bad b ON {on("b")} AND b.day {window} GROUP BY {cols}, t.day
), o AS (
  SELECT {cols}, t.day, COUNT(DISTINCT o.account) AS n
  FROM tgt t JOIN ok o ON {on("o")} AND o.day {window} GROUP BY {cols}, t.day
)
SELECT t.*, COALESCE(b.n, 0) AS bad_accts, COALESCE(o.n, 0) AS ok_accts
FROM tgt t
LEFT JOIN b ON {on("b")} AND b.day = t.day
LEFT JOIN o ON {on("o")} AND o.day = t.day
"""


#: ``src_rep`` and ``client_rep`` (the statements of :func:`reputation_sql`) from one pass: the
#: served and the attack-like accounts are collected once per (address, user agent, account, day)
#: over the addresses either table needs, and each table counts its own keys from them (the
#: per-client counts restrict to their own addresses through the join keys). Needs
#: ``shared_exits``. Same tables as the two statements, the events read once instead of twice.
SHARED_REPUTATION_SQL = f"""
CREATE OR REPLACE TEMP TABLE __rep_tgt AS
SELECT DISTINCT src_ip, user_agent, {_DAY.format(t="evf")} AS day,
       (user_agent IS NOT NULL AND {CLIENT_JUDGED}) AS by_client
FROM evf
WHERE NOT net_known AND src_ip IS NOT NULL;
CREATE OR REPLACE TEMP TABLE __rep_ok AS
SELECT DISTINCT e.src_ip, e.user_agent, e.account, {_DAY.format(t="e")} AS day
FROM ev e JOIN (SELECT DISTINCT src_ip FROM __rep_tgt) i USING (src_ip)
WHERE e.activity IN ('sign_in', 'mfa_challenge') AND e.outcome = 'success';
CREATE OR REPLACE TEMP TABLE __rep_bad AS
WITH ips AS (SELECT DISTINCT src_ip FROM __rep_tgt), entered AS (
  SELECT DISTINCT e.src_ip, e.account, {_DAY.format(t="e")} AS day
  FROM ev e JOIN ips USING (src_ip)
  WHERE e.activity = 'sign_in' AND e.outcome IN ('success', 'pending')
)
SELECT DISTINCT f.src_ip, f.user_agent, f.account, {_DAY.format(t="f")} AS day
FROM evf f JOIN ips USING (src_ip)
LEFT JOIN entered n ON f.activity = 'account_lookup' AND n.src_ip = f.src_ip AND n.account = f.account
 AND n.day = {_DAY.format(t="f")}
WHERE {ATTACK_LIKE} AND n.account IS NULL;
{
    _rep_counts(
        "src_rep",
        ["src_ip"],
        "SELECT DISTINCT src_ip, day FROM __rep_tgt",
        "SELECT DISTINCT src_ip, account, day FROM __rep_ok",
        "SELECT DISTINCT src_ip, account, day FROM __rep_bad",
    )
};
{
    _rep_counts(
        "client_rep",
        ["src_ip", "user_agent"],
        "SELECT DISTINCT src_ip, user_agent, day FROM __rep_tgt WHERE by_client",
        "SELECT * FROM __rep_ok",
        "SELECT * FROM __rep_bad",
    )
};
DROP TABLE __rep_tgt;
DROP TABLE __rep_ok;
DROP TABLE __rep_bad"""


#: ``src_rep``: what one source address did over the last days, for every (address, UTC day) on
#: which any event in ``evf`` came from a network new to its account. ``bad_accts``: accounts
#: with attack-like events from it (``ATTACK_LIKE``; a lookup followed by that account's own
#: password step from the address the same day is a login, not a probe); ``ok_accts``: accounts that signed in
#: successfully from it. An attacker's address touches many accounts and serves almost none; a
#: shared VPN exit or office proxy serves its regulars, whose occasional typos do not outweigh them.
SOURCE_REPUTATION_SQL = reputation_sql("src_rep", client=False)

#: ``client_rep``: the same counts per (address, user agent); see ``rep_bad_accts`` in ``evf``.
CLIENT_REPUTATION_SQL = reputation_sql("client_rep", client=True)

#: Hours a network / device / user agent must have been in use before it counts as familiar, so
#: an attacker's own first sign-in does not make the rest of their session look familiar.
SETTLE_HOURS = 24


#: Minutes within which a person who mistyped an identifier signs in with the right one.
TYPO_MINUTES = 30

#: Edits (Levenshtein, local part, same domain) between a mistyped identifier and the right one.
TYPO_EDITS = 2

#: Identifiers that do not exist, typed by someone who then signed in to an account within
#: ``TYPO_EDITS`` of it (same domain) from the same address and client (device id, else user agent)
#: within ``TYPO_MINUTES``: that person's typo, not a probe. An enumerator does not sign in to the
#: neighbour of each identifier it tries; if it does get in, the sign-in is still alerted on its own.
TYPOS_SQL = f"""
CREATE OR REPLACE TEMP TABLE typos AS
WITH miss AS (
  SELECT event_id, time, account, src_ip, device_id, user_agent FROM evf
  WHERE (account_exists = FALSE OR reason = 'unknown_account' OR acct_exists = FALSE)
    AND activity IN ('account_lookup', 'sign_in', 'password_reset', 'account_recovery')
), got_in AS (
  SELECT e.time, e.account, e.src_ip, e.device_id, e.user_agent
  FROM ev e JOIN (SELECT DISTINCT src_ip FROM miss) i ON i.src_ip = e.src_ip
  WHERE e.activity = 'sign_in' AND e.outcome = 'success'
)
SELECT DISTINCT m.event_id
FROM miss m
JOIN got_in g ON g.src_ip = m.src_ip AND g.account <> m.account
 AND g.time >= m.time AND g.time <= m.time + INTERVAL '{TYPO_MINUTES}' MINUTE
 AND COALESCE(g.device_id = m.device_id, g.user_agent = m.user_agent, FALSE)
 AND SPLIT_PART(g.account, '@', 2) = SPLIT_PART(m.account, '@', 2)
 AND LEVENSHTEIN(SPLIT_PART(g.account, '@', 1), SPLIT_PART(m.account, '@', 1)) <= {TYPO_EDITS}
"""

#: Successful sign-ins on a client the account had already used for ``SETTLE_HOURS`` (its device
#: id, or without one its network) are people's everyday clients. An event from such a device, or
#: without a device id from a non-anonymising address with such a sign-in that UTC day, is
#: ``own_client`` in ``evf``: somebody's own phone or office line, whose failed lookups are typos
#: and forgotten addresses rather than enumeration. Kept as the two distinct sets ``evf`` joins on
#: (``own_dev``: device ids; ``own_ip``: address and day), and only for the devices / addresses
#: ``evf`` holds, so the sign-ins are never materialised one row each. A device qualifies iff its
#: account's last sign-in on it came ``SETTLE_HOURS`` after its first use, so ``own_dev`` joins one
#: row per (account, device) with the baseline instead of every sign-in.
OWN_CLIENTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE own_dev AS
WITH last_ok AS (
  SELECT account, tenant, device_id, MAX(time) AS last_ok
  FROM ev
  WHERE activity = 'sign_in' AND outcome = 'success' AND device_id IS NOT NULL
    AND device_id IN (SELECT device_id FROM evf WHERE device_id IS NOT NULL)
  GROUP BY account, tenant, device_id
)
SELECT DISTINCT s.device_id
FROM last_ok s
JOIN known k ON k.account = s.account AND k.tenant IS NOT DISTINCT FROM s.tenant
 AND k.kind = 'device' AND k.value = s.device_id
 AND k.first_seen < s.last_ok - INTERVAL '{SETTLE_HOURS}' HOUR;
CREATE OR REPLACE TEMP TABLE own_ip AS
SELECT DISTINCT s.src_ip, CAST(FLOOR(EPOCH(s.time) / 86400) AS BIGINT) AS day
FROM ev s
JOIN known k ON k.account = s.account AND k.tenant IS NOT DISTINCT FROM s.tenant
 AND k.kind = 'net' AND k.value = s.net
 AND k.first_seen < s.time - INTERVAL '{SETTLE_HOURS}' HOUR
WHERE s.activity = 'sign_in' AND s.outcome = 'success' AND s.device_id IS NULL
  AND COALESCE(s.network_type, 'unknown') NOT IN {RISKY_NETWORK_TYPES}
  AND s.src_ip IN (SELECT src_ip FROM evf WHERE device_id IS NULL)
"""

#: How new an event's infrastructure is to its account, as one number (0 = all familiar):
#: +1 each for a new network, a new country, a new client (device id, else browser family / OS)
#: and anonymising infrastructure; a familiar device counts -2 (a traveller on their own laptop).
#: A new phone at home scores 2, the owner abroad on their laptop 0, an actor on a VPS 3-4.
#: ``client_known``: the device id was used before (or, without one, the exact user agent).
#: Also builds ``src_rep`` (which reads ``evf``) and copies its counts onto the rows of ``evf``
#: (``src_bad_accts``, ``src_ok_accts``; 0 for an address and day not in ``src_rep``), and
#: ``shared_exit``: some event from the address was on a VPN / proxy / Tor network. Per address, not
#: per event, because sources disagree (a VPN exit in a hosting AS is often labelled ``hosting``)
#: and the more specific label wins. ``rep_bad_accts`` / ``rep_ok_accts``: the same counts for the
#: client (user agent) on the addresses :data:`CLIENT_JUDGED` covers, else for the address: a VPN
#: exit's or a proxied home line's record is not the next user's. ``typo`` and ``own_client`` flag
#: the rows of :data:`TYPOS_SQL` and :data:`OWN_CLIENTS_SQL`.
_BY_CLIENT = (
    "f.user_agent IS NOT NULL AND (x.src_ip IS NOT NULL OR COALESCE(f.network_type, 'unknown') <> 'hosting')"
)
UNFAMILIARITY_COLUMNS = f"""
       COALESCE(f.network_type, 'unknown') IN {RISKY_NETWORK_TYPES} AS risky_net,
       CASE WHEN f.net_known THEN 0 ELSE 1 END + CASE WHEN f.country_known THEN 0 ELSE 1 END
       + CASE WHEN f.device_id IS NOT NULL AND f.dev_known THEN -2
              WHEN f.device_id IS NOT NULL OR NOT f.uafam_known THEN 1 ELSE 0 END
       + CASE WHEN COALESCE(f.network_type, 'unknown') IN {RISKY_NETWORK_TYPES} THEN 1 ELSE 0 END
         AS unfam_score,
       (f.dev_known OR (f.device_id IS NULL AND f.ua_known)) AS client_known
"""
UNFAMILIARITY_SQL = f"""
CREATE OR REPLACE TEMP TABLE shared_exits AS
SELECT e.src_ip FROM ev e JOIN (SELECT DISTINCT src_ip FROM evf) i ON i.src_ip = e.src_ip
WHERE e.network_type IN {SHARED_EXIT_TYPES}
GROUP BY e.src_ip;
{SHARED_REPUTATION_SQL};
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
LEFT JOIN own_dev od ON od.device_id = f.device_id
LEFT JOIN own_ip oi ON f.device_id IS NULL AND oi.src_ip = f.src_ip
      AND oi.day = CAST(FLOOR(EPOCH(f.time) / 86400) AS BIGINT);
"""


#: :data:`UNFAMILIARITY_SQL` with the tenant columns of ``sessions_sql.EVF_TENANT_SQL`` in the same
#: rewrite (appended last, the order that statement gave): ``tenant_known`` comes from ``known``
#: alone, so the wide ``evf`` rows are copied once here instead of once more by the relay staging
#: (2M bench store: one full rewrite of ``evf`` less, ~6 s wall under load).
def unfamiliarity_tenant_sql(settle_hours: float = SETTLE_HOURS) -> str:
    """The reputation rewrite of ``evf`` that also adds ``tenant_net_known`` / ``tenant_country_known``."""
    head, sep, tail = UNFAMILIARITY_SQL.rpartition("\nFROM evf f\n")
    assert sep, "UNFAMILIARITY_SQL lost its final FROM evf f"
    late = f"f.time - INTERVAL '{int(settle_hours)}' HOUR"
    cols = (
        ",\n       (tn.tenant IS NOT NULL) AS tenant_net_known,"
        "\n       (tc.tenant IS NOT NULL) AS tenant_country_known"
    )
    joins = (
        "\nLEFT JOIN tenant_known tn ON tn.tenant = f.tenant AND tn.kind = 'net' AND tn.value = f.net"
        f"\n     AND tn.learned_at < {late}"
        "\nLEFT JOIN tenant_known tc ON tc.tenant = f.tenant AND tc.kind = 'country' AND tc.value = f.country"
        f"\n     AND tc.learned_at < {late}"
    )
    body = tail.rstrip().rstrip(";")
    return f"{head}{cols}{sep}{body}{joins};\n"


def stage_evf_sql(settle_hours: float = SETTLE_HOURS) -> str:
    """``evf`` with familiarity flags; values first used less than ``settle_hours`` ago are new."""
    return STAGE_EVF_TEMPLATE.replace("{settle}", str(int(settle_hours))).replace(
        "{unfam}", UNFAMILIARITY_COLUMNS
    )


#: Empty stand-in used when the risk model is unavailable, so queries still bind.
EMPTY_SIGNIN_RISK_SQL = """
CREATE OR REPLACE TEMP TABLE signin_risk (
  event_id VARCHAR, account VARCHAR, tenant VARCHAR, time TIMESTAMPTZ, risk DOUBLE)
"""
