"""When an operator works: office hours and work week in their own time zone, with burst days."""

from __future__ import annotations

import datetime as dt

import numpy as np

from idwatch.simulate.scenario import WEEKDAYS, Actor
from idwatch.simulate.util import tz_offset_seconds


def epoch_us(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 10**6


class WorkClock:
    """Samples UTC times at which an actor's operators are at their desks."""

    def __init__(self, actor: Actor, rng: np.random.Generator):
        assert actor.start is not None and actor.end is not None
        n = (actor.end - actor.start).days + 1
        days = [actor.start + dt.timedelta(days=i) for i in range(n)]
        work = {WEEKDAYS.index(d) for d in actor.work_days}
        h0, h1 = actor.work_hours
        self.begin = np.array(
            [epoch_us(d) + (h0 * 3600 - tz_offset_seconds(actor.timezone, d)) * 10**6 for d in days],
            dtype=np.int64,
        )
        self.length_us = (h1 - h0) * 3600 * 10**6
        weight = np.array([1.0 if d.weekday() in work else 0.03 for d in days])
        workdays = np.flatnonzero(weight == 1.0)
        if len(workdays):
            bursts = rng.choice(workdays, size=min(actor.burst_days, len(workdays)), replace=False)
            weight[bursts] *= 6.0
        self.weight = weight
        self.first_us = int(self.begin[0])
        self.last_us = int(self.begin[-1] + self.length_us)

    def sample(
        self, rng: np.random.Generator, n: int, after_us: int | None = None, before_us: int | None = None
    ) -> np.ndarray:
        """``n`` sorted times in working hours, within (after_us, before_us) where the window allows."""
        lo = after_us if after_us is not None else self.first_us
        hi = before_us if before_us is not None else self.last_us
        ok = (self.begin + self.length_us > lo) & (self.begin < hi)
        w = np.where(ok, self.weight, 0.0)
        if w.sum() == 0:
            w = np.where(self.begin + self.length_us > lo, self.weight, 0.0)
            if w.sum() == 0:
                return np.sort(lo + rng.integers(60, 3600, n) * 10**6)
        d = rng.choice(len(w), size=n, p=w / w.sum())
        # within the day: a morning and an afternoon block around a lunch break
        frac = np.where(
            rng.random(n) < 0.55, rng.beta(2.5, 2.5, n) * 0.45, 0.55 + rng.beta(2.5, 2.5, n) * 0.45
        )
        t = self.begin[d] + (frac * self.length_us).astype(np.int64)
        t = np.where(t <= lo, lo + rng.integers(60, 4 * 3600, n) * 10**6, t)
        return np.sort(t)
