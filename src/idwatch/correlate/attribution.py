"""Attribution by competing hypotheses: which known intrusion set (or none) ran a campaign?

Every intrusion set in the imported intel is a hypothesis, plus "unknown actor". Each
starts from a prior; every piece of evidence multiplies it by a likelihood ratio (LR)
relative to the unknown-actor hypothesis (whose LR is therefore always 1):

* indicator matches (IPs, networks, domains, addresses): each match is scaled by the
  indicator's confidence and by how specific the address is (a VPN exit used by
  thousands is nearly worthless); the scaled matches add up with saturation (intel
  lists of one actor are correlated), so many weak matches (Tor exits an actor is known
  to use) count, and one indicator alone cannot reach the threshold.
* AS overlap: weak (an AS is shared by thousands of customers).
* technique overlap: per technique, P(t | actor) over P(t | another group), the latter from
  the technique's spread in ATT&CK and the intel's other groups; shared ones weigh ~nothing.
* targeting: share of targets in the sectors the actor is known to target.
* working hours: office hours in the actor's home time zone and work week for,
  elsewhere against; quiet on the fixed public holidays of its country for, busy against.
* campaign profile: mass criminal tradecraft against a state hypothesis and vice versa.
* lineage: targets, or an operator's browser string, shared with a campaign already
  attributed to the actor that came before (:mod:`idwatch.correlate.lineage`).

The posterior is normalized over all hypotheses; a campaign is attributed only when the
best posterior reaches :data:`ATTRIBUTION_THRESHOLD`, at least two independent kinds
of evidence support it, and one of them ties the campaign to the actor's concrete
intelligence - its infrastructure in the intel, or lineage from an attributed campaign
(behaviour alone - techniques, target sectors, hours - is shared by many groups). Confidence
is the posterior on the 0-100 STIX scale, with the ICD 203 expression of likelihood.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from idwatch.correlate.actors import ActorProfile, technique_name, technique_spread
from idwatch.correlate.features import CampaignProfile
from idwatch.correlate.timing import (
    FRIDAY_WEEKEND_DAYS,
    MON_FRI,
    best_offset,
    fmt_offset,
    holiday_rate,
    office_share,
)

UNKNOWN = "unknown actor"
PRIOR_UNKNOWN = 0.6
ATTRIBUTION_THRESHOLD = 0.6
MIN_SUPPORTING_KINDS = 2

INDICATOR_BASE_LR = 4.0
#: Scaled matches saturate at about this many (log LR = ln(base) * m / (1 + m / SATURATION)).
INDICATOR_SATURATION = 4.0
INDICATOR_MAX_LR = 40.0
#: Evidence kinds that tie a campaign to an actor's concrete intelligence (one is needed to
#: attribute): its infrastructure in the intel, or its targets / operator's browser shared with a
#: campaign already attributed to the actor (see :mod:`idwatch.correlate.lineage`).
INFRASTRUCTURE_KINDS = {"indicator_match", "target_lineage", "client_lineage"}
ASN_LR = 1.5
#: Low cap: the techniques of one operation are correlated and common to its whole class.
TECHNIQUE_MAX_LR = 4.0
TECHNIQUE_MIN_LR = 0.2
TECHNIQUE_ABSENT_LR = 0.8
MIN_TIMING_EVENTS = 30

#: ICD 203 expressions of likelihood (upper bound of each band, word).
ICD203 = [
    (0.05, "almost no chance"),
    (0.20, "very unlikely"),
    (0.45, "unlikely"),
    (0.55, "roughly even chance"),
    (0.80, "likely"),
    (0.95, "very likely"),
    (1.01, "almost certain"),
]

#: Directory categories and STIX sectors folded into a few comparable target groups.
TARGET_GROUPS: dict[str, set[str]] = {
    "government": {
        "government",
        "government-national",
        "government-regional",
        "government-local",
        "government-public-services",
        "political",
        "political-campaign",
        "politics",
        "elections",
        "defense",
        "military",
        "diplomatic",
        "diplomacy",
        "diplomat",
        "public-sector",
        "policy",
    },
    "media": {
        "media",
        "journalist",
        "journalism",
        "journalists",
        "news",
        "press",
        "broadcasting",
        "communications",
    },
    "civil-society": {
        "non-profit",
        "ngo",
        "ngos",
        "civil-society",
        "diaspora",
        "activist",
        "activists",
        "human-rights",
        "dissident",
        "dissidents",
        "religious",
    },
    "education": {"education", "academic", "academia", "research", "think-tank", "university", "think-tanks"},
    "business": {
        "business",
        "commercial",
        "technology",
        "financial-services",
        "finance",
        "private-sector",
        "manufacturing",
        "energy",
        "telecommunications",
        "retail",
        "healthcare",
        "pharmaceuticals",
        "legal",
        "legal-services",
        "hospitality-leisure",
    },
    "consumer": {"consumer", "individual", "individuals", "personal"},
}


def icd203(p: float) -> str:
    for upper, word in ICD203:
        if p < upper:
            return word
    return ICD203[-1][1]


def target_group(label: str) -> str | None:
    norm = label.strip().lower().replace("_", "-").replace(" ", "-")
    for group, names in TARGET_GROUPS.items():
        if norm in names:
            return group
    return None


@dataclass
class Evidence:
    kind: str
    detail: str
    lr: float
    refs: list[str] = field(default_factory=list)

    @property
    def weight(self) -> float:
        return round(math.log(self.lr), 3) if self.lr > 0 else -10.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "detail": self.detail,
            "weight": self.weight,
            "likelihood_ratio": round(self.lr, 3),
        }
        if self.refs:
            out["refs"] = self.refs
        return out


@dataclass
class Hypothesis:
    name: str
    stix_id: str | None
    prior: float
    evidence: list[Evidence]
    actor: ActorProfile | None = None
    posterior: float = 0.0

    @property
    def log_lr(self) -> float:
        return sum(math.log(e.lr) for e in self.evidence if e.lr > 0)

    @property
    def supporting_kinds(self) -> set[str]:
        return {e.kind for e in self.evidence if e.lr > 1.05}

    @property
    def confidence(self) -> int:
        return int(round(100 * self.posterior))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stix_id": self.stix_id,
            "prior": round(self.prior, 4),
            "posterior": round(self.posterior, 4),
            "confidence": self.confidence,
            "words": icd203(self.posterior),
            "evidence": [e.to_dict() for e in self.evidence],
        }


# ------------------------------------------------------------------ evidence functions


def indicator_evidence(
    c: CampaignProfile,
    a: ActorProfile,
    ip_weight: dict[str, float],
    listed: Counter[str] | None = None,
) -> list[Evidence]:
    """Matches of the campaign's infrastructure with the actor's indicators, diminishing and capped.

    ``listed``: per indicator value, how many intel actors list it. An address several actors'
    intel names (a commercial VPN exit, a Tor relay both use) is evidence for the group of them,
    not for one: each of the k actors gets 1/k of the match.
    """
    listed = listed or Counter()
    matches: list[tuple[float, str, str]] = []  # (strength, description, value)
    nets = []
    for cidr in a.networks:
        try:
            nets.append((ipaddress.ip_network(cidr, strict=False), cidr))
        except ValueError:
            continue
    for ip, n in c.ips.items():
        spec = ip_weight.get(ip, 1.0)
        if ip in a.ips:
            share = 1.0 / max(1, listed.get(ip, 1))
            matches.append((a.ips[ip] / 100 * spec * share, f"address {ip} ({n} events)", ip))
            continue
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        for net, cidr in nets:
            if addr.version == net.version and addr in net:
                share = 1.0 / max(1, listed.get(cidr, 1))
                matches.append((a.networks[cidr] / 100 * spec * 0.7 * share, f"address {ip} in {cidr}", ip))
                break
    for dom in c.domains:
        hit = next((d for d in a.domains if dom == d or dom.endswith("." + d)), None)
        if hit:
            matches.append((a.domains[hit] / 100, f"domain {dom}", dom))
    for email in c.emails:
        if email in a.accounts:
            matches.append((a.accounts[email] / 100, f"address {email}", email))
    if not matches:
        if len(a.ips) + len(a.networks) >= 5 and len(c.ips) >= 5:
            return [
                Evidence(
                    "indicator_match",
                    f"none of {len(c.ips)} campaign addresses is among the "
                    f"{len(a.ips) + len(a.networks)} known indicators of {a.name}",
                    0.85,
                )
            ]
        return []
    matches.sort(key=lambda m: (-m[0], m[2]))  # ties by value: the same store, the same words
    mass = sum(s for s, _, _ in matches)
    log_lr = math.log(INDICATOR_BASE_LR) * mass / (1 + mass / INDICATOR_SATURATION)
    lr = min(INDICATOR_MAX_LR, math.exp(log_lr))
    shown = ", ".join(m[1] for m in matches[:5]) + (
        f" and {len(matches) - 5} more" if len(matches) > 5 else ""
    )
    return [
        Evidence(
            "indicator_match",
            f"{len(matches)} indicator(s) of {a.name}: {shown}",
            lr,
            [m[2] for m in matches],
        )
    ]


def asn_evidence(c: CampaignProfile, a: ActorProfile, actor_asns: set[int]) -> list[Evidence]:
    shared = sorted(set(c.asns) & actor_asns)
    if not shared:
        return []
    return [
        Evidence(
            "asn_match",
            f"AS{', AS'.join(map(str, shared[:5]))} also in {a.name}'s intel "
            "(weak: an AS is shared by many customers)",
            ASN_LR,
        )
    ]


def _technique_known(t: str, known: set[str]) -> float:
    """1 when the actor uses t, 0.5 when only a parent / sibling sub-technique, else 0."""
    if t in known:
        return 1.0
    parent = t.split(".")[0]
    if parent in known or any(k.split(".")[0] == parent for k in known):
        return 0.5
    return 0.0


#: P(the campaign shows technique t | the group): the intel lists t for the group (it is seen in
#: most of its operations); lists only a sibling / parent sub-technique; lists nothing like it
#: (intel is incomplete: a group's unlisted technique still turns up now and then).
P_TECHNIQUE_LISTED, P_TECHNIQUE_RELATED, P_TECHNIQUE_UNLISTED = 0.8, 0.45, 0.15
#: Intrusion sets in ATT&CK Enterprise (v18: ~170): a technique's spread over them is the chance
#: that a group nobody named uses it.
ATTACK_GROUPS = 170


def _p_technique(t: str, known: set[str]) -> float:
    match = _technique_known(t, known)
    if match == 1.0:
        return P_TECHNIQUE_LISTED
    return P_TECHNIQUE_RELATED if match else P_TECHNIQUE_UNLISTED


def technique_evidence(
    c: CampaignProfile, a: ActorProfile, others: list[ActorProfile] | None = None
) -> list[Evidence]:
    """Per technique, P(t | A) / P(t | not A); "not A" is half an ATT&CK group nobody named
    (the technique's spread over ATT&CK's groups), half the intel's other groups (their mean).

    A technique every group of the intel uses (valid accounts, email-address gathering) is
    therefore worth ~1 to each; one only this actor is known for carries the weight.
    """
    if not c.techniques or not a.techniques:
        return []
    others = [o for o in (others or []) if o.techniques and o is not a]
    log_lr, used, related, unused = 0.0, [], [], []
    top = max(c.technique_alerts.values(), default=0)
    for t in c.techniques:
        # a technique on a few of the campaign's alerts (one account's follow-on step) says less
        # about how the operation works than one on most of them: weighted by its alerts, the
        # commonest technique counting once
        weight = c.technique_alerts.get(t, 0) / top if top else 1.0
        spread = technique_spread(t)
        share = min(1.0, (10 if spread is None else spread) / ATTACK_GROUPS)
        p_bg = P_TECHNIQUE_UNLISTED + (P_TECHNIQUE_LISTED - P_TECHNIQUE_UNLISTED) * share
        p_known = sum(_p_technique(t, o.techniques) for o in others) / len(others) if others else p_bg
        p_a = _p_technique(t, a.techniques)
        log_lr += weight * math.log(p_a / (0.5 * p_bg + 0.5 * p_known))
        {P_TECHNIQUE_LISTED: used, P_TECHNIQUE_RELATED: related}.get(p_a, unused).append(t)
    lr = min(TECHNIQUE_MAX_LR, max(TECHNIQUE_MIN_LR, math.exp(log_lr)))
    parts = []
    if used:
        parts.append(f"{a.name} is known to use " + ", ".join(f"{t} {technique_name(t)}" for t in used))
    if related:
        parts.append("uses techniques related to " + ", ".join(related))
    if unused:
        parts.append("not known for " + ", ".join(unused))
    return [Evidence("technique_overlap", "; ".join(parts), lr, used + related)]


def targeting_evidence(c: CampaignProfile, a: ActorProfile) -> list[Evidence]:
    groups = {g for s in a.sectors if (g := target_group(s))}
    counted = {cat: n for cat, n in c.categories.items() if target_group(cat)}
    total = sum(counted.values())
    if not groups or total < 3:
        return []
    inside = sum(n for cat, n in counted.items() if target_group(cat) in groups)
    share = inside / total
    top = ", ".join(f"{cat} {n}" for cat, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:4])
    if share >= 0.5:
        lr = 1 + 2 * share
    elif share >= 0.2:
        lr = 1 + share
    else:
        lr = 0.5
    return [
        Evidence(
            "targeting_overlap",
            f"{share:.0%} of targets ({top}) in sectors {a.name} is known "
            f"to target ({', '.join(sorted(groups))})",
            lr,
        )
    ]


def timing_evidence(c: CampaignProfile, a: ActorProfile) -> list[Evidence]:
    from idwatch.correlate.actors import COUNTRY_UTC_OFFSET, FRIDAY_WEEKEND

    if not a.country or a.country not in COUNTRY_UTC_OFFSET or c.n_events < MIN_TIMING_EVENTS:
        return []
    best_off, best_share, week = best_offset(c.how)
    if best_share < 0.5:
        return []  # no office-hours pattern at all: automation, says nothing about a country
    offset = COUNTRY_UTC_OFFSET[a.country]
    days = FRIDAY_WEEKEND_DAYS if a.country in FRIDAY_WEEKEND else MON_FRI
    share = office_share(c.how, offset, days)  # the work week the hypothesis predicts
    label = "Sat-Wed" if days == FRIDAY_WEEKEND_DAYS else "Mon-Fri"
    where = f"{a.country} ({fmt_offset(offset)}, {label})"
    if share >= 0.8 * best_share and share >= 0.5:
        lr = 1 + 2 * min(1.0, (share - 0.3) / 0.7)
        return [Evidence("working_hours", f"{share:.0%} of activity in office hours of {where}", lr)]
    lr = max(0.3, share / best_share)
    return [
        Evidence(
            "working_hours",
            f"only {share:.0%} of activity in office hours of {where}; best fit "
            f"{fmt_offset(best_off)} {week} ({best_share:.0%})",
            lr,
        )
    ]


#: Holidays on work days a campaign's span must cover before their quiet says anything.
HOLIDAY_MIN_DAYS = 2
#: A government office works on its country's public holidays at a small fraction of a normal
#: day (duty staff); anyone else works them as any other day. Activity on the actor's holidays
#: below QUIET of a normal work day is what its office would show (about 1 in 4 other
#: operators' campaigns would be as quiet on those dates by chance: LR ~2); at NORMAL or
#: more, the office was not closed (under the actor, perhaps 1 in 3 campaigns: LR ~0.5).
HOLIDAY_QUIET, HOLIDAY_NORMAL = 0.3, 0.8
HOLIDAY_QUIET_LR, HOLIDAY_BUSY_LR = 2.0, 0.5


def holiday_evidence(c: CampaignProfile, a: ActorProfile) -> list[Evidence]:
    """Quiet on the public holidays of the actor's country, or busy through them."""
    from idwatch.correlate.actors import FRIDAY_WEEKEND

    if not a.country or c.n_events < MIN_TIMING_EVENTS:
        return []
    days = FRIDAY_WEEKEND_DAYS if a.country in FRIDAY_WEEKEND else MON_FRI
    found = holiday_rate(c.days, a.country, days)
    if found is None or found[0] < HOLIDAY_MIN_DAYS:
        return []
    n, rate = found
    if rate <= HOLIDAY_QUIET:
        return [
            Evidence(
                "holidays",
                f"quiet on {n} public holidays of {a.country} ({rate:.0%} of a work day)",
                HOLIDAY_QUIET_LR,
            )
        ]
    if rate >= HOLIDAY_NORMAL:
        return [
            Evidence(
                "holidays",
                f"as busy on {n} public holidays of {a.country} as on work days ({rate:.0%})",
                HOLIDAY_BUSY_LR,
            )
        ]
    return []


