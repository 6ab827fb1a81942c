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
import numpy as np
import pyarrow as pa

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


def _feature_queries() -> dict[str, str]:
    """Per kind of link: SQL (ip, feature node, weight) for everything an address left behind."""
    w_ua, w_dev, w_net = weight_sql("pu.n"), weight_sql("pd.n"), weight_sql("pn.n")
    w_asn, w_person, w_contact = weight_sql("pa.n"), weight_sql("pp.n"), weight_sql("pc.n")
    lw = LINK_WEIGHTS
    return {
        "account": f"""SELECT src_ip, 'account:' || account, {lw["account"]} FROM sus GROUP BY 1, 2""",
        "ua": f"""SELECT s.src_ip, 'ua:' || s.user_agent, max({w_ua}) * {lw["ua"]}
            FROM sus s LEFT JOIN pop_ua pu ON pu.k = s.user_agent
            WHERE s.user_agent IS NOT NULL AND s.user_agent <> '' GROUP BY 1, 2""",
        "device": f"""SELECT s.src_ip, 'device:' || s.device_id, max({w_dev}) * {lw["device"]}
            FROM sus s LEFT JOIN pop_dev pd ON pd.k = s.device_id
            WHERE s.device_id IS NOT NULL AND s.device_id <> '' GROUP BY 1, 2""",
        "net": f"""SELECT s.src_ip, 'net:' || s.net, max({w_net}) * {lw["net"]}
            FROM sus s LEFT JOIN pop_net pn ON pn.k = s.net GROUP BY 1, 2""",
        "asn": f"""SELECT s.src_ip, 'asn:' || s.asn::VARCHAR, max({w_asn}) * {lw["asn"]}
            FROM sus s LEFT JOIN pop_asn pa ON pa.k = s.asn WHERE s.asn IS NOT NULL GROUP BY 1, 2""",
        "person": f"""WITH k AS (SELECT DISTINCT src_ip, unnest({PERSON_SQL}) AS key FROM sus)
            SELECT k.src_ip, 'person:' || k.key, {w_person} * {lw["person"]}
            FROM k LEFT JOIN pop_person pp ON pp.k = k.key""",
        "contact": f"""WITH c AS (
                SELECT DISTINCT s.src_ip, s.contact_hash FROM sus s
                WHERE s.contact_hash IS NOT NULL
                  AND s.activity IN ('recovery_info_change', 'mfa_method_change', 'mailbox_rule')
                  AND s.contact_hash NOT IN (SELECT contact_hash FROM directory d
                        WHERE lower(d.account) = s.account AND d.contact_hash IS NOT NULL))
            SELECT c.src_ip, 'contact:' || c.contact_hash, {w_contact} * {lw["contact"]}
            FROM c LEFT JOIN pop_contact pc ON pc.k = c.contact_hash""",
        "forward": f"""WITH f AS (
                SELECT DISTINCT src_ip, account,
                       unnest(regexp_extract_all(lower(detail), {EMAIL_RE})) AS addr
                FROM sus WHERE activity = 'mailbox_rule' AND detail IS NOT NULL)
            SELECT src_ip, 'forward:' || addr, {lw["forward"]} FROM f WHERE addr <> account""",
        "alert": f"""SELECT DISTINCT src_ip, 'alert:' || unnest(alert_ids), {lw["alert"]} FROM sus""",
    }


#: The kinds of link in a fixed order: an edge's ``kinds`` attribute is a bit mask over them.
LINK_KINDS: tuple[str, ...] = tuple(LINK_WEIGHTS)


def kind_bits(*kinds: str) -> int:
    """The ``kinds`` bit mask of an edge made by these kinds of link."""
    return sum(1 << LINK_KINDS.index(k) for k in set(kinds))


