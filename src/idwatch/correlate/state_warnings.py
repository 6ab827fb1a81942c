"""State-actor warnings from the identity provider as evidence for attribution.

Google warns an account holder when it believes government-backed attackers targeted the
account (``gov_attack_warning``, kept in ``other_events``); Entra ID Protection raises a
``nationStateIP`` risk detection for sign-ins from addresses Microsoft ties to nation-state
actors. Either says *that* a state actor is behind the attempts on that account, not *which*
one: the evidence raises every state hypothesis of the campaign holding the warned account
alike, lowers every criminal one, and leaves "unknown actor" (which includes states absent from
the intel) where it is. It is not infrastructure evidence, so it can never attribute on its own
(:func:`attribution.verdict` still needs the actor's intel or lineage).
"""

from __future__ import annotations

import duckdb

from idwatch.correlate.actors import ActorProfile
from idwatch.correlate.attribution import Evidence

#: LR of a state hypothesis against "unknown actor" when one account of the campaign was warned.
#: Google sends these warnings to fewer than 1 in 1,000 users and only on its own attribution
#: of the attempt to a government-backed group, so a warned target is several times likelier
#: under "this is a state campaign" than under the unknown-actor mix of states and criminals.
ONE_WARNED_LR = 3.0
#: LR with two or more warned accounts: warnings across one campaign's targets mostly repeat the
#: same signal (one actor, one wave), so more accounts add little beyond the second.
MANY_WARNED_LR = 5.0
#: How long after the campaign's last activity on the account a warning still belongs to it:
#: providers warn with a delay (Google's warnings can follow the attempt by days or weeks).
WARNING_DELAY_DAYS = 30
#: How long before the first activity a warning may come (the provider saw an attempt that
#: idwatch's detections did not, e.g. a phishing mail before the first sign-in).
WARNING_LEAD_DAYS = 7
#: Entra ID Protection risk detections that name a nation-state origin (case-insensitive).
ENTRA_STATE_RISKS = ("nationstateip",)

_WARNINGS_SQL = f"""
SELECT lower(account) AS account, time,
       CASE WHEN source = 'gworkspace' THEN 'Google government-backed attack warning'
            ELSE 'Entra ID Protection nation-state risk detection' END AS what
FROM other_events
WHERE account IS NOT NULL AND time IS NOT NULL AND (
  (source = 'gworkspace' AND kind = 'gov_attack_warning')
  OR (source = 'entra' AND lower(coalesce(
        json_extract_string(raw, '$.riskEventType'), json_extract_string(raw, '$.properties.riskEventType'),
        json_extract_string(raw, '$.RiskEventType'))) IN ({", ".join(f"'{r}'" for r in ENTRA_STATE_RISKS)}))
)
"""


def warned_accounts(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """campaign id -> [(account, what)] of its accounts warned around the campaign's activity.

    Reads ``other_events`` and the ``camp_accounts`` table the campaign counts build.
    """
    rows = con.execute(
        f"""
        SELECT DISTINCT c.campaign_id, w.account, w.what
        FROM ({_WARNINGS_SQL}) w
        JOIN camp_accounts c ON lower(c.account) = w.account
         AND w.time >= c.first_seen - INTERVAL {WARNING_LEAD_DAYS} DAY
         AND w.time <= c.last_seen + INTERVAL {WARNING_DELAY_DAYS} DAY
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for cid, account, what in rows:
        out.setdefault(cid, []).append((account, what))
    return out


def warning_evidence(warned: list[tuple[str, str]], actors: list[ActorProfile]) -> dict[str, list[Evidence]]:
    """Evidence per intrusion set (stix id) from one campaign's warned accounts."""
    accounts = sorted({a for a, _ in warned})
    if not accounts:
        return {}
    lr = ONE_WARNED_LR if len(accounts) == 1 else MANY_WARNED_LR
    sources = " and ".join(sorted({w for _, w in warned}))
    detail = f"{len(accounts)} targeted account(s) got a {sources}"
    out: dict[str, list[Evidence]] = {}
    for a in actors:
        if a.kind == "state":
            out[a.stix_id] = [Evidence("state_warning", f"{detail}: a state actor is behind it", lr)]
        elif a.kind == "criminal":
            out[a.stix_id] = [Evidence("state_warning", f"{detail}; {a.name} is a criminal group", 1.0 / lr)]
    return out


def merge(*parts: dict[str, list[Evidence]] | None) -> dict[str, list[Evidence]]:
    """Evidence maps (stix id -> list) joined."""
    out: dict[str, list[Evidence]] = {}
    for part in parts:
        for sid, ev in (part or {}).items():
            out.setdefault(sid, []).extend(ev)
    return out
