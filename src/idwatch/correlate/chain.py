"""Compromise follows the account's own chain.

An operator that gets into an account often does it from somewhere its campaign never showed
before: a fresh hosting address per victim, a relay that replays the password and one-time code
within minutes, a residential proxy. Clustering cannot see such an address (it touched one
account), so the success would be nobody's. The account's own chain can: a successful sign-in,
completed reset or recovery that comes after a campaign's attack on that account, and is linked
to that attack, belongs to the campaign however new its address, network and client are.

A link is required, because an attacked account's owner keeps signing in (a spray guessed once,
then she signs in from a hotel): the success comes from the campaign's own infrastructure (an
address of it that nobody else uses, or a data-centre neighbour of one; a shared exit is
everybody's, and a residential /24 is an ISP's pool of thousands of homes), or uses its client (a
device id its attempts carried to several victims, a browser of its attempts that few people use
and the owner never did: a common browser string is everybody's), or follows a credential step
the attacker passed on this account (a password accepted, then stopped at MFA; a reset code
verified), or is cited by a takeover-stage alert after an attack aimed at this account (more than
a spray's guesses, or a recovery / MFA step) and comes from a data centre or proxy (elsewhere a
new browser is as often the owner's new laptop, and so is a new device that later signs in from
a home, office or mobile line). Nothing from an address, or (but for the campaign's own
data-centre infrastructure) a device, the owner signed in from before the attack is the
attacker's, nor a success from a network and client of the owner's own history
(:func:`idwatch.correlate.entities.owner_explained_sql`). The operator's own device is the
attacker wherever it signs in: its success is the campaign's even with no attempt on that
account in the logs before it (the password was phished). The campaign's research counts as the
first step of the chain too (a look-up of the real identifier from one of its own servers): a
takeover after it is the campaign's when it comes from that infrastructure or its data-centre
neighbours (a relay rented next to the research server), never by a browser alone.

When a chain is found, what the owner's baseline learned after the attack began is revoked: an
operator who keeps its browser, or a stolen session cookie carrying the victim's device id, signs
in on several days and looked like the owner (:func:`revoke_familiarity`).
"""

from __future__ import annotations

import duckdb

from idwatch.correlate.entities import NET_SQL, POPULARITY_SCALE, owner_explained_sql

#: A password spray or stuffing run tries one or two passwords per account per window (lockout
#: policies allow a handful of failures, and a sprayer stays under them). More attempts than this
#: on one account, or any recovery / MFA step, is an attack aimed at that account.
SPRAY_GUESSES = 2

#: Networks where a takeover alert alone links a success to the attack: data centres and proxies
#: serve operators and relays, hardly anyone's own sign-in.
ALERT_LINK_NETWORKS = "'hosting', 'proxy'"

#: Alert stages that say the account was being taken over (a takeover alert after an aimed attack).
TAKEOVER_ALERT_STAGES = "'compromise', 'persistence'"

#: A success that completes an authentication or an account change taking the account over.
_TAKEOVER_SQL = """(e.outcome = 'success' AND e.event_id NOT IN (SELECT event_id FROM denied_signins)
   AND (e.activity IN ('sign_in', 'mfa_challenge')
        OR (e.activity IN ('password_reset', 'account_recovery')
            AND coalesce(e.step, 'complete') = 'complete')))"""


