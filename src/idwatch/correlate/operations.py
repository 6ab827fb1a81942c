"""Operations: which attributed campaigns are pieces of one operation, to be reported as one.

Community detection cuts an operator that rents one server per victim into pieces whose links
are thin (a relay's servers share little but the hosting provider), and each piece is then
attributed on its own. A reader, and the response, need the operation: its targets, its
takeovers and its counts in one campaign. Two campaigns are one operation when nothing tells
them apart: the same intrusion set carries both verdicts, their targets were picked by one
policy (:func:`idwatch.correlate.campaigns.targeting_differs`) and they keep the same hours
(:func:`hours_differ`). Anything that is not attributed - a criminal spray, an unknown group -
is never folded into anything, and two intrusion sets never are: this adds no attribution.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from idwatch.correlate.campaigns import targeting_differs
from idwatch.correlate.features import HIGH_RISK_CATEGORIES, CampaignProfile

#: Chi-square at p = 0.001 with 23 degrees of freedom (24 hours of the day): below it, two
#: campaigns' hours of activity could come from one operator's shifts.
HOURS_G = 49.73
#: Total-variation distance of two hour-of-day distributions from which on they are different
#: shifts: a working day is ~8 hours, so operators whose time zones (or shifts) are 3+ hours
#: apart move ~3/8 of their activity to other hours; one operator's pieces differ by far less.
HOURS_DISTANCE = 0.35
#: Events each side needs before its hours can tell it apart (a thin piece's hours are noise).
MIN_HOUR_EVENTS = 30


@dataclass
class Piece:
    """What the fold compares of one attributed campaign (or of a group folded so far)."""

    ids: list[str]
    actor: str  # stix id of the intrusion set its verdict names
    targets: tuple[float, float]  # distinct targets: high-risk, other
    hours: Counter[int] = field(default_factory=Counter)  # UTC hour of day -> events


def targets_of(profile: CampaignProfile) -> tuple[float, float]:
    """A campaign's targets with a known category (high-risk, other)."""
    high = sum(n for c, n in profile.categories.items() if c in HIGH_RISK_CATEGORIES)
    return float(high), float(sum(profile.categories.values()) - high)


def hours_of(profile: CampaignProfile) -> Counter[int]:
    """A campaign's events per UTC hour of the day."""
    out: Counter[int] = Counter()
    for (_dow, hour), n in profile.how.items():
        out[hour] += n
    return out


def hours_differ(a: Mapping[int, float], b: Mapping[int, float]) -> bool:
    """Whether two campaigns keep different hours: a G-test of homogeneity over the 24 hours
    of the day (p < 0.001) and an effect size (total-variation distance) both say so."""
    na, nb = sum(a.values()), sum(b.values())
    if na < MIN_HOUR_EVENTS or nb < MIN_HOUR_EVENTS:
        return False
    g, distance = 0.0, 0.0
    for hour in range(24):
        xa, xb = a.get(hour, 0), b.get(hour, 0)
        pooled = (xa + xb) / (na + nb)
        for obs, n in ((xa, na), (xb, nb)):
            if obs > 0:
                g += 2 * obs * math.log(obs / (n * pooled))
        distance += abs(xa / na - xb / nb) / 2
    return g >= HOURS_G and distance >= HOURS_DISTANCE


def one_operation(a: Piece, b: Piece) -> bool:
    """Nothing tells the two apart: one intrusion set, one targeting policy, the same hours."""
    return (
        a.actor == b.actor
        and not targeting_differs(a.targets, b.targets)
        and not hours_differ(a.hours, b.hours)
    )


def fold(pieces: list[Piece]) -> list[list[str]]:
    """Groups of campaign ids that are one operation (groups of one included).

    Largest first, each piece joins the first group it is one operation with, compared with the
    group as folded so far (so a chain of small differences cannot join two that differ).
    """
    groups: list[Piece] = []
    order = sorted(pieces, key=lambda p: (-sum(p.targets), -sum(p.hours.values()), p.ids))
    for p in order:
        home = next((g for g in groups if one_operation(g, p)), None)
        if home is None:
            groups.append(Piece(list(p.ids), p.actor, p.targets, Counter(p.hours)))
            continue
        home.ids += p.ids
        home.targets = (home.targets[0] + p.targets[0], home.targets[1] + p.targets[1])
        home.hours.update(p.hours)
    return [sorted(g.ids) for g in groups]
