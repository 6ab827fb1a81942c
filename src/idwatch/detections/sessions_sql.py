"""Staging by session and by tenant: what a sign-in came to, and what an organisation uses.

The engine's staging (:mod:`idwatch.detections.sql`) judges events one by one. Two facts need
more than one event, and are built here, from the staged tables, by two hooks of the engine:

:func:`stage_sessions` (right after ``ev``): many vendors log the password step's success before
the second factor is asked for. A password success followed in its own session by a failed,
timed-out or unanswered MFA challenge, and by no passed one, is no sign-in: its row in ``ev``
becomes ``pending`` (what vendors that log the whole flow write for it), so no baseline learns
from it, no source reputation counts it as served, and no rule takes it for a takeover.
``sess_void`` keeps the event ids so evidence can still name them.

:func:`stage_relay` (after ``evf``):

``tenant_known``  (tenant, kind, value, learned_at) for kinds net / country: the organisation's
                  own networks, learnt when :data:`TENANT_MIN_ACCOUNTS` of its accounts used them
                  (a cloud security proxy, an agency backhauled to a head office abroad).
``evf``           gains ``tenant_net_known`` / ``tenant_country_known`` (as of the event).
``relay_attempt``  the first password attempt of each rented server (one that tried at most
                  :data:`ATTEMPT_MAX_SERVER_ACCOUNTS` accounts) on an account whose network it is
                  not, with its infrastructure bits, the owner's own attempt in the same minutes
                  (``owner_events``) and whether it was ``abandoned`` (no sign-in completed from
                  its block within :data:`ABANDON_HOURS`).
``relay_signin``  every sign-in completed with a relayable second factor (one-time code or push;
                  FIDO2 is bound to the site's origin and cannot be relayed), or with the password
                  alone from a rented server in a session that asked for no second factor, from a
                  network new to a warmed-up account, with how unusual its infrastructure is for
                  the account and for the tenant (``infra_bits``), and the relay corroborations:
                  the same infrastructure completing MFA for other accounts new to it
                  (``burst_accounts``), the owner's own attempt from a usual place in the same
                  minutes where one person cannot be at both (``owner_events``), follow-on account
                  changes from the same session, device or infrastructure (``follow_events``), and
                  earlier abandoned attempts from the same block (``prior_events``). ``relay_bits``
                  adds them up as a log2 likelihood ratio (relay vs. the owner's routine); the
                  weights below say which real-world frequency each stands for.

Portable SQL except the list helpers DuckDB and Spark SQL share (``list``, ``list_sort``).
"""

from __future__ import annotations

import duckdb

from idwatch.detections.sql import SHARED_EXIT_TYPES

#: Second factors a phishing proxy passes through: the code the victim types, the push they
#: approve. FIDO2 / passkeys sign the site's origin, so a relay cannot complete them.
RELAYABLE_METHODS = "('sms', 'voice', 'email', 'totp', 'push')"

#: Minutes within which a session's MFA challenge follows its password step (vendors expire an
#: unanswered prompt after 5-15 minutes; 30 leaves room for clock skew between log pipelines).
MFA_WINDOW_MINUTES = 30

#: Accounts of one tenant that must have used a network (country) before it is the tenant's own:
#: two colleagues make it the organisation's egress; one is that person's home.
TENANT_MIN_ACCOUNTS = 2

#: Hours a value must have been in use before it counts as known (as ``sql.SETTLE_HOURS``), so
#: an attacker's own first sign-ins do not make the rest of their burst look familiar.
SETTLE_HOURS = 24

#: Hours of successful use an account needs before a new network on it is judged at all: three
#: days cover a person's home, office and phone; before that the baseline is still being learnt.
WARMUP_HOURS = 72

#: Hours around a completion within which the same infrastructure completing MFA for other
#: accounts counts as one burst (a phishing wave's replays come within hours of the lure).
BURST_HOURS = 6

#: Minutes around a completion within which the owner's own attempt from a usual place counts
#: (the victim types into the fake page moments before the operator replays it).
OWNER_MINUTES = 15

#: Hours after a completion within which an account change from its session, device or
#: infrastructure is its follow-on (operators set up persistence in the first session).
FOLLOW_HOURS = 24

