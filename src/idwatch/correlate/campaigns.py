"""Campaigns: cluster the attack infrastructure into the operators behind it.

The model is a weighted graph whose nodes are source IPs and everything an operator
leaves behind around them: the accounts it went after, the people those identifiers
name (``john.smith@a`` and ``jsmith@b`` share a person key), user agents, device ids,
networks (/24, AS), the recovery contacts and forwarding addresses it planted, and
the multi-IP alerts that already grouped some of its addresses. Every edge is weighted
by the specificity of the entity (see :mod:`idwatch.correlate.entities`), so popular
entities barely pull. Louvain communities of this graph are candidate campaigns; a
community's IP nodes are its infrastructure, and an account belongs to every campaign
whose infrastructure touched it (a target can be hit by a botnet and a state actor).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field

import duckdb
import igraph
import networkx as nx

from idwatch.correlate.entities import EMAIL_RE, PERSON_SQL, POPULARITY_SCALE, SIGNED_IN_SQL, weight_sql
from idwatch.correlate.marks import Marks, conflict, group_actors

#: Relative pull of each kind of link (multiplied by the entity's specificity). A multi-address
#: alert pulls little: it grouped its sources by something they share (a browser string, an
#: AS) that already links them at its own, popularity-weighted strength; at full strength one
#: common browser made two state operators a single campaign (seed 4, scale 1.5).
LINK_WEIGHTS: dict[str, float] = {
    "account": 1.0,
    "ua": 0.6,
    "device": 1.0,
    "net": 0.4,
    "asn": 0.1,
    "person": 0.8,
    "contact": 1.0,
    "forward": 1.0,
    "alert": 0.25,
}

#: Louvain resolution (standard modularity); the merge pass below then joins split operators.
RESOLUTION = 1.0
SEED = 7


@dataclass
class Cluster:
    """One community of the graph: infrastructure IPs and the links that made it."""

    ips: set[str] = field(default_factory=set)
    links: dict[str, int] = field(default_factory=dict)  # link kind -> edges inside the cluster

    @property
    def id(self) -> str:
        digest = hashlib.sha256("|".join(sorted(self.ips)).encode()).hexdigest()[:12]
        return f"cmp-{digest}"


#: Infrastructure goes after several accounts; an address seen with one account only (a
#: victim's phone on the move, a one-off login) is not clustered - unless the intel names it
#: (an operator that rents a fresh address per victim leaves one account on each).
MIN_IP_ACCOUNTS = 2
#: ... and mostly cannot get in: an address that signed in to more than this share of the
#: flagged accounts it touched is where those people work or live (a campus, an office NAT) -
#: when an office's marks show: the accounts it signed in to are mostly ones it is already
#: familiar to (their owners' baseline), or mostly of one tenant (one organization's people).
#: A credential relay also "signs in" everywhere, but to unrelated accounts, new to each.
MAX_SIGNED_IN_SHARE = 0.5
#: Share of the signed-in accounts that make an address an office by baseline or by tenant.
OFFICE_SHARE = 0.5
#: An identifier this few edits away from one that signed in from the same address, at the
#: same domain, is that person mistyping their own address (``inda.ward@`` then
#: ``linda.ward@``), not a second account the address went after.
MAX_TYPO_EDITS = 2

#: Links weaker than this are left out (they cannot change a community, only slow it down).
MIN_LINK_WEIGHT = 0.002

#: A feature shared by more IPs than this is kept as a hub node instead of a clique of pairs.
HUB_DEGREE = 8


def _features(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """(ip, feature node, weight) for everything an address left behind, aggregated in DuckDB."""
    w_ua, w_dev, w_net = weight_sql("pu.n"), weight_sql("pd.n"), weight_sql("pn.n")
    w_asn, w_person, w_contact = weight_sql("pa.n"), weight_sql("pp.n"), weight_sql("pc.n")
    lw = LINK_WEIGHTS
    queries = [
        f"""SELECT src_ip, 'account:' || account, {lw["account"]} FROM sus GROUP BY 1, 2""",
        f"""SELECT s.src_ip, 'ua:' || s.user_agent, max({w_ua}) * {lw["ua"]}
            FROM sus s LEFT JOIN pop_ua pu ON pu.k = s.user_agent
            WHERE s.user_agent IS NOT NULL AND s.user_agent <> '' GROUP BY 1, 2""",
        f"""SELECT s.src_ip, 'device:' || s.device_id, max({w_dev}) * {lw["device"]}
            FROM sus s LEFT JOIN pop_dev pd ON pd.k = s.device_id
            WHERE s.device_id IS NOT NULL AND s.device_id <> '' GROUP BY 1, 2""",
        f"""SELECT s.src_ip, 'net:' || s.net, max({w_net}) * {lw["net"]}
            FROM sus s LEFT JOIN pop_net pn ON pn.k = s.net GROUP BY 1, 2""",
        f"""SELECT s.src_ip, 'asn:' || s.asn::VARCHAR, max({w_asn}) * {lw["asn"]}
            FROM sus s LEFT JOIN pop_asn pa ON pa.k = s.asn WHERE s.asn IS NOT NULL GROUP BY 1, 2""",
        f"""WITH k AS (SELECT DISTINCT src_ip, unnest({PERSON_SQL}) AS key FROM sus)
            SELECT k.src_ip, 'person:' || k.key, {w_person} * {lw["person"]}
            FROM k LEFT JOIN pop_person pp ON pp.k = k.key""",
        f"""WITH c AS (
                SELECT DISTINCT s.src_ip, s.contact_hash FROM sus s
                WHERE s.contact_hash IS NOT NULL
                  AND s.activity IN ('recovery_info_change', 'mfa_method_change', 'mailbox_rule')
                  AND s.contact_hash NOT IN (SELECT contact_hash FROM directory d
                        WHERE lower(d.account) = s.account AND d.contact_hash IS NOT NULL))
            SELECT c.src_ip, 'contact:' || c.contact_hash, {w_contact} * {lw["contact"]}
            FROM c LEFT JOIN pop_contact pc ON pc.k = c.contact_hash""",
        f"""WITH f AS (
                SELECT DISTINCT src_ip, account,
                       unnest(regexp_extract_all(lower(detail), {EMAIL_RE})) AS addr
                FROM sus WHERE activity = 'mailbox_rule' AND detail IS NOT NULL)
            SELECT src_ip, 'forward:' || addr, {lw["forward"]} FROM f WHERE addr <> account""",
        f"""SELECT DISTINCT src_ip, 'alert:' || unnest(alert_ids), {lw["alert"]} FROM sus""",
    ]
    out: list[tuple[str, str, float]] = []
    for sql in queries:  # in a fixed order: the graph, and so its communities, must not depend on threads
        rows = con.execute(f"SELECT * FROM ({sql}) ORDER BY 1, 2, 3").fetchall()
        out.extend((ip, feat, float(w)) for ip, feat, w in rows if ip and feat)
    return out


#: Detections that name a credential relay's own server: their account is the relay's victim, so
#: the server belongs in the graph however few accounts it touched (a relay rents one per victim).
RELAY_DETECTIONS = (
    "compromise_relay_mfa_signin",
    "compromise_relay_owner_concurrent",
    "compromise_relay_shared_infrastructure",
    "cred_relay_attempt_owner_concurrent",
)


def relay_servers(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Rented-server addresses whose events a relay detection cites (the owner's own are not)."""
    names = ", ".join(f"'{d}'" for d in RELAY_DETECTIONS)
    rows = con.execute(
        f"""SELECT DISTINCT s.src_ip
            FROM (SELECT unnest(event_ids) AS event_id FROM alerts WHERE detection_id IN ({names})) a
            JOIN sus s ON s.event_id = a.event_id
            WHERE s.network_type = 'hosting'
            ORDER BY 1"""
    ).fetchall()
    return {ip for (ip,) in rows}


