"""Clustering at the scale of each operator, and the intel veto, on small hand-built graphs."""

from __future__ import annotations

import itertools

import igraph

from idwatch.correlate.campaigns import _merge_pass, cluster, kind_bits

Edges = list[tuple[str, str, float, int]]


def _graph(edges: Edges) -> igraph.Graph:
    """The campaign graph of these (node, node, weight, kinds) links, as build_graph makes it."""
    return igraph.Graph.TupleList(edges, edge_attrs=["weight", "kinds"])


def _clique(graph: Edges, nodes: list[str], weight: float) -> None:
    for a, b in itertools.combinations(nodes, 2):
        graph.append((a, b, weight, kind_bits("account")))


def _world(bridge: float) -> tuple[igraph.Graph, list[str], list[str]]:
    """A heavy botnet, and two small operators joined to each other by ``bridge`` per link."""
    graph: Edges = []
    botnet = [f"ip:10.0.0.{i}" for i in range(60)]
    first = [f"ip:192.0.2.{i}" for i in range(6)]
    second = [f"ip:198.51.100.{i}" for i in range(6)]
    _clique(graph, botnet, 10.0)
    _clique(graph, first, 1.0)
    _clique(graph, second, 1.0)
    for a, b in zip(first[:2], second[:2], strict=True):  # two shared exits / targets
        graph.append((a, b, bridge, kind_bits("account")))
    graph.append((first[0], botnet[0], 0.05, kind_bits("account")))  # one bot hit a state target
    return _graph(graph), first, second


def _owner(clusters, node: str) -> str:
    return next(c.id for c in clusters if node[3:] in c.ips)


def test_two_small_operators_next_to_a_botnet_are_not_merged():
    """Modularity alone merges them (its resolution limit); looking again at their scale splits them."""
    graph, first, second = _world(bridge=0.3)
    clusters = cluster(graph)
    assert _owner(clusters, first[0]) != _owner(clusters, second[0])
    assert len({_owner(clusters, n) for n in first}) == 1
    assert len({_owner(clusters, n) for n in second}) == 1


def _pieces_and_signatures(graph: igraph.Graph, first: list[str], second: list[str]):
    """The two operators as separate pieces, all addresses working alike (same tradecraft)."""
    sig = {n[3:]: [1.0, 0.0, 0.5] for n in graph.vs["name"]}
    rest = set(graph.vs["name"]) - set(first) - set(second)
    return [rest, set(first), set(second)], sig


def _together(parts: list[set[str]], a: str, b: str) -> bool:
    return any(a in p and b in p for p in parts)


def test_linked_pieces_that_work_alike_are_merged_without_intel():
    graph, first, second = _world(bridge=1.5)
    parts, sig = _pieces_and_signatures(graph, first, second)
    assert _together(_merge_pass(graph, parts, sig), first[0], second[0])


def test_pieces_tied_to_different_intel_actors_are_never_merged():
    graph, first, second = _world(bridge=1.5)
    parts, sig = _pieces_and_signatures(graph, first, second)
    marks = {
        first[1][3:]: {"intrusion-set--a": 0.6},
        first[2][3:]: {"intrusion-set--a": 0.6},
        second[3][3:]: {"intrusion-set--b": 0.6},
        second[4][3:]: {"intrusion-set--b": 0.6},
    }
    assert not _together(_merge_pass(graph, parts, sig, marks), first[0], second[0])


def test_a_single_indicator_does_not_veto():
    graph, first, second = _world(bridge=1.5)
    parts, sig = _pieces_and_signatures(graph, first, second)
    marks = {first[1][3:]: {"intrusion-set--a": 0.6}, second[3][3:]: {"intrusion-set--b": 0.6}}
    assert _together(_merge_pass(graph, parts, sig, marks), first[0], second[0])


def test_a_mass_sprayer_does_not_absorb_a_small_actor_through_shared_targets():
    """A sprayer hits thousands of people, so it also hits a few of a small actor's targets.

    Its heavy pull on those target hubs is a sliver of the sprayer's own links, not a large
    share of the small actor's: the two stay separate campaigns even though Louvain leaves
    the shared targets with the small actor.
    """
    edges: Edges = []
    sprayer = [f"ip:203.0.113.{i}" for i in range(4)]
    actor = [f"ip:192.0.2.{i}" for i in range(5)]
    _clique(edges, actor, 1.0)
    person = kind_bits("person")
    for t in range(400):  # the sprayer's own targets
        for ip in sprayer:
            edges.append((ip, f"hub:person:p{t}", 0.8, person))
    for t in range(12):  # targets both went after; the actor pulls weakly, the sprayer hard
        hub = f"hub:person:shared{t}"
        for ip in actor:
            edges.append((ip, hub, 0.1, person))
        for ip in sprayer:
            edges.append((ip, hub, 0.8, person))
    graph = _graph(edges)
    shared = {f"hub:person:shared{t}" for t in range(12)}
    parts = [set(graph.vs["name"]) - set(actor) - shared, set(actor) | shared]
    sig = {n[3:]: [1.0, 0.0, 0.5] for n in graph.vs["name"] if n.startswith("ip:")}
    assert not _together(_merge_pass(graph, parts, sig), actor[0], sprayer[0])
    clusters = cluster(graph)
    assert _owner(clusters, actor[0]) != _owner(clusters, sprayer[0])
    assert len({_owner(clusters, n) for n in actor}) == 1