#: log2 likelihood ratios, relay vs. the owner's routine MFA sign-in. Infrastructure:
#: a network new to the account (people add one every few weeks: ~1 bit), also new to the whole
#: tenant (colleagues never used it: ~1 bit more), a country new to both (~1 bit), a rented server
#: (people rarely sign in from a data centre: 2 bits; a commercial VPN / proxy / Tor exit: 1),
#: a client new to the account (1 bit) or the account's own device (-2: the owner on their laptop).
INFRA_BITS_SQL = """
  1 + CASE WHEN NOT tenant_net_known THEN 1 ELSE 0 END
  + CASE WHEN NOT country_known AND NOT tenant_country_known THEN 1 ELSE 0 END
  + CASE WHEN network_type = 'hosting' THEN 2
         WHEN network_type IN ('vpn', 'proxy', 'tor') THEN 1 ELSE 0 END
  + CASE WHEN dev_known THEN -2 WHEN NOT client_known THEN 1 ELSE 0 END
"""

#: Account changes that keep an operator in or carry mail out (``e`` an event of ``ev``), as the
#: public AiTM reports describe the first session: a second factor of their own (an authenticator
#: app or phone; a security key is hardware in the owner's hand, which an operator would have to
#: ship), a recovery contact, a rule that forwards or redirects mail. Removing a method or a rule,
#: and housekeeping rules (move the newsletters, delete the promotions), are what a person does
#: after signing in on a new machine, and corroborate nothing.
OPERATOR_CHANGE_SQL = """
  NOT regexp_matches(LOWER(COALESCE(e.detail, '')), '^(rule )?(remov|delet|revok)')
  AND ((e.activity = 'mfa_method_change'
        AND COALESCE(e.method, '') NOT IN ('fido2', 'webauthn', 'passkey', 'security_key'))
       OR e.activity = 'recovery_info_change'
       OR (e.activity = 'mailbox_rule'
           AND regexp_matches(LOWER(COALESCE(e.detail, '')), '(forward|redirect)')))
"""

#: Corroborations: two or more other accounts, new to the infrastructure and whose tenants never
#: used it, completing MFA from it within the burst (an office or VPN serves its regulars every
#: day; a conference hotel's guests keep their own devices): 3 bits; the owner at a usual place
#: that one person cannot be at together with the completion: 3 bits; an account change
#: following from the completion's session, device or infrastructure: 2 bits.
BURST_MIN_ACCOUNTS = 2

#: Directory categories of individuals rather than staff: two such accounts of one mail provider
#: are unrelated people. Two other accounts of one tenant are colleagues, and infrastructure that
#: signs colleagues in together (a new egress, an SSO helper's first day) is the organisation's.
INDIVIDUAL_CATEGORIES = "('consumer', 'diaspora')"
#: Hours after an attempt within which a sign-in completed from the same address block means
#: the person at the server held the credential and the factor: someone on their own cloud
#: desktop or self-hosted VPN who mistypes retries within minutes, and one who forgot the
#: password resets it and is back within the day. An attempt nobody completes from there was
#: abandoned: the relay's victim typed a wrong password, or the code expired before the replay.
ABANDON_HOURS = 24

#: log2 likelihood ratio of an abandoned attempt, relay vs. the owner on a server of their own:
#: people who reach the sign-in from a server finish it (they hold password and factor); well
#: under 1 in 8 leave for good, while most relayed attempts that do not complete are abandoned.
ABANDON_BITS = 3

#: ... and the completion's address block having tried the account before and been abandoned
#: (:data:`ABANDON_BITS`): the operator back with a fresh phish or the relayed code in time.
CORROBORATION_BITS_SQL = f"""
  CASE WHEN burst_accounts >= {BURST_MIN_ACCOUNTS} THEN 3 ELSE 0 END
  + CASE WHEN len(owner_events) > 0 THEN 3 ELSE 0 END
  + CASE WHEN len(follow_events) > 0 THEN 2 ELSE 0 END
  + CASE WHEN len(prior_events) > 0 THEN {ABANDON_BITS} ELSE 0 END
"""

SESS_VOID_SQL = f"""
CREATE OR REPLACE TEMP TABLE sess_void AS
WITH pw AS (
  SELECT event_id, account, session_id, time FROM ev
  WHERE activity = 'sign_in' AND outcome = 'success' AND session_id IS NOT NULL
    AND COALESCE(method, 'password') = 'password'
), second AS (
  SELECT account, session_id, time,
         (outcome = 'success') AS passed
  FROM ev
  WHERE session_id IS NOT NULL
    AND (activity = 'mfa_challenge'
         OR (activity = 'sign_in' AND outcome = 'success' AND COALESCE(method, 'password') <> 'password'))
)
SELECT p.event_id
FROM pw p
JOIN second s ON s.session_id = p.session_id AND s.account = p.account
 AND s.time >= p.time AND s.time <= p.time + INTERVAL '{MFA_WINDOW_MINUTES}' MINUTE
GROUP BY p.event_id
HAVING NOT BOOL_OR(s.passed)
"""

