"""Working-hours profile: in which time zone does this operator keep office hours?

A hands-on operator works a day shift and a work week; a botnet runs around the clock.
The share of a campaign's events that fall into local office hours (08-18, on the local
work days) is computed for every whole / half-hour UTC offset and both work-week
conventions, so that it can be compared with an actor's home country.
"""

from __future__ import annotations

from collections import Counter

#: Local office hours [start, end) and the work days (ISO weekday numbers).
OFFICE_START, OFFICE_END = 8.0, 18.0
MON_FRI = frozenset({1, 2, 3, 4, 5})
SAT_WED = frozenset({6, 7, 1, 2, 3})
FRIDAY_WEEKEND_DAYS = SAT_WED
#: Share of a week that office hours cover: what uniform (around-the-clock) activity scores.
UNIFORM_SHARE = (OFFICE_END - OFFICE_START) * 5 / 168


def office_share(how: Counter[tuple[int, int]], offset: float, workdays: frozenset[int] = MON_FRI) -> float:
    """Share of events (keyed by UTC ISO weekday and hour) in local office hours at ``offset``."""
    total = sum(how.values())
    if not total:
        return 0.0
    inside = 0
    for (dow, hour), n in how.items():
        t = ((dow - 1) * 24 + hour + 0.5 + offset) % 168  # mid-hour, local week time
        local_dow, local_hour = int(t // 24) + 1, t % 24
        if local_dow in workdays and OFFICE_START <= local_hour < OFFICE_END:
            inside += n
    return inside / total


def best_offset(how: Counter[tuple[int, int]]) -> tuple[float, float, str]:
    """(offset, office share, work week) that best explains the activity as office work."""
    best = (0.0, -1.0, "Mon-Fri")
    for half_hours in range(-24, 29):
        offset = half_hours / 2
        for days, label in ((MON_FRI, "Mon-Fri"), (SAT_WED, "Sat-Wed")):
            share = office_share(how, offset, days)
            if share > best[1] + 1e-9:
                best = (offset, share, label)
    return best


def fmt_offset(offset: float) -> str:
    sign = "+" if offset >= 0 else "-"
    hours, minutes = int(abs(offset)), int(round((abs(offset) % 1) * 60))
    return f"UTC{sign}{hours:02d}:{minutes:02d}"
