"""The correlation pipeline: alerts -> incidents -> campaigns -> attribution -> state/.

``correlate(store)`` reads ``state/alerts.parquet``, the events, the directory and the
imported intel, and writes ``state/incidents.parquet``, ``state/campaigns.json`` and
``state/accounts.json`` (EVENTS.md section 5 objects). ``analyze(store)`` runs the
detections first.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from idwatch.correlate import (
    attribution,
    chain,
    counts,
    entities,
    features,
    incidents,
    kind,
    lineage,
    marks,
    operations,
)
from idwatch.correlate.actors import ActorProfile, build_profiles
from idwatch.correlate.campaigns import Cluster, build_graph, cluster, relay_servers
from idwatch.correlate.state_warnings import merge, warned_accounts, warning_evidence
from idwatch.detections.engine import limit_resources
from idwatch.engines.base import Engine
from idwatch.engines.connection import store_connection
from idwatch.store import Store, atomic_write_bytes

#: A cluster becomes a campaign when it touched at least this many accounts (or got into one).
MIN_CAMPAIGN_ACCOUNTS = 2


@dataclass
class CorrelateSummary:
    alerts: int = 0
    incidents: int = 0
    campaigns: int = 0
    attributed: int = 0
    accounts: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    #: the headline figures as the sum over campaigns, minus accounts several campaigns share,
    #: plus the accounts no campaign holds (see :func:`headline`); also ``state/headline.json``
    headline: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    detections: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    text = ts.isoformat() if hasattr(ts, "isoformat") else str(ts)
    return text.replace("+00:00", "Z")


def _actor_asns(con: duckdb.DuckDBPyConnection, actors: list[ActorProfile]) -> dict[str, set[int]]:
    """ASNs of each actor's indicator IPs as seen in the events (for the weak AS evidence)."""
    rows = [(a.stix_id, ip) for a in actors for ip in a.ips]
    if not rows:
        return {}
    con.register("__actor_ips", pa.table({"stix_id": [r[0] for r in rows], "ip": [r[1] for r in rows]}))
    out: dict[str, set[int]] = {}
    for sid, asn in con.execute(
        """SELECT DISTINCT a.stix_id, e.asn FROM __actor_ips a JOIN
           (SELECT DISTINCT src_ip, asn FROM events WHERE asn IS NOT NULL) e ON e.src_ip = a.ip"""
    ).fetchall():
        out.setdefault(sid, set()).add(int(asn))
    return out


def _base_high_risk(con: duckdb.DuckDBPyConnection) -> float:
    cats = sorted(features.HIGH_RISK_CATEGORIES)
    row = con.execute(
        "SELECT count(*) FILTER (WHERE list_contains(?, category)) / greatest(1, count(*)) FROM directory",
        [cats],
    ).fetchone()
    return float(row[0] or 0.0) if row else 0.0


def _campaign_object(
    cid: str,
    prof: features.CampaignProfile,
    cnt: dict[str, int],
    accounts: list[dict[str, Any]],
    hyps: list[attribution.Hypothesis],
    chosen: attribution.Hypothesis | None,
    kind_feats: list[kind.KindFeature],
    campaign_kind: str,
    alert_ids: list[str],
) -> dict[str, Any]:
    actor = None
    if chosen is not None and chosen.actor is not None:
        actor = {
            "name": chosen.actor.name,
            "aliases": chosen.actor.aliases,
            "stix_id": chosen.actor.stix_id,
            "confidence": chosen.confidence,
        }
    evidence = [e.to_dict() for e in chosen.evidence] if chosen else []
    evidence += [f.to_evidence() for f in kind_feats]
    categories = Counter()
    for acc in accounts:
        if acc["stage"] != "probed" or cnt.get("accounts_attacked", 0) == 0:
            categories[acc.get("category") or "unknown"] += 1
    ips = sorted(prof.ips, key=lambda ip: (-prof.ips[ip], ip))
    return {
        "id": cid,
        "actor": actor,
        "first_seen": prof.first_seen,
        "last_seen": prof.last_seen,
        "counts": {
            k: int(cnt.get(k, 0))
            for k in ("probes", "accounts_probed", "accounts_attacked", "accounts_compromised")
        },
        "infrastructure": {"ips": ips, "asns": sorted(prof.asns, key=lambda a: (-prof.asns[a], a))},
        "techniques": prof.techniques,
        "accounts": [
            {k: acc[k] for k in ("account", "tenant", "stage", "first_seen", "last_seen")} for acc in accounts
        ],
        "evidence": evidence,
        "kind": campaign_kind,
        "hypotheses": [h.to_dict() for h in hyps],
        "categories": dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        "tenants": sorted({acc["tenant"] for acc in accounts if acc.get("tenant")}),
        "alert_ids": alert_ids,
    }