def create_chain_tries(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``chain_tries``: each campaign's attack steps on each account, and what they passed."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE chain_tries AS
        SELECT campaign_id, account, time, src_ip, user_agent, device_id,
               outcome IN ('success', 'pending') AND coalesce(step, '') <> 'start'
                 AND (dedicated OR event_id IN (SELECT event_id FROM denied_signins)) AS passed,
               activity IN ('password_reset', 'account_recovery', 'mfa_challenge') AS aimed,
               false AS probe
        FROM camp_events
        WHERE NOT is_probe AND NOT is_compromise
          AND activity IN ('sign_in', 'password_reset', 'account_recovery', 'mfa_challenge')
          AND (is_attack OR (outcome IN ('success', 'pending')
                             AND (dedicated OR event_id IN (SELECT event_id FROM denied_signins))))
        UNION ALL
        -- the campaign's research on a real person from its own servers: the first step of the
        -- account's chain when the takeover that follows comes from that infrastructure
        SELECT campaign_id, account, time, src_ip, user_agent, device_id, false, false, true
        FROM camp_events
        WHERE is_probe AND dedicated AND activity = 'account_lookup' AND coalesce(account_exists, true)
        """
    )


def attach_chain_compromises(con: duckdb.DuckDBPyConnection) -> int:
    """Add the linked takeover successes to ``camp_events`` (``is_compromise``); returns how many.

    Needs ``camp_events``, ``camp_ip``, ``camp_ua``, ``ok_signins``, ``alert_events`` and
    ``denied_signins``. Accounts a campaign already got into are left as they are; each success
    goes to one campaign: the best linked, then the one whose attack came last before it.
    """
    create_chain_tries(con)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE chain_events AS
        WITH per AS (
            SELECT campaign_id, account, coalesce(min(time) FILTER (WHERE NOT probe), min(time)) AS t_try,
                   count(*) FILTER (WHERE NOT probe) AS n_try, bool_or(aimed) AS aimed_step,
                   bool_and(probe) AS researched_only
            FROM chain_tries GROUP BY 1, 2
        ), held AS (SELECT DISTINCT account FROM camp_events WHERE is_compromise
        ), camp_dev AS (  -- the operator's own device: its attempts carry it to several victims
            SELECT campaign_id, device_id, count(DISTINCT account) AS reach
            FROM chain_tries WHERE coalesce(device_id, '') <> '' AND NOT probe
            GROUP BY 1, 2 HAVING count(DISTINCT account) >= 2
        ), succ AS (
            SELECT e.time, e.event_id, e.tenant, e.account, e.account_exists, e.activity, e.step, e.method,
                   e.outcome, e.reason, e.src_ip, e.user_agent, e.device_id, e.asn, e.network_type, e.country
            FROM events e ANTI JOIN held h ON h.account = e.account
            WHERE {_TAKEOVER_SQL}
              AND (e.account IN (SELECT account FROM per) OR e.device_id IN (SELECT device_id FROM camp_dev))
        ), cand_all AS (  -- after the campaign's first step on the account
            SELECT s.*, p.campaign_id, p.t_try, p.n_try > {SPRAY_GUESSES} OR p.aimed_step AS aimed,
                   true AS after_try, p.researched_only
            FROM succ s JOIN per p ON p.account = s.account AND p.t_try <= s.time
            UNION ALL BY NAME
            -- the operator's own device getting in where the logs show no attempt before (the
            -- password was phished, or guessed from somewhere the campaign does not hold): the
            -- device is the attacker whatever the address
            SELECT s.*, d.campaign_id, s.time AS t_try, false AS aimed, false AS after_try,
                   false AS researched_only
            FROM succ s JOIN camp_dev d ON d.device_id = s.device_id
            WHERE NOT EXISTS (SELECT 1 FROM per p WHERE p.campaign_id = d.campaign_id
                              AND p.account = s.account AND p.t_try <= s.time)
        ), camp_net AS (  -- data-centre neighbours: an operator rents adjacent addresses from one host
            SELECT DISTINCT i.campaign_id, {NET_SQL.replace("src_ip", "i.src_ip")} AS net
            FROM camp_ip i SEMI JOIN events e ON e.src_ip = i.src_ip AND e.network_type = 'hosting'
            WHERE i.dedicated
        ), ded_ip AS (SELECT DISTINCT campaign_id, src_ip FROM camp_ip WHERE dedicated
        ), try_ua AS (SELECT DISTINCT campaign_id, account, user_agent FROM chain_tries WHERE NOT probe
        ), try_at AS (
            SELECT campaign_id, account, min(time) FILTER (WHERE passed) AS t_passed
            FROM chain_tries GROUP BY 1, 2
        ), takeover_cited AS (
            SELECT DISTINCT ae.event_id FROM alert_events ae JOIN alerts a USING (alert_id)
            WHERE a.stage IN ({TAKEOVER_ALERT_STAGES})
        ), links AS (
            -- what links the success to the campaign (one key per row on the right of each
            -- join); a success with none of these cannot be linked (strength 0 below), so
            -- the owner's history is only looked up for the few that have one
            SELECT c.*,
                   i.src_ip IS NOT NULL
                   OR (c.network_type = 'hosting' AND n.net IS NOT NULL) AS infra,
                   d.device_id IS NOT NULL AS client_dev,
                   (u.user_agent IS NOT NULL OR t.user_agent IS NOT NULL)
                   AND coalesce(pu.n, 0) <= {POPULARITY_SCALE} AS client_ua,
                   coalesce(pa.t_passed <= c.time, false) AS passed,
                   k.event_id IS NOT NULL AS alerted,
                   d.reach
            FROM cand_all c
            LEFT JOIN ded_ip i ON i.campaign_id = c.campaign_id AND i.src_ip = c.src_ip
            LEFT JOIN camp_net n ON n.campaign_id = c.campaign_id  -- (the network only where it counts)
                 AND n.net = CASE WHEN coalesce(c.network_type, 'hosting') = 'hosting'
                                  THEN {NET_SQL.replace("src_ip", "c.src_ip")} END
            LEFT JOIN camp_dev d ON d.campaign_id = c.campaign_id AND d.device_id = c.device_id
            LEFT JOIN camp_ua u ON u.campaign_id = c.campaign_id AND u.user_agent = c.user_agent
            LEFT JOIN try_ua t ON t.campaign_id = c.campaign_id AND t.account = c.account
                 AND t.user_agent = c.user_agent
            LEFT JOIN pop_ua pu ON pu.k = c.user_agent
            LEFT JOIN try_at pa ON pa.campaign_id = c.campaign_id AND pa.account = c.account
            LEFT JOIN takeover_cited k ON k.event_id = c.event_id
        ), cand AS (  -- not from the owner's address, nor her usual network and client: hers
            SELECT * FROM links
            WHERE (infra OR client_dev OR client_ua OR passed OR alerted)
              -- after research alone, only the campaign's own servers (or their data-centre
              -- neighbours) or its device link: a probed person's own new browser is hers
              AND (NOT researched_only OR infra OR client_dev)
              AND (NOT after_try OR NOT EXISTS (SELECT 1 FROM ok_signins o WHERE o.account = links.account
                                                AND o.src_ip = links.src_ip AND o.time < links.t_try))
              AND NOT {owner_explained_sql("links")}
        ), judged AS (
            SELECT c.*,
                   EXISTS (SELECT 1 FROM ok_signins o WHERE o.account = c.account
                           AND o.device_id = c.device_id AND o.time < c.t_try) AS owner_dev,
                   EXISTS (SELECT 1 FROM events o WHERE o.account = c.account AND o.user_agent = c.user_agent
                           AND o.activity = 'sign_in' AND o.outcome = 'success' AND o.time < c.t_try)
                       AS owner_ua,
                   EXISTS (SELECT 1 FROM ok_signins o WHERE o.account = c.account AND NOT o.exit
                           AND coalesce(c.device_id, '') <> '' AND o.device_id = c.device_id
                           AND o.time > c.time) AS owner_later,
                   (SELECT max(t.time) FROM chain_tries t WHERE t.campaign_id = c.campaign_id
                       AND t.account = c.account AND t.time <= c.time) AS last_try
            FROM cand c
        ), linked AS (
            -- the owner's own device is the owner's even on a line the campaign used (a bot is
            -- someone's home router), but not in a data centre (a stolen cookie replayed there)
            SELECT *, CASE WHEN infra AND (NOT owner_dev OR coalesce(network_type, '') = 'hosting')
                           THEN 3
                           WHEN NOT owner_dev
                                AND (client_dev OR (client_ua AND NOT owner_ua) OR passed) THEN 2
                           -- an alert alone links only a success from a rented server or proxy (where
                           -- relays run): on a home, office, hotel or mobile line, or through a VPN or
                           -- Tor exit people use for themselves, a new browser is the owner's new
                           -- laptop as often as not, and a takeover alert on it a false alarm
                           -- (nor a new device that later signs in from a home, office or
                           -- mobile line: that is the owner's new laptop; operators use exits)
                           WHEN NOT owner_dev AND NOT owner_later AND alerted AND aimed
                                AND coalesce(network_type, '') IN ({ALERT_LINK_NETWORKS}) THEN 1
                           ELSE 0 END AS strength
            FROM judged
        )
        SELECT campaign_id, time, event_id, tenant, account, account_exists, activity, step, method,
               outcome, reason, src_ip, user_agent, device_id, asn, network_type, country, t_try, strength,
               infra, client_dev, client_ua AND NOT owner_ua AS client_ua, passed,
               alerted AND aimed AS alerted
        FROM linked WHERE strength > 0
        QUALIFY row_number() OVER (PARTITION BY event_id
                                   -- two campaigns that share exits may both have seen the
                                   -- device: it is the one whose attempts carried it furthest
                                   ORDER BY strength DESC, last_try DESC NULLS LAST,
                                            reach DESC NULLS LAST, campaign_id) = 1
        """
    )
    n = int(con.execute("SELECT count(*) FROM chain_events").fetchone()[0])
    if n:
        con.execute(
            """
            INSERT INTO camp_events BY NAME
            SELECT c.* EXCLUDE (t_try, strength, infra, client_dev, client_ua, passed, alerted),
                   false AS dedicated, d.account IS NOT NULL AS in_directory,
                   false AS is_probe, false AS is_attack, true AS is_compromise
            FROM chain_events c
            LEFT JOIN (SELECT DISTINCT lower(account) AS account FROM directory) d USING (account)
            """
        )
    return n


def revoke_familiarity(con: duckdb.DuckDBPyConnection) -> int:
    """Drop the owner-baseline rows of chain-compromised accounts learned after the attack began.

    Familiarity (``familiar``, ``familiar_device``) must rest on sign-ins from before the first
    step of the campaign that took the account over; returns how many rows were dropped, so the
    caller can count the campaign's events again without them.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE chain_t0 AS
        SELECT account, min(t_try) AS t0 FROM chain_events GROUP BY 1
        """
    )
    dropped = 0
    for table, col in (("familiar", "src_ip"), ("familiar_device", "device_id")):
        row = con.execute(
            f"""
            DELETE FROM {table} f WHERE f.account IN (SELECT account FROM chain_t0)
              AND NOT EXISTS (SELECT 1 FROM ok_signins o JOIN chain_t0 t USING (account)
                              WHERE o.account = f.account AND o.{col} = f.{col} AND o.time < t.t0)
            """
        ).fetchone()
        dropped += int(row[0]) if row else 0
    return dropped