def build_graph(con: duckdb.DuckDBPyConnection, keep: set[str] | None = None) -> nx.Graph:
    """The IP graph over the ``sus`` table (needs the ``pop_*`` tables).

    ``keep``: addresses the intel names, which stay in the graph however few accounts they
    touched (single-use infrastructure per victim is real tradecraft).

    Features shared by 2..HUB_DEGREE addresses become direct IP-IP edges, each pair
    getting the feature's weight / (sharers - 1) so that one feature gives an address
    at most its weight in total; widely shared features stay hub nodes. Every edge is
    scaled by the specificity of the addresses at both ends.
    """
    ip_spec = {
        ip: 1.0 / (1.0 + (n or 0) / POPULARITY_SCALE)
        for ip, n in con.execute(
            f"""WITH pairs AS (SELECT DISTINCT src_ip, account FROM sus),
                     got_in AS (SELECT DISTINCT e.src_ip, e.account FROM events e SEMI JOIN pairs p
                                  ON p.src_ip = e.src_ip AND p.account = e.account
                                WHERE {SIGNED_IN_SQL}),
                     typos AS (SELECT DISTINCT p.src_ip, p.account FROM pairs p JOIN got_in g
                                 ON g.src_ip = p.src_ip AND g.account <> p.account
                                AND split_part(g.account, '@', 2) = split_part(p.account, '@', 2)
                                AND levenshtein(g.account, p.account) <= {MAX_TYPO_EDITS}),
                     signed AS (SELECT g.src_ip, g.account,
                                       f.account IS NOT NULL AS familiar,
                                       split_part(g.account, '@', 2) AS domain
                                FROM got_in g LEFT JOIN familiar f
                                  ON f.src_ip = g.src_ip AND f.account = g.account),
                     office AS (SELECT src_ip FROM (
                                    SELECT src_ip, count(*) AS n, count(*) FILTER (WHERE familiar) AS known
                                    FROM signed GROUP BY src_ip) o
                                WHERE known >= {OFFICE_SHARE} * n
                                UNION
                                SELECT src_ip FROM (SELECT src_ip, domain, count(*) AS k,
                                                           sum(count(*)) OVER (PARTITION BY src_ip) AS n
                                                    FROM signed GROUP BY 1, 2)
                                WHERE k >= {OFFICE_SHARE} * n AND n >= {MIN_IP_ACCOUNTS}),
                     infra AS (SELECT p.src_ip FROM pairs p LEFT JOIN got_in g
                                 ON g.src_ip = p.src_ip AND g.account = p.account
                               ANTI JOIN typos t ON t.src_ip = p.src_ip AND t.account = p.account
                               GROUP BY 1
                               HAVING (count(*) >= {MIN_IP_ACCOUNTS} OR list_contains(?, p.src_ip))
                                  AND (count(g.account) <= {MAX_SIGNED_IN_SHARE} * count(*)
                                       OR p.src_ip NOT IN (SELECT src_ip FROM office)))
                SELECT i.src_ip, p.n FROM infra i LEFT JOIN pop_ip p ON p.k = i.src_ip ORDER BY 1""",
            [sorted(keep or ())],
        ).fetchall()
    }
    by_feature: dict[str, dict[str, float]] = {}
    for ip, feat, weight in _features(con):
        if weight > 0 and ip in ip_spec:
            bucket = by_feature.setdefault(feat, {})
            bucket[ip] = max(weight, bucket.get(ip, 0.0))
    sig = _signatures(con)
    graph = nx.Graph()
    graph.add_nodes_from(f"ip:{ip}" for ip in ip_spec)

    def add(a: str, b: str, weight: float, kind: str) -> None:
        if graph.has_edge(a, b):
            graph[a][b]["weight"] += weight
            graph[a][b]["kinds"].add(kind)
        else:
            graph.add_edge(a, b, weight=weight, kinds={kind})

    for feat, ips in by_feature.items():
        if len(ips) < 2 or max(ips.values()) < MIN_LINK_WEIGHT:
            continue
        kind = feat.split(":", 1)[0]
        if len(ips) > HUB_DEGREE:
            vecs = [sig[ip] for ip in ips if ip in sig]
            mean = [sum(col) / len(vecs) for col in zip(*vecs, strict=True)] if vecs else None
            for ip, weight in ips.items():
                fit = _alike(sig.get(ip), mean)
                add(f"ip:{ip}", f"hub:{feat}", weight * ip_spec.get(ip, 1.0) * fit, kind)
            continue
        members = sorted(ips)
        share = 1.0 / (len(members) - 1)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                weight = min(ips[a], ips[b]) * min(ip_spec.get(a, 1.0), ip_spec.get(b, 1.0)) * share
                weight *= _alike(sig.get(a), sig.get(b))
                if weight >= MIN_LINK_WEIGHT:
                    add(f"ip:{a}", f"ip:{b}", weight, kind)
    return graph


