"""Two state operators that share Tor exits and some targets stay two campaigns.

The failure this guards against: the operators' links to each other (two shared exits, two
shared targets) are weak, but next to everything else in the graph modularity could not
tell them apart and one campaign, attributed to one actor, swallowed both.
"""

from __future__ import annotations

import pytest
from correlate_scenario import SHARED_TOR, STATE_IPS, TOR_EXITS, build_two_operator_world, intel_bundle


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_two_operator_world()
    # the intel knows a minority of each operator's infrastructure
    intel = intel_bundle(state_ips=[STATE_IPS[1]], second_ips=TOR_EXITS[3:6])
    store = world.write(tmp_path_factory.mktemp("two"), [intel])
    correlate(store)
    return world, store.read_state_json("campaigns")


def _holding(campaigns, ip):
    return [c for c in campaigns if ip in c["infrastructure"]["ips"]]


def test_the_operators_are_two_campaigns(two):
    _world, campaigns = two
    first = _holding(campaigns, STATE_IPS[0])
    second = _holding(campaigns, TOR_EXITS[4])
    assert len(first) == 1 and len(second) == 1
    assert first[0]["id"] != second[0]["id"]
    assert not set(TOR_EXITS[2:]) & set(first[0]["infrastructure"]["ips"])


def test_each_campaign_has_its_own_targets(two):
    world, campaigns = two
    second = _holding(campaigns, TOR_EXITS[4])[0]
    attacked = {a["account"] for a in second["accounts"] if a["stage"] != "probed"}
    assert len(attacked & world.second_attacked) >= 0.9 * len(world.second_attacked)
    first_only = world.truth["attacked"] - world.second_attacked
    assert not attacked & first_only


def test_each_campaign_is_attributed_to_its_own_actor(two):
    _world, campaigns = two
    first = _holding(campaigns, STATE_IPS[0])[0]
    second = _holding(campaigns, TOR_EXITS[4])[0]
    assert first["actor"] and first["actor"]["name"] == "Phosphorus"
    assert second["actor"] and second["actor"]["name"] == "Strontium"


def test_the_shared_exits_carry_no_attribution_on_their_own(two):
    _world, campaigns = two
    for ip in SHARED_TOR:
        for camp in _holding(campaigns, ip):
            refs = [r for e in camp["evidence"] if e["kind"] == "indicator_match" for r in e.get("refs", [])]
            assert ip not in refs


def test_only_the_operators_own_success_is_a_compromise(two):
    """The operator's sign-in with its browser after guessing counts; the owner's own sign-in
    through a shared exit (even one a detection flagged) does not."""
    world, campaigns = two
    second = _holding(campaigns, TOR_EXITS[4])[0]
    compromised = {a["account"] for a in second["accounts"] if a["stage"] == "compromised"}
    assert compromised == world.second_compromised
    assert second["counts"]["accounts_compromised"] == len(world.second_compromised)