VOID_EV_SQL = "UPDATE ev SET outcome = 'pending' WHERE event_id IN (SELECT event_id FROM sess_void)"

TENANT_KNOWN_SQL = f"""
CREATE OR REPLACE TEMP TABLE tenant_known AS
SELECT tenant, kind, value, list_sort(list(first_seen))[{TENANT_MIN_ACCOUNTS}] AS learned_at
FROM known
WHERE kind IN ('net', 'country') AND tenant IS NOT NULL
GROUP BY tenant, kind, value
HAVING COUNT(DISTINCT account) >= {TENANT_MIN_ACCOUNTS}
"""

EVF_TENANT_SQL = f"""
CREATE OR REPLACE TEMP TABLE evf AS
SELECT f.*,
       (tn.tenant IS NOT NULL) AS tenant_net_known,
       (tc.tenant IS NOT NULL) AS tenant_country_known
FROM evf f
LEFT JOIN tenant_known tn ON tn.tenant = f.tenant AND tn.kind = 'net' AND tn.value = f.net
     AND tn.learned_at < f.time - INTERVAL '{SETTLE_HOURS}' HOUR
LEFT JOIN tenant_known tc ON tc.tenant = f.tenant AND tc.kind = 'country' AND tc.value = f.country
     AND tc.learned_at < f.time - INTERVAL '{SETTLE_HOURS}' HOUR
"""


def _known(alias: str, kind: str, value: str) -> str:
    return (
        f"LEFT JOIN known {alias} ON {alias}.account = c.account "
        f"AND {alias}.tenant IS NOT DISTINCT FROM c.tenant AND {alias}.kind = '{kind}' "
        f"AND {alias}.value = {value} AND {alias}.first_seen < c.time - INTERVAL '{SETTLE_HOURS}' HOUR"
    )


#: How familiar a candidate row ``c`` (an event of ``ev``) is to its account and tenant, as of its
#: time: the select-list tail and the joins it needs (``kn`` is the account's known network).
_FAMILIARITY = f"""\
       (kc.account IS NOT NULL OR COALESCE(c.country = a.home_country, FALSE)) AS country_known,
       (kd.account IS NOT NULL) AS dev_known,
       (kd.account IS NOT NULL OR (c.device_id IS NULL AND ku.account IS NOT NULL)
        OR (c.device_id IS NULL AND c.user_agent IS NULL AND kf.account IS NOT NULL)) AS client_known,
       (tn.tenant IS NOT NULL) AS tenant_net_known,
       (tc.tenant IS NOT NULL) AS tenant_country_known
FROM c
JOIN acct a ON a.account = c.account AND a.tenant IS NOT DISTINCT FROM c.tenant
{_known("kn", "net", "c.net")}
{_known("kc", "country", "c.country")}
{_known("kd", "device", "c.device_id")}
{_known("ku", "ua", "c.user_agent")}
{_known("kf", "uafam", "COALESCE(c.ua_family, '?') || '/' || COALESCE(c.ua_os, '?')")}
LEFT JOIN tenant_known tn ON tn.tenant = c.tenant AND tn.kind = 'net' AND tn.value = c.net
     AND tn.learned_at < c.time - INTERVAL '{SETTLE_HOURS}' HOUR
LEFT JOIN tenant_known tc ON tc.tenant = c.tenant AND tc.kind = 'country' AND tc.value = c.country
     AND tc.learned_at < c.time - INTERVAL '{SETTLE_HOURS}' HOUR"""