#: Merge two communities when their cut, relative to the smaller side's volume and scaled by
#: how alike their tradecraft is, reaches this.
MERGE_THRESHOLD = 0.2
MERGE_THRESHOLD_ALIKE = 0.06
ALIKE = 0.98

_SIGNATURE_SQL = """
SELECT src_ip,
       count(*) FILTER (WHERE activity = 'account_lookup' OR reason = 'unknown_account') AS probe,
       count(*) FILTER (WHERE activity = 'sign_in' AND coalesce(reason, '') <> 'unknown_account'
                        AND outcome <> 'success') AS password,
       count(*) FILTER (WHERE activity IN ('password_reset', 'account_recovery')) AS recovery,
       count(*) FILTER (WHERE activity = 'mfa_challenge') AS mfa,
       count(*) FILTER (WHERE activity IN ('mailbox_rule', 'mfa_method_change', 'recovery_info_change',
                                           'password_change')) AS persist,
       count(*) FILTER (WHERE activity = 'sign_in' AND outcome = 'success') AS success,
       count(*) FILTER (WHERE network_type IN ('residential', 'mobile')) AS residential,
       count(*) FILTER (WHERE network_type NOT IN ('residential', 'mobile')) AS other_net,
       count(*) FILTER (WHERE list_contains(?, d.category)) AS high_risk,
       count(*) FILTER (WHERE d.category IS NOT NULL AND NOT list_contains(?, d.category)) AS other_target,
       list(hour(time) // 4) AS hours
FROM sus LEFT JOIN (SELECT lower(account) AS account, any_value(category) AS category
                    FROM directory GROUP BY 1) d USING (account)
GROUP BY src_ip
"""


