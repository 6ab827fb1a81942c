"""Turn campaigns into the notices that should exist: one per tenant, and per person by policy.

A notice is built from *facts* ``(account, stage, actor)``. A fact already told to the same
audience (at the same or a further stage) is not told again, so re-running the analysis and
``notify`` never repeats a message, while an account that moves from attacked to
compromised produces a new, more urgent one. Campaign ids are deliberately not part of a
fact: re-clustering may rename campaigns, but it does not change what happened.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from idwatch.respond.findings import STAGE_RANK, Campaign, TargetedAccount
from idwatch.respond.policy import NotifyPolicy

#: plain-language names of the techniques, so a notice speaks to people, not analysts
TECHNIQUE_WORDS = {
    "T1589": "researching the people and accounts to target",
    "T1589.002": "checking which email addresses exist",
    "T1598": "phishing for account information",
    "T1110": "guessing passwords",
    "T1110.001": "guessing passwords",
    "T1110.003": "trying common passwords across many accounts (password spraying)",
    "T1110.004": "trying passwords leaked from other services",
    "T1078": "signing in with stolen credentials",
    "T1586.002": "taking over email accounts",
    "T1621": "flooding the account owner with sign-in approval requests",
    "T1098.005": "registering a new multi-factor device",
    "T1114.003": "setting up email forwarding rules",
    "T1556": "changing how the account authenticates (for example its recovery phone)",
    "T1111": "intercepting one-time codes",
    "T1539": "stealing signed-in sessions",
}


@dataclass(frozen=True)
class Fact:
    """One thing a recipient is told: this account reached this stage at the hands of this actor."""

    account: str
    stage: str
    actor: str

    def as_list(self) -> list[str]:
        return [self.account, self.stage, self.actor]


@dataclass
class Notice:
    """A message to be delivered (before rendering)."""

    audience: str  # "tenant" | "person"
    tenant: str
    address: str  # email address or webhook URL
    facts: list[Fact]
    context: dict[str, Any]
    campaigns: list[str] = field(default_factory=list)

    @property
    def channel(self) -> str:
        return "webhook" if self.address.lower().startswith(("http://", "https://")) else "email"

    @property
    def scope(self) -> str:
        """Whose facts these are: a tenant, or one person's account."""
        return self.tenant if self.audience == "tenant" else self.facts[0].account

    @property
    def key(self) -> str:
        """Stable notification key: same audience and facts -> same key, run after run."""
        payload = json.dumps(
            [self.audience, self.scope, sorted(f.as_list() for f in self.facts)], separators=(",", ":")
        )
        return "ntf-" + hashlib.sha256(payload.encode()).hexdigest()[:32]

    @property
    def why(self) -> str:
        stages = sorted({f.stage for f in self.facts}, key=STAGE_RANK.__getitem__, reverse=True)
        actors = sorted({f.actor for f in self.facts})
        return f"{len(self.facts)} account(s) {'/'.join(stages)} by {', '.join(actors)}"


def qualifying(campaign: Campaign, policy: NotifyPolicy) -> bool:
    """Is this campaign one whose targets we tell? Attributed, of a notified kind, confident enough."""
    if campaign.actor is None:
        return False
    kind = campaign.kind or "state"
    if kind not in policy.kinds:
        return False
    return (campaign.actor.confidence or 0) >= policy.min_confidence


def tenant_worthy(acc: TargetedAccount, policy: NotifyPolicy) -> bool:
    """Attacked or compromised accounts always; probed ones when watchlisted (policy)."""
    if acc.stage in ("attacked", "compromised"):
        return True
    return acc.stage == "probed" and acc.watchlist and acc.in_directory and policy.watchlist_probes


def person_worthy(acc: TargetedAccount, policy: NotifyPolicy) -> bool:
    """People hear directly only by policy; a compromised mailbox only under ``all``."""
    if policy.people == "none" or not acc.in_directory or "@" not in acc.account:
        return False
    if acc.stage == "compromised":
        return policy.people == "all"
    return tenant_worthy(acc, policy)


