"""The report's content, independent of how it is rendered (terminal, Markdown, HTML, JSON).

Loads the correlation results from the store and phrases them the way the case is told:
"made N attempts to identify accounts, attacked M, compromised K". The public variant
drops every tenant and account name and suppresses target categories with fewer than
``k`` accounts, so that no customer can be singled out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from idwatch.store import Store

COUNTRY_ADJECTIVE = {
    "IR": "Iran",
    "RU": "Russia",
    "KP": "North Korea",
    "CN": "China",
    "VN": "Vietnam",
    "PK": "Pakistan",
    "BY": "Belarus",
    "LB": "Lebanon",
    "SY": "Syria",
    "TR": "Turkey",
    "IN": "India",
    "KR": "South Korea",
}
SUPPRESSED = "other categories (suppressed)"
#: The report's order: the state actors are the story, mass abuse and the unexplained follow.
KIND_ORDER = {"state": 0, "criminal": 1, "unknown": 2}


@dataclass
class CampaignView:
    """One campaign as a report shows it."""

    id: str
    kind: str
    actor: dict[str, Any] | None
    counts: dict[str, int]
    first_seen: str | None
    last_seen: str | None
    categories: dict[str, int]
    tenants: list[str]
    accounts: list[dict[str, Any]]
    infrastructure: dict[str, list[Any]]
    techniques: list[str]
    hypotheses: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    headline: str = ""
    attribution: str = ""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    top_evidence: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.actor["name"] if self.actor else f"unattributed ({self.kind})"

    @property
    def closest(self) -> dict[str, Any] | None:
        """The best-scoring known intrusion set (for an unattributed campaign: below threshold)."""
        return next((h for h in self.hypotheses if h.get("stix_id")), None)

    @property
    def period(self) -> str:
        return f"{_day(self.first_seen)} to {_day(self.last_seen)}"


@dataclass
class Report:
    generated: str
    store: str
    public: bool
    k: int
    campaigns: list[CampaignView]
    totals: dict[str, int]
    accounts: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "generated": self.generated,
            "public": self.public,
            "k": self.k,
            "totals": self.totals,
            "campaigns": [],
        }
        for c in self.campaigns:
            item = {
                "id": c.id,
                "kind": c.kind,
                "actor": c.actor,
                "headline": c.headline,
                "attribution": c.attribution,
                "first_seen": c.first_seen,
                "last_seen": c.last_seen,
                "counts": c.counts,
                "categories": c.categories,
                "infrastructure": c.infrastructure,
                "techniques": c.techniques,
                "hypotheses": c.hypotheses,
                "timeline": c.timeline,
            }
            if not self.public:
                item["tenants"] = c.tenants
                item["accounts"] = c.accounts
            out["campaigns"].append(item)
        if not self.public:
            out["accounts"] = self.accounts
        return out


def _day(ts: str | None) -> str:
    return (ts or "?")[:10]


def _fmt_day(ts: str | None) -> str:
    if not ts:
        return "?"
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).strftime("%-d %B %Y")
    except ValueError:
        return ts[:10]


def who(
    actor: dict[str, Any] | None, hypotheses: list[dict[str, Any]], country: str | None, kind: str
) -> str:
    """The subject of the headline: "An Iran-based group tracked as Phosphorus", "A criminal operation" ..."""
    if actor:
        aliases = [a for a in actor.get("aliases") or [] if a != actor["name"]][:2]
        also = f" (also {', '.join(aliases)})" if aliases else ""
        where = f"{COUNTRY_ADJECTIVE.get(country or '', country)}-based group" if country else "group"
        return f"A{'n' if where[0] in 'AEIOU' else ''} {where} tracked as {actor['name']}{also}"
    if kind == "criminal":
        return "A criminal operation"
    if kind == "state":
        return "An unattributed targeted operation"
    return "An unattributed group"


def categories_phrase(categories: dict[str, int]) -> str:
    items = [(c, n) for c, n in categories.items() if n > 0]
    if not items:
        return "no known categories"
    return ", ".join(f"{n:,} {c.replace('_', ' ')}" for c, n in items)


def headline(c: CampaignView, country: str | None) -> str:
    n = c.counts
    subject = who(c.actor, c.hypotheses, country, c.kind)
    parts = [f"{subject} made {n.get('probes', 0):,} attempts to identify accounts"]
    if n.get("accounts_probed"):
        parts[0] += f" ({n['accounts_probed']:,} identifiers)"
    parts.append(f"attacked {n.get('accounts_attacked', 0):,}")
    tail = f"and compromised {n.get('accounts_compromised', 0):,}"
    text = ", ".join(parts) + f" {tail}, between {_fmt_day(c.first_seen)} and {_fmt_day(c.last_seen)}."
    text += f" Targeted: {categories_phrase(c.categories)}."
    return text


def attribution_sentence(c: CampaignView) -> str:
    top = next((h for h in c.hypotheses), None)
    if c.actor and top:
        return (
            f"We assess that it is {top['words']} (confidence {c.actor['confidence']}/100) that "
            f"{c.actor['name']} is behind this campaign."
        )
    if top:
        best_known = next((h for h in c.hypotheses if h.get("stix_id")), None)
        if best_known:
            # ICD 203 words describe how likely a judgement is; "unattributed" is the judgement here,
            # so the candidate's words go in brackets as its score, never as "X is almost no chance".
            return (
                f"Unattributed; the closest candidate, {best_known['name']}, scored "
                f"{best_known['confidence']}/100 ({best_known['words']}), below the attribution threshold."
            )
    return "Not attributed: no intrusion set in the imported intelligence fits."


def _short(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: text.rfind(" ", 0, limit - 1)].rstrip(",;:") + " ..."


def top_evidence(c: CampaignView) -> list[str]:
    """The two strongest reasons for what the campaign is: attribution evidence, then its profile."""
    chosen = next((h for h in c.hypotheses if c.actor and h.get("stix_id") == c.actor.get("stix_id")), None)
    items = [e for e in (chosen or {}).get("evidence", []) if e.get("weight", 0) > 0]
    items.sort(key=lambda e: -float(e.get("likelihood_ratio") or 0))
    out = [f"{_short(e['detail'])} (x{e['likelihood_ratio']:g})" for e in items[:1]]
    profile = [e["detail"] for e in c.evidence if e.get("kind") == "campaign_profile"]
    return out + [_short(p) for p in profile[: 2 - len(out)]]


def _tenant_lookup(store: Store) -> Callable[[str, str | None], str]:
    """A tenant for every account: the event's, else the directory's, else the account's domain."""
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT lower(account), any_value(tenant) FROM directory WHERE tenant IS NOT NULL GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    known = dict(rows)

    def tenant_of(account: str, tenant: str | None) -> str:
        if tenant:
            return tenant
        return known.get(account.lower()) or (account.rsplit("@", 1)[1] if "@" in account else "-")

    return tenant_of


