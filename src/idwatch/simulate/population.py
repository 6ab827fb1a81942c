"""The simulated provider's customers: tenants, people, their devices, homes, habits and trips.

Built once per run from the scenario and the seed, held as column arrays (one entry per user,
device or address) so the daily event generators can index them without Python loops.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from idwatch.simulate.names import COUNTRY_CULTURE, FIRST, LAST, UA_DESKTOP, UA_MOBILE
from idwatch.simulate.networks import (
    BUSINESS_KEYS,
    BY_KEY,
    EDUCATION_KEYS,
    HOME_NETWORKS,
    HOSTING_KEYS,
    NETWORKS,
    TOR_KEYS,
    VPN_KEYS,
    Network,
    sample_addresses,
)
from idwatch.simulate.scenario import CATEGORY_OF_KIND, Scenario

COUNTRY_TZ: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (
        ("America/New_York", 0.5),
        ("America/Chicago", 0.25),
        ("America/Denver", 0.07),
        ("America/Los_Angeles", 0.18),
    ),
    "GB": (("Europe/London", 1.0),),
    "DE": (("Europe/Berlin", 1.0),),
    "FR": (("Europe/Paris", 1.0),),
    "CA": (("America/Toronto", 0.65), ("America/Vancouver", 0.35)),
    "IR": (("Asia/Tehran", 1.0),),
    "TR": (("Europe/Istanbul", 1.0),),
    "AE": (("Asia/Dubai", 1.0),),
    "RU": (("Europe/Moscow", 1.0),),
    "NL": (("Europe/Amsterdam", 1.0),),
    "SE": (("Europe/Stockholm", 1.0),),
}
COUNTRY_DIAL = {
    "US": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "IR": "98",
    "TR": "90",
    "AE": "971",
    "RU": "7",
    "NL": "31",
    "SE": "46",
}
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

# Diurnal profiles: relative activity per local hour, and per weekday (mon..sun).
PROFILES = ("office", "consumer", "campaign", "newsroom", "student")
_HOURLY = {
    "office": [1, 0.5, 0.3, 0.3, 0.4, 1, 3, 8, 14, 16, 15, 13, 11, 13, 14, 13, 11, 8, 5, 4, 4, 3, 2, 1.5],
    "consumer": [3, 1.5, 0.8, 0.5, 0.5, 1, 3, 6, 7, 6, 5, 6, 7, 6, 5, 5, 6, 7, 9, 11, 12, 11, 8, 5],
    "campaign": [2, 1, 0.5, 0.5, 1, 3, 7, 10, 12, 12, 12, 11, 11, 12, 12, 12, 11, 10, 10, 9, 9, 8, 6, 4],
    "newsroom": [2, 1, 0.6, 0.5, 0.8, 2, 5, 9, 11, 12, 11, 10, 10, 11, 11, 10, 10, 9, 8, 8, 7, 6, 4, 3],
    "student": [6, 4, 2, 1, 0.5, 0.3, 0.5, 2, 5, 8, 9, 9, 8, 9, 9, 8, 8, 8, 9, 10, 11, 11, 10, 8],
}
_WEEKLY = {
    "office": [1, 1, 1, 1, 0.95, 0.22, 0.18],
    "consumer": [0.95, 0.95, 0.95, 0.95, 1, 1.05, 1.05],
    "campaign": [1, 1, 1, 1, 1, 0.85, 0.8],
    "newsroom": [1, 1, 1, 1, 1, 0.6, 0.55],
    "student": [1, 1, 1, 1, 0.9, 0.75, 0.85],
}
PROFILE_OF_KIND = {
    "political_campaign": "campaign",
    "government": "office",
    "newsroom": "newsroom",
    "ngo": "office",
    "university": "student",
    "business": "office",
    "consumer": "consumer",
}
HOURLY_CDF = np.array([np.cumsum(_HOURLY[p]) / np.sum(_HOURLY[p]) for p in PROFILES])
WEEKLY = np.array([_WEEKLY[p] for p in PROFILES])
MFA_METHODS = ("sms", "push", "totp", "voice", "fido2")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tz_offset_seconds(tz: str, day: dt.date) -> int:
    """UTC offset of ``tz`` at noon on ``day`` (DST included)."""
    moment = dt.datetime(day.year, day.month, day.day, 12, tzinfo=zoneinfo.ZoneInfo(tz))
    off = moment.utcoffset()
    return int(off.total_seconds()) if off else 0


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> np.ndarray:
    """``n`` random lower-case hex strings of ``2*nbytes`` characters (vectorized)."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out = np.empty((n, nbytes * 2), dtype=np.uint8)
    out[:, 0::2] = table[raw >> 4]
    out[:, 1::2] = table[raw & 15]
    return out.view(f"S{nbytes * 2}").ravel().astype(str)


