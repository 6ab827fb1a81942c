"""The attack events and how specific each entity in them is.

Correlation looks only at *suspicious* events (those an alert points at), minus the
events an account's owner made from an address it already used before anything was
flagged. Each entity (IP, network, AS, user agent, device, targeted person) gets a
specificity weight from its *benign popularity* in the whole event table: how many
distinct accounts signed in successfully from it outside the suspicious events. A
carrier NAT or a VPN exit used by thousands of people weighs almost nothing, so it
cannot glue two operators together; an address nobody legitimate uses weighs ~1.
"""

from __future__ import annotations

import duckdb

#: Popularity at which an entity's weight halves (distinct benign accounts).
POPULARITY_SCALE = 3.0

#: SQL: the network key of an IP (IPv4 /24, IPv6 /48): its first three groups. A regular
#: expression rather than split / slice / join: the same text, without building a list per row
#: (evaluated on every successful sign-in, it was a sizeable share of correlation's time).
NET_SQL = r"""CASE WHEN contains(src_ip, ':')
    THEN regexp_extract(src_ip, '^[^:]*(?::[^:]*){0,2}') || '::/48'
    ELSE regexp_extract(src_ip, '^[^.]*(?:\.[^.]*){0,2}') || '.0/24' END"""

#: SQL literal: an e-mail address inside free text (forwarding rules).
EMAIL_RE = "'[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]+'"

#: SQL: person keys of an identifier (letters of its local part; initial + surname).
PERSON_SQL = """list_filter([
    regexp_replace(split_part(account, '@', 1), '[^a-z]', '', 'g'),
    CASE WHEN regexp_matches(split_part(account, '@', 1), '^[a-z]+[._-][a-z]+')
         THEN left(split_part(account, '@', 1), 1)
              || regexp_replace(regexp_extract(split_part(account, '@', 1), '[._-]([a-z]+)', 1),
                                '[^a-z]', '', 'g')
    END], lambda k: k IS NOT NULL AND length(k) >= 5)"""


#: Alert stages that say someone other than the owner got in (or was getting in).
TAKEOVER_STAGES = "'compromise', 'recovery', 'mfa', 'persistence'"
#: Network types that serve whoever connects, and data centres (where VPN exits are rented):
#: nobody's home line.
EXIT_TYPES = "'tor', 'vpn', 'proxy', 'hosting'"

#: SQL: a successful authentication (a password sign-in, or the second factor that completes it:
#: people behind an office NAT with MFA show ``sign_in`` pending + ``mfa_challenge`` success).
#: Judged per session: many vendors log the password step as a success before the second factor
#: is asked for, so a password success whose session then failed (or timed out on) its MFA
#: challenge is no sign-in (EVENTS.md: compromise is getting in). Needs ``denied_signins``.
SIGNED_IN_SQL = """(e.activity IN ('sign_in', 'mfa_challenge') AND e.outcome = 'success'
    AND e.event_id NOT IN (SELECT event_id FROM denied_signins))"""