def correlate(
    store: Store, *, step: Callable[[str], None] | None = None, engine: Engine | None = None
) -> CorrelateSummary:
    """Incidents, campaigns and attribution from the store's alerts; results go to ``state/``.
    ``engine``: where the SQL runs (:mod:`idwatch.engines`; default the store's DuckDB)."""
    started = time.monotonic()
    say = step or (lambda _msg: None)
    if engine is None or engine.name == "duckdb":
        con = store.connect()
        # the detections' memory bound (IDWATCH_MEMORY_LIMIT, spilling beyond it): unbounded,
        # correlation's staged tables took 11.9 GB at 20 M events
        limit_resources(con)
    else:
        con = store_connection(store, engine)
    summary = CorrelateSummary(alerts=int(con.execute("SELECT count(*) FROM alerts").fetchone()[0]))

    say("incidents")
    incidents.create_alert_accounts(con)
    incident_table = incidents.build_incidents(con)

    say("campaign graph")
    entities.create_suspicious_events(con)
    entities.create_popularity(con)
    actors = build_profiles(store.intel_bundles())
    ip_weight = {
        k: 1.0 / (1.0 + n / entities.POPULARITY_SCALE)
        for k, n in con.execute("SELECT k, n FROM pop_ip").fetchall()
    }
    ip_marks = marks.indicator_marks(con, actors, ip_weight)
    graph = build_graph(con, keep=set(ip_marks) | relay_servers(con))
    clusters = cluster(graph, con, ip_marks)

    actor_asns = _actor_asns(con, actors)
    for round_ in range(MAX_FOLDS + 1):  # the last round only counts and scores what was folded
        say("campaign counts")
        scoring = _count_and_score(con, clusters, actors, ip_weight, actor_asns, say)
        folded = _fold_operations(clusters, scoring) if round_ < MAX_FOLDS else None
        if folded is None:
            break
        clusters = folded
    kept, cnts, accounts_by_campaign = scoring.kept, scoring.counts, scoring.accounts
    profiles, scored, alert_ids_by_campaign = scoring.profiles, scoring.scored, scoring.alert_ids

    campaigns: list[dict[str, Any]] = []
    for cid in kept:
        feats, pkind, hyps = scored[cid]
        chosen = attribution.verdict(hyps)
        ckind = kind.final_kind(pkind, chosen.actor.kind if chosen and chosen.actor else None)
        campaigns.append(
            _campaign_object(
                cid,
                profiles[cid],
                cnts.get(cid, {}),
                accounts_by_campaign.get(cid, []),
                hyps,
                chosen,
                feats,
                ckind,
                alert_ids_by_campaign.get(cid, []),
            )
        )
    campaigns.sort(
        key=lambda c: (
            -c["counts"]["accounts_compromised"],
            -c["counts"]["accounts_attacked"],
            -c["counts"]["probes"],
            c["id"],
        )
    )

    say("accounts")
    store.write_state_table("campaign_timeline", _timeline(con, [c["id"] for c in campaigns]))
    account_objs, incident_table = _accounts(incident_table, campaigns)
    store.write_state_table("incidents", incident_table)
    _write_json(store, "campaigns", campaigns)
    _write_json(store, "accounts", account_objs)
    summary.headline = headline(campaigns, account_objs)
    _write_json(store, "headline", summary.headline)

    summary.incidents = incident_table.num_rows
    summary.campaigns = len(campaigns)
    summary.attributed = sum(1 for c in campaigns if c["actor"])
    summary.accounts = len(account_objs)
    summary.by_kind = dict(Counter(c["kind"] for c in campaigns))
    summary.seconds = round(time.monotonic() - started, 2)
    return summary