@dataclass
class IpTable:
    """Every client address of the run, with the network it belongs to, and named pools of them."""

    ips: list[str] = field(default_factory=list)
    net: list[int] = field(default_factory=list)
    pools: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, rng: np.random.Generator, network: Network, n: int, pool: str | None = None) -> int:
        start = len(self.ips)
        addrs = sample_addresses(rng, network, n)
        self.ips.extend(addrs)
        self.net.extend([NETWORKS.index(network)] * len(addrs))
        if pool:
            s, size = self.pools.get(pool, (start, 0))
            if size and s + size != start:
                raise ValueError(f"pool {pool} is not contiguous")
            self.pools[pool] = (s, size + len(addrs))
        return start

    def pool(self, name: str) -> tuple[int, int]:
        return self.pools[name]

    def freeze(self) -> None:
        self.ip_arr = pa.array(self.ips, pa.string())
        net = np.asarray(self.net, dtype=np.int32)
        self.net_arr = net
        self.country = pa.array([n.country for n in NETWORKS]).take(pa.array(net))
        self.asn = pa.array([n.asn for n in NETWORKS], pa.int64()).take(pa.array(net))
        self.asn_org = pa.array([n.org for n in NETWORKS]).take(pa.array(net))
        self.kind = pa.array([n.kind for n in NETWORKS]).take(pa.array(net))


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