MFA_DONE_SQL = f"""
CREATE OR REPLACE TEMP TABLE mfa_done AS
WITH s0 AS (
  -- completed sign-ins: a relayable second factor passed, or, in a session that asked for none,
  -- the password step (typed into a page and replayed like a code; voided sessions are pending)
  -- from a rented server, where phishing kits run: through VPN, Tor, hotel or home lines people
  -- sign in with a password alone every day, and nothing there marks a relay; nor on an address
  -- any event shows as a VPN, proxy or Tor exit (Tor relays run in data centres too), which is
  -- many people's
  SELECT e.*, BOOL_OR(e.activity = 'mfa_challenge')
                OVER (PARTITION BY e.account, COALESCE(e.session_id, e.event_id)) AS had_mfa
  FROM ev e
  WHERE e.outcome = 'success' AND e.activity IN ('mfa_challenge', 'sign_in')
    AND (e.method IN {RELAYABLE_METHODS} OR COALESCE(e.method, 'password') = 'password')
), c0 AS (
  SELECT s0.* REPLACE (COALESCE(s0.method, 'password') AS method),
         ROW_NUMBER() OVER (PARTITION BY s0.account, COALESCE(s0.session_id, s0.event_id)
                            ORDER BY s0.time, s0.event_id) AS rn
  FROM s0
  WHERE s0.method IN {RELAYABLE_METHODS}
     OR (NOT s0.had_mfa AND s0.network_type = 'hosting'
         AND s0.src_ip NOT IN (SELECT src_ip FROM ev WHERE network_type IN {SHARED_EXIT_TYPES}))
), c AS (SELECT * FROM c0 WHERE rn = 1)
SELECT c.time, c.event_id, c.account, c.tenant, c.session_id, c.src_ip, c.ipnet, c.net, c.asn,
       c.country, COALESCE(c.network_type, 'unknown') AS network_type, c.user_agent, c.device_id,
       c.method, a.category,
{_FAMILIARITY}
WHERE kn.account IS NULL
  AND a.first_ok IS NOT NULL AND a.first_ok < c.time - INTERVAL '{WARMUP_HOURS}' HOUR
"""

RELAY_SIGNIN_SQL = f"""
CREATE OR REPLACE TEMP TABLE relay_signin AS
WITH burst AS (
  -- other accounts completing MFA from the same address block, or the same client on the same
  -- network, for which it was new too and whose tenant never used it; unrelated to this one:
  -- another tenant, or individuals (no tenant, or a mail provider's consumers), not colleagues
  SELECT c.event_id, COUNT(DISTINCT o.account) AS n, list(DISTINCT o.account) AS accts,
         list(DISTINCT o.event_id) AS evs
  FROM mfa_done c
  JOIN mfa_done o ON o.account <> c.account AND NOT o.tenant_net_known
   AND o.method <> 'password' AND c.method <> 'password'
   AND (o.tenant IS DISTINCT FROM c.tenant OR c.tenant IS NULL
        OR (COALESCE(o.category IN {INDIVIDUAL_CATEGORIES}, FALSE)
            AND COALESCE(c.category IN {INDIVIDUAL_CATEGORIES}, FALSE)))
   AND (o.ipnet = c.ipnet OR (o.net = c.net AND o.user_agent = c.user_agent))
   AND o.time BETWEEN c.time - INTERVAL '{BURST_HOURS}' HOUR AND c.time + INTERVAL '{BURST_HOURS}' HOUR
  GROUP BY c.event_id
), owner AS (
  -- the owner at a usual place in the same minutes, somewhere one person cannot also be:
  -- another country, or the completion came from a rented server. The completion's own client
  -- (the same device, else the same user agent where neither logs one) is one phone or laptop
  -- whose egress changed, not a second person; and a carrier address says nothing about the
  -- country (a roaming phone's data is routed home through its own carrier while its owner is
  -- on the hotel's Wi-Fi abroad)
  SELECT c.event_id, list(DISTINCT e.event_id) AS evs
  FROM mfa_done c
  JOIN ev e ON e.account = c.account AND e.tenant IS NOT DISTINCT FROM c.tenant
   AND e.activity IN ('sign_in', 'mfa_challenge') AND e.ipnet <> c.ipnet
   AND e.time BETWEEN c.time - INTERVAL '{OWNER_MINUTES}' MINUTE
                  AND c.time + INTERVAL '{OWNER_MINUTES}' MINUTE
  JOIN known k ON k.account = e.account AND k.tenant IS NOT DISTINCT FROM e.tenant AND k.kind = 'net'
   AND k.value = e.net AND k.first_seen < e.time - INTERVAL '{SETTLE_HOURS}' HOUR
  WHERE NOT COALESCE(e.device_id = c.device_id, FALSE)
    AND NOT (e.device_id IS NULL AND c.device_id IS NULL AND COALESCE(e.user_agent = c.user_agent, FALSE))
    AND ((COALESCE(e.country <> c.country, FALSE)
          AND COALESCE(e.network_type, 'unknown') <> 'mobile' AND c.network_type <> 'mobile')
         OR c.network_type = 'hosting')
  GROUP BY c.event_id
), follow AS (
  SELECT c.event_id, list(DISTINCT e.event_id) AS evs
  FROM mfa_done c
  JOIN ev e ON e.account = c.account AND e.tenant IS NOT DISTINCT FROM c.tenant
   AND e.outcome = 'success' AND ({OPERATOR_CHANGE_SQL})
   AND e.time >= c.time AND e.time <= c.time + INTERVAL '{FOLLOW_HOURS}' HOUR
   AND (e.session_id = c.session_id OR e.device_id = c.device_id OR e.ipnet = c.ipnet
        OR (e.net = c.net AND e.user_agent = c.user_agent))
  GROUP BY c.event_id
), prior AS (
  -- earlier attempts from the same address block on the account that nobody completed
  SELECT c.event_id, list(DISTINCT r.event_id) AS evs
  FROM mfa_done c
  JOIN relay_attempt r ON r.account = c.account AND r.tenant IS NOT DISTINCT FROM c.tenant
   AND r.ipnet = c.ipnet AND r.abandoned AND r.time < c.time
  GROUP BY c.event_id
), f AS (
  SELECT c.*, {INFRA_BITS_SQL} AS infra_bits,
         COALESCE(b.n, 0) AS burst_accounts, COALESCE(b.accts, []) AS burst_accts,
         COALESCE(b.evs, []) AS burst_events,
         COALESCE(w.evs, []) AS owner_events, COALESCE(x.evs, []) AS follow_events,
         COALESCE(p.evs, []) AS prior_events
  FROM mfa_done c
  LEFT JOIN burst b ON b.event_id = c.event_id
  LEFT JOIN owner w ON w.event_id = c.event_id
  LEFT JOIN follow x ON x.event_id = c.event_id
  LEFT JOIN prior p ON p.event_id = c.event_id
)
SELECT f.*, infra_bits + {CORROBORATION_BITS_SQL} AS relay_bits FROM f
"""