@dataclass
class _Scoring:
    """One round of counts and attribution over a set of clusters."""

    kept: list[str]
    counts: dict[str, dict[str, int]]
    accounts: dict[str, list[dict[str, Any]]]
    profiles: dict[str, features.CampaignProfile]
    scored: dict[str, tuple[list[kind.KindFeature], str, list[attribution.Hypothesis]]]
    alert_ids: dict[str, list[str]]


#: Rounds of folding one operation's campaigns together (a fold can let lineage attribute a
#: further piece, which the next round folds in; two rounds settle every dev seed).
MAX_FOLDS = 2


def _count_and_score(
    con: duckdb.DuckDBPyConnection,
    clusters: list[Cluster],
    actors: list[ActorProfile],
    ip_weight: dict[str, float],
    actor_asns: dict[str, set[int]],
    say: Callable[[str], None],
) -> _Scoring:
    """Counts, kept campaigns, profiles and hypotheses (with lineage) for these clusters."""
    counts.create_campaign_events(con, clusters)
    if chain.attach_chain_compromises(con) and chain.revoke_familiarity(con):
        counts.create_campaign_events(con, clusters)  # without the baseline the attacker taught
        chain.attach_chain_compromises(con)
    counts.create_campaign_alerts(con)
    counts.create_campaign_accounts(con)
    cnts = counts.campaign_counts(con)

    accounts_by_campaign: dict[str, list[dict[str, Any]]] = {}
    for cid, account, tenant, first, last, stage, category in con.execute(
        """SELECT c.campaign_id, c.account, c.tenant, c.first_seen, c.last_seen, c.stage, d.category
           FROM camp_accounts c LEFT JOIN (SELECT lower(account) AS account, any_value(category) AS category
                                           FROM directory GROUP BY 1) d USING (account)
           ORDER BY c.campaign_id,
                    CASE c.stage WHEN 'compromised' THEN 0 WHEN 'attacked' THEN 1 ELSE 2 END, c.account"""
    ).fetchall():
        accounts_by_campaign.setdefault(cid, []).append(
            {
                "account": account,
                "tenant": tenant,
                "stage": stage,
                "first_seen": _iso(first),
                "last_seen": _iso(last),
                "category": category,
            }
        )
    kept = [
        c.id
        for c in clusters
        if len(accounts_by_campaign.get(c.id, [])) >= MIN_CAMPAIGN_ACCOUNTS
        or cnts.get(c.id, {}).get("accounts_compromised", 0) > 0
    ]

    say("attribution")
    profiles = features.build_profiles(con, kept)
    base_hr = _base_high_risk(con)
    alert_ids_by_campaign: dict[str, list[str]] = {}
    for cid, aid in con.execute(
        "SELECT DISTINCT campaign_id, alert_id FROM camp_alerts ORDER BY 1, 2"
    ).fetchall():
        alert_ids_by_campaign.setdefault(cid, []).append(aid)

    scored: dict[str, tuple[list[kind.KindFeature], str, list[attribution.Hypothesis]]] = {}
    warned = warned_accounts(con)  # Google / Entra state-actor warnings
    for cid in kept:
        feats = kind.kind_features(profiles[cid], base_hr)
        pkind = kind.profile_kind(feats)
        warn = warning_evidence(warned.get(cid, []), actors)
        hyps = attribution.score_campaign(
            profiles[cid], actors, profile_kind=pkind, ip_weight=ip_weight, actor_asns=actor_asns, extra=warn
        )
        scored[cid] = (feats, pkind, hyps)
    _add_lineage(con, scored, profiles, actors, ip_weight, actor_asns, warned)

    return _Scoring(kept, cnts, accounts_by_campaign, profiles, scored, alert_ids_by_campaign)


