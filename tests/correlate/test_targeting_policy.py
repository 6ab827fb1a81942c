"""Two groups that pick their victims by different policies are two operators, however linked."""

from __future__ import annotations

import igraph

from idwatch.correlate.campaigns import _merge_pass, targeting_differs


def test_a_target_list_of_dissidents_and_a_spray_over_a_leaked_list_differ():
    # 18 of 20 targets high-risk vs the directory's ~10 % base rate over 2,000 accounts
    assert targeting_differs((18, 2), (200, 1800))


def test_two_pieces_of_one_state_operator_do_not_differ():
    # reconnaissance and phishing pieces of one actor: both mostly high-risk people
    assert not targeting_differs((14, 6), (9, 1))


def test_two_botnets_at_the_base_rate_do_not_differ():
    # large lists at nearly the same share: significant maybe, but no different policy
    assert not targeting_differs((1000, 9000), (1300, 8700))


def test_few_targets_are_no_evidence_of_a_different_policy():
    # two high-risk accounts against a spray: could be the spray's own luck
    assert not targeting_differs((2, 0), (100, 900))


def test_groups_without_directory_targets_say_nothing():
    assert not targeting_differs((0, 0), (100, 900))


def _two_linked_pieces() -> tuple[igraph.Graph, list[set[str]]]:
    """A state piece (two addresses) sending most of its link weight to a botnet piece."""
    names = ["ip:s1", "ip:s2", "ip:b1", "ip:b2"]
    edges = [(0, 1), (0, 2), (1, 3), (2, 3)]
    weights = [0.05, 0.5, 0.5, 1.0]
    graph = igraph.Graph(n=4, edges=edges, vertex_attrs={"name": names}, edge_attrs={"weight": weights})
    return graph, [{"ip:s1", "ip:s2"}, {"ip:b1", "ip:b2"}]


def test_strongly_linked_pieces_with_one_targeting_are_folded():
    graph, parts = _two_linked_pieces()
    targets = {"s1": (60, 540), "s2": (50, 450), "b1": (300, 2700), "b2": (300, 2700)}
    assert len(_merge_pass(graph, parts, {}, {}, targets)) == 1


def test_a_state_piece_is_not_folded_into_a_spray_that_shares_its_links():
    graph, parts = _two_linked_pieces()
    targets = {"s1": (10, 1), "s2": (9, 0), "b1": (300, 2700), "b2": (300, 2700)}
    merged = _merge_pass(graph, parts, {}, {}, targets)
    assert sorted(map(sorted, merged)) == [["ip:b1", "ip:b2"], ["ip:s1", "ip:s2"]]
