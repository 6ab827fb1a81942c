"""The simulated provider's customers as one flat set of column arrays.

Built once per run from the scenario and the seed (people, their networks, devices and trips, in
that order: the order of random draws is part of the same-seed-same-bytes contract), held as arrays
with one entry per person, device or address so the daily generators index them without loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from idwatch.simulate.connectivity import connect, plan_trips
from idwatch.simulate.devices import build_devices
from idwatch.simulate.iptable import IpTable
from idwatch.simulate.people import build_people
from idwatch.simulate.scenario import Scenario


@dataclass
class Population:
    """Per-user, per-device and per-trip column arrays."""

    tenants: list[str]
    tenant_kind: list[str]
    domain_tenant: dict[str, str]  # every hosted domain (incl. aliases) -> tenant
    consumer_domains: list[str]
    account: np.ndarray  # str
    tenant_idx: np.ndarray
    category: np.ndarray  # str
    culture: np.ndarray  # str
    first: np.ndarray
    last: np.ndarray
    home_country: np.ndarray
    tz_offset: np.ndarray  # seconds
    profile: np.ndarray  # index into PROFILES
    rate: np.ndarray  # mean sessions per day
    mfa: np.ndarray  # index into MFA_METHODS, -1 = none
    phone_hash: np.ndarray  # str or ''
    email_hash: np.ndarray
    watchlist: np.ndarray
    vpn_p: np.ndarray  # probability a session goes through a VPN
    vpn_pool: np.ndarray  # pool start, size
    vpn_size: np.ndarray
    carrier_start: np.ndarray
    carrier_size: np.ndarray
    home_ip: np.ndarray  # (U, 2) ip index before / after the home address changes
    home_switch_day: np.ndarray
    office_start: np.ndarray  # -1: no office
    office_size: np.ndarray
    dev_off: np.ndarray
    dev_cnt: np.ndarray
    dev_id: np.ndarray  # str, '' = none
    dev_ua: np.ndarray
    dev_mobile: np.ndarray
    dev_start: np.ndarray  # first active day
    dev_end: np.ndarray  # last active day
    dev_swap: np.ndarray  # the device that replaces / is replaced by this one (itself if none)
    trip_start: np.ndarray  # microseconds, -1 = no trip
    trip_end: np.ndarray
    trip_pool_start: np.ndarray
    trip_pool_size: np.ndarray
    ipt: IpTable
    index: dict[str, int]  # account -> user index
    corp_vpn: np.ndarray | None = None  # per user: share of out-of-office sessions via the company VPN
    password_manager: np.ndarray | None = None  # per user: a password manager fills the one-time code

    @property
    def size(self) -> int:
        return len(self.account)

    def directory(self) -> pa.Table:
        """EVENTS.md section 2 rows for every account."""
        tenant = np.asarray(self.tenants, dtype=object)[self.tenant_idx]
        contact = np.where(self.phone_hash != "", self.phone_hash, self.email_hash)
        display = np.char.add(
            np.char.add(np.char.capitalize(self.first.astype(str)), " "),
            np.char.capitalize(self.last.astype(str)),
        )
        kinds = np.asarray(self.tenant_kind, dtype=object)[self.tenant_idx]
        notify = np.where(
            kinds == "consumer", "trust-safety@" + tenant.astype(str), "security@" + tenant.astype(str)
        )
        return pa.table(
            {
                "account": pa.array(self.account.astype(str)),
                "tenant": pa.array(tenant.astype(str)),
                "display_name": pa.array(display.astype(str)),
                "category": pa.array(self.category.astype(str)),
                "watchlist": pa.array(self.watchlist.astype(bool)),
                "home_country": pa.array(self.home_country.astype(str)),
                "contact_hash": pa.array(contact.astype(str)),
                "notify": pa.array(notify.astype(str)),
            }
        )


def build_population(sc: Scenario, rng: np.random.Generator, scale: float) -> Population:
    """Tenants, people, their networks, devices and trips for one run (deterministic given ``rng``)."""
    ipt = IpTable()
    people = build_people(sc, rng, scale)
    net = connect(sc, people, ipt, rng, scale)
    dev = build_devices(sc, people.size, rng)
    trips = plan_trips(sc, people, ipt, rng)
    ipt.freeze()
    corp = np.asarray([t.corporate_vpn for t in sc.tenants], dtype=float)[people.tenant_idx]
    # drawn from the person's index, not the run's generator, so the default draws stay as they were
    share = sc.conventions.password_manager
    pwm = (people.mfa >= 0) & ((np.arange(people.size) * 2654435761 % 10_000) < share * 10_000)
    return Population(
        corp_vpn=corp if corp.any() else None,
        password_manager=pwm if pwm.any() else None,
        tenants=people.tenants,
        tenant_kind=people.tenant_kind,
        domain_tenant=people.domain_tenant,
        consumer_domains=people.consumer_domains,
        account=people.account,
        tenant_idx=people.tenant_idx,
        category=people.category,
        culture=people.culture,
        first=people.first,
        last=people.last,
        home_country=people.home_country,
        tz_offset=people.tz_offset,
        profile=people.profile,
        rate=people.rate,
        mfa=people.mfa,
        phone_hash=people.phone_hash,
        email_hash=people.email_hash,
        watchlist=people.watchlist,
        vpn_p=net.vpn_p,
        vpn_pool=net.vpn_pool,
        vpn_size=net.vpn_size,
        carrier_start=net.carrier_start,
        carrier_size=net.carrier_size,
        home_ip=net.home_ip,
        home_switch_day=net.home_switch_day,
        office_start=net.office_start,
        office_size=net.office_size,
        dev_off=dev.off,
        dev_cnt=dev.cnt,
        dev_id=dev.id,
        dev_ua=dev.ua,
        dev_mobile=dev.mobile,
        dev_start=dev.start,
        dev_end=dev.end,
        dev_swap=dev.swap,
        trip_start=trips.start,
        trip_end=trips.end,
        trip_pool_start=trips.pool_start,
        trip_pool_size=trips.pool_size,
        ipt=ipt,
        index=people.index,
    )