def _fold_operations(clusters: list[Cluster], scoring: _Scoring) -> list[Cluster] | None:
    """The clusters with each operation's attributed pieces joined (:mod:`operations`), or None
    when every operation is already one campaign."""
    pieces = []
    for cid in scoring.kept:
        chosen = attribution.verdict(scoring.scored[cid][2])
        if chosen is None or chosen.actor is None:
            continue
        prof = scoring.profiles[cid]
        pieces.append(
            operations.Piece(
                [cid], chosen.actor.stix_id, operations.targets_of(prof), operations.hours_of(prof)
            )
        )
    groups = [g for g in operations.fold(pieces) if len(g) > 1]
    if not groups:
        return None
    by_id = {c.id: c for c in clusters}
    joined = {cid for g in groups for cid in g}
    out = [c for c in clusters if c.id not in joined]
    for g in groups:
        links: Counter[str] = Counter()
        for cid in g:
            links.update(by_id[cid].links)
        out.append(Cluster(ips=set().union(*(by_id[cid].ips for cid in g)), links=dict(links)))
    out.sort(key=lambda c: (-len(c.ips), c.id))
    return out


_RANK = {"probed": 1, "attacked": 2, "compromised": 3}


def _add_lineage(
    con: duckdb.DuckDBPyConnection,
    scored: dict[str, tuple[list[kind.KindFeature], str, list[attribution.Hypothesis]]],
    profiles: dict[str, features.CampaignProfile],
    actors: list[ActorProfile],
    ip_weight: dict[str, float],
    actor_asns: dict[str, set[int]],
    warned: dict[str, list[tuple[str, str]]] | None = None,
) -> None:
    """Score again, with lineage evidence, the campaigns the first pass left unattributed.

    One pass only (a campaign attributed through lineage lends nothing further), so the
    answer does not depend on the order campaigns are looked at.
    """
    targets, clients = lineage.campaign_targets(con), lineage.campaign_clients(con)
    attributed = []
    for cid in sorted(scored):
        chosen = attribution.verdict(scored[cid][2])
        if chosen is not None and chosen.actor is not None:
            attributed.append(
                lineage.Attributed(
                    cid,
                    chosen.actor.stix_id,
                    chosen.actor.name,
                    targets.get(cid, {}),
                    clients.get(cid, set()),
                )
            )
    if not attributed:
        return
    for cid in sorted(scored):
        feats, pkind, hyps = scored[cid]
        if attribution.verdict(hyps) is not None:
            continue
        extra = lineage.lineage_evidence(cid, targets.get(cid, {}), clients.get(cid, set()), attributed)
        if extra:
            extra = merge(extra, warning_evidence((warned or {}).get(cid, []), actors))
            hyps = attribution.score_campaign(
                profiles[cid],
                actors,
                profile_kind=pkind,
                ip_weight=ip_weight,
                actor_asns=actor_asns,
                extra=extra,
            )
            scored[cid] = (feats, pkind, hyps)


def _write_json(store: Store, name: str, obj: Any) -> None:
    """Compact JSON state file (the C encoder; an indented dump of 100k accounts takes minutes)."""
    data = json.dumps(obj, separators=(",", ":"), default=str).encode("utf-8")
    atomic_write_bytes(store.state_dir / f"{name}.json", data)


def _timeline(con: duckdb.DuckDBPyConnection, campaign_ids: list[str]) -> pa.Table:
    """Per campaign and day: probes, attack attempts, compromising events (for the report's chart)."""
    con.register("__kept", pa.table({"campaign_id": pa.array(campaign_ids, pa.string())}))
    return con.sql(
        """SELECT campaign_id, CAST(time AS DATE) AS day,
                  count(*) FILTER (WHERE is_probe) AS probes,
                  count(*) FILTER (WHERE is_attack) AS attacks,
                  count(*) FILTER (WHERE is_compromise) AS compromises
           FROM camp_events WHERE campaign_id IN (SELECT campaign_id FROM __kept)
           GROUP BY 1, 2 ORDER BY 1, 2"""
    ).to_arrow_table()