def create_denied_signins(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``denied_signins`` (event_id): password successes of sessions that never got in.

    A session (account, ``session_id``) is denied when one of its MFA challenges failed and
    none succeeded: the password was right, the second factor stopped it. Its sign-in steps
    are a credential the attacker passed, not a compromise.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE denied_signins AS
        WITH denied AS (
            SELECT account, session_id FROM events
            WHERE activity = 'mfa_challenge' AND coalesce(session_id, '') <> ''
            GROUP BY 1, 2
            HAVING bool_or(outcome = 'failure') AND NOT bool_or(outcome = 'success'))
        SELECT e.event_id FROM events e SEMI JOIN denied d
            ON d.account = e.account AND d.session_id = e.session_id
        WHERE e.activity = 'sign_in' AND e.outcome IN ('success', 'pending')
        """
    )


def weight_sql(pop: str) -> str:
    """Specificity weight in (0, 1] from a benign-popularity column."""
    return f"(1.0 / (1.0 + coalesce({pop}, 0) / {POPULARITY_SCALE}))"


def create_suspicious_events(con: duckdb.DuckDBPyConnection) -> None:
    """Tables ``alert_events`` (alert_id, event_id), ``familiar`` and ``sus``.

    ``sus`` holds each suspicious event once with the list of alerts that cite it. Alerts
    without event ids fall back to the events of their IPs and accounts in their window.
    """
    create_denied_signins(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE alert_events AS
        SELECT DISTINCT alert_id, unnest(event_ids) AS event_id
        FROM alerts WHERE array_length(coalesce(event_ids, [])) > 0
        """
    )
    con.execute(
        """
        INSERT INTO alert_events
        WITH a AS (
            SELECT alert_id, first_seen, last_seen, unnest(src_ips) AS src_ip,
                   list_transform(coalesce(accounts, []), lambda x: lower(x)) AS accts
            FROM alerts
            WHERE array_length(coalesce(event_ids, [])) = 0 AND array_length(coalesce(src_ips, [])) > 0
        )
        SELECT DISTINCT a.alert_id, e.event_id FROM a JOIN events e
          ON e.src_ip = a.src_ip AND e.time BETWEEN a.first_seen AND a.last_seen
         AND (array_length(a.accts) = 0 OR list_contains(a.accts, e.account))
        """
    )
    # The owner's own addresses and devices: signed in successfully from them on two or more
    # days, or at all before anything about the account was flagged. An attacker who got in
    # once is not the owner; an owner who signs in every day is. Nor is an attacker who got in
    # through an exit (anonymizer or data centre) and came back through it the next day: an
    # exit whose first sign-in to the account is one an alert of a takeover stage cites entered
    # through the takeover, however often it returns. (Only exits: an owner's new home line or
    # laptop that a false alarm flagged on its first day is the owner's once it keeps coming back.)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ok_signins AS
        WITH t0 AS (SELECT account, min(first_seen) AS t0 FROM alert_accounts GROUP BY 1),
        takeover AS (SELECT DISTINCT ae.event_id FROM alert_events ae JOIN alerts a USING (alert_id)
                     WHERE a.stage IN ({TAKEOVER_STAGES}))
        SELECT e.account, e.src_ip, e.device_id, e.user_agent, {NET_SQL.replace("src_ip", "e.src_ip")} AS net,
               e.time, e.time < coalesce(t0.t0, e.time) AS before_alerts,
               k.event_id IS NOT NULL AS takeover, coalesce(e.network_type IN ({EXIT_TYPES}), false) AS exit
        FROM events e LEFT JOIN t0 USING (account) LEFT JOIN takeover k USING (event_id)
        WHERE {SIGNED_IN_SQL}
        """
    )
    # A device is judged like an exit, on any network: operators keep their browser from one
    # victim to the next and a stolen session cookie carries the victim's device id, so a device
    # whose first sign-in to the account a takeover alert cites came in with the takeover.
    entered_by_takeover = {
        "src_ip": "arg_min(takeover, time) AND bool_or(exit)",
        "device_id": "arg_min(takeover, time)",
    }
    for name, col in (("familiar", "src_ip"), ("familiar_device", "device_id")):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT account, {col} FROM ok_signins WHERE {col} IS NOT NULL
            GROUP BY 1, 2
            HAVING (count(DISTINCT time::DATE) >= 2 AND NOT ({entered_by_takeover[col]}))
                OR bool_or(before_alerts)
            """
        )
    # The owner's own history: sign-ins from before anything about the account was flagged, or
    # from an address or device already judged the owner's (see owner_explained_sql).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE owner_base AS
        SELECT o.account, o.time, o.net, o.user_agent, o.device_id FROM ok_signins o
        WHERE o.before_alerts
           OR EXISTS (SELECT 1 FROM familiar f WHERE f.account = o.account AND f.src_ip = o.src_ip)
           OR EXISTS (SELECT 1 FROM familiar_device d
                      WHERE d.account = o.account AND d.device_id = o.device_id)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE sus AS
        WITH ids AS (SELECT event_id, list(DISTINCT alert_id) AS alert_ids FROM alert_events GROUP BY 1)
        SELECT e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity, e.step, e.method,
               e.outcome, e.reason, e.src_ip, e.user_agent, e.device_id, e.asn, e.asn_org,
               e.network_type, e.contact_hash, e.detail, e.country, ids.alert_ids,
               {NET_SQL} AS net
        FROM events e JOIN ids USING (event_id)
        ANTI JOIN familiar f ON f.account = e.account AND f.src_ip = e.src_ip
        ANTI JOIN familiar_device d ON d.account = e.account AND d.device_id = e.device_id
        """
    )


def owner_explained_sql(e: str) -> str:
    """SQL: event ``e`` (a success) is explained by its account's own history (needs ``owner_base``).

    The account signed in before from the same network (/24 or /48: a home ISP's pool, a VPN
    provider's block, a mobile carrier's range) and with the same client: the same device id,
    or, when the event carries none, the same browser string. A person on a commercial VPN
    gets a new exit address at every connection, so the address is new each time, but the
    block and the browser are hers; an operator would need both her provider's block and her
    client. Such a success, and the failed steps of its session, are the owner's.
    """
    return f"""(EXISTS (SELECT 1 FROM owner_base b WHERE b.account = {e}.account AND b.time < {e}.time
                   AND b.net = {NET_SQL.replace("src_ip", f"{e}.src_ip")})
        AND EXISTS (SELECT 1 FROM owner_base b WHERE b.account = {e}.account AND b.time < {e}.time
                    AND CASE WHEN coalesce({e}.device_id, '') <> '' THEN b.device_id = {e}.device_id
                             ELSE b.user_agent = {e}.user_agent END))"""


def create_popularity(con: duckdb.DuckDBPyConnection) -> None:
    """Tables ``pop_<entity>`` with the benign popularity of every entity seen in ``sus``."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE benign_success AS
        SELECT account, src_ip, user_agent, device_id, asn, {NET_SQL} AS net
        FROM events e ANTI JOIN sus s ON s.event_id = e.event_id
        WHERE {SIGNED_IN_SQL}
        """
    )
    for name, expr in (
        ("ip", "src_ip"),
        ("ua", "user_agent"),
        ("dev", "device_id"),
        ("net", "net"),
        ("asn", "asn"),
    ):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE pop_{name} AS
            SELECT b.{expr} AS k, count(DISTINCT b.account) AS n
            FROM benign_success b SEMI JOIN (SELECT DISTINCT {expr} AS k FROM sus) s ON s.k = b.{expr}
            GROUP BY 1
            """
        )
    con.execute("DROP TABLE benign_success")  # as large as the successes: free it for what follows
    # A person key is as specific as it is rare over every identifier the store knows (the
    # directory's and every one in the events, attacked or not): ``r.edwards`` names a dozen
    # identifiers, leaked-list variants (``sabine.becker9261@``) included, so two addresses that
    # went after two of them share a surname, not a person (an IDF of the key over the store).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pop_person AS
        WITH ids AS (SELECT DISTINCT lower(account) AS account FROM directory
                     UNION SELECT DISTINCT lower(account) FROM events WHERE account IS NOT NULL),
             keys AS (SELECT DISTINCT account, unnest({PERSON_SQL}) AS k FROM ids)
        SELECT k, count(*) AS n FROM keys GROUP BY k
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE pop_contact AS
        SELECT contact_hash AS k, count(DISTINCT account) AS n FROM directory
        WHERE contact_hash IS NOT NULL GROUP BY 1
        """
    )