def _create_graph_features(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``_graph_feats`` (q, first_ip, feat, ip, i, w, n): features shared by two or more
    infrastructure addresses (``_graph_ips``), each address's strongest weight for it.

    ``q`` is the kind's position in :data:`LINK_KINDS`; ``(q, first_ip, feat)`` orders the
    features as they were first met, so edge weights are summed in one fixed order.
    """
    union = " UNION ALL ".join(
        f"SELECT {LINK_KINDS.index(kind)} AS q, ip, feat, w::DOUBLE AS w FROM ({sql}) t(ip, feat, w)"
        for kind, sql in _feature_queries().items()
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _graph_feats AS
            WITH raw AS ({union}),
                 f AS (SELECT any_value(r.q) AS q, r.ip, r.feat, max(r.w) AS w, any_value(g.i) AS i
                       FROM raw r JOIN _graph_ips g ON g.ip = r.ip
                       WHERE r.w > 0 AND r.ip <> '' AND r.feat IS NOT NULL
                       GROUP BY r.ip, r.feat),
                 s AS (SELECT feat, count(*) AS n, min(ip) AS first_ip FROM f GROUP BY feat
                       HAVING count(*) >= 2 AND max(w) >= {MIN_LINK_WEIGHT})
            SELECT f.q, s.first_ip, f.feat, f.ip, f.i, f.w, s.n FROM f JOIN s USING (feat)"""
    )


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


