"""Where people connect from: VPN / Tor / own servers, mobile carriers, homes, offices, trips.

Addresses are drawn once into the run's address table; people hold indices into it. Pools are
shared the way real networks are: a carrier's NAT serves many subscribers, an office's egress
everyone at work, a household's router the family, a commercial VPN exit all of its customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from idwatch.simulate.iptable import IpTable
from idwatch.simulate.networks import (
    BUSINESS_KEYS,
    BY_KEY,
    EDUCATION_KEYS,
    HOME_NETWORKS,
    HOSTING_KEYS,
    TOR_KEYS,
    VPN_KEYS,
)
from idwatch.simulate.people import People
from idwatch.simulate.scenario import Scenario
from idwatch.simulate.util import choice

TRAVEL_DEST = {
    "US": 0.2,
    "GB": 0.15,
    "DE": 0.1,
    "FR": 0.12,
    "CA": 0.06,
    "TR": 0.08,
    "AE": 0.1,
    "NL": 0.07,
    "SE": 0.04,
    "RU": 0.03,
    "IR": 0.05,
}


@dataclass
class Connectivity:
    """Per-person address indices and probabilities."""

    vpn_p: np.ndarray  # probability a session goes through the VPN / Tor / own server
    vpn_pool: np.ndarray  # first address of that pool
    vpn_size: np.ndarray
    carrier_start: np.ndarray
    carrier_size: np.ndarray
    home_ip: np.ndarray  # (people, 2): the home address before / after it changes
    home_switch_day: np.ndarray
    office_start: np.ndarray  # -1: no office
    office_size: np.ndarray


@dataclass
class Trips:
    start: np.ndarray  # microseconds, -1 = no trip
    end: np.ndarray
    pool_start: np.ndarray  # local networks at the destination
    pool_size: np.ndarray


def _community(people: People, values: dict[str, float], default: float) -> np.ndarray:
    return np.array(
        [values[g.split(":", 1)[1]] if g.startswith("community:") else default for g in people.group]
    )


def connect(
    sc: Scenario, people: People, ipt: IpTable, rng: np.random.Generator, scale: float
) -> Connectivity:
    """Draw everyone's networks (the order of draws is part of the seed's contract)."""
    vpn_p, vpn_pool, vpn_size = _privacy(sc, people, ipt, rng)
    carrier_start, carrier_size = _carriers(people, ipt, rng, scale)
    home_ip = _homes(sc, people, ipt, rng)
    u_total = people.size
    home_switch_day = np.where(
        rng.random(u_total) < 0.15, rng.integers(1, max(sc.days, 2), u_total), sc.days + 1
    )
    office_start, office_size = _offices(sc, people, ipt, rng)
    return Connectivity(
        vpn_p,
        vpn_pool,
        vpn_size,
        carrier_start,
        carrier_size,
        home_ip,
        home_switch_day,
        office_start,
        office_size,
    )


def _privacy(
    sc: Scenario, people: People, ipt: IpTable, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Commercial VPN customers, Tor users and people with a VPN on their own rented server."""
    pop_cfg, u_total, country = sc.population, people.size, people.home_country
    for key in VPN_KEYS:  # commercial VPN exit pools, shared by everyone who rents them
        ipt.add(rng, BY_KEY[key], 60, pool=f"vpn:{key}")
    vpn_user_p = _community(people, {c.name: c.vpn for c in sc.communities}, pop_cfg.vpn)
    vpn_user_p = np.where(country == "IR", 0.6, vpn_user_p)
    is_vpn_user = rng.random(u_total) < vpn_user_p
    vpn_p = np.where(is_vpn_user, rng.uniform(0.15, 0.9, u_total), 0.0)
    vpn_key = rng.choice(VPN_KEYS, size=u_total)
    vpn_pool = np.array([ipt.pool(f"vpn:{k}")[0] for k in vpn_key], dtype=np.int64)
    vpn_size = np.array([ipt.pool(f"vpn:{k}")[1] for k in vpn_key], dtype=np.int64)
    for key in TOR_KEYS:  # Tor exits, shared by everyone who uses Tor
        ipt.add(rng, BY_KEY[key], 25, pool=f"tor:{key}")
    tor_users = np.flatnonzero(~is_vpn_user & (rng.random(u_total) < pop_cfg.tor))
    for i in tor_users:
        vpn_pool[i], vpn_size[i] = ipt.pool(f"tor:{TOR_KEYS[int(rng.integers(0, len(TOR_KEYS)))]}")
        vpn_p[i] = rng.uniform(0.05, 0.5)
    own_vps = np.flatnonzero(~is_vpn_user & (rng.random(u_total) < pop_cfg.hosting_vpn))
    for i in own_vps:  # a personal VPN on a rented server: one address at a hosting provider
        vpn_pool[i] = ipt.add(rng, BY_KEY[HOSTING_KEYS[int(rng.integers(0, len(HOSTING_KEYS)))]], 1)
        vpn_size[i] = 1
        vpn_p[i] = rng.uniform(0.3, 0.95)
    return vpn_p, vpn_pool, vpn_size