def _signatures(con: duckdb.DuckDBPyConnection) -> dict[str, list[float]]:
    """Per IP: what it did (probe, password, recovery, MFA, persistence, success), from what kind
    of network, whom it went after (high-risk people or anyone) and at which time of day."""
    from idwatch.correlate.features import HIGH_RISK_CATEGORIES

    cats = sorted(HIGH_RISK_CATEGORIES)
    out: dict[str, list[float]] = {}
    for row in con.execute(_SIGNATURE_SQL, [cats, cats]).fetchall():
        acts = [float(x) for x in row[1:7]]
        total = sum(acts) or 1.0
        nets = [float(x) for x in row[7:9]]
        ntotal = sum(nets) or 1.0
        targets = [float(x) for x in row[9:11]]
        ttotal = sum(targets)
        hours = [0.0] * 6
        for h in row[11] or []:
            hours[int(h)] += 1.0
        htotal = sum(hours) or 1.0
        out[row[0]] = (
            [a / total for a in acts]
            + [0.5 * n / ntotal for n in nets]
            + ([0.5 * t / ttotal for t in targets] if ttotal else [0.0, 0.0])
            + [0.4 * h / htotal for h in hours]
        )
    return out


def _alike(a: list[float] | None, b: list[float] | None) -> float:
    """Tradecraft factor of a link: two addresses that do different things pull less."""
    if a is None or b is None:
        return 1.0
    return 0.25 + 0.75 * _cosine(a, b)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _merge_pass(
    graph: nx.Graph,
    parts: list[set[str]],
    sig: dict[str, list[float]],
    marks: Marks | None = None,
) -> list[set[str]]:
    """Agglomerate communities that are mostly linked to one another and work alike.

    Louvain cuts one operator into pieces when its internal links are uneven (a botnet's
    addresses share little but the alert that grouped them). A piece that sends a large
    share of its link weight to one neighbour, with similar tradecraft, is folded into it;
    a bridge (one bot that also hit a state target) is a small share and stays cut. Two
    pieces the intel ties to different intrusion sets are never folded together.
    """
    marks = marks or {}
    parts = [set(p) for p in parts]
    tied = [group_actors([marks[n[3:]] for n in p if n[3:] in marks]) for p in parts]
    index = {n: i for i, p in enumerate(parts) for n in p}
    # Only a piece's addresses speak for it: a hub (a shared target, user agent, alert) is a
    # feature, not an operator. A mass sprayer that hits thousands of people pulls hard on the
    # few target hubs Louvain left with a small actor; that pull is the sprayer's (a sliver of
    # its own links), not the small actor's. Pieces without addresses speak through all nodes.
    speaks = {n for n in index if n.startswith("ip:")}
    speaks |= {n for p in parts if not any(m.startswith("ip:") for m in p) for n in p}
    vol = [0.0] * len(parts)
    sent: dict[int, dict[int, float]] = {i: {} for i in range(len(parts))}  # i's link weight into j
    for a, b, w in graph.edges(data="weight"):
        i, j = index[a], index[b]
        for x, i_x, j_x in ((a, i, j), (b, j, i)):
            if x in speaks:
                vol[i_x] += w
                if i_x != j_x:
                    sent[i_x][j_x] = sent[i_x].get(j_x, 0.0) + w
                    sent[j_x].setdefault(i_x, 0.0)
    dims = len(next(iter(sig.values()))) if sig else 0
    psig = []
    for p in parts:
        vec = [0.0] * dims
        for n in p:
            for k, x in enumerate(sig.get(n[3:], [])):
                vec[k] += x
        psig.append(vec)
    alive = set(range(len(parts)))
    while True:  # rounds of greedy, disjoint merges (best pairs first)
        candidates: list[tuple[float, int, int]] = []
        for i in alive:
            for j, c in sent[i].items():
                if i < j:
                    share = max(c / (vol[i] or 1e-9), sent[j].get(i, 0.0) / (vol[j] or 1e-9))
                    alike = _alike(psig[i], psig[j])
                    score = share * alike
                    # the same tradecraft, the same targets, the same hours: a weaker link suffices
                    needed = MERGE_THRESHOLD_ALIKE if alike >= ALIKE else MERGE_THRESHOLD
                    if score >= needed and not conflict(tied[i], tied[j]):
                        candidates.append((score, i, j))
        if not candidates:
            break
        candidates.sort(reverse=True)
        touched: set[int] = set()
        for _score, i, j in candidates:
            if i in touched or j in touched:
                continue
            touched.update((i, j))
            parts[j] |= parts[i]
            tied[j] = group_actors([marks[n[3:]] for n in parts[j] if n[3:] in marks])
            vol[j] += vol[i]
            psig[j] = [x + y for x, y in zip(psig[j], psig[i], strict=True)]
            for k, c in sent.pop(i).items():
                back = sent[k].pop(i, 0.0)
                if k != j:
                    sent[j][k] = sent[j].get(k, 0.0) + c
                    sent[k][j] = sent[k].get(j, 0.0) + back
            sent[j].pop(j, None)
            alive.discard(i)
    return [parts[i] for i in sorted(alive)]