def build_graph(con: duckdb.DuckDBPyConnection, keep: set[str] | None = None) -> igraph.Graph:
    """The IP graph over the ``sus`` table (needs the ``pop_*`` tables).

    ``keep``: addresses the intel names, which stay in the graph however few accounts they
    touched (single-use infrastructure per victim is real tradecraft).

    Features shared by 2..HUB_DEGREE addresses become direct IP-IP edges, each pair
    getting the feature's weight / (sharers - 1) so that one feature gives an address
    at most its weight in total; widely shared features stay hub nodes. Every edge is
    scaled by the specificity of the addresses at both ends. Vertices are named ``ip:<address>``
    and ``hub:<feature>``; edges carry ``weight`` and ``kinds`` (a :func:`kind_bits` mask).
    """
    infra = con.execute(
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
    ).fetchnumpy()
    ips = infra["src_ip"].tolist()
    popularity = np.ma.filled(np.ma.asarray(infra["n"], dtype=float), 0.0)
    spec = 1.0 / (1.0 + popularity / POPULARITY_SCALE)
    con.register("_graph_ips", pa.table({"ip": pa.array(ips, pa.string()), "i": np.arange(len(ips))}))
    try:
        _create_graph_features(con)
        pairs = con.execute(
            f"""SELECT a.i AS a, b.i AS b, a.w AS wa, b.w AS wb, a.n, a.q FROM _graph_feats a
                JOIN _graph_feats b ON b.feat = a.feat AND a.ip < b.ip
                WHERE a.n <= {HUB_DEGREE}
                ORDER BY a.q, a.first_ip, a.feat, a.ip, b.ip"""
        ).fetchnumpy()
        hubs = con.execute(
            f"""SELECT i, w, q, feat, dense_rank() OVER (ORDER BY q, first_ip, feat) - 1 AS h
                FROM _graph_feats WHERE n > {HUB_DEGREE}
                ORDER BY q, first_ip, feat, ip"""
        ).fetchnumpy()
    finally:
        con.execute("DROP TABLE IF EXISTS _graph_feats")
        con.unregister("_graph_ips")
    sig = _signatures(con)
    vecs, has = _sig_matrix(ips, sig)

    # features of 2..HUB_DEGREE addresses: an edge per pair, the feature's weight shared out
    a, b = pairs["a"].astype(np.int64), pairs["b"].astype(np.int64)
    weight = np.minimum(pairs["wa"], pairs["wb"]) * np.minimum(spec[a], spec[b]) * (1.0 / (pairs["n"] - 1))
    weight = weight * _alikes(vecs[a], vecs[b], has[a] & has[b])
    strong = weight >= MIN_LINK_WEIGHT
    a, b, weight, bits = a[strong], b[strong], weight[strong], 1 << pairs["q"][strong].astype(np.int64)

    # widely shared features: a hub node each, pulling on an address as it fits the hub's mean
    h, hub_ip = hubs["h"].astype(np.int64), hubs["i"].astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if len(h) else np.zeros(0, dtype=np.int64)
    hub_names = [f"hub:{feat}" for feat in hubs["feat"][firsts]]
    counted = has[hub_ip]
    members = np.bincount(h[counted], minlength=len(hub_names)).astype(float)
    mean = np.zeros((len(hub_names), vecs.shape[1]))
    for k in range(vecs.shape[1]):  # summed in the hub's address order, one dimension at a time
        mean[:, k] = np.bincount(h[counted], weights=vecs[hub_ip[counted], k], minlength=len(hub_names))
    mean /= np.maximum(members, 1.0)[:, None]
    fit = _alikes(vecs[hub_ip], mean[h], counted & (members[h] > 0))
    hub_weight = hubs["w"] * spec[hub_ip] * fit

    # one edge per pair of nodes: weights summed and kinds joined, in the order the links were met
    n = len(ips) + len(hub_names)
    src, dst = np.concatenate([a, hub_ip]), np.concatenate([b, len(ips) + h])
    keys, inverse = np.unique(np.minimum(src, dst) * n + np.maximum(src, dst), return_inverse=True)
    total = np.bincount(inverse, weights=np.concatenate([weight, hub_weight]), minlength=len(keys))
    kinds = np.zeros(len(keys), dtype=np.int64)
    np.bitwise_or.at(kinds, inverse, np.concatenate([bits, 1 << hubs["q"].astype(np.int64)]))
    # A person key corroborates, it does not link on its own: two addresses that share nothing
    # but having gone after namesakes (r.edwards the diplomat, r.edwards on a leaked list) are a
    # coincidence of common names, and a state operator's one-victim relay server joined whichever
    # botnet had tried its victim's surname. A key still adds to a link the pair already has.
    alone = (kinds == kind_bits("person")) & (keys % n < len(ips))
    keys, total, kinds = keys[~alone], total[~alone], kinds[~alone]
    return igraph.Graph(
        n=n,
        edges=np.column_stack([keys // n, keys % n]).tolist(),
        vertex_attrs={"name": [f"ip:{ip}" for ip in ips] + hub_names},
        edge_attrs={"weight": total.tolist(), "kinds": kinds.tolist()},
    )


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


_TARGETS_SQL = """
SELECT s.src_ip,
       count(DISTINCT s.account) FILTER (WHERE list_contains(?, d.category)) AS high_risk,
       count(DISTINCT s.account) FILTER (WHERE d.category IS NOT NULL
                                         AND NOT list_contains(?, d.category)) AS other
FROM sus s JOIN (SELECT lower(account) AS account, any_value(category) AS category
                 FROM directory GROUP BY 1) d USING (account)
GROUP BY 1
"""

#: Chi-square (1 degree of freedom) of two target lists drawn by one targeting policy at
#: p = 0.001: below it, the two groups' shares of high-risk people could be one operator's.
TARGETING_G = 10.83
#: Odds ratio of the high-risk share between two groups from which on they target differently:
#: an operator with a target list (dissidents, journalists, officials) against one that takes
#: whatever a leaked list or a directory gives it (the directory's base rate).
TARGETING_ODDS = 4.0


def _targets(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per IP: distinct accounts in the directory it went after, high-risk and other."""
    from idwatch.correlate.features import HIGH_RISK_CATEGORIES

    cats = sorted(HIGH_RISK_CATEGORIES)
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'directory'"
    ).fetchone()[0]:
        return {}
    return {ip: (int(h), int(o)) for ip, h, o in con.execute(_TARGETS_SQL, [cats, cats]).fetchall()}


def targeting_differs(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two groups' targets (high-risk, other) were picked by different policies.

    A G-test of one shared high-risk share against one share each, and an effect size: a
    state operator's target list and a criminal spray over a leaked list differ in both; two
    pieces of one operator, or two botnets at the directory's base rate, do not.
    """
    (h1, o1), (h2, o2) = a, b
    n1, n2 = h1 + o1, h2 + o2
    if not n1 or not n2:
        return False
    pooled = (h1 + h2) / (n1 + n2)
    cells = ((h1, n1 * pooled), (o1, n1 * (1 - pooled)), (h2, n2 * pooled), (o2, n2 * (1 - pooled)))
    g = sum(2 * obs * math.log(obs / exp) for obs, exp in cells if obs > 0 and exp > 0)
    odds = ((h1 + 0.5) / (o1 + 0.5)) / ((h2 + 0.5) / (o2 + 0.5))
    return g >= TARGETING_G and max(odds, 1 / odds) >= TARGETING_ODDS


def _part_targets(part: set[str], targets: dict[str, tuple[int, int]]) -> tuple[float, float]:
    """A community's targets (high-risk, other), summed over its addresses."""
    got = [targets[n[3:]] for n in part if n[3:] in targets]
    return (float(sum(h for h, _ in got)), float(sum(o for _, o in got)))


def _alike(a: list[float] | None, b: list[float] | None) -> float:
    """Tradecraft factor of a link: two addresses that do different things pull less."""
    if a is None or b is None:
        return 1.0
    return 0.25 + 0.75 * _cosine(a, b)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _sig_matrix(ips: list[str], sig: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """The signatures of these addresses as rows (zeros where one has none), and which have one."""
    dims = len(next(iter(sig.values()))) if sig else 0
    has = np.array([ip in sig for ip in ips], dtype=bool)
    vecs = np.zeros((len(ips), dims))
    if has.any():
        vecs[has] = [sig[ip] for ip, known in zip(ips, has, strict=True) if known]
    return vecs, has


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise :func:`_cosine` (dimension by dimension, so the sums are the same as its)."""
    dot, na, nb = np.zeros(len(a)), np.zeros(len(a)), np.zeros(len(a))
    for k in range(a.shape[1]):
        dot += a[:, k] * b[:, k]
        na += a[:, k] * a[:, k]
        nb += b[:, k] * b[:, k]
    norm = np.sqrt(na) * np.sqrt(nb)
    return np.divide(dot, norm, out=np.zeros(len(a)), where=norm > 0)


def _alikes(a: np.ndarray, b: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Row-wise :func:`_alike`; 1 where a row's signature is not ``known``."""
    return np.where(known, 0.25 + 0.75 * _cosines(a, b), 1.0)


def _edges(graph: igraph.Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph's edges as arrays: one end, the other end, weight."""
    ends = np.array(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    return ends[:, 0], ends[:, 1], np.array(graph.es["weight"] if graph.ecount() else [], dtype=float)


def _labels(graph: igraph.Graph, parts: list[set[str]]) -> np.ndarray:
    """Per vertex, the index of its part (-1: in none)."""
    index = {name: v for v, name in enumerate(graph.vs["name"])}
    lab = np.full(graph.vcount(), -1, dtype=np.int64)
    for i, part in enumerate(parts):
        lab[[index[n] for n in part]] = i
    return lab


def _part_signatures(vecs: np.ndarray, has: np.ndarray, lab: np.ndarray, n_parts: int) -> np.ndarray:
    """Per part, the sum of its addresses' signatures."""
    out = np.zeros((n_parts, vecs.shape[1]))
    counted = has & (lab >= 0)
    np.add.at(out, lab[counted], vecs[counted])
    return out


def _ip_signatures(graph: igraph.Graph, sig: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sig_matrix` of the graph's vertices (``ip:<address>``: only addresses have one)."""
    return _sig_matrix([n[3:] for n in graph.vs["name"]], sig)


def _merge_pass(
    graph: igraph.Graph,
    parts: list[set[str]],
    sig: dict[str, list[float]],
    marks: Marks | None = None,
    targets: dict[str, tuple[int, int]] | None = None,
) -> list[set[str]]:
    """Agglomerate communities that are mostly linked to one another and work alike.

    Louvain cuts one operator into pieces when its internal links are uneven (a botnet's
    addresses share little but the alert that grouped them). A piece that sends a large
    share of its link weight to one neighbour, with similar tradecraft, is folded into it;
    a bridge (one bot that also hit a state target) is a small share and stays cut. Two
    pieces the intel ties to different intrusion sets are never folded together, nor two whose
    targets were picked by different policies (:func:`targeting_differs`).
    """
    marks = marks or {}
    targets = targets or {}
    parts = [set(p) for p in parts]
    aim = [_part_targets(p, targets) for p in parts]
    tied = [group_actors([marks[n[3:]] for n in p if n[3:] in marks]) for p in parts]
    lab = _labels(graph, parts)
    # Only a piece's addresses speak for it: a hub (a shared target, user agent, alert) is a
    # feature, not an operator. A mass sprayer that hits thousands of people pulls hard on the
    # few target hubs Louvain left with a small actor; that pull is the sprayer's (a sliver of
    # its own links), not the small actor's. Pieces without addresses speak through all nodes.
    is_ip = np.array([n.startswith("ip:") for n in graph.vs["name"]], dtype=bool)
    has_ip = np.bincount(lab[is_ip], minlength=len(parts)) > 0
    speaks = is_ip | ~has_ip[lab]
    a, b, w = _edges(graph)
    ends, i_x, j_x, ww = np.r_[a, b], np.r_[lab[a], lab[b]], np.r_[lab[b], lab[a]], np.r_[w, w]
    said = speaks[ends]
    vol = np.bincount(i_x[said], weights=ww[said], minlength=len(parts)).tolist()
    across = said & (i_x != j_x)
    keys, inverse = np.unique(i_x[across] * len(parts) + j_x[across], return_inverse=True)
    flows = np.bincount(inverse, weights=ww[across], minlength=len(keys))
    sent: dict[int, dict[int, float]] = {i: {} for i in range(len(parts))}  # i's link weight into j
    for key, c in zip(keys.tolist(), flows.tolist(), strict=True):
        i, j = divmod(key, len(parts))
        sent[i][j] = c
        sent[j].setdefault(i, 0.0)
    vecs, has = _ip_signatures(graph, sig)
    psig = _part_signatures(vecs, has, lab, len(parts)).tolist()
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
                    if (
                        score >= needed
                        and not conflict(tied[i], tied[j])
                        and not targeting_differs(aim[i], aim[j])
                    ):
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
            aim[j] = (aim[j][0] + aim[i][0], aim[j][1] + aim[i][1])
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
    graph: igraph.Graph,
    parts: list[set[str]],
    sig: dict[str, list[float]],
    pinned: frozenset[str] = frozenset(),
) -> list[set[str]]:
    """Re-home addresses that do something else than the community they were put in.

    A bot that happened to hit a state actor's targets links to that actor's addresses
    through the shared accounts; its tradecraft (password guessing from a home address)
    does not fit. It moves to the community it links to best, weighted by fit, or
    leaves the infrastructure when none fits.
    """
    if not sig:
        return parts
    names = graph.vs["name"]
    lab = _labels(graph, parts)
    vecs, has = _ip_signatures(graph, sig)
    psig = _part_signatures(vecs, has, lab, len(parts))
    placed = lab >= 0
    misfit = has & placed
    misfit[misfit] = _cosines(vecs[misfit], psig[lab[misfit]]) < MIN_FIT
    # each misfit's pull towards the communities of its neighbours, weighted by how it fits them
    a, b, w = _edges(graph)
    frm, to, ww = np.r_[a, b], np.r_[b, a], np.r_[w, w]
    pulled = misfit[frm] & placed[to]
    frm, j, ww = frm[pulled], lab[to[pulled]], ww[pulled]
    keys, inverse = np.unique(frm * len(parts) + j, return_inverse=True)
    pull = np.bincount(inverse, weights=ww * _cosines(vecs[frm], psig[j]), minlength=len(keys))
    node, home = keys // len(parts), keys % len(parts)
    best: dict[int, tuple[float, int]] = {}
    for v, k, p in zip(node.tolist(), home.tolist(), pull.tolist(), strict=True):
        if p > best.get(v, (0.0, -1))[0]:
            best[v] = (p, k)
    target: dict[int, int | None] = {}
    for v in np.flatnonzero(misfit).tolist():
        p, k = best.get(v, (0.0, -1))
        fits = p > 0 and k != lab[v] and _cosine(vecs[v].tolist(), psig[k].tolist()) >= MIN_FIT
        target[v] = k if fits else None
    for v, k in target.items():
        if k is None and names[v] in pinned:
            continue  # the intel names it: it may move to a better home, never out
        parts[lab[v]].discard(names[v])
        if k is not None:
            parts[k].add(names[v])
    return [p for p in parts if p]


#: Likelihood ratio an address's own targets must give a neighbouring community's targeting policy
#: over its own community's before it moves there: 10, "strong" evidence on Jeffreys' scale - one
#: high-risk target of a target list (~90 % high-risk) against a spray at a directory's base rate
#: (~5 %) gives ~18; a bot whose targets look like its spray's gives far less than 1.
RETARGET_LR = 10.0


def _policy_lr(own: tuple[float, float], there: tuple[float, float], here: tuple[float, float]) -> float:
    """Likelihood ratio of an address's targets (high-risk, other) under the policy of ``there``
    against that of ``here`` (each a community's targets; shares smoothed by half a target)."""
    h, o = own
    p_there = (there[0] + 0.5) / (there[0] + there[1] + 1.0)
    p_here = (here[0] + 0.5) / (here[0] + here[1] + 1.0)
    return math.exp(h * math.log(p_there / p_here) + o * math.log((1 - p_there) / (1 - p_here)))


def _retarget(
    graph: igraph.Graph,
    parts: list[set[str]],
    targets: dict[str, tuple[int, int]],
    marks: Marks | None = None,
) -> list[set[str]]:
    """Move an address to the neighbouring community whose targeting policy its own targets fit.

    First clustering places a state operator's server by its thin links - often a common person
    key it shares with a criminal spray's targets - so a target list's servers end up in a spray's
    community. Where the address's own targets were not picked by its community's policy (the same
    :func:`targeting_differs` test as the merge pass: G-test p < 0.001 and odds ratio >= 4), the
    two communities' policies differ by that test too, and the address's targets favour the
    neighbour's policy strongly (:data:`RETARGET_LR`), its links to the neighbour, weighted by that
    likelihood ratio, outweigh its links to its own community: it moves. A server with one victim
    says too little to pass the test and stays where its links put it. Communities with one policy (two
    sprays, two pieces of one operator) never trade addresses here, nor two that the intel ties to
    intrusion sets (:func:`group_actors`): the intel, not a target share, tells those apart.
    """
    if not targets or len(parts) < 2:
        return parts
    names = graph.vs["name"]
    lab = _labels(graph, parts)
    aim = [_part_targets(p, targets) for p in parts]
    marks = marks or {}
    tied = [bool(group_actors([marks[n[3:]] for n in p if n[3:] in marks])) for p in parts]
    is_ip = np.array([n.startswith("ip:") for n in names], dtype=bool)
    a, b, w = _edges(graph)
    frm, to, ww = np.r_[a, b], np.r_[b, a], np.r_[w, w]
    sel = is_ip[frm] & (lab[frm] >= 0) & (lab[to] >= 0)
    keys, inverse = np.unique(frm[sel] * len(parts) + lab[to[sel]], return_inverse=True)
    pull = np.bincount(inverse, weights=ww[sel], minlength=len(keys))
    pulls: dict[int, dict[int, float]] = {}
    for key, c in zip(keys.tolist(), pull.tolist(), strict=True):
        v, j = divmod(key, len(parts))
        pulls.setdefault(v, {})[j] = c
    moves: list[tuple[int, int]] = []
    for v, by_part in sorted(pulls.items()):
        own = targets.get(names[v][3:])
        x = int(lab[v])
        if not own or len(by_part) < 2 and x in by_part:
            continue
        here = (aim[x][0] - own[0], aim[x][1] - own[1])
        if not targeting_differs((float(own[0]), float(own[1])), here):
            continue  # its own targets could be its community's (one victim says little)
        best, best_score = -1, by_part.get(x, 0.0)
        for j, pj in sorted(by_part.items()):
            if j == x or (tied[x] and tied[j]) or not targeting_differs(here, aim[j]):
                continue
            lr = _policy_lr((float(own[0]), float(own[1])), aim[j], here)
            if lr >= RETARGET_LR and pj * lr > best_score:
                best, best_score = j, pj * lr
        if best >= 0:
            moves.append((v, best))
    for v, j in moves:  # decided on the communities as they were, so the order does not matter
        parts[lab[v]].discard(names[v])
        parts[j].add(names[v])
    return [p for p in parts if p]


#: An address the intel names with at least this mark (an indicator of good confidence on an
#: address few benign people use: confidence 0.8 x specificity >= 0.5) is never taken out of the
#: infrastructure by the passes below; single-use servers per victim link weakly by design.
PIN_MARK = 0.4

#: An address linked to its community by less than this in total was only parked there.
MIN_MEMBER_LINK = 0.005


def _unpark(
    graph: igraph.Graph, parts: list[set[str]], pinned: frozenset[str] = frozenset()
) -> list[set[str]]:
    """Take out addresses that are in a community without being linked to it.

    Louvain has to put every node somewhere. A carrier NAT or a cloud NAT that thousands
    of people use weighs almost nothing, so a flagged login of one of its users ties it to
    an operator by a thread; left there, it would lend that operator every failed password
    typed behind the NAT. It leaves the infrastructure: its flagged events stay alerts on
    accounts, but no campaign (a thread to an operator is not one of its own).
    """
    names = graph.vs["name"]
    lab = _labels(graph, parts)
    a, b, w = _edges(graph)
    inside = (lab[a] >= 0) & (lab[a] == lab[b])
    own_link = np.bincount(
        np.r_[a[inside], b[inside]], weights=np.r_[w[inside], w[inside]], minlength=len(lab)
    )
    is_ip = np.array([n.startswith("ip:") for n in names], dtype=bool) & (lab >= 0)
    loose = is_ip & (own_link < MIN_MEMBER_LINK)
    loose &= ~np.array([n in pinned for n in names], dtype=bool)
    n_ips = np.bincount(lab[is_ip], minlength=len(parts))
    n_loose = np.bincount(lab[loose], minlength=len(parts))
    # a part of one address, or of loose addresses only, stays as it is: it has nowhere else to be
    keep = (n_ips < 2) | (n_loose == n_ips)
    out = [set(p) for p in parts]
    for v in np.flatnonzero(loose & ~keep[np.maximum(lab, 0)]).tolist():
        out[lab[v]].discard(names[v])
    return out


def _louvain(graph: igraph.Graph) -> list[set[str]]:
    """Louvain communities (igraph's C implementation).

    Vertices and edges go to Louvain sorted by name: its answer depends on their order, and a
    graph's order follows how it was built; by name, the same graph gives the same communities.
    """
    names = graph.vs["name"]
    order = sorted(range(len(names)), key=names.__getitem__)
    if graph.ecount() == 0:
        return [{names[v]} for v in order]
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    a, b, w = _edges(graph)
    lo, hi = np.minimum(rank[a], rank[b]), np.maximum(rank[a], rank[b])
    by = np.lexsort((hi, lo))
    ig_graph = igraph.Graph(n=len(names), edges=np.column_stack([lo[by], hi[by]]).tolist())
    igraph.set_random_number_generator(random.Random(SEED))  # reproducible communities
    membership = ig_graph.community_multilevel(weights=w[by].tolist(), resolution=RESOLUTION).membership
    parts: dict[int, set[str]] = {}
    for v, label in zip(order, membership, strict=True):
        parts.setdefault(label, set()).add(names[v])
    return list(parts.values())


def _subgraph(graph: igraph.Graph, nodes: set[str] | list[int]) -> igraph.Graph:
    """The graph induced by these vertices (names or ids), attributes kept."""
    if nodes and isinstance(next(iter(nodes)), str):
        index = {name: v for v, name in enumerate(graph.vs["name"])}
        nodes = sorted(index[n] for n in nodes)
    return graph.induced_subgraph(sorted(nodes))


def _split(
    graph: igraph.Graph,
    part: set[str],
    sig: dict[str, list[float]],
    marks: Marks,
    targets: dict[str, tuple[int, int]] | None = None,
) -> list[set[str]]:
    """Communities inside one community, re-joined where they are strongly linked.

    Modularity cannot see communities much smaller than the whole graph (its resolution
    limit): next to a botnet with thousands of links, two small operators that share a few
    targets or Tor exits look like one. Looking again inside each community at its own
    scale finds them; the merge pass then folds back the pieces of one operator.
    """
    if len(part) <= 2:
        return [part]
    sub = _subgraph(graph, part)
    pieces = _louvain(sub)
    if len(pieces) <= 1:
        return [part]
    return _merge_pass(sub, pieces, sig, marks, targets)


def cluster(
    graph: igraph.Graph, con: duckdb.DuckDBPyConnection | None = None, marks: Marks | None = None
) -> list[Cluster]:
    """Communities of the graph that contain at least one IP, largest first.

    ``marks`` (address -> intrusion set weights, see :mod:`idwatch.correlate.marks`) keep
    groups that the intel ties to different intrusion sets apart.
    """
    sig = _signatures(con) if con is not None else {}
    targets = _targets(con) if con is not None else {}
    marks = marks or {}
    pinned = frozenset(f"ip:{ip}" for ip, m in marks.items() if max(m.values(), default=0.0) >= PIN_MARK)
    names = graph.vs["name"]
    parts: list[set[str]] = []
    for component in graph.connected_components():
        if len(component) <= 2:
            parts.append({names[v] for v in component})
            continue
        sub = _subgraph(graph, component)
        pieces = [piece for part in _louvain(sub) for piece in _split(sub, part, sig, marks, targets)]
        pieces = _refine(sub, _merge_pass(sub, pieces, sig, marks, targets), sig, pinned)
        pieces = _retarget(sub, pieces, targets, marks)
        parts += _unpark(sub, pieces, pinned)
    # the links inside each community, per kind
    lab = _labels(graph, parts)
    a, _b, _w = _edges(graph)
    kinds = np.array(graph.es["kinds"] if graph.ecount() else [], dtype=np.int64)
    inside = (lab[a] >= 0) & (lab[a] == lab[_b])
    links: list[dict[str, int]] = [{} for _ in parts]
    for bit, kind in enumerate(LINK_KINDS):
        counts = np.bincount(lab[a][inside & ((kinds >> bit) & 1 == 1)], minlength=len(parts))
        for i in np.flatnonzero(counts).tolist():
            links[i][kind] = int(counts[i])
    clusters = [
        Cluster(ips={n[3:] for n in part if n.startswith("ip:")}, links=part_links)
        for part, part_links in zip(parts, links, strict=True)
        if any(n.startswith("ip:") for n in part)
    ]
    clusters.sort(key=lambda c: (-len(c.ips), c.id))
    return clusters