def _carriers(
    people: People, ipt: IpTable, rng: np.random.Generator, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's mobile carrier: a modest pool of carrier-grade NAT addresses shared by all."""
    country = people.home_country
    carrier_start = np.zeros(people.size, dtype=np.int64)
    carrier_size = np.ones(people.size, dtype=np.int64)
    for k in np.unique(country):
        _, mob_keys = HOME_NETWORKS.get(str(k), HOME_NETWORKS["US"])
        for key in mob_keys:
            if f"mob:{key}" not in ipt.pools:
                ipt.add(rng, BY_KEY[key], max(20, int(200 * scale)), pool=f"mob:{key}")
        m = np.flatnonzero(country == k)
        pick = rng.choice(mob_keys, size=len(m))
        carrier_start[m] = [ipt.pool(f"mob:{p}")[0] for p in pick]
        carrier_size[m] = [ipt.pool(f"mob:{p}")[1] for p in pick]
    return carrier_start, carrier_size


def _homes(sc: Scenario, people: People, ipt: IpTable, rng: np.random.Generator) -> np.ndarray:
    """Home broadband addresses (IPv6 for some), shared by households, changing once for some."""
    country = people.home_country
    home_ip = np.zeros((people.size, 2), dtype=np.int64)
    for k in np.unique(country):
        res_keys, _ = HOME_NETWORKS.get(str(k), HOME_NETWORKS["US"])
        m = np.flatnonzero(country == k)
        v4 = [r for r in res_keys if ":" not in BY_KEY[r].cidr]
        v6 = [r for r in res_keys if ":" in BY_KEY[r].cidr]
        want6 = rng.random(len(m)) < (sc.population.ipv6 if v6 else 0)
        for keys, sel in ((v4, ~want6), (v6, want6)):
            idx = m[sel]
            if not len(idx) or not keys:
                continue
            pick = rng.choice(keys, size=len(idx))
            for key in np.unique(pick):
                who = idx[pick == key]
                n_addr = max(1, int(len(who) * 0.9))  # households share a router
                start = ipt.add(rng, BY_KEY[key], n_addr * 2)
                slots = rng.integers(0, n_addr, size=len(who))
                home_ip[who, 0] = start + slots
                home_ip[who, 1] = start + n_addr + slots
    return home_ip


def _offices(
    sc: Scenario, people: People, ipt: IpTable, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The NAT egress of each organization's office (campus network for universities)."""
    office_start = np.full(people.size, -1, dtype=np.int64)
    office_size = np.ones(people.size, dtype=np.int64)
    for j, t in enumerate(sc.tenants):
        if t.kind == "consumer":
            continue
        if t.office_network:
            key, n_addr = t.office_network, t.office_ips
        elif t.kind == "university":
            key, n_addr = EDUCATION_KEYS[j % len(EDUCATION_KEYS)], max(4, t.office_ips)
        else:
            keys = BUSINESS_KEYS.get(t.country, BUSINESS_KEYS["US"])
            key, n_addr = keys[j % len(keys)], t.office_ips
        start = ipt.add(rng, BY_KEY[key], n_addr, pool=f"office:{t.domain}")
        m = people.tenant_idx == j
        office_start[m] = start
        office_size[m] = n_addr
    return office_start, office_size


def plan_trips(sc: Scenario, people: People, ipt: IpTable, rng: np.random.Generator) -> Trips:
    """One trip abroad for some people (more for journalists, officials, campaign staff)."""
    u_total, category, country = people.size, people.category, people.home_country
    travel_p = np.where(np.isin(category, ["journalist", "government", "political_campaign"]), 2.5, 1.0)
    travel_p = np.minimum(travel_p * sc.population.travel, 0.9)
    travels = (rng.random(u_total) < travel_p) & (people.rate > 0)
    trips = Trips(
        np.full(u_total, -1, dtype=np.int64),
        np.full(u_total, -1, dtype=np.int64),
        np.zeros(u_total, dtype=np.int64),
        np.ones(u_total, dtype=np.int64),
    )
    t0_us = int(dt.datetime(sc.start.year, sc.start.month, sc.start.day, tzinfo=dt.UTC).timestamp()) * 10**6
    span_us = sc.days * 86_400 * 10**6
    comm_dest = {c.name: c.travel_to for c in sc.communities if c.travel_to}
    for i in np.flatnonzero(travels):
        g = people.group[i]
        weights = (
            comm_dest.get(g.split(":", 1)[1], TRAVEL_DEST) if g.startswith("community:") else TRAVEL_DEST
        )
        weights = {c: w for c, w in weights.items() if c != country[i]} or {"GB": 1.0}
        dest = str(choice(rng, weights, 1)[0])
        length = float(rng.uniform(2, 12)) * 86_400 * 10**6
        start = t0_us + int(rng.uniform(0, max(span_us - length, 1)))
        trips.start[i], trips.end[i] = start, start + int(length)
        res_keys, mob_keys = HOME_NETWORKS.get(dest, HOME_NETWORKS["US"])
        pool = f"travel:{dest}"
        if pool not in ipt.pools:  # hotel / cafe / friends' networks in the destination country
            for key in res_keys + mob_keys:
                ipt.add(rng, BY_KEY[key], 40, pool=pool)
        trips.pool_start[i], trips.pool_size[i] = ipt.pool(pool)
    return trips