#: An address whose tradecraft resembles its community's less than this is re-homed.
MIN_FIT = 0.35


def _refine(
    graph: nx.Graph, parts: list[set[str]], sig: dict[str, list[float]], pinned: frozenset[str] = frozenset()
) -> list[set[str]]:
    """Re-home addresses that do something else than the community they were put in.

    A bot that happened to hit a state actor's targets links to that actor's addresses
    through the shared accounts; its tradecraft (password guessing from a home address)
    does not fit. It moves to the community it links to best, weighted by fit, or
    leaves the infrastructure when none fits.
    """
    if not sig:
        return parts
    dims = len(next(iter(sig.values())))
    psig = []
    for part in parts:
        vec = [0.0] * dims
        for n in part:
            for k, x in enumerate(sig.get(n[3:], [])):
                vec[k] += x
        psig.append(vec)
    owner = {n: i for i, part in enumerate(parts) for n in part}
    moves: list[tuple[str, int | None]] = []
    for node, i in owner.items():
        vec = sig.get(node[3:])
        if vec is None or _cosine(vec, psig[i]) >= MIN_FIT:
            continue
        pull: dict[int, float] = {}
        for nbr, data in graph[node].items():
            j = owner[nbr]
            pull[j] = pull.get(j, 0.0) + data["weight"] * _cosine(vec, psig[j])
        best = max(pull.items(), key=lambda kv: kv[1], default=(None, 0.0))
        moves.append(
            (
                node,
                best[0] if best[1] > 0 and best[0] != i and _cosine(vec, psig[best[0]]) >= MIN_FIT else None,
            )
        )
    for node, target in moves:
        if target is None and node in pinned:
            continue  # the intel names it: it may move to a better home, never out
        parts[owner[node]].discard(node)
        if target is not None:
            parts[target].add(node)
    return [p for p in parts if p]


#: An address the intel names with at least this mark (an indicator of good confidence on an
#: address few benign people use: confidence 0.8 x specificity >= 0.5) is never taken out of the
#: infrastructure by the passes below; single-use servers per victim link weakly by design.
PIN_MARK = 0.4

#: An address linked to its community by less than this in total was only parked there.
MIN_MEMBER_LINK = 0.005


