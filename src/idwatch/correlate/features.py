"""What a campaign looks like: the features that attribution and the kind verdict read.

All aggregation happens in DuckDB over ``camp_events`` / ``camp_accounts`` /
``camp_alerts``; this module only reshapes the per-campaign results into
:class:`CampaignProfile` objects.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import duckdb

from idwatch.correlate.entities import EMAIL_RE

#: Directory categories of people a state actor goes after (used for the kind verdict).
HIGH_RISK_CATEGORIES = {
    "political_campaign",
    "government",
    "journalist",
    "diaspora",
    "ngo",
    "academic",
    "activist",
    "military",
    "defense",
    "diplomat",
    "think_tank",
    "lawyer",
    "human_rights",
}


@dataclass
class CampaignProfile:
    """Per-campaign facts, each cheap to explain in a sentence."""

    id: str
    n_events: int = 0
    ips: dict[str, int] = field(default_factory=dict)  # ip -> events
    asns: dict[int, int] = field(default_factory=dict)
    dedicated_ips: int = 0
    network_types: Counter[str] = field(default_factory=Counter)  # per distinct IP
    how: Counter[tuple[int, int]] = field(default_factory=Counter)  # (iso dow 1-7, hour) UTC -> events
    days: Counter[str] = field(default_factory=Counter)  # UTC date (ISO) -> events
    techniques: list[str] = field(default_factory=list)
    technique_alerts: Counter[str] = field(default_factory=Counter)  # technique -> alerts carrying it
    categories: Counter[str] = field(default_factory=Counter)  # of attacked (else probed) accounts
    home_countries: Counter[str] = field(default_factory=Counter)
    watchlist_share: float = 0.0
    n_targets: int = 0
    attempts_per_target: float = 0.0
    events_per_ip_median: float = 0.0
    recovery_share: float = 0.0  # attack events that are resets / recoveries
    password_share: float = 0.0  # attack events that are password sign-ins
    unknown_probe_share: float = 0.0  # probes of identifiers that do not exist
    person_key_reuse: float = 0.0  # targeted identifiers per distinct person key
    domains: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    first_seen: str | None = None
    last_seen: str | None = None

    @property
    def high_risk_share(self) -> float:
        total = sum(self.categories.values())
        if not total:
            return 0.0
        return sum(n for c, n in self.categories.items() if c in HIGH_RISK_CATEGORIES) / total


def _iso(ts: object) -> str | None:
    if ts is None:
        return None
    text = ts.isoformat() if hasattr(ts, "isoformat") else str(ts)
    return text.replace("+00:00", "Z")


def build_profiles(con: duckdb.DuckDBPyConnection, campaign_ids: list[str]) -> dict[str, CampaignProfile]:
    """One :class:`CampaignProfile` per campaign id, from the ``camp_*`` tables."""
    prof = {cid: CampaignProfile(id=cid) for cid in campaign_ids}
    for cid, ip, n, nt, dedicated in con.execute(
        # the address's most frequent network type; a tie goes to the last name (``mode`` picks
        # either, and a campaign's profile must not change from run to run)
        """WITH per_type AS (
               SELECT campaign_id, src_ip, network_type, count(*) AS n
               FROM camp_events GROUP BY 1, 2, 3)
           SELECT t.campaign_id, t.src_ip, sum(t.n),
                  arg_max(t.network_type, (t.n, t.network_type)) FILTER (WHERE t.network_type IS NOT NULL),
                  any_value(c.dedicated)
           FROM per_type t JOIN camp_ip c USING (campaign_id, src_ip) GROUP BY 1, 2"""
    ).fetchall():
        if cid in prof:
            p = prof[cid]
            p.ips[ip] = int(n)
            p.network_types[nt or "unknown"] += 1
            p.dedicated_ips += int(bool(dedicated))
    for cid, asn, n in con.execute(
        "SELECT campaign_id, asn, count(*) FROM camp_events WHERE asn IS NOT NULL GROUP BY 1, 2"
    ).fetchall():
        if cid in prof:
            prof[cid].asns[int(asn)] = int(n)
    for cid, dow, hour, n in con.execute(
        "SELECT campaign_id, isodow(time), hour(time), count(*) FROM camp_events GROUP BY 1, 2, 3"
    ).fetchall():
        if cid in prof:
            prof[cid].how[(int(dow), int(hour))] += int(n)
    for cid, day, n in con.execute(
        "SELECT campaign_id, strftime(time, '%Y-%m-%d'), count(*) FROM camp_events GROUP BY 1, 2"
    ).fetchall():
        if cid in prof:
            prof[cid].days[day] += int(n)
    for row in con.execute(
        """
        SELECT campaign_id, count(*), min(time), max(time),
               count(*) FILTER (WHERE is_attack AND activity IN ('password_reset', 'account_recovery'))
                 / greatest(1, count(*) FILTER (WHERE is_attack)),
               count(*) FILTER (WHERE is_attack AND activity = 'sign_in'
                                AND coalesce(method, 'password') = 'password')
                 / greatest(1, count(*) FILTER (WHERE is_attack)),
               count(*) FILTER (WHERE is_probe AND NOT coalesce(account_exists, in_directory))
                 / greatest(1, count(*) FILTER (WHERE is_probe)),
               count(*) FILTER (WHERE is_attack)
                 / greatest(1, count(DISTINCT account) FILTER (WHERE is_attack))
        FROM camp_events GROUP BY 1
        """
    ).fetchall():
        cid = row[0]
        if cid not in prof:
            continue
        p = prof[cid]
        p.n_events, p.first_seen, p.last_seen = int(row[1]), _iso(row[2]), _iso(row[3])
        p.recovery_share, p.password_share, p.unknown_probe_share = (
            float(row[4]),
            float(row[5]),
            float(row[6]),
        )
        p.attempts_per_target = float(row[7])
    for cid, med in con.execute(
        """SELECT campaign_id, median(n) FROM (SELECT campaign_id, src_ip, count(*) AS n FROM camp_events
           GROUP BY 1, 2) GROUP BY 1"""
    ).fetchall():
        if cid in prof:
            prof[cid].events_per_ip_median = float(med)
    # targets: attacked / compromised accounts, else every probed identifier
    for cid, cat, country, watch, n in con.execute(
        """
        WITH t AS (
            SELECT campaign_id, account, stage,
                   max(CASE WHEN stage <> 'probed' THEN 1 ELSE 0 END)
                       OVER (PARTITION BY campaign_id) AS has_attack
            FROM camp_accounts)
        SELECT t.campaign_id, coalesce(d.category, 'unknown'), d.home_country,
               coalesce(d.watchlist, false), count(*)
        FROM t LEFT JOIN (SELECT lower(account) AS account, any_value(category) AS category,
                                 any_value(home_country) AS home_country, bool_or(watchlist) AS watchlist
                          FROM directory GROUP BY 1) d USING (account)
        WHERE t.stage <> 'probed' OR t.has_attack = 0
        GROUP BY 1, 2, 3, 4
        """
    ).fetchall():
        if cid not in prof:
            continue
        p = prof[cid]
        p.categories[cat] += int(n)
        if country:
            p.home_countries[country] += int(n)
        p.n_targets += int(n)
        p.watchlist_share += int(n) if watch else 0
    for p in prof.values():
        p.watchlist_share = p.watchlist_share / p.n_targets if p.n_targets else 0.0
    for cid, techniques in con.execute(
        """SELECT ca.campaign_id, list_sort(list_distinct(flatten(list(coalesce(a.techniques, [])))))
           FROM camp_alerts ca JOIN alerts a USING (alert_id) GROUP BY 1"""
    ).fetchall():
        if cid in prof:
            prof[cid].techniques = [t for t in techniques if t]
    for cid, tech, n in con.execute(
        """SELECT ca.campaign_id, t.tech, count(DISTINCT ca.alert_id)
           FROM camp_alerts ca JOIN alerts a USING (alert_id), unnest(a.techniques) AS t(tech)
           WHERE t.tech IS NOT NULL GROUP BY 1, 2"""
    ).fetchall():
        if cid in prof:
            prof[cid].technique_alerts[tech] = int(n)
    for cid, reuse in con.execute(
        """SELECT campaign_id, count(DISTINCT account) / greatest(1, count(DISTINCT
                  regexp_replace(split_part(account, '@', 1), '[^a-z]', '', 'g')))
           FROM camp_accounts GROUP BY 1"""
    ).fetchall():
        if cid in prof:
            prof[cid].person_key_reuse = float(reuse)
    for cid, addr in con.execute(
        f"""SELECT DISTINCT ca.campaign_id,
                  unnest(regexp_extract_all(lower(s.detail), {EMAIL_RE}))
           FROM sus s JOIN camp_ip ca USING (src_ip) WHERE s.detail IS NOT NULL"""
    ).fetchall():
        if cid in prof and addr:
            prof[cid].emails.add(addr)
            prof[cid].domains.add(addr.split("@", 1)[1])
    return prof
