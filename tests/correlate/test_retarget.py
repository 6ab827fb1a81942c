"""An address moves to the community whose targeting policy its own targets were picked by.

First clustering places a state operator's server by its thin links - a person key it shares
with a criminal spray's targets - so a target list's server can land in a spray's community.
It moves to a neighbouring community only when its targets favour that community's policy
strongly (likelihood ratio >= 10) and its links there, weighted by that ratio, outweigh its
links at home; an address that says too little (one victim) stays where its links put it, and
two communities the intel ties to intrusion sets never trade addresses this way.
"""

from __future__ import annotations

import igraph

from idwatch.correlate.campaigns import RETARGET_LR, _policy_lr, _retarget

SPRAY = ["ip:b1", "ip:b2", "ip:b3"]
STATE = ["ip:t1", "ip:t2"]
SERVER = "ip:s"

#: Each bot of the spray: 30 targets at a directory's base rate of high-risk people (10 %).
BOT_TARGETS = (3, 27)
#: The state operator's servers: 10 targets each, 9 of them high-risk.
STATE_TARGETS = (9, 1)


def _world(home_link: float, state_link: float) -> tuple[igraph.Graph, list[set[str]]]:
    """The spray's three bots, the state operator's two servers, and one more server that
    Louvain put in the spray's community: linked to a bot by ``home_link`` and to a state
    server by ``state_link``."""
    names = [*SPRAY, *STATE, SERVER]
    index = {n: i for i, n in enumerate(names)}
    links = [
        ("ip:b1", "ip:b2", 1.0),
        ("ip:b2", "ip:b3", 1.0),
        ("ip:b1", "ip:b3", 1.0),
        ("ip:t1", "ip:t2", 1.0),
        (SERVER, "ip:b1", home_link),
        (SERVER, "ip:t1", state_link),
    ]
    graph = igraph.Graph(
        n=len(names),
        edges=[(index[a], index[b]) for a, b, _ in links],
        vertex_attrs={"name": names},
        edge_attrs={"weight": [w for _, _, w in links]},
    )
    return graph, [{*SPRAY, SERVER}, set(STATE)]


def _targets(server: tuple[int, int]) -> dict[str, tuple[int, int]]:
    out = {n[3:]: BOT_TARGETS for n in SPRAY} | {n[3:]: STATE_TARGETS for n in STATE}
    return out | {SERVER[3:]: server}


def _home_of(parts: list[set[str]], node: str) -> set[str]:
    return next(p for p in parts if node in p)


def test_a_server_of_a_target_list_moves_from_a_spray_to_the_state_operator():
    graph, parts = _world(home_link=1.0, state_link=0.3)
    out = _retarget(graph, parts, _targets((6, 0)))
    assert _home_of(out, SERVER) == {*STATE, SERVER}
    assert _home_of(out, "ip:b1") == set(SPRAY)


def test_it_stays_when_its_links_weighted_by_the_likelihood_ratio_do_not_outweigh_its_home():
    # four high-risk targets: a likelihood ratio of ~5,000 for the state operator's policy
    lr = _policy_lr((4, 0), (18, 2), (9, 81))
    assert lr > RETARGET_LR
    graph, parts = _world(home_link=1.0, state_link=0.5 / lr)  # a thread: 0.5 < 1.0 at home
    assert _home_of(_retarget(graph, parts, _targets((4, 0))), SERVER) == {*SPRAY, SERVER}
    graph, parts = _world(home_link=1.0, state_link=2.0 / lr)  # twice its home link: it moves
    assert _home_of(_retarget(graph, parts, _targets((4, 0))), SERVER) == {*STATE, SERVER}


def test_it_never_moves_to_a_neighbour_whose_policy_fits_its_targets_less():
    # the neighbour is a larger spray still further from a target list (0 of 600 high-risk):
    # the server's own high-risk targets favour its home, the likelihood ratio is << 10
    graph, parts = _world(home_link=0.1, state_link=1.0)
    targets = _targets((6, 0)) | {"t1": (0, 300), "t2": (0, 300)}
    assert _home_of(_retarget(graph, parts, targets), SERVER) == {*SPRAY, SERVER}


def test_a_server_with_one_victim_says_too_little_to_move():
    graph, parts = _world(home_link=1.0, state_link=0.9)
    assert _home_of(_retarget(graph, parts, _targets((1, 0))), SERVER) == {*SPRAY, SERVER}


def test_communities_with_one_policy_trade_no_addresses():
    # two sprays at the base rate: the server's targets are its home's, whatever its links say
    graph, parts = _world(home_link=0.1, state_link=1.0)
    targets = _targets((1, 9)) | {"t1": BOT_TARGETS, "t2": BOT_TARGETS}
    assert _home_of(_retarget(graph, parts, targets), SERVER) == {*SPRAY, SERVER}


def _marks(*nodes: str, actor: str) -> dict[str, dict[str, float]]:
    """Good-confidence indicator marks of these addresses for one intrusion set."""
    return {n[3:]: {actor: 0.6} for n in nodes}


def test_two_communities_tied_to_intrusion_sets_never_trade_addresses():
    graph, parts = _world(home_link=1.0, state_link=0.3)
    marks = _marks("ip:b1", "ip:b2", actor="intrusion-set--a") | _marks(*STATE, actor="intrusion-set--b")
    assert _home_of(_retarget(graph, parts, _targets((6, 0)), marks), SERVER) == {*SPRAY, SERVER}


def test_one_tied_community_still_takes_a_server_whose_targets_it_picked():
    graph, parts = _world(home_link=1.0, state_link=0.3)
    marks = _marks(*STATE, actor="intrusion-set--b")
    assert _home_of(_retarget(graph, parts, _targets((6, 0)), marks), SERVER) == {*STATE, SERVER}