def _accounts(
    incident_table: pa.Table, campaigns: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], pa.Table]:
    """EVENTS.md section 5 account objects, and the incidents with their campaign ids filled in.

    One truth per account: an account a campaign holds has the furthest stage the campaigns'
    counts give it (an alert that no campaign's chain bears out does not make it compromised);
    an account no campaign holds keeps the stage of its own alerts. One row per account, with
    the tenant of the directory, else of the identifier's domain (as the campaigns give it).
    """
    by_key: dict[str, dict[str, Any]] = {}
    for row in incident_table.select(["account", "tenant", "status", "risk", "n_alerts"]).to_pylist():
        by_key[row["account"]] = {
            "account": row["account"],
            "tenant": row["tenant"],
            "status": row["status"],
            "risk": int(row["risk"] or 0),
            "campaigns": [],
            "alerts": int(row["n_alerts"] or 0),
        }
    stage_of: dict[str, str] = {}
    for camp in campaigns:
        for acc in camp["accounts"]:
            obj = by_key.setdefault(
                acc["account"],
                {
                    "account": acc["account"],
                    "tenant": acc["tenant"],
                    "status": acc["stage"],
                    "risk": 0,
                    "campaigns": [],
                    "alerts": 0,
                },
            )
            obj["tenant"] = acc["tenant"] or obj["tenant"]
            obj["campaigns"].append(camp["id"])
            if _RANK[acc["stage"]] > _RANK.get(stage_of.get(acc["account"], ""), 0):
                stage_of[acc["account"]] = acc["stage"]
            bonus = 15 if camp.get("kind") == "state" else 0
            obj["risk"] = max(obj["risk"], _RISK_FLOOR[acc["stage"]] + bonus)
    for account, stage in stage_of.items():
        obj = by_key[account]
        obj["status"] = stage
        obj["risk"] = min(100, obj["risk"], 100 if stage == "compromised" else _RISK_FLOOR["compromised"] - 1)
        obj["risk"] = max(obj["risk"], _RISK_FLOOR[stage])
    campaigns_col = [
        by_key.get(a, {}).get("campaigns", []) for a in incident_table.column("account").to_pylist()
    ]
    idx = incident_table.schema.get_field_index("campaigns")
    incident_table = incident_table.set_column(
        idx, incidents.INCIDENT_SCHEMA.field("campaigns"), pa.array(campaigns_col, pa.list_(pa.string()))
    )
    objs = sorted(by_key.values(), key=lambda o: (-_RANK[o["status"]], -o["risk"], o["account"]))
    return objs, incident_table


#: The least risk of an account at each stage (a compromised account is at least "high").
_RISK_FLOOR = {"probed": 10, "attacked": 40, "compromised": 85}

_HEADLINE_STAGES = ("accounts", "accounts_attacked", "accounts_compromised")
_REACHED = {
    "accounts": {"probed", "attacked", "compromised"},
    "accounts_attacked": {"attacked", "compromised"},
    "accounts_compromised": {"compromised"},
}


def headline(campaigns: list[dict[str, Any]], account_objs: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline figures and how they add up: the campaigns' counts, the accounts several
    campaigns share (counted once in the total), and the accounts no campaign holds.

    For each figure ``total == campaign_sum - shared + outside_campaigns``; ``accounts`` is every
    account at any stage, ``accounts_attacked`` includes the compromised (EVENTS.md section 5).
    """
    status = {o["account"]: o["status"] for o in account_objs}
    held = {o["account"] for o in account_objs if o["campaigns"]}
    out: dict[str, Any] = {"campaign_sum": {}, "shared": {}, "outside_campaigns": {}, "total": {}}
    for key in _HEADLINE_STAGES:
        if key == "accounts":  # a campaign's own figure counts identifiers at every stage
            camp_sum = sum(len(c["accounts"]) for c in campaigns)
        else:
            camp_sum = sum(int(c["counts"].get(key, 0)) for c in campaigns)
        in_camps = sum(1 for a in held if status[a] in _REACHED[key])
        outside = sum(1 for a, st in status.items() if a not in held and st in _REACHED[key])
        out["campaign_sum"][key] = camp_sum
        out["shared"][key] = camp_sum - in_camps
        out["outside_campaigns"][key] = outside
        out["total"][key] = in_camps + outside
    return out


def analyze(store: Store, *, progress: bool = False) -> CorrelateSummary:
    """Detections, then correlation and attribution, over the whole store."""
    from idwatch.detections.engine import run_detections

    if not progress:
        det = run_detections(store)
        summary = correlate(store)
    else:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
        ) as bar:
            task = bar.add_task("detections", total=None)
            det = run_detections(store)
            summary = correlate(store, step=lambda msg: bar.update(task, description=msg))
    summary.detections = (
        det.to_dict()
        if hasattr(det, "to_dict")
        else (asdict(det) if hasattr(det, "__dataclass_fields__") else None)
    )
    return summary
