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


#: Fixed-date public holidays (month, day) on which government offices close, per country:
#: IR Nowruz (1-4 Farvardin ~ 21-24 Mar) and Sizdah Bedar (~2 Apr), Revolution Day (11 Feb),
#: 14-15 Khordad (4-5 Jun); RU New Year holidays (1-8 Jan), 23 Feb, 8 Mar, 1 and 9 May, 12 Jun,
#: 4 Nov; KP 1 Jan, 16 Feb, 15 Apr, 9 Sep, 10 Oct; CN 1 Jan, 1-3 May, 1-7 Oct (Golden Week).
#: Lunar-calendar holidays (Ramadan, Muharram, Spring Festival) move every year and are left out.
FIXED_HOLIDAYS: dict[str, frozenset[tuple[int, int]]] = {
    "IR": frozenset({(3, 21), (3, 22), (3, 23), (3, 24), (4, 1), (4, 2), (2, 11), (6, 4), (6, 5)}),
    "RU": frozenset({(1, d) for d in range(1, 9)} | {(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)}),
    "KP": frozenset({(1, 1), (2, 16), (4, 15), (9, 9), (10, 10)}),
    "CN": frozenset({(1, 1), (5, 1), (5, 2), (5, 3)} | {(10, d) for d in range(1, 8)}),
}


def holiday_rate(days: Counter[str], country: str, workdays: frozenset[int]) -> tuple[int, float] | None:
    """(holidays in the campaign's span that fall on work days, activity on them relative to the
    other work days of the span), or None when the country has no table or the span none."""
    from datetime import date, timedelta

    table = FIXED_HOLIDAYS.get(country)
    if not table or not days:
        return None
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    hol_days = work_days = 0
    hol_events = work_events = 0
    d = first
    while d <= last:
        if d.isoweekday() in workdays:
            n = days.get(d.isoformat(), 0)
            if (d.month, d.day) in table:
                hol_days, hol_events = hol_days + 1, hol_events + n
            else:
                work_days, work_events = work_days + 1, work_events + n
        d += timedelta(days=1)
    if not hol_days or not work_days or not work_events:
        return None
    return hol_days, (hol_events / hol_days) / (work_events / work_days)
