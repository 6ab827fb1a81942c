"""An operator that rotates many browser strings, and comes back through an exit it got in by.

The failures these guard against, both seen on a simulated variant where each actor rotates
eight common browser strings over three times as many VPN exits:

* A browser is "the operator's" when it carries a tenth of the campaign's flagged events on
  shared exits. An operator spreading its guesses over many strings leaves each below that
  share, so the guesses made with the rarer strings were dropped and their accounts counted
  as probed, not attacked (APT28: 142 of 160 attacked accounts).
* An address becomes the owner's once someone signs in from it on two days. An operator that
  reset a password through a VPN exit, got in, and came back the next day through the same
  exit made the exit "familiar", and the takeover vanished from the campaign (Magic Hound:
  3 of 4 compromised accounts).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import (
    RU_UA,
    STATE_IPS,
    TOR_EXITS,
    World,
    build_two_operator_world,
    intel_bundle,
    stages_of,
)

#: Eleven browser strings, two used twice as often: the rarer ones hold 9% of the events each.
ROTATION = [
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/{v}.0.3865.90 Safari/537.36"
    for v in (71, 72, 71, 72, 73, 74, 75, 76, 77, 78, 79)
]


def _rotate_second_operator(world: World) -> None:
    """The second operator's guesses cycle through :data:`ROTATION` instead of one browser."""
    guesses = [e for e in world.events if e["user_agent"] == RU_UA and e["outcome"] == "failure"]
    for k, event in enumerate(guesses):
        event["user_agent"] = ROTATION[k % len(ROTATION)]
    by_id = {e["event_id"]: e for e in world.events}
    for alert in world.alerts:
        agents = {by_id[i]["user_agent"] for i in alert["event_ids"]}
        alert["user_agents"] = sorted(a for a in agents if a)


def _second(campaigns: list[dict]) -> dict:
    holding = [c for c in campaigns if TOR_EXITS[4] in c["infrastructure"]["ips"]]
    assert len(holding) == 1
    return holding[0]


@pytest.fixture(scope="module")
def rotating(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_two_operator_world()
    _rotate_second_operator(world)
    intel = intel_bundle(state_ips=[STATE_IPS[1]], second_ips=TOR_EXITS[3:6])
    store = world.write(tmp_path_factory.mktemp("rotating"), [intel])
    correlate(store)
    return world, store.read_state_json("campaigns")


def test_every_account_guessed_with_any_of_the_rotated_browsers_is_attacked(rotating):
    world, campaigns = rotating
    second = _second(campaigns)
    attacked = {a["account"] for a in second["accounts"] if a["stage"] != "probed"}
    assert world.second_attacked <= attacked


def test_rotating_browsers_pull_in_no_account_only_the_other_operator_attacked(rotating):
    world, campaigns = rotating
    attacked = {a["account"] for a in _second(campaigns)["accounts"] if a["stage"] != "probed"}
    assert not attacked & (world.truth["attacked"] - world.second_attacked)


@pytest.fixture(scope="module")
def returning(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_two_operator_world()
    victim = next(iter(world.second_compromised))
    got_in = next(
        e
        for e in world.events
        if e["account"] == victim and e["outcome"] == "success" and e["user_agent"] == RU_UA
    )
    # the next day and the day after, the operator signs in again through the same exit
    again = [
        world.ev(
            got_in["time"] + timedelta(days=d, minutes=7),
            victim,
            "sign_in",
            "success",
            got_in["src_ip"],
            method="password",
            user_agent=RU_UA,
            network_type="tor",
            asn=64900,
            account_exists=True,
        )
        for d in (1, 2)
    ]
    world.alert("compromise.signin_after_attack", "compromise", ["T1078"], again, 85)
    intel = intel_bundle(state_ips=[STATE_IPS[1]], second_ips=TOR_EXITS[3:6])
    store = world.write(tmp_path_factory.mktemp("returning"), [intel])
    correlate(store)
    return world, victim, store.read_state_json("campaigns")


def test_an_operator_returning_through_the_exit_it_got_in_by_is_still_a_compromise(returning):
    _world, victim, campaigns = returning
    assert "compromised" in stages_of(_second(campaigns), victim)


def test_an_owner_signing_in_through_an_exit_on_many_days_stays_the_owner(returning):
    """The benign Tor users of the scenario sign in through the exits on several days before
    anything was flagged: no state actor's campaign counts them."""
    world, _victim, campaigns = returning
    targets = world.truth["attacked"] | world.second_attacked | world.truth["probed"]
    for camp in (c for c in campaigns if c["actor"]):
        counted = {a["account"] for a in camp["accounts"] if a["stage"] != "probed"}
        strangers = counted - targets - world.second_compromised
        assert not strangers, (camp["id"], sorted(strangers)[:5])