def profile_evidence(profile_kind: str, a: ActorProfile) -> list[Evidence]:
    if profile_kind == "criminal" and a.kind == "state":
        return [
            Evidence(
                "campaign_profile",
                f"mass, untargeted tradecraft; {a.name} is a state actor that picks its targets",
                0.2,
            )
        ]
    if profile_kind == "state" and a.kind == "criminal":
        return [Evidence("campaign_profile", f"targeted tradecraft; {a.name} is a criminal group", 0.4)]
    return []


# ------------------------------------------------------------------ scoring


def score_campaign(
    c: CampaignProfile,
    actors: list[ActorProfile],
    *,
    profile_kind: str = "unknown",
    ip_weight: dict[str, float] | None = None,
    actor_asns: dict[str, set[int]] | None = None,
    extra: dict[str, list[Evidence]] | None = None,
) -> list[Hypothesis]:
    """All hypotheses for one campaign, best first, with normalized posteriors.

    ``extra``: further evidence per intrusion set (stix id), e.g. lineage from earlier campaigns.
    """
    ip_weight = ip_weight or {}
    extra = extra or {}
    actor_asns = actor_asns or {}
    prior_known = (1 - PRIOR_UNKNOWN) / len(actors) if actors else 0.0
    hyps = [Hypothesis(UNKNOWN, None, PRIOR_UNKNOWN if actors else 1.0, [])]
    listed: Counter[str] = Counter(v for a in actors for v in {*a.ips, *a.networks})
    for a in actors:
        ev = (
            indicator_evidence(c, a, ip_weight, listed)
            + asn_evidence(c, a, set(a.asns) | actor_asns.get(a.stix_id, set()))
            + technique_evidence(c, a, actors)
            + targeting_evidence(c, a)
            + timing_evidence(c, a)
            + holiday_evidence(c, a)
            + profile_evidence(profile_kind, a)
            + [e for sid in sorted({a.stix_id, *a.stix_ids}) for e in extra.get(sid, [])]
        )
        hyps.append(Hypothesis(a.name, a.stix_id, prior_known, ev, actor=a))
    specific_behaviour(hyps[1:])
    logs = [math.log(h.prior) + h.log_lr for h in hyps]
    top = max(logs)
    total = sum(math.exp(x - top) for x in logs)
    for h, x in zip(hyps, logs, strict=True):
        h.posterior = math.exp(x - top) / total
    hyps.sort(key=lambda h: -h.posterior)
    return hyps


