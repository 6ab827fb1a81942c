"""Attribution rules added for operators that work through shared exits."""

from __future__ import annotations

from collections import Counter

from idwatch.correlate.actors import ActorProfile
from idwatch.correlate.attribution import score_campaign, verdict
from idwatch.correlate.features import CampaignProfile

MOSCOW_OFFICE = Counter({(dow, h): 10 for dow in (1, 2, 3, 4, 5) for h in range(6, 14)})


def _actor(name: str, country: str, ips: dict[str, int] | None = None) -> ActorProfile:
    return ActorProfile(
        stix_id=f"intrusion-set--{name.lower()}",
        name=name,
        country=country,
        kind="state",
        ips=ips or {},
        techniques={"T1110.003"},
        sectors={"government-national"},
    )


def _exits(n: int) -> dict[str, int]:
    return {f"185.220.101.{i}": 20 for i in range(n)}


def _campaign(ips: dict[str, int]) -> CampaignProfile:
    return CampaignProfile(
        id="cmp-x",
        n_events=400,
        ips=ips,
        how=MOSCOW_OFFICE,
        techniques=["T1110.003"],
        categories=Counter({"government": 40}),
    )


def test_many_weak_matches_on_shared_exits_add_up():
    """Tor exits are weak one by one (people use them), but twelve of an actor's exits are telling."""
    exits = _exits(12)
    weight = dict.fromkeys(exits, 0.25)
    actor = _actor("Sofacy", "RU", ips=dict.fromkeys(exits, 80))

    def lr(n: int) -> float:
        camp = _campaign(dict(list(exits.items())[:n]))
        hyps = score_campaign(camp, [actor], ip_weight=weight)
        return next(e.lr for h in hyps for e in h.evidence if e.kind == "indicator_match")

    assert lr(1) < 1.5 < lr(12)


def test_behaviour_alone_never_attributes():
    """Same hours, techniques and targets as a known actor, but none of its infrastructure."""
    hyps = score_campaign(_campaign(_exits(10)), [_actor("Sofacy", "RU")])
    assert hyps[0].name == "Sofacy"
    assert verdict(hyps) is None


def test_the_work_week_tells_two_actors_of_the_same_time_zone_apart():
    """Moscow and Tehran are half an hour apart; Tehran's week runs Saturday to Wednesday."""
    hyps = score_campaign(_campaign(_exits(10)), [_actor("Sofacy", "RU"), _actor("Charming", "IR")])
    hours = {h.name: e.lr for h in hyps for e in h.evidence if e.kind == "working_hours"}
    assert hours["Sofacy"] > 2 > 1 > hours["Charming"]
