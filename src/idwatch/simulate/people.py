"""Who the provider's customers are: tenants, people, their names, addresses and everyday habits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from idwatch.simulate.names import COUNTRY_CULTURE, FIRST, LAST
from idwatch.simulate.scenario import CATEGORY_OF_KIND, Scenario
from idwatch.simulate.util import choice, sha256_hex, tz_offset_seconds

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


@dataclass
class People:
    """One entry per person (arrays), plus the tenants' domains."""

    tenants: list[str]
    tenant_kind: list[str]
    domain_tenant: dict[str, str]  # every hosted domain (incl. aliases) -> tenant
    consumer_domains: list[str]
    group: list[str]  # tenant kind, or "community:<name>"
    account: np.ndarray
    tenant_idx: np.ndarray
    category: np.ndarray
    culture: np.ndarray
    first: np.ndarray
    last: np.ndarray
    home_country: np.ndarray
    tz_offset: np.ndarray  # seconds
    profile: np.ndarray  # index into PROFILES
    rate: np.ndarray  # mean sessions per day
    mfa: np.ndarray  # index into MFA_METHODS, -1 = none
    phone_hash: np.ndarray  # '' = no phone
    email_hash: np.ndarray
    watchlist: np.ndarray
    index: dict[str, int]  # account -> person

    @property
    def size(self) -> int:
        return len(self.account)


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


def build_people(sc: Scenario, rng: np.random.Generator, scale: float) -> People:
    """Everyone in every tenant and community, with names, identifiers, contacts and habits."""
    rows: list[tuple[str, str, str, str, str]] = []  # tenant, category, culture, country, group
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
        countries = choice(rng, c.countries, n)
        rows += [(c.tenant, c.category, c.culture, str(k), "community:" + c.name) for k in countries]
    for t in sc.tenants:
        n = max(1, round(t.users * scale)) - community_users.get(t.domain, 0)
        countries = choice(rng, t.countries, n) if t.countries else np.full(n, t.country, dtype=object)
        cat = CATEGORY_OF_KIND[t.kind]
        rows += [
            (t.domain, cat, t.culture or COUNTRY_CULTURE.get(str(k), "en"), str(k), t.kind) for k in countries
        ]
    u_total = len(rows)
    tenant_of = {d: i for i, d in enumerate(tenant_names)}
    tenant_idx = np.array([tenant_of[r[0]] for r in rows], dtype=np.int32)
    category = np.array([r[1] for r in rows], dtype=object)
    culture = np.array([r[2] for r in rows], dtype=object)
    # some people at every tenant have their heritage elsewhere
    mixed = (rng.random(u_total) < 0.12) & (culture == "en")
    culture[mixed] = rng.choice(["fa", "ar", "fr", "de", "tr", "ru"], size=int(mixed.sum()))
    country = np.array([r[3] for r in rows], dtype=object)
    groups = [r[4] for r in rows]
    tkind = {t.domain: t.kind for t in sc.tenants}

    first = np.empty(u_total, dtype=object)
    last = np.empty(u_total, dtype=object)
    for cul in np.unique(culture):
        m = culture == cul
        first[m] = rng.choice(FIRST[cul], size=int(m.sum()))
        last[m] = rng.choice(LAST[cul], size=int(m.sum()))
    accounts, taken = _identifiers(rng, rows, first, last, tkind, domain_tenant)

    # habits
    mid = sc.start + (sc.end - sc.start) / 2
    tz_offset = _time_zones(rng, country, mid)
    profile = np.array([PROFILES.index(PROFILE_OF_KIND[tkind[r[0]]]) for r in rows], dtype=np.int8)
    pop_cfg = sc.population
    rate = pop_cfg.sessions_per_user_day * rng.lognormal(
        -(pop_cfg.activity_sigma**2) / 2, pop_cfg.activity_sigma, u_total
    )
    rate[rng.random(u_total) < pop_cfg.dormant] = 0.0
    mfa_of = {t.domain: t.mfa for t in sc.tenants}
    mfa_share = np.array([mfa_of[tenant_names[j]] for j in tenant_idx])
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
            comm_wl[g.split(":", 1)[1]] if g.startswith("community:") else wl_share[r[0]]
            for g, r in zip(groups, rows, strict=True)
        ]
    )
    watchlist = rng.random(u_total) < wl_p
    return People(
        tenants=tenant_names,
        tenant_kind=[t.kind for t in sc.tenants],
        domain_tenant=domain_tenant,
        consumer_domains=consumer_domains,
        group=groups,
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
        index=taken,
    )


def _identifiers(
    rng: np.random.Generator,
    rows: list[tuple[str, str, str, str, str]],
    first: np.ndarray,
    last: np.ndarray,
    tkind: dict[str, str],
    domain_tenant: dict[str, str],
) -> tuple[np.ndarray, dict[str, int]]:
    """Unique e-mail identifiers in the styles people pick (org tenants: mostly ``first.last``)."""
    taken: dict[str, int] = {}
    accounts = np.empty(len(rows), dtype=object)
    styles = rng.integers(0, 6, size=len(rows))
    for i, row in enumerate(rows):
        tdom = row[0]
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
    return accounts, taken


def _time_zones(rng: np.random.Generator, country: np.ndarray, mid: dt.date) -> np.ndarray:
    """Each person's UTC offset in seconds (a time zone of their home country, DST at mid-period)."""
    tz = np.empty(len(country), dtype=object)
    for k in np.unique(country):
        m = country == k
        opts = COUNTRY_TZ.get(str(k), (("UTC", 1.0),))
        tz[m] = choice(rng, dict(opts), int(m.sum()))
    offsets = {z: tz_offset_seconds(z, mid) for z in np.unique(tz)}
    return np.array([offsets[z] for z in tz], dtype=np.int64)