#: Minutes around a relayed attempt within which the owner's own attempt from a usual network
#: counts for an attempt that did NOT complete (the victim typed a wrong or expired credential
#: into the fake page, or the second factor stopped the replay): the page forwards the victim to
#: the real sign-in, so their own attempt follows within the minutes a lure takes to load.
ATTEMPT_OWNER_MINUTES = OWNER_MINUTES

#: Accounts a server may have attempted in the scan for an owner nearby to mean a relay: a relay
#: rents a server per victim or a handful (one lure wave), while a sprayer's server goes through
#: hundreds, and among hundreds some owners sign in within minutes by chance (a person signs in
#: about twice a day: ~2 % of 15-minute windows), which is coincidence, not corroboration.
ATTEMPT_MAX_SERVER_ACCOUNTS = 3

#: log2 likelihood ratio of the owner's own attempt from a usual network in the same minutes:
#: a person signs in about twice a day (~2 % of 15-minute windows), next to a relay's replay
#: about every second time (the page forwards the victim to the real sign-in).
OWNER_BITS = 3

RELAY_ATTEMPT_SQL = f"""
CREATE OR REPLACE TEMP TABLE relay_attempt0 AS
WITH c0 AS (
  -- the first password attempt of each rented server on each account (any outcome: a relay is
  -- an attack whether or not the victim's credential was right); phishing kits run on servers,
  -- so commercial VPN / proxy exits, where people also sign in, are left to the other rules
  SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.account, e.src_ip ORDER BY e.time, e.event_id) AS rn
  FROM ev e
  WHERE e.activity = 'sign_in' AND COALESCE(e.method, 'password') = 'password'
    AND e.network_type = 'hosting' AND COALESCE(e.account_exists, TRUE)
), served AS (
  SELECT src_ip FROM c0 GROUP BY src_ip HAVING COUNT(DISTINCT account) <= {ATTEMPT_MAX_SERVER_ACCOUNTS}
), c AS (SELECT * FROM c0 SEMI JOIN served USING (src_ip) WHERE rn = 1)
SELECT c.time, c.event_id, c.account, c.tenant, c.session_id, c.src_ip, c.ipnet, c.net, c.asn,
       c.country, c.network_type, c.user_agent, c.device_id, c.outcome, a.category,
       COALESCE(a.first_ok < c.time - INTERVAL '{WARMUP_HOURS}' HOUR, FALSE) AS warm,
{_FAMILIARITY}
WHERE kn.account IS NULL AND COALESCE(a.exists_, FALSE)
"""