def _choice(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _identifier(first: str, last: str, domain: str, style: int, rng: np.random.Generator) -> str:
    if style == 0:
        local = f"{first}.{last}"
    elif style == 1:
        local = f"{first[0]}{last}"
    elif style == 2:
        local = f"{first}{last}"
    elif style == 3:
        local = f"{first}.{last}{rng.integers(1, 99)}"
    elif style == 4:
        local = f"{first}_{last}"
    else:
        local = f"{last}.{first}"
    return f"{local}@{domain}"


def build_population(sc: Scenario, rng: np.random.Generator, scale: float) -> Population:
    """Tenants, people and their networks for one run (deterministic given ``rng``)."""
    pop_cfg = sc.population
    mid = sc.start + (sc.end - sc.start) / 2
    ipt = IpTable()

    # one row per person -------------------------------------------------------------
    rows: list[tuple[str, str, str, str, str]] = []  # tenant, category, culture, country, kind
    tenant_names = [t.domain for t in sc.tenants]
    domain_tenant: dict[str, str] = {}
    consumer_domains: list[str] = []
    for t in sc.tenants:
        domain_tenant[t.domain] = t.domain
        for a in t.aliases:
            domain_tenant[a] = t.domain
        if t.kind == "consumer":
            consumer_domains += [t.domain, *t.aliases]
    community_users = {c.tenant: 0 for c in sc.communities}
    for c in sc.communities:
        n = max(1, round(c.users * scale))
        community_users[c.tenant] += n
        countries = _choice(rng, c.countries, n)
        rows += [(c.tenant, c.category, c.culture, str(k), "community:" + c.name) for k in countries]
    for t in sc.tenants:
        n = max(1, round(t.users * scale)) - community_users.get(t.domain, 0)
        countries = _choice(rng, t.countries, n) if t.countries else np.full(n, t.country, dtype=object)
        cat = CATEGORY_OF_KIND[t.kind]
        rows += [
            (t.domain, cat, t.culture or COUNTRY_CULTURE.get(str(k), "en"), str(k), t.kind) for k in countries
        ]
    # a few people at org tenants have heritage from elsewhere
    u_total = len(rows)
    tenant_of = {d: i for i, d in enumerate(tenant_names)}
    tenant_idx = np.array([tenant_of[r[0]] for r in rows], dtype=np.int32)
    category = np.array([r[1] for r in rows], dtype=object)
    culture = np.array([r[2] for r in rows], dtype=object)
    mixed = (rng.random(u_total) < 0.12) & (culture == "en")
    culture[mixed] = rng.choice(["fa", "ar", "fr", "de", "tr", "ru"], size=int(mixed.sum()))
    country = np.array([r[3] for r in rows], dtype=object)
    kinds = [r[4] for r in rows]
    tkind = {t.domain: t.kind for t in sc.tenants}

    first = np.empty(u_total, dtype=object)
    last = np.empty(u_total, dtype=object)
    for cul in np.unique(culture):
        m = culture == cul
        first[m] = rng.choice(FIRST[cul], size=int(m.sum()))
        last[m] = rng.choice(LAST[cul], size=int(m.sum()))

    # identifiers --------------------------------------------------------------------
    taken: dict[str, int] = {}
    accounts = np.empty(u_total, dtype=object)
    styles = rng.integers(0, 6, size=u_total)
    for i in range(u_total):
        tdom = rows[i][0]
        domain = tdom
        if tkind[tdom] == "consumer":
            aliases = [d for d, t in domain_tenant.items() if t == tdom]
            domain = (
                aliases[0]
                if rng.random() < 0.7 or len(aliases) == 1
                else aliases[1 + int(rng.integers(0, len(aliases) - 1))]
            )
            style = int(styles[i])
        else:
            style = 0 if rng.random() < 0.75 else 1
        ident = _identifier(first[i], last[i], domain, style, rng)
        while ident in taken:
            ident = _identifier(first[i], last[i], domain, 3, rng)
        taken[ident] = i
        accounts[i] = ident

    # habits ---------------------------------------------------------------------------
    tz = np.empty(u_total, dtype=object)
    for k in np.unique(country):
        m = country == k
        opts = COUNTRY_TZ.get(str(k), (("UTC", 1.0),))
        tz[m] = _choice(rng, dict(opts), int(m.sum()))
    offsets = {z: tz_offset_seconds(z, mid) for z in np.unique(tz)}
    tz_offset = np.array([offsets[z] for z in tz], dtype=np.int64)
    profile = np.array([PROFILES.index(PROFILE_OF_KIND[tkind[r[0]]]) for r in rows], dtype=np.int8)
    rate = pop_cfg.sessions_per_user_day * rng.lognormal(
        -(pop_cfg.activity_sigma**2) / 2, pop_cfg.activity_sigma, u_total
    )
    rate[rng.random(u_total) < pop_cfg.dormant] = 0.0
    mfa_share = np.array([next(t.mfa for t in sc.tenants if t.domain == tenant_names[j]) for j in tenant_idx])
    mfa = np.where(
        rng.random(u_total) < mfa_share,
        rng.choice(len(MFA_METHODS), size=u_total, p=[0.45, 0.25, 0.2, 0.05, 0.05]),
        -1,
    )
    has_phone = rng.random(u_total) < 0.85
    phone_hash = np.array(
        [
            sha256_hex(f"+{COUNTRY_DIAL.get(str(c), '1')}{rng.integers(200_000_000, 999_999_999)}")
            if p
            else ""
            for c, p in zip(country, has_phone, strict=True)
        ],
        dtype=object,
    )
    email_hash = np.array(
        [
            sha256_hex(f"{f}.{la}{rng.integers(1, 9999)}@backup-mail.example")
            for f, la in zip(first, last, strict=True)
        ],
        dtype=object,
    )
    wl_share = {t.domain: t.watchlist for t in sc.tenants}
    comm_wl = {c.name: c.watchlist for c in sc.communities}
    wl_p = np.array(
        [
            comm_wl[k.split(":", 1)[1]] if k.startswith("community:") else wl_share[r[0]]
            for k, r in zip(kinds, rows, strict=True)
        ]
    )
    watchlist = rng.random(u_total) < wl_p

    # networks -------------------------------------------------------------------------
    for key in VPN_KEYS:  # commercial VPN exit pools, shared by everyone who rents them
        ipt.add(rng, BY_KEY[key], 60, pool=f"vpn:{key}")
    comm_vpn = {c.name: c.vpn for c in sc.communities}
    vpn_user_p = np.array(
        [comm_vpn[k.split(":", 1)[1]] if k.startswith("community:") else pop_cfg.vpn for k in kinds]
    )
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

    carrier_start = np.zeros(u_total, dtype=np.int64)
    carrier_size = np.ones(u_total, dtype=np.int64)
    for k in np.unique(country):
        res_keys, mob_keys = HOME_NETWORKS.get(str(k), HOME_NETWORKS["US"])
        for key in mob_keys:  # carrier-grade NAT: a modest pool per carrier for everyone
            if f"mob:{key}" not in ipt.pools:
                ipt.add(rng, BY_KEY[key], max(20, int(200 * scale)), pool=f"mob:{key}")
        m = np.flatnonzero(country == k)
        pick = rng.choice(mob_keys, size=len(m))
        carrier_start[m] = [ipt.pool(f"mob:{p}")[0] for p in pick]
        carrier_size[m] = [ipt.pool(f"mob:{p}")[1] for p in pick]

    home_ip = np.zeros((u_total, 2), dtype=np.int64)
    for k in np.unique(country):
        res_keys, _ = HOME_NETWORKS.get(str(k), HOME_NETWORKS["US"])
        m = np.flatnonzero(country == k)
        v4 = [r for r in res_keys if ":" not in BY_KEY[r].cidr]
        v6 = [r for r in res_keys if ":" in BY_KEY[r].cidr]
        want6 = rng.random(len(m)) < (pop_cfg.ipv6 if v6 else 0)
        for keys, sel in ((v4, ~want6), (v6, want6)):
            idx = m[sel]
            if not len(idx) or not keys:
                continue
            pick = rng.choice(keys, size=len(idx))
            for key in np.unique(pick):
                who = idx[pick == key]
                # households share a router: a few users share one address
                n_addr = max(1, int(len(who) * 0.9))
                start = ipt.add(rng, BY_KEY[key], n_addr * 2)
                slots = rng.integers(0, n_addr, size=len(who))
                home_ip[who, 0] = start + slots
                home_ip[who, 1] = start + n_addr + slots
    home_switch_day = np.where(
        rng.random(u_total) < 0.15, rng.integers(1, max(sc.days, 2), u_total), sc.days + 1
    )

    office_start = np.full(u_total, -1, dtype=np.int64)
    office_size = np.ones(u_total, dtype=np.int64)
    for t in sc.tenants:
        if t.kind == "consumer":
            continue
        if t.office_network:
            key = t.office_network
            n_addr = t.office_ips
        elif t.kind == "university":
            key = EDUCATION_KEYS[tenant_of[t.domain] % len(EDUCATION_KEYS)]
            n_addr = max(4, t.office_ips)
        else:
            keys = BUSINESS_KEYS.get(t.country, BUSINESS_KEYS["US"])
            key = keys[tenant_of[t.domain] % len(keys)]
            n_addr = t.office_ips
        start = ipt.add(rng, BY_KEY[key], n_addr, pool=f"office:{t.domain}")
        m = tenant_idx == tenant_of[t.domain]
        office_start[m] = start
        office_size[m] = n_addr

    # devices ----------------------------------------------------------------------------
    lo, hi = pop_cfg.devices
    n_dev = rng.integers(lo, hi + 1, size=u_total)
    churn = rng.random(u_total) < pop_cfg.device_churn
    n_total = n_dev + churn
    dev_off = np.concatenate([[0], np.cumsum(n_total)[:-1]]).astype(np.int64)
    d_total = int(n_total.sum())
    dev_user = np.repeat(np.arange(u_total), n_total)
    dev_rank = np.arange(d_total) - dev_off[dev_user]
    dev_mobile = (dev_rank % 2) == 0
    dev_mobile[rng.random(d_total) < 0.15] ^= True
    ua_m = rng.integers(0, len(UA_MOBILE), d_total)
    ua_d = rng.integers(0, len(UA_DESKTOP), d_total)
    dev_ua = np.where(
        dev_mobile, np.asarray(UA_MOBILE, dtype=object)[ua_m], np.asarray(UA_DESKTOP, dtype=object)[ua_d]
    )
    dev_id = hex_ids(rng, d_total).astype(object)
    legacy = np.char.startswith(dev_ua.astype(str), "Microsoft Office") | (rng.random(d_total) < 0.05)
    dev_id[legacy] = ""
    dev_start = np.zeros(d_total, dtype=np.int64)
    dev_end = np.full(d_total, sc.days + 1, dtype=np.int64)
    dev_swap = np.arange(d_total, dtype=np.int64)
    cu = np.flatnonzero(churn)
    new_dev = dev_off[cu] + n_total[cu] - 1  # the new phone / laptop is the last device
    old_dev = dev_off[cu]
    day_new = rng.integers(1, max(sc.days, 2), size=len(cu))
    dev_start[new_dev] = day_new
    dev_end[old_dev] = day_new - 1
    dev_swap[new_dev] = old_dev
    dev_swap[old_dev] = new_dev
    dev_mobile[new_dev] = dev_mobile[old_dev]
    dev_ua[new_dev] = np.where(
        dev_mobile[new_dev], np.asarray(UA_MOBILE, dtype=object)[ua_m[new_dev]], dev_ua[new_dev]
    )

    # trips ------------------------------------------------------------------------------------
    travel_p = np.where(np.isin(category, ["journalist", "government", "political_campaign"]), 2.5, 1.0)
    travel_p = np.minimum(travel_p * pop_cfg.travel, 0.9)
    travels = (rng.random(u_total) < travel_p) & (rate > 0)
    trip_start = np.full(u_total, -1, dtype=np.int64)
    trip_end = np.full(u_total, -1, dtype=np.int64)
    trip_pool_start = np.zeros(u_total, dtype=np.int64)
    trip_pool_size = np.ones(u_total, dtype=np.int64)
    t0_us = int(dt.datetime(sc.start.year, sc.start.month, sc.start.day, tzinfo=dt.UTC).timestamp()) * 10**6
    span_us = sc.days * 86_400 * 10**6
    dests = dict(TRAVEL_DEST)
    comm_dest = {c.name: c.travel_to for c in sc.communities if c.travel_to}
    for i in np.flatnonzero(travels):
        k = kinds[i]
        weights = comm_dest.get(k.split(":", 1)[1], dests) if k.startswith("community:") else dests
        weights = {c: w for c, w in weights.items() if c != country[i]} or {"GB": 1.0}
        dest = str(_choice(rng, weights, 1)[0])
        length = float(rng.uniform(2, 12)) * 86_400 * 10**6
        start = t0_us + int(rng.uniform(0, max(span_us - length, 1)))
        trip_start[i], trip_end[i] = start, start + int(length)
        res_keys, mob_keys = HOME_NETWORKS.get(dest, HOME_NETWORKS["US"])
        pool = f"travel:{dest}"
        if pool not in ipt.pools:  # hotel / cafe / friends' networks in the destination country
            for key in res_keys + mob_keys:
                ipt.add(rng, BY_KEY[key], 40, pool=pool)
        trip_pool_start[i], trip_pool_size[i] = ipt.pool(pool)

    ipt.freeze()
    return Population(
        tenants=tenant_names,
        tenant_kind=[t.kind for t in sc.tenants],
        domain_tenant=domain_tenant,
        consumer_domains=consumer_domains,
        account=accounts,
        tenant_idx=tenant_idx,
        category=category,
        culture=culture,
        first=first,
        last=last,
        home_country=country,
        tz_offset=tz_offset,
        profile=profile,
        rate=rate,
        mfa=mfa,
        phone_hash=phone_hash,
        email_hash=email_hash,
        watchlist=watchlist,
        vpn_p=vpn_p,
        vpn_pool=vpn_pool,
        vpn_size=vpn_size,
        carrier_start=carrier_start,
        carrier_size=carrier_size,
        home_ip=home_ip,
        home_switch_day=home_switch_day,
        office_start=office_start,
        office_size=office_size,
        dev_off=dev_off,
        dev_cnt=n_total.astype(np.int64),
        dev_id=dev_id,
        dev_ua=dev_ua,
        dev_mobile=dev_mobile,
        dev_start=dev_start,
        dev_end=dev_end,
        dev_swap=dev_swap,
        trip_start=trip_start,
        trip_end=trip_end,
        trip_pool_start=trip_pool_start,
        trip_pool_size=trip_pool_size,
        ipt=ipt,
        index=taken,
    )