def _tenants(c: dict[str, Any], tenant_of: Callable[[str, str | None], str]) -> list[str]:
    return sorted(
        {tenant_of(a["account"], a.get("tenant")) for a in c.get("accounts", [])}
        | set(c.get("tenants") or [])
    )


def _public_categories(categories: dict[str, int], k: int) -> dict[str, int]:
    shown = {c: n for c, n in categories.items() if n >= k}
    hidden = sum(n for c, n in categories.items() if n < k)
    if hidden >= k:
        shown[SUPPRESSED] = hidden
    return shown


def _public_hypotheses(hyps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**h, "evidence": [e for e in h.get("evidence", []) if e.get("kind") != "targeted_accounts"]}
        for h in hyps
    ]


def build_report(
    store: Store, *, public: bool = False, k: int = 5, campaign_ids: list[str] | None = None
) -> Report:
    """The report model from the store's ``state/`` (run ``idwatch analyze`` first)."""
    campaigns = store.read_state_json("campaigns", []) or []
    accounts = store.read_state_json("accounts", []) or []
    timeline = store.read_state_table("campaign_timeline")
    days: dict[str, list[dict[str, Any]]] = {}
    if timeline is not None:
        for row in timeline.to_pylist():
            row["day"] = str(row["day"])
            days.setdefault(row.pop("campaign_id"), []).append(row)
    countries = _actor_countries(store)
    tenant_of = _tenant_lookup(store)
    accounts = [{**a, "tenant": tenant_of(a["account"], a.get("tenant"))} for a in accounts]
    views: list[CampaignView] = []
    for c in campaigns:
        if campaign_ids and c["id"] not in campaign_ids:
            continue
        cats = dict(c.get("categories") or {})
        view = CampaignView(
            id=c["id"],
            kind=c.get("kind", "unknown"),
            actor=c.get("actor"),
            counts=c["counts"],
            first_seen=c.get("first_seen"),
            last_seen=c.get("last_seen"),
            categories=_public_categories(cats, k) if public else cats,
            tenants=[] if public else _tenants(c, tenant_of),
            accounts=[]
            if public
            else [{**a, "tenant": tenant_of(a["account"], a.get("tenant"))} for a in c.get("accounts", [])],
            infrastructure=c.get("infrastructure", {}),
            techniques=c.get("techniques", []),
            hypotheses=_public_hypotheses(c.get("hypotheses", [])) if public else c.get("hypotheses", []),
            evidence=c.get("evidence", []),
            timeline=days.get(c["id"], []),
        )
        country = countries.get((c.get("actor") or {}).get("stix_id") or "")
        view.headline = headline(view, country)
        view.attribution = attribution_sentence(view)
        view.top_evidence = top_evidence(view)
        views.append(view)
    views.sort(key=lambda v: KIND_ORDER.get(v.kind, len(KIND_ORDER)))  # stable: correlate's order within
    totals = {
        "campaigns": len(views),
        "attributed": sum(1 for v in views if v.actor),
        "state": sum(1 for v in views if v.kind == "state"),
        "criminal": sum(1 for v in views if v.kind == "criminal"),
        "accounts_attacked": len(
            {(a["account"], a["tenant"]) for a in accounts if a.get("status") in ("attacked", "compromised")}
        ),
        "accounts_compromised": len(
            {(a["account"], a["tenant"]) for a in accounts if a.get("status") == "compromised"}
        ),
    }
    return Report(
        generated=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        store="" if public else str(store.root),
        public=public,
        k=k,
        campaigns=views,
        totals=totals,
        accounts=[] if public else accounts,
    )


def _actor_countries(store: Store) -> dict[str, str]:
    """stix_id -> home country of each actor in the imported intel (for "an Iran-based group")."""
    from idwatch.correlate.actors import build_profiles

    out: dict[str, str] = {}
    for prof in build_profiles(store.intel_bundles()):
        if prof.country:
            for sid in {prof.stix_id, *prof.stix_ids}:
                out[sid] = prof.country
    return out


def category_totals(views: list[CampaignView]) -> Counter[str]:
    total: Counter[str] = Counter()
    for v in views:
        total.update(v.categories)
    return total
