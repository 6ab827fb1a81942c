"""Lineage: evidence that ties a campaign on new infrastructure to an attributed one.

Operators rent fresh addresses for every operation, so the intel often names none of them. What
they keep is whom they go after and how their client looks: a group returns to the same people
(the ones it failed to get, or new staff of the same office), and an operator keeps its tooling's
browser string. A campaign whose targets are accounts an attributed campaign went after *before*
it began, or whose operator sends a browser string (one few people use) that an attributed
campaign's operator sent, inherits evidence for that campaign's actor.

Each is a likelihood ratio against "another actor" (calibrated in the constants below), and each
counts as tying the campaign to the actor (as an indicator does): it is concrete intelligence
about this actor, from the store, not behaviour shared by a whole class of groups. Only this
run's attributions are used (not an earlier run's ``campaigns.json``), so that analysing a store
twice gives the same answer and no campaign can lend evidence to itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from idwatch.correlate.attribution import Evidence
from idwatch.correlate.entities import POPULARITY_SCALE

#: Shared targets below this are coincidence (a prominent journalist is attacked by many).
LINEAGE_MIN_ACCOUNTS = 2
#: Under "another actor", the chance that a campaign's target is one a given actor attacked
#: before is at least the share of high-risk people that more than one state group goes after
#: in a year: about one in ten (public reporting on journalists and officials targeted by
#: several groups). The LR is the share of this campaign's targets that overlap, over that floor.
LINEAGE_BASE_RATE = 0.1
#: ... capped: one operation's targets are correlated (one office, one mailing list).
LINEAGE_MAX_LR = 8.0
#: An operator's browser string (few benign users send it) that an attributed campaign's
#: operator also sent: the same tooling. Under the same actor perhaps three in five campaigns
#: keep it; under another, about one in five off-the-shelf strings coincide -> LR 3.
CLIENT_LR = 3.0
#: A browser string is the operator's fingerprint when at least this many of its attack events
#: carry it (one event is anybody's).
CLIENT_MIN_EVENTS = 3


@dataclass
class Attributed:
    """What an attributed campaign leaves for later campaigns to be compared with."""

    campaign_id: str
    stix_id: str
    name: str
    first_attack: dict[str, str] = field(default_factory=dict)  # account -> first attack (ISO)
    clients: set[str] = field(default_factory=set)


def campaign_targets(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Per campaign: each attacked (or compromised) account and when the campaign first went after it."""
    out: dict[str, dict[str, str]] = {}
    for cid, account, first in con.execute(
        """SELECT campaign_id, account, strftime(min(time), '%Y-%m-%dT%H:%M:%SZ') FROM camp_events
           WHERE is_attack OR is_compromise GROUP BY 1, 2 ORDER BY 1, 2"""
    ).fetchall():
        out.setdefault(cid, {})[account] = first
    return out


def campaign_clients(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Per campaign: the browser strings of its attempts that few benign people send."""
    out: dict[str, set[str]] = {}
    for cid, ua in con.execute(
        f"""SELECT c.campaign_id, c.user_agent FROM camp_events c LEFT JOIN pop_ua p ON p.k = c.user_agent
            WHERE (c.is_attack OR c.is_probe OR c.is_compromise) AND coalesce(c.user_agent, '') <> ''
              AND coalesce(p.n, 0) <= {POPULARITY_SCALE}
            GROUP BY 1, 2 HAVING count(*) >= {CLIENT_MIN_EVENTS} ORDER BY 1, 2"""
    ).fetchall():
        out.setdefault(cid, set()).add(ua)
    return out


def lineage_evidence(
    campaign_id: str,
    targets: dict[str, str],
    clients: set[str],
    attributed: list[Attributed],
) -> dict[str, list[Evidence]]:
    """Evidence per intrusion set (stix id) from the attributed campaigns that came before."""
    start = min(targets.values()) if targets else None
    out: dict[str, list[Evidence]] = {}
    for prior in attributed:
        if prior.campaign_id == campaign_id or start is None:
            continue
        shared = sorted(a for a, t in prior.first_attack.items() if a in targets and t < start)
        if len(shared) >= LINEAGE_MIN_ACCOUNTS:
            share = len(shared) / len(targets)
            lr = min(LINEAGE_MAX_LR, max(1.0, share / LINEAGE_BASE_RATE))
            out.setdefault(prior.stix_id, []).append(
                Evidence(
                    "target_lineage",
                    f"{len(shared)} of its {len(targets)} targets ({share:.0%}) were attacked earlier by "
                    f"campaign {prior.campaign_id}, attributed to {prior.name}",
                    lr,
                    [prior.campaign_id],
                )
            )
        same = sorted(clients & prior.clients)
        if same and min(prior.first_attack.values(), default=start) < start:
            out.setdefault(prior.stix_id, []).append(
                Evidence(
                    "client_lineage",
                    f"its operator's browser string ({same[0][:60]}) is one few people send; "
                    f"campaign {prior.campaign_id}, attributed to {prior.name}, sent it too",
                    CLIENT_LR,
                    [prior.campaign_id],
                )
            )
    # per actor, one of each kind (the strongest): two earlier campaigns of one actor are not
    # independent witnesses
    for sid, evs in out.items():
        best: dict[str, Evidence] = {}
        for e in evs:
            if e.kind not in best or e.lr > best[e.kind].lr:
                best[e.kind] = e
        out[sid] = [best[k] for k in sorted(best)]
    return out
