"""Evidence weighs what tells one intrusion set from the others, not what they all share.

The failure this guards against: a Strontium-style password spray (through Tor and rotating
exits) scored higher for Phosphorus / Magic Hound than for Strontium, because techniques every
group uses and one account's follow-on steps counted as if they were the operation's tradecraft,
and an exit several groups' intel lists counted in full for each.
"""

from __future__ import annotations

from collections import Counter

import pytest
from correlate_scenario import SHARED_TOR, STATE_IPS, TOR_EXITS, build_two_operator_world, intel_bundle

from idwatch.correlate.actors import ActorProfile
from idwatch.correlate.attribution import score_campaign, verdict
from idwatch.correlate.features import CampaignProfile

MOSCOW_OFFICE = Counter({(dow, h): 10 for dow in (1, 2, 3, 4, 5) for h in range(6, 15)})


def _actor(name: str, country: str, techniques: set[str], ips: dict[str, int] | None = None) -> ActorProfile:
    return ActorProfile(
        stix_id=f"intrusion-set--{name.lower()}",
        name=name,
        country=country,
        kind="state",
        ips=ips or {},
        techniques=techniques,
        sectors={"government-national", "commercial"},
    )


STRONTIUM = {"T1110.001", "T1110.003", "T1078.004"}
PHOSPHORUS = {"T1589.002", "T1586.002", "T1078", "T1111", "T1098.005", "T1114.003"}


def _spray(**kw) -> CampaignProfile:
    """Hundreds of password guesses; one account's follow-on steps raised a few other alerts."""
    base = dict(
        id="cmp-spray",
        n_events=900,
        ips={f"185.220.101.{i}": 30 for i in range(30)},
        how=MOSCOW_OFFICE,
        techniques=["T1078", "T1098.005", "T1110.003", "T1111", "T1114.003", "T1589.002"],
        technique_alerts=Counter(
            {"T1110.003": 300, "T1589.002": 120, "T1078": 40, "T1111": 2, "T1098.005": 1, "T1114.003": 1}
        ),
        categories=Counter({"political_campaign": 300, "business": 80}),
    )
    base.update(kw)
    return CampaignProfile(**base)


def _lr(hyps, name: str, kind: str) -> float:
    h = next(h for h in hyps if h.name == name)
    return next((e.lr for e in h.evidence if e.kind == kind), 1.0)


def test_a_spray_weighs_for_the_spraying_group_not_for_the_one_with_more_listed_techniques():
    actors = [_actor("Strontium", "RU", STRONTIUM), _actor("Phosphorus", "IR", PHOSPHORUS)]
    hyps = score_campaign(_spray(), actors)
    assert _lr(hyps, "Strontium", "technique_overlap") > 1.5 > _lr(hyps, "Phosphorus", "technique_overlap")


def test_a_technique_every_group_uses_carries_about_no_weight():
    every = {"T1078", "T1589.002"}
    actors = [_actor(n, "RU", every) for n in ("A", "B", "C")]
    camp = _spray(techniques=sorted(every), technique_alerts=Counter({"T1078": 50, "T1589.002": 50}))
    lrs = [_lr(score_campaign(camp, actors), n, "technique_overlap") for n in ("A", "B", "C")]
    assert all(lr == pytest.approx(lrs[0]) for lr in lrs)  # tells none of them from the others
    hyps = score_campaign(camp, actors)
    post = [h.posterior for h in hyps if h.name in ("A", "B", "C")]
    assert max(post) == pytest.approx(min(post))


def test_a_target_sector_all_groups_share_does_not_lift_one_of_them():
    actors = [_actor("Strontium", "RU", STRONTIUM), _actor("Phosphorus", "IR", PHOSPHORUS)]
    hyps = score_campaign(_spray(), actors)
    assert _lr(hyps, "Strontium", "targeting_overlap") == pytest.approx(
        _lr(hyps, "Phosphorus", "targeting_overlap")
    )


def test_an_exit_both_groups_intel_lists_counts_half_for_each():
    exit_ip = "185.220.101.1"
    alone = [_actor("Strontium", "RU", STRONTIUM, {exit_ip: 80}), _actor("Phosphorus", "IR", PHOSPHORUS)]
    both = [
        _actor("Strontium", "RU", STRONTIUM, {exit_ip: 80}),
        _actor("Phosphorus", "IR", PHOSPHORUS, {exit_ip: 80}),
    ]
    one = _lr(score_campaign(_spray(), alone), "Strontium", "indicator_match")
    shared = _lr(score_campaign(_spray(), both), "Strontium", "indicator_match")
    assert 1.0 < shared < one


def test_a_quiet_criminal_spray_through_a_listed_shared_exit_gets_no_state_actor():
    """A botnet spraying a business, one of its exits a VPN address both groups' intel lists."""
    vpn = "185.220.101.3"
    actors = [
        _actor("Strontium", "RU", STRONTIUM, {vpn: 40}),
        _actor("Phosphorus", "IR", PHOSPHORUS, {vpn: 40}),
    ]
    around_the_clock = Counter({(dow, h): 5 for dow in range(1, 8) for h in range(24)})
    crime = _spray(how=around_the_clock, categories=Counter({"business": 400, "consumer": 300}))
    hyps = score_campaign(crime, actors, profile_kind="criminal", ip_weight={vpn: 0.3})
    assert verdict(hyps) is None


@pytest.fixture(scope="module")
def sprayed(tmp_path_factory):
    """The two-operator store; the Tor exits both operators used are in Phosphorus's intel, one
    exit only the sprayer used is in Strontium's."""
    from idwatch.correlate.pipeline import correlate

    world = build_two_operator_world()
    intel = intel_bundle(state_ips=[STATE_IPS[1]], extra_ips=list(SHARED_TOR), second_ips=[TOR_EXITS[4]])
    store = world.write(tmp_path_factory.mktemp("sprayed"), [intel])
    correlate(store)
    return store.read_state_json("campaigns")


def test_the_tor_spray_is_strontiums_although_phosphorus_intel_lists_its_shared_exits(sprayed):
    spray = next(c for c in sprayed if TOR_EXITS[4] in c["infrastructure"]["ips"])
    assert spray["actor"] is not None and spray["actor"]["name"] == "Strontium"
    post = {h["name"]: h["posterior"] for h in spray["hypotheses"]}
    assert post["Strontium"] > 3 * post["Phosphorus"]
    for h in spray["hypotheses"]:
        for e in h["evidence"]:
            assert e["likelihood_ratio"] > 0 and "detail" in e