#: An attempt's infrastructure bits (:data:`INFRA_BITS_SQL`). On an account without a warmed-up
#: baseline (a dormant mailbox, a newcomer) nothing is new *to the account* yet, so only what the
#: tenant, the directory's home country and the server's kind say counts.
ATTEMPT_INFRA_BITS_SQL = f"""
  CASE WHEN warm THEN {INFRA_BITS_SQL}
       ELSE CASE WHEN NOT tenant_net_known THEN 1 ELSE 0 END
            + CASE WHEN NOT country_known AND NOT tenant_country_known THEN 1 ELSE 0 END
            + CASE WHEN network_type = 'hosting' THEN 2 ELSE 0 END END
"""

#: Completed sign-ins (password step passed and not voided by a failed second factor, or a
#: second factor passed) by account and address block: what ends an attempt.
_COMPLETED = """
  SELECT account, tenant, ipnet, time FROM ev
  WHERE outcome = 'success' AND activity IN ('sign_in', 'mfa_challenge')"""

RELAY_ATTEMPT_OWNER_SQL = f"""
CREATE OR REPLACE TEMP TABLE relay_attempt AS
WITH owner AS (
  -- the owner's own attempt from one of its usual networks in the same minutes
  SELECT c.event_id, list(DISTINCT e.event_id) AS evs
  FROM relay_attempt0 c
  JOIN ev e ON e.account = c.account AND e.tenant IS NOT DISTINCT FROM c.tenant
   AND e.activity IN ('sign_in', 'mfa_challenge') AND e.ipnet <> c.ipnet
   AND e.time BETWEEN c.time - INTERVAL '{ATTEMPT_OWNER_MINUTES}' MINUTE
                  AND c.time + INTERVAL '{ATTEMPT_OWNER_MINUTES}' MINUTE
  JOIN known k ON k.account = e.account AND k.tenant IS NOT DISTINCT FROM e.tenant AND k.kind = 'net'
   AND k.value = e.net AND k.first_seen < e.time - INTERVAL '{SETTLE_HOURS}' HOUR
  GROUP BY c.event_id
), done AS (
  -- a sign-in completed for the account from the same address block soon after
  SELECT DISTINCT c.event_id
  FROM relay_attempt0 c
  JOIN ({_COMPLETED}) d ON d.account = c.account AND d.tenant IS NOT DISTINCT FROM c.tenant
   AND d.ipnet = c.ipnet AND d.time >= c.time AND d.time <= c.time + INTERVAL '{ABANDON_HOURS}' HOUR
), f AS (
  SELECT c.*, {ATTEMPT_INFRA_BITS_SQL} AS infra_bits, COALESCE(w.evs, []) AS owner_events,
         (d.event_id IS NULL) AS abandoned
  FROM relay_attempt0 c
  LEFT JOIN owner w ON w.event_id = c.event_id
  LEFT JOIN done d ON d.event_id = c.event_id
)
SELECT f.*, infra_bits + CASE WHEN len(owner_events) > 0 THEN {OWNER_BITS} ELSE 0 END
                       + CASE WHEN abandoned THEN {ABANDON_BITS} ELSE 0 END AS relay_bits
FROM f
"""


def stage_sessions(con: duckdb.DuckDBPyConnection) -> None:
    """``sess_void``; the password successes of sessions whose MFA never passed become pending."""
    con.execute(SESS_VOID_SQL)
    con.execute(VOID_EV_SQL)


def stage_relay(con: duckdb.DuckDBPyConnection, *, evf_tenant: bool = True) -> None:
    """``tenant_known``, the tenant columns of ``evf``, ``mfa_done``, ``relay_signin`` and
    ``relay_attempt`` (password attempts from rented servers new to the account and its tenant).
    ``evf_tenant=False``: the caller already built ``tenant_known`` and those columns."""
    if evf_tenant:
        con.execute(TENANT_KNOWN_SQL)
        con.execute(EVF_TENANT_SQL)
    con.execute(RELAY_ATTEMPT_SQL)
    con.execute(RELAY_ATTEMPT_OWNER_SQL)
    con.execute("DROP TABLE relay_attempt0")
    con.execute(MFA_DONE_SQL)
    con.execute(RELAY_SIGNIN_SQL)