def plan_notices(
    campaigns: list[Campaign],
    contacts: dict[str, str],
    policy: NotifyPolicy,
    told: dict[tuple[str, str, str, str], int],
) -> tuple[list[Notice], list[dict[str, Any]]]:
    """The notices still owed, and the tenants that could not be reached (no contact).

    ``told`` maps ``(audience, scope, account, actor)`` to the furthest stage rank already
    told (sent or pending), from the audit log.
    """
    best: dict[tuple[str, str], tuple[TargetedAccount, Campaign]] = {}
    probed_count: dict[str, set[str]] = {}
    for camp in campaigns:
        if not qualifying(camp, policy):
            continue
        for acc in camp.accounts:
            if not acc.tenant:
                continue
            if not tenant_worthy(acc, policy):
                probed_count.setdefault(acc.tenant, set()).add(acc.account)
                continue
            k = (acc.account, _actor(camp))
            prev = best.get(k)
            if prev is None or STAGE_RANK[acc.stage] > STAGE_RANK[prev[0].stage]:
                best[k] = (acc, camp)

    by_tenant: dict[str, list[tuple[TargetedAccount, Campaign]]] = {}
    for acc, camp in best.values():
        by_tenant.setdefault(acc.tenant or "", []).append((acc, camp))

    notices: list[Notice] = []
    unreachable: list[dict[str, Any]] = []
    for tenant in sorted(by_tenant):
        items = [
            (a, c)
            for a, c in by_tenant[tenant]
            if told.get(("tenant", tenant, a.account, _actor(c)), -1) < STAGE_RANK[a.stage]
        ]
        if items:
            contact = contacts.get(tenant)
            if contact:
                others = probed_count.get(tenant, set()) - {a.account for a, _ in items}
                notices.append(_notice("tenant", tenant, contact, items, policy, len(others)))
            else:
                unreachable.append({"tenant": tenant, "accounts": len(items), "reason": "no notify contact"})
        for acc, camp in by_tenant[tenant]:
            if not person_worthy(acc, policy):
                continue
            if told.get(("person", acc.account, acc.account, _actor(camp)), -1) >= STAGE_RANK[acc.stage]:
                continue
            notices.append(_notice("person", tenant, acc.account, [(acc, camp)], policy, 0))
    return notices, unreachable


def _actor(camp: Campaign) -> str:
    """The actor's name (only qualifying, hence attributed, campaigns get here)."""
    return camp.actor.name if camp.actor else "unattributed"


def _notice(
    audience: str,
    tenant: str,
    address: str,
    items: list[tuple[TargetedAccount, Campaign]],
    policy: NotifyPolicy,
    other_probed: int,
) -> Notice:
    items = sorted(items, key=lambda it: (-STAGE_RANK[it[0].stage], it[0].account))
    facts = [Fact(a.account, a.stage, _actor(c)) for a, c in items]
    camps = sorted({c.id for _, c in items})
    actors = {}
    techniques: list[str] = []
    for _, c in items:
        assert c.actor is not None
        actors[c.actor.name] = {
            "name": c.actor.name,
            "aliases": [x for x in c.actor.aliases if x != c.actor.name],
            "confidence": c.actor.confidence,
        }
        techniques += [t for t in c.techniques if t not in techniques]
    firsts = [a.first_seen for a, _ in items if a.first_seen]
    lasts = [a.last_seen for a, _ in items if a.last_seen]
    context = {
        "audience": audience,
        "provider": policy.provider,
        "tenant": tenant,
        "accounts": [
            {
                "account": a.account,
                "display_name": a.display_name,
                "stage": a.stage,
                "first_seen": a.first_seen,
                "last_seen": a.last_seen,
                "watchlist": a.watchlist,
            }
            for a, _ in items
        ],
        "n_compromised": sum(a.stage == "compromised" for a, _ in items),
        "n_attacked": sum(a.stage == "attacked" for a, _ in items),
        "n_probed": sum(a.stage == "probed" for a, _ in items),
        "other_probed": other_probed,
        "compromised": any(a.stage == "compromised" for a, _ in items),
        "actors": list(actors.values()) if (audience == "tenant" and policy.name_actor_to_tenant) else [],
        "first_seen": min(firsts) if firsts else None,
        "last_seen": max(lasts) if lasts else None,
        "methods": list(dict.fromkeys(TECHNIQUE_WORDS[t] for t in techniques if t in TECHNIQUE_WORDS)),
    }
    return Notice(audience, tenant, address, facts, context, camps)