#: Behaviour that many groups share: what a campaign's target sectors, hours and holidays say is
#: judged against the other intrusion sets of the intel, not against nobody (techniques are, per
#: technique, in :func:`technique_evidence`).
BEHAVIOUR_KINDS = ("targeting_overlap", "working_hours", "holidays")
#: Under "unknown actor" the campaign is run either by a group absent from the intel (behaving
#: like no group in particular: likelihood as the unknown baseline) or by someone who behaves
#: like the known groups do (their average likelihood). Even odds of the two.
UNKNOWN_LIKE_KNOWN = 0.5
#: Bounds of one behaviour kind's LR once compared with the other groups: one operation's
#: techniques / targets / hours are correlated, so no kind alone is worth more than this.
BEHAVIOUR_MAX_LR, BEHAVIOUR_MIN_LR = TECHNIQUE_MAX_LR, TECHNIQUE_MIN_LR


def specific_behaviour(hyps: list[Hypothesis]) -> None:
    """Each behaviour LR re-expressed against the alternatives: P(E | A) / P(E | not A).

    The raw LRs are each actor's likelihood over the unknown baseline. "Not A" is the unknown
    actor, a mix of a group absent from the intel (LR 1) and one behaving like the intel's other
    groups (the mean of their LRs). Evidence every group shares (a sector they all target, a
    technique they all use, the office hours of two neighbouring time zones) ends near 1; what
    tells one group from the others keeps its weight. Updated in place, the raw LR in the detail.
    """
    if len(hyps) < 2:
        return
    for kind in BEHAVIOUR_KINDS:
        raw = {id(h): next((e.lr for e in h.evidence if e.kind == kind), 1.0) for h in hyps}
        for h in hyps:
            others = [v for k, v in raw.items() if k != id(h)]
            alt = (1 - UNKNOWN_LIKE_KNOWN) + UNKNOWN_LIKE_KNOWN * sum(others) / len(others)
            for e in h.evidence:
                if e.kind == kind:
                    e.detail += f" (LR {e.lr:.2f} over no particular group, {alt:.2f} for the others)"
                    e.lr = min(BEHAVIOUR_MAX_LR, max(BEHAVIOUR_MIN_LR, e.lr / alt))


def verdict(hyps: list[Hypothesis]) -> Hypothesis | None:
    """The attributed hypothesis, or None when the best one is unknown or not strong enough."""
    best = hyps[0] if hyps else None
    if best is None or best.actor is None:
        return None
    kinds = best.supporting_kinds
    if best.posterior < ATTRIBUTION_THRESHOLD or len(kinds) < MIN_SUPPORTING_KINDS:
        return None
    if not kinds & INFRASTRUCTURE_KINDS:
        return None
    return best
