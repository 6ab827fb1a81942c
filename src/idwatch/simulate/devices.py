"""People's phones and computers: user agents, cookie ids, and the new device some get mid-period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from idwatch.simulate.names import UA_DESKTOP, UA_MOBILE
from idwatch.simulate.scenario import Scenario
from idwatch.simulate.util import hex_ids


@dataclass
class Devices:
    off: np.ndarray  # per person: first device index
    cnt: np.ndarray  # per person: number of devices
    id: np.ndarray  # per device: cookie / device id, '' = none (legacy clients)
    ua: np.ndarray
    mobile: np.ndarray
    start: np.ndarray  # first active day
    end: np.ndarray  # last active day
    swap: np.ndarray  # the device that replaces / is replaced by this one (itself if none)


def build_devices(sc: Scenario, n_people: int, rng: np.random.Generator) -> Devices:
    """One to four devices each; for some, a phone or laptop replaced on a day of the period."""
    lo, hi = sc.population.devices
    n_dev = rng.integers(lo, hi + 1, size=n_people)
    churn = rng.random(n_people) < sc.population.device_churn
    n_total = n_dev + churn
    dev_off = np.concatenate([[0], np.cumsum(n_total)[:-1]]).astype(np.int64)
    d_total = int(n_total.sum())
    dev_user = np.repeat(np.arange(n_people), n_total)
    dev_rank = np.arange(d_total) - dev_off[dev_user]
    mobile = (dev_rank % 2) == 0
    mobile[rng.random(d_total) < 0.15] ^= True
    ua_m = rng.integers(0, len(UA_MOBILE), d_total)
    ua_d = rng.integers(0, len(UA_DESKTOP), d_total)
    mobile_uas, desktop_uas = np.asarray(UA_MOBILE, dtype=object), np.asarray(UA_DESKTOP, dtype=object)
    ua = np.where(mobile, mobile_uas[ua_m], desktop_uas[ua_d])
    dev_id = hex_ids(rng, d_total).astype(object)
    legacy = np.char.startswith(ua.astype(str), "Microsoft Office") | (rng.random(d_total) < 0.05)
    dev_id[legacy] = ""
    start = np.zeros(d_total, dtype=np.int64)
    end = np.full(d_total, sc.days + 1, dtype=np.int64)
    swap = np.arange(d_total, dtype=np.int64)
    cu = np.flatnonzero(churn)
    new_dev = dev_off[cu] + n_total[cu] - 1  # the new phone / laptop is the last device
    old_dev = dev_off[cu]
    day_new = rng.integers(1, max(sc.days, 2), size=len(cu))
    start[new_dev] = day_new
    end[old_dev] = day_new - 1
    swap[new_dev] = old_dev
    swap[old_dev] = new_dev
    mobile[new_dev] = mobile[old_dev]
    ua[new_dev] = np.where(mobile[new_dev], mobile_uas[ua_m[new_dev]], ua[new_dev])
    return Devices(dev_off, n_total.astype(np.int64), dev_id, ua, mobile, start, end, swap)
