"""Attribution by competing hypotheses, including the shared-indicator trap."""

from __future__ import annotations

from collections import Counter

import correlate_scenario as sc
import pytest

from idwatch.correlate.actors import ActorProfile, build_profiles, parse_pattern
from idwatch.correlate.attribution import ATTRIBUTION_THRESHOLD, UNKNOWN, icd203, score_campaign, verdict
from idwatch.correlate.features import CampaignProfile


def _campaign(analysed, ip):
    store, _ = analysed
    return next(c for c in store.read_state_json("campaigns") if ip in c["infrastructure"]["ips"])


def test_state_campaign_is_attributed_although_intel_knows_one_of_its_three_addresses(analysed):
    state = _campaign(analysed, sc.STATE_IPS[0])
    assert state["actor"]["name"] == "Phosphorus"
    assert state["actor"]["confidence"] >= 70
    kinds = {e["kind"] for e in state["evidence"] if e["weight"] > 0}
    assert {"indicator_match", "technique_overlap", "targeting_overlap", "working_hours"} <= kinds
    names = [h["name"] for h in state["hypotheses"]]
    assert names[0] == "Phosphorus" and UNKNOWN in names and "Strontium" in names


def test_shared_indicator_trap_botnet_with_one_listed_address_stays_unattributed(analysed):
    botnet = _campaign(analysed, sc.TRAP_IP)
    assert botnet["actor"] is None
    phos = next(h for h in botnet["hypotheses"] if h["name"] == "Phosphorus")
    assert any(e["kind"] == "indicator_match" and e["weight"] > 0 for e in phos["evidence"])
    assert phos["posterior"] < ATTRIBUTION_THRESHOLD


def _actor(**kw) -> ActorProfile:
    base = dict(
        stix_id="intrusion-set--a",
        name="Actor A",
        country="IR",
        kind="state",
        techniques={"T1589.002", "T1586.002"},
        sectors={"government-national", "media"},
    )
    base.update(kw)
    return ActorProfile(**base)


def _profile(**kw) -> CampaignProfile:
    base = dict(id="cmp-x", n_events=5, ips={"192.0.2.1": 3, "192.0.2.2": 2})
    base.update(kw)
    return CampaignProfile(**base)


def test_one_shared_indicator_alone_cannot_decide():
    actors = [_actor(ips={"192.0.2.1": 100}), _actor(stix_id="intrusion-set--b", name="Actor B")]
    hyps = score_campaign(_profile(), actors)
    assert verdict(hyps) is None
    assert hyps[0].name in (UNKNOWN, "Actor A") and hyps[0].posterior < ATTRIBUTION_THRESHOLD


def test_more_indicators_count_less_and_less_and_are_capped():
    def lr(n: int) -> float:
        ips = {f"192.0.2.{i}": 1 for i in range(1, 40)}
        actor = _actor(ips={f"192.0.2.{i}": 100 for i in range(1, n + 1)})
        return next(
            e.lr
            for e in score_campaign(_profile(ips=ips), [actor])[0].evidence
            if e.kind == "indicator_match"
        )

    one, two, many = lr(1), lr(2), lr(30)
    assert one < two < many <= 40.0
    assert two / one < one  # the second match adds less than the first


def test_an_asn_match_is_weak_evidence():
    actors = [_actor(asns={64500: 90}, techniques=set(), sectors=set())]
    hyps = score_campaign(_profile(asns={64500: 10}), actors)
    assert verdict(hyps) is None
    assert next(e for e in hyps[0].evidence + hyps[1].evidence if e.kind == "asn_match").lr <= 1.5


def test_popular_address_in_intel_is_worth_little():
    actor = _actor(ips={"192.0.2.1": 100})
    rare = score_campaign(_profile(), [actor])
    popular = score_campaign(_profile(), [actor], ip_weight={"192.0.2.1": 0.01})

    def ind(hyps):
        return next(e.lr for h in hyps for e in h.evidence if e.kind == "indicator_match")

    assert ind(popular) < 1.1 < ind(rare)


def test_criminal_profile_counts_against_a_state_actor():
    actor = _actor(ips={"192.0.2.1": 100, "192.0.2.2": 100})
    as_state = score_campaign(_profile(), [actor], profile_kind="unknown")
    as_crime = score_campaign(_profile(), [actor], profile_kind="criminal")
    p = {h.name: h.posterior for h in as_state}["Actor A"]
    q = {h.name: h.posterior for h in as_crime}["Actor A"]
    assert q < p


def test_working_hours_in_the_actors_time_zone_support_it():
    tehran_office = Counter({(dow, h): 10 for dow in (6, 7, 1, 2, 3) for h in range(5, 13)})
    actor = _actor()
    hyps = score_campaign(
        _profile(n_events=400, how=tehran_office),
        [actor, _actor(stix_id="intrusion-set--k", name="Kim", country="KP")],
    )
    ev = {h.name: {e.kind: e.lr for e in h.evidence} for h in hyps}
    assert ev["Actor A"]["working_hours"] > 1.5
    assert ev["Kim"]["working_hours"] < 1.0


def test_without_intel_only_the_unknown_actor_remains():
    hyps = score_campaign(_profile(), [])
    assert [h.name for h in hyps] == [UNKNOWN] and hyps[0].posterior == pytest.approx(1.0)
    assert verdict(hyps) is None


@pytest.mark.parametrize(
    ("p", "word"),
    [
        (0.01, "almost no chance"),
        (0.1, "very unlikely"),
        (0.3, "unlikely"),
        (0.5, "roughly even chance"),
        (0.7, "likely"),
        (0.9, "very likely"),
        (0.99, "almost certain"),
    ],
)
def test_icd203_words(p, word):
    assert icd203(p) == word


def test_stix_patterns_and_duplicate_intrusion_sets_are_understood():
    assert parse_pattern("[ipv4-addr:value = '10.0.0.1'] OR [ipv4-addr:value ISSUBSET '10.1.0.0/16']") == [
        ("ip", "10.0.0.1"),
        ("network", "10.1.0.0/16"),
    ]
    assert parse_pattern("[autonomous-system:number = 64500]") == [("asn", "64500")]
    assert parse_pattern("[domain-name:value = 'Evil.Example.']") == [("domain", "evil.example")]
    ours = sc.intel_bundle(state_ips=["192.0.2.9"])
    mitre_copy = {
        "type": "bundle",
        "id": "bundle--x",
        "objects": [
            {
                "type": "intrusion-set",
                "id": "intrusion-set--mitre",
                "name": "Magic Hound",
                "aliases": ["Magic Hound", "APT35", "Phosphorus"],
                "description": "Iranian-sponsored group",
            }
        ],
    }
    profiles = build_profiles([mitre_copy, ours])
    phos = [p for p in profiles if "phosphorus" in p.names]
    assert len(phos) == 1
    assert phos[0].ips == {"192.0.2.9": 80} and phos[0].country == "IR" and phos[0].kind == "state"
    assert "intrusion-set--mitre" in phos[0].stix_ids