def _unpark(graph: nx.Graph, parts: list[set[str]], pinned: frozenset[str] = frozenset()) -> list[set[str]]:
    """Take out addresses that are in a community without being linked to it.

    Louvain has to put every node somewhere. A carrier NAT or a cloud NAT that thousands
    of people use weighs almost nothing, so a flagged login of one of its users ties it to
    an operator by a thread; left there, it would lend that operator every failed password
    typed behind the NAT. It leaves the infrastructure: its flagged events stay alerts on
    accounts, but no campaign (a thread to an operator is not one of its own).
    """
    out: list[set[str]] = []
    for part in parts:
        ips = [n for n in part if n.startswith("ip:")]
        if len(ips) < 2:
            out.append(part)
            continue
        loose = {
            n
            for n in ips
            if n not in pinned
            and sum(d["weight"] for m, d in graph[n].items() if m in part and m != n) < MIN_MEMBER_LINK
        }
        if len(loose) == len(ips):
            out.append(part)
            continue
        out.append(part - loose)
    return out


def _louvain(graph: nx.Graph) -> list[set[str]]:
    """Louvain communities (igraph's C implementation: networkx's takes minutes at scale).

    Nodes and edges go to igraph sorted: a subgraph's node order follows Python's set order,
    which changes from process to process, and Louvain's answer depends on the order.
    """
    nodes = sorted(graph.nodes())
    if graph.number_of_edges() == 0:
        return [{n} for n in nodes]
    index = {n: i for i, n in enumerate(nodes)}
    ordered = sorted(
        (min(index[a], index[b]), max(index[a], index[b]), float(w)) for a, b, w in graph.edges(data="weight")
    )
    edges = [(a, b) for a, b, _w in ordered]
    weights = [w for _a, _b, w in ordered]
    ig_graph = igraph.Graph(n=len(nodes), edges=edges)
    igraph.set_random_number_generator(random.Random(SEED))  # reproducible communities
    membership = ig_graph.community_multilevel(weights=weights, resolution=RESOLUTION).membership
    parts: dict[int, set[str]] = {}
    for node, label in zip(nodes, membership, strict=True):
        parts.setdefault(label, set()).add(node)
    return list(parts.values())


def _split(graph: nx.Graph, part: set[str], sig: dict[str, list[float]], marks: Marks) -> list[set[str]]:
    """Communities inside one community, re-joined where they are strongly linked.

    Modularity cannot see communities much smaller than the whole graph (its resolution
    limit): next to a botnet with thousands of links, two small operators that share a few
    targets or Tor exits look like one. Looking again inside each community at its own
    scale finds them; the merge pass then folds back the pieces of one operator.
    """
    if len(part) <= 2:
        return [part]
    sub = graph.subgraph(part).copy()  # a real graph: views filter every lookup
    pieces = _louvain(sub)
    if len(pieces) <= 1:
        return [part]
    return _merge_pass(sub, pieces, sig, marks)


def cluster(
    graph: nx.Graph, con: duckdb.DuckDBPyConnection | None = None, marks: Marks | None = None
) -> list[Cluster]:
    """Communities of the graph that contain at least one IP, largest first.

    ``marks`` (address -> intrusion set weights, see :mod:`idwatch.correlate.marks`) keep
    groups that the intel ties to different intrusion sets apart.
    """
    sig = _signatures(con) if con is not None else {}
    marks = marks or {}
    pinned = frozenset(f"ip:{ip}" for ip, m in marks.items() if max(m.values(), default=0.0) >= PIN_MARK)
    clusters: list[Cluster] = []
    for component in nx.connected_components(graph):
        sub = graph.subgraph(component).copy()
        if sub.number_of_nodes() <= 2:
            parts = [set(component)]
        else:
            parts = [piece for part in _louvain(sub) for piece in _split(sub, part, sig, marks)]
            parts = _refine(sub, _merge_pass(sub, parts, sig, marks), sig, pinned)
            parts = _unpark(sub, parts, pinned)
        owner = {n: i for i, part in enumerate(parts) for n in part}
        links: list[dict[str, int]] = [{} for _ in parts]
        for a, b, kinds in sub.edges(data="kinds"):
            if a in owner and owner[a] == owner.get(b):
                for kind in kinds:
                    links[owner[a]][kind] = links[owner[a]].get(kind, 0) + 1
        for part, part_links in zip(parts, links, strict=True):
            ips = {n[3:] for n in part if n.startswith("ip:")}
            if ips:
                clusters.append(Cluster(ips=ips, links=part_links))
    clusters.sort(key=lambda c: (-len(c.ips), c.id))
    return clusters
