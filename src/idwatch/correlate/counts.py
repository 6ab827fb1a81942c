"""Campaign counts, taken from the events of the campaign's infrastructure.

Alerts summarize; the EVENTS.md figures (probes, accounts probed / attacked /
compromised) must be exact, so they are counted on events. An IP that only the campaign
uses ("dedicated": nobody signs in from it legitimately, it is nobody's home, and not a Tor /
VPN / proxy exit) contributes all its events. A shared address (VPN exit, carrier NAT) contributes the events
an alert pointed at, attempts made with the operator's own browsers, and the other events
about accounts the campaign went after - only those made with the operator's browsers when
it has recognisable ones (two operators share exits; each keeps its own events). Failed
attempts on the campaign's targets, later, with the operator's browsers, from addresses the
owner never used and no campaign holds as its own, are the campaign's too (one-off exits
that nothing linked). Owners' own events from addresses they already used are never counted,
nor are the steps of a session on a shared address that ends signed in (an owner's own reset
through a VPN): those are a compromise or nothing, never a failed attempt. Nor is a success
on an account the campaign never tried, made with a client it never used (a stranger on a
server the operator also rents; a common browser string is nobody's client), unless its
session went straight on to a takeover's follow-on steps (forwarding rule, new MFA method).
A look-up followed within minutes by a sign-in from the same address (on the campaign's own
addresses: in the same session) is the name typed on the sign-in page, the first step of that
login, not an attempt of its own (a person whose home router is a bot).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from idwatch.correlate.campaigns import Cluster
from idwatch.correlate.entities import NET_SQL, POPULARITY_SCALE, owner_explained_sql
from idwatch.sources.vendor_sql import NO_ACCOUNT

#: A browser (user agent) is the operator's when the campaign's flagged events from shared
#: addresses use it on at least this many addresses and in at least this share of them, or
#: (an operator rotating many browser strings spreads its events evenly over them, so each
#: one's share is small) in at least this fraction as many as its most used browser.
FINGERPRINT_MIN_IPS = 3
FINGERPRINT_MIN_SHARE = 0.1
FINGERPRINT_MIN_OF_TOP = 0.25

#: Network types that are shared by design (an exit serves whoever connects).
ANONYMIZERS = "'tor', 'vpn', 'proxy'"

#: A lookup followed within this many minutes by a sign-in from the same address is a login.
LOOKUP_SESSION_MINUTES = 10

#: Steps on a shared address followed within this many minutes by a success of the same
#: account, address and browser / device are one session that got in (see ``settled``).
SESSION_MINUTES = 30

#: The identifier exists: the event says so, else the directory knows it, else it was not refused as unknown.
EXISTS_SQL = """coalesce(account_exists, in_directory OR NULL,
                         coalesce(reason, '') <> 'unknown_account')"""

PROBE_SQL = """(activity = 'account_lookup'
   OR (activity IN ('sign_in', 'password_reset', 'account_recovery')
       AND (reason = 'unknown_account' OR account_exists = false)))"""

ATTACK_SQL = f"""(activity IN ('sign_in', 'password_reset', 'account_recovery', 'mfa_challenge')
   AND {EXISTS_SQL} AND coalesce(reason, '') <> 'unknown_account')"""

COMPROMISE_SQL = """(outcome = 'success' AND event_id NOT IN (SELECT event_id FROM denied_signins) AND (
      activity IN ('sign_in', 'mfa_challenge', 'mailbox_rule', 'mfa_method_change',
                   'recovery_info_change', 'password_change')
   OR (activity IN ('password_reset', 'account_recovery') AND coalesce(step, 'complete') = 'complete')))"""


#: SQL join: the event comes from a data-centre /24 of one of the campaign's own servers.
NEIGHBOUR_JOIN = f"""JOIN camp_net n ON n.campaign_id = h.campaign_id AND e.network_type = 'hosting'
     AND n.net = {NET_SQL.replace("src_ip", "e.src_ip")}"""


def _follow_sql(link_join: str) -> str:
    """SQL: failed steps (and look-ups) on a campaign's targets after its first one, from
    addresses no campaign holds as its own and the owner never used, linked by ``link_join``."""
    return f"""SELECT h.campaign_id, e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity,
                   e.step, e.method, e.outcome, e.reason, e.src_ip, e.user_agent, e.device_id, e.asn,
                   e.network_type, e.country, false AS dedicated
            FROM events e JOIN first_hit h ON h.account = e.account AND e.time >= h.t0
            {link_join}
            ANTI JOIN camp_ip c ON c.src_ip = e.src_ip AND (c.dedicated OR c.campaign_id = h.campaign_id)
            ANTI JOIN familiar f ON f.account = e.account AND f.src_ip = e.src_ip
            ANTI JOIN familiar_device d ON d.account = e.account AND d.device_id = e.device_id
            WHERE (e.outcome = 'failure'
                   AND e.activity IN ('sign_in', 'mfa_challenge', 'password_reset', 'account_recovery',
                                      'account_lookup'))
               OR e.activity = 'account_lookup'  -- a lookup nobody signed in after: a probe"""


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
        WITH anon AS (  -- anonymizers are shared by design, however few people we saw on them
            SELECT src_ip, bool_or(network_type IN ({ANONYMIZERS})) AS anonymizer
            FROM sus WHERE src_ip IN (SELECT src_ip FROM __camp_ip) GROUP BY 1
        ), home AS (  -- someone's home or office: people the address never went after use it
            SELECT DISTINCT f.src_ip FROM familiar f SEMI JOIN __camp_ip c ON c.src_ip = f.src_ip
            ANTI JOIN (SELECT DISTINCT src_ip, account FROM sus) s
                 ON s.src_ip = f.src_ip AND s.account = f.account)
        SELECT c.campaign_id, c.src_ip,
               coalesce(p.n, 0) <= {POPULARITY_SCALE} AND NOT coalesce(a.anonymizer, false)
               AND h.src_ip IS NULL AS dedicated
        FROM __camp_ip c LEFT JOIN pop_ip p ON p.k = c.src_ip LEFT JOIN anon a ON a.src_ip = c.src_ip
        LEFT JOIN home h ON h.src_ip = c.src_ip
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE camp_ua AS  -- the operator's browsers: on several of its
        SELECT campaign_id, user_agent FROM (     -- shared addresses, a good share of its events
            SELECT c.campaign_id, s.user_agent, count(DISTINCT s.src_ip) AS n_ip, count(*) AS n,
                   sum(count(*)) OVER (PARTITION BY c.campaign_id) AS total,
                   max(count(*)) FILTER (WHERE count(DISTINCT s.src_ip) >= {FINGERPRINT_MIN_IPS})
                       OVER (PARTITION BY c.campaign_id) AS top
            FROM sus s JOIN camp_ip c ON c.src_ip = s.src_ip AND NOT c.dedicated
            WHERE coalesce(s.user_agent, '') <> '' GROUP BY 1, 2)
        WHERE n_ip >= {FINGERPRINT_MIN_IPS}
          AND (n >= {FINGERPRINT_MIN_SHARE} * total OR n >= {FINGERPRINT_MIN_OF_TOP} * top)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE camp_events AS
        WITH ded AS (
            SELECT c.campaign_id, e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity,
                   e.step, e.method, e.outcome, e.reason, e.src_ip, e.user_agent, e.device_id, e.asn,
                   e.network_type, e.country, true AS dedicated
            FROM events e JOIN camp_ip c ON c.src_ip = e.src_ip AND c.dedicated
            ANTI JOIN familiar f ON f.account = e.account AND f.src_ip = e.src_ip
            ANTI JOIN familiar_device d ON d.account = e.account AND d.device_id = e.device_id
            -- an attempt that named no identifier targets no account
            WHERE e.account IS DISTINCT FROM '{NO_ACCOUNT}'
        ), sus_all AS (  -- flagged events (not the owner's) from shared addresses of the campaign
            SELECT c.campaign_id, s.time, s.event_id, s.tenant, s.account, s.account_exists, s.activity,
                   s.step, s.method, s.outcome, s.reason, s.src_ip, s.user_agent, s.device_id, s.asn,
                   s.network_type, s.country, false AS dedicated
            FROM sus s JOIN camp_ip c ON c.src_ip = s.src_ip AND NOT c.dedicated
        ), fp_known AS (SELECT DISTINCT campaign_id FROM camp_ua
        ), shared_sus AS (  -- ... made with the operator's browsers, when it has recognisable ones
            SELECT s.* FROM sus_all s
            LEFT JOIN camp_ua u ON u.campaign_id = s.campaign_id AND u.user_agent = s.user_agent
            LEFT JOIN fp_known k ON k.campaign_id = s.campaign_id
            WHERE k.campaign_id IS NULL OR u.user_agent IS NOT NULL
        ), shared_fp AS (  -- unflagged attempts from shared addresses with the operator's browser
            SELECT c.campaign_id, e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity,
                   e.step, e.method, e.outcome, e.reason, e.src_ip, e.user_agent, e.device_id, e.asn,
                   e.network_type, e.country, false AS dedicated
            FROM events e JOIN camp_ip c ON c.src_ip = e.src_ip AND NOT c.dedicated
            JOIN camp_ua u ON u.campaign_id = c.campaign_id AND u.user_agent = e.user_agent
            ANTI JOIN familiar f ON f.account = e.account AND f.src_ip = e.src_ip
            ANTI JOIN familiar_device d ON d.account = e.account AND d.device_id = e.device_id
            WHERE (e.outcome <> 'success' OR e.activity = 'account_lookup')
              AND e.account IS DISTINCT FROM '{NO_ACCOUNT}'
        ), targets AS (  -- accounts the campaign demonstrably went after
            SELECT DISTINCT campaign_id, account FROM ded
            UNION SELECT DISTINCT campaign_id, account FROM shared_sus
            UNION SELECT DISTINCT campaign_id, account FROM shared_fp
        ), shared AS (  -- shared addresses (VPN exits, Tor): every non-owner event about a target
            SELECT c.campaign_id, e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity,
                   e.step, e.method, e.outcome, e.reason, e.src_ip, e.user_agent, e.device_id, e.asn,
                   e.network_type, e.country, false AS dedicated
            FROM events e JOIN camp_ip c ON c.src_ip = e.src_ip AND NOT c.dedicated
            SEMI JOIN targets t ON t.campaign_id = c.campaign_id AND t.account = e.account
            LEFT JOIN camp_ua u ON u.campaign_id = c.campaign_id AND u.user_agent = e.user_agent
            LEFT JOIN fp_known k ON k.campaign_id = c.campaign_id
            ANTI JOIN familiar f ON f.account = e.account AND f.src_ip = e.src_ip
            ANTI JOIN familiar_device d ON d.account = e.account AND d.device_id = e.device_id
            WHERE k.campaign_id IS NULL OR u.user_agent IS NOT NULL
        ), first_hit AS (
            SELECT campaign_id, account, min(time) AS t0 FROM (
                SELECT campaign_id, account, time FROM ded
                UNION ALL SELECT campaign_id, account, time FROM shared_sus
                UNION ALL SELECT campaign_id, account, time FROM shared_fp)
            GROUP BY 1, 2
        ), camp_net AS (  -- the data-centre /24s of its own servers (operators rent adjacent addresses)
            SELECT DISTINCT c.campaign_id, {NET_SQL.replace("src_ip", "c.src_ip")} AS net
            FROM camp_ip c SEMI JOIN events e ON e.src_ip = c.src_ip AND e.network_type = 'hosting'
            WHERE c.dedicated
        ), follow_all AS (  -- later failed attempts on its targets, from elsewhere, with its browsers
            {_follow_sql("JOIN camp_ua u ON u.campaign_id = h.campaign_id AND u.user_agent = e.user_agent")}
            UNION  -- ... or from a data-centre neighbour of its servers (a relay rented next to them)
            {_follow_sql(NEIGHBOUR_JOIN)}
        ), follow AS (
            SELECT f.* FROM follow_all f
            ANTI JOIN events s ON f.activity = 'account_lookup' AND f.outcome <> 'failure'
                 AND s.account = f.account AND s.src_ip = f.src_ip AND s.activity = 'sign_in'
                 AND s.outcome IN ('success', 'pending')
                 AND s.time BETWEEN f.time AND f.time + INTERVAL {LOOKUP_SESSION_MINUTES} MINUTE
        ), ev AS (SELECT * FROM ded UNION ALL BY NAME
                  SELECT * FROM (SELECT * FROM shared UNION BY NAME SELECT * FROM shared_sus
                                 UNION BY NAME SELECT * FROM follow)),
        logins AS (  -- a lookup followed by a sign-in from the same address: someone's login
            -- (the name typed on the sign-in page), not an attempt of its own: if it is the
            -- operator's, its sign-in counts; if the owner's, nothing does. On the campaign's own
            -- addresses (a bot is someone's home router) it must be one session: the same
            -- session id or device id
            SELECT DISTINCT l.event_id FROM ev l JOIN events le USING (event_id) JOIN events s
              ON s.account = l.account AND s.src_ip = l.src_ip AND s.activity = 'sign_in'
             AND s.outcome IN ('success', 'pending')
             AND s.time BETWEEN l.time AND l.time + INTERVAL {LOOKUP_SESSION_MINUTES} MINUTE
            WHERE l.activity = 'account_lookup' AND l.outcome <> 'failure'
              AND (NOT l.dedicated OR (coalesce(l.device_id, '') <> '' AND s.device_id = l.device_id)
                   OR s.session_id = nullif(le.session_id, ''))
        ),
        dir AS (SELECT DISTINCT lower(account) AS account FROM directory)
        SELECT ev.*, dir.account IS NOT NULL AS in_directory
        FROM ev LEFT JOIN dir USING (account)
        WHERE ev.event_id NOT IN (SELECT event_id FROM logins)
        """
    )
    # A success from a shared address is nobody's attack by itself (people sign in, and reset
    # their own passwords, through VPNs): it counts as the campaign getting in only after the
    # campaign probed or attacked that account from another of its addresses, with one of the
    # operator's browsers or the browser / device of that attempt. A success from a dedicated
    # address is the campaign's own. Likewise the unfinished steps of a session on a shared
    # address that ends signed in (a reset started, verified, completed, then a sign-in, all
    # from one browser): that is the owner's own reset, or the campaign getting in, never an
    # attempt that failed - only a step that did not lead anywhere is an attack.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE settled AS
        SELECT DISTINCT c.event_id FROM camp_events c JOIN events s
          ON s.account = c.account AND s.src_ip = c.src_ip
         AND s.time BETWEEN c.time AND c.time + INTERVAL {SESSION_MINUTES} MINUTE
         AND (s.device_id = c.device_id OR s.user_agent = c.user_agent)
        WHERE NOT c.dedicated
          AND s.outcome = 'success' AND s.event_id NOT IN (SELECT event_id FROM denied_signins)
          AND (s.activity IN ('sign_in', 'mfa_challenge')
               OR (s.activity IN ('password_reset', 'account_recovery')
                   AND coalesce(s.step, 'complete') = 'complete'))
          -- a failed step too, when the success that ends its session is the owner's by her own
          -- history (a mistyped password on her usual VPN, then the right one): one person
          AND (c.outcome <> 'failure' OR {owner_explained_sql("s")})
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE camp_events AS
        SELECT *, {PROBE_SQL} AS is_probe,
               {ATTACK_SQL} AND (dedicated OR (outcome <> 'success'
                                 AND event_id NOT IN (SELECT event_id FROM settled))) AS is_attack,
               ({ATTACK_SQL} AND {COMPROMISE_SQL}) OR ({COMPROMISE_SQL} AND activity NOT IN
                   ('sign_in', 'mfa_challenge', 'password_reset', 'account_recovery')) AS gets_in
        FROM camp_events
        """
    )
    con.execute(  # successes on shared addresses that the account's own history explains
        f"""
        CREATE OR REPLACE TEMP TABLE owner_own AS
        SELECT DISTINCT c.event_id FROM camp_events c
        WHERE NOT c.dedicated AND c.gets_in AND c.activity IN ('sign_in', 'mfa_challenge')
          AND {owner_explained_sql("c")}
        """
    )
    con.execute(  # successes whose session went straight on to a takeover's follow-on step
        f"""
        CREATE OR REPLACE TEMP TABLE followed_on AS  -- (the success and the step itself)
        SELECT DISTINCT unnest([c.event_id, p.event_id]) AS event_id FROM camp_events c JOIN events p
          ON p.account = c.account AND p.src_ip = c.src_ip
         AND p.time BETWEEN c.time AND c.time + INTERVAL {SESSION_MINUTES} MINUTE
        JOIN alert_events ae ON ae.event_id = p.event_id JOIN alerts a USING (alert_id)
        WHERE c.gets_in AND c.activity IN ('sign_in', 'mfa_challenge')
          AND p.outcome = 'success' AND a.stage = 'persistence'
          AND p.activity IN ('mailbox_rule', 'mfa_method_change', 'recovery_info_change')
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE camp_events AS
        WITH tries AS (  -- the campaign's own attempts on each account
            SELECT campaign_id, account, src_ip, time, user_agent, device_id, is_attack, dedicated
            FROM camp_events WHERE is_probe OR (is_attack AND outcome <> 'success')
        ), got_in AS (
            SELECT event_id, campaign_id FROM camp_events WHERE gets_in AND dedicated
            UNION
            SELECT f.event_id, f.campaign_id FROM camp_events f JOIN tries t
              ON t.campaign_id = f.campaign_id AND t.account = f.account AND t.time <= f.time
             AND t.src_ip <> f.src_ip
            LEFT JOIN camp_ua u ON u.campaign_id = f.campaign_id AND u.user_agent = f.user_agent
            LEFT JOIN pop_ua p ON p.k = f.user_agent
            WHERE f.gets_in AND NOT f.dedicated AND f.event_id NOT IN (SELECT event_id FROM owner_own)
              AND ((coalesce(f.device_id, '') <> '' AND t.device_id = f.device_id)
                   -- a browser string links only when few people use it and the owner never did:
                   -- a common one is as likely the owner's own new laptop as the operator; else
                   -- what the session did next links it: a forwarding rule, a new MFA method or
                   -- recovery contact within minutes, that a persistence alert judged risky
                   OR ((u.user_agent IS NOT NULL OR t.user_agent = f.user_agent)
                       AND coalesce(p.n, 0) <= {POPULARITY_SCALE}
                       AND NOT EXISTS (SELECT 1 FROM owner_base b WHERE b.account = f.account
                                       AND b.user_agent = f.user_agent AND b.time < t.time))
                   OR f.event_id IN (SELECT event_id FROM followed_on))
        ), lone AS (  -- a success on an account the campaign never tried, with a client it never
            SELECT e.event_id, e.campaign_id FROM camp_events e  -- used: a stranger on the address
            WHERE e.dedicated AND e.outcome = 'success' AND NOT coalesce(e.is_probe, false)
              AND NOT EXISTS (SELECT 1 FROM tries t
                              WHERE t.campaign_id = e.campaign_id AND t.account = e.account)
              AND NOT EXISTS (SELECT 1 FROM tries t
                              WHERE t.campaign_id = e.campaign_id
                                AND (nullif(t.device_id, '') = e.device_id
                                     -- a common browser string is everybody's client
                                     OR (t.user_agent = e.user_agent
                                         AND coalesce((SELECT p.n FROM pop_ua p WHERE p.k = e.user_agent),
                                                      0) <= {POPULARITY_SCALE})))
              -- ... unless its session went straight on to a takeover's follow-on steps
              AND e.event_id NOT IN (SELECT event_id FROM followed_on)
        )
        SELECT e.* EXCLUDE (gets_in, is_attack), e.is_attack AND l.event_id IS NULL AS is_attack,
               g.event_id IS NOT NULL AND l.event_id IS NULL AS is_compromise
        FROM camp_events e LEFT JOIN got_in g USING (campaign_id, event_id)
        LEFT JOIN lone l USING (campaign_id, event_id)
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
    con.execute(  # the alerts about a takeover the account's chain gave the campaign
        """
        INSERT INTO camp_alerts
        SELECT DISTINCT c.campaign_id, ae.alert_id, false
        FROM camp_events c JOIN alert_events ae USING (event_id)
        WHERE c.is_compromise
        EXCEPT SELECT campaign_id, alert_id, dedicated FROM camp_alerts
        """
    )


def create_campaign_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``camp_accounts``: each account of each campaign once, at its furthest stage.

    Compromised: a success under the campaign's control - from a dedicated address, or from a
    shared one after the campaign probed or attacked the account from another of its addresses,
    made with the operator's browsers or the browser / device of that attempt.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE camp_accounts AS
        WITH dir AS (SELECT lower(account) AS account, any_value(tenant) AS tenant FROM directory GROUP BY 1)
        SELECT c.campaign_id, c.account,  -- one tenant per account: the directory's, else the domain
               coalesce(any_value(d.tenant), nullif(split_part(c.account, '@', 2), ''), any_value(c.tenant))
                   AS tenant,
               min(c.time) AS first_seen, max(c.time) AS last_seen,
               CASE WHEN bool_or(c.is_compromise) THEN 'compromised'
                    WHEN bool_or(c.is_attack) THEN 'attacked' ELSE 'probed' END AS stage
        FROM camp_events c LEFT JOIN dir d USING (account)
        WHERE c.is_probe OR c.is_attack OR c.is_compromise
        GROUP BY 1, 2
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
