"""Attribution when the infrastructure is new: lineage from an attributed campaign.

The failure this guards against: an operator that rents fresh addresses for its next
operation (none in the intel) came out unattributed even though it went after the very
people the actor's earlier, attributed campaign attacked, with the same tooling. And the
other way: one shared target, or targets attacked only after the campaign began, or a
mass campaign on many of the same accounts, must not make a state attribution.
"""

from __future__ import annotations

from collections import Counter

from idwatch.correlate.actors import ActorProfile
from idwatch.correlate.attribution import score_campaign, verdict
from idwatch.correlate.features import CampaignProfile
from idwatch.correlate.lineage import Attributed, lineage_evidence

TEHRAN_OFFICE = Counter({(dow, h): 10 for dow in (6, 7, 1, 2, 3) for h in range(5, 13)})
TOOL_UA = "Mozilla/5.0 (Windows NT 6.1; rv:60.0) Gecko/20100101 Firefox/60.0"
ACTOR = ActorProfile(
    stix_id="intrusion-set--phos",
    name="Phosphorus",
    country="IR",
    kind="state",
    ips={"203.0.113.10": 80},
    techniques={"T1589.002", "T1586.002"},
    sectors={"government-national", "media"},
)
TARGETS = [f"person{k}@campaign.example" for k in range(10)]
EARLIER = Attributed(
    "cmp-earlier",
    ACTOR.stix_id,
    ACTOR.name,
    {a: "2020-03-01T08:00:00Z" for a in TARGETS},
    {TOOL_UA},
)


def _new_infrastructure(**kw) -> CampaignProfile:
    base = dict(
        id="cmp-later",
        n_events=300,
        ips={f"198.51.100.{k}": 30 for k in range(10)},  # none in the intel
        how=TEHRAN_OFFICE,
        techniques=["T1589.002", "T1586.002"],
        categories=Counter({"political_campaign": 6, "journalist": 4}),
    )
    base.update(kw)
    return CampaignProfile(**base)


def _later(accounts: list[str], when: str = "2020-10-01T08:00:00Z") -> dict[str, str]:
    return dict.fromkeys(accounts, when)


def test_new_infrastructure_is_unattributed_without_lineage():
    assert verdict(score_campaign(_new_infrastructure(), [ACTOR], profile_kind="state")) is None


def test_the_targets_of_an_attributed_campaign_carry_the_attribution():
    extra = lineage_evidence("cmp-later", _later(TARGETS[:6] + ["new@campaign.example"]), set(), [EARLIER])
    hyps = score_campaign(_new_infrastructure(), [ACTOR], profile_kind="state", extra=extra)
    chosen = verdict(hyps)
    assert chosen is not None and chosen.name == "Phosphorus"
    lineage = [e for e in chosen.evidence if e.kind == "target_lineage"]
    assert len(lineage) == 1 and lineage[0].lr > 1 and "cmp-earlier" in lineage[0].refs


def test_the_operators_browser_string_is_lineage_too():
    extra = lineage_evidence("cmp-later", _later(["a@x.example", "b@y.example"]), {TOOL_UA}, [EARLIER])
    assert [e.kind for e in extra[ACTOR.stix_id]] == ["client_lineage"]


def test_one_shared_target_is_coincidence():
    assert lineage_evidence("cmp-later", _later(TARGETS[:1] + ["n@x.example"] * 1), set(), [EARLIER]) == {}


def test_targets_the_attributed_campaign_attacked_only_afterwards_are_no_lineage():
    early = _later(TARGETS[:6], "2020-01-01T08:00:00Z")
    assert lineage_evidence("cmp-later", early, set(), [EARLIER]) == {}


def test_a_campaign_lends_nothing_to_itself():
    assert lineage_evidence("cmp-earlier", _later(TARGETS), {TOOL_UA}, [EARLIER]) == {}


def test_a_mass_campaign_on_the_same_people_stays_criminal():
    """A botnet's list holds thousands of addresses; a few of the actor's targets are on it."""
    mass = _later(TARGETS[:3] + [f"user{k}@mail.example" for k in range(3000)])
    extra = lineage_evidence("cmp-later", mass, set(), [EARLIER])
    profile = _new_infrastructure(
        how=Counter({(d, h): 5 for d in range(1, 8) for h in range(24)}),
        techniques=["T1110.004"],
        categories=Counter({"consumer": 3000}),
    )
    assert verdict(score_campaign(profile, [ACTOR], profile_kind="criminal", extra=extra)) is None


def _days(first: str, last: str, per_day: int, holidays: set[str], on_holiday: int) -> Counter[str]:
    from datetime import date, timedelta

    out: Counter[str] = Counter()
    d = date.fromisoformat(first)
    while d <= date.fromisoformat(last):
        if d.isoweekday() in (6, 7, 1, 2, 3):  # Tehran's week
            out[d.isoformat()] = on_holiday if d.isoformat() in holidays else per_day
        d += timedelta(days=1)
    return out


NOWRUZ = {"2020-03-21", "2020-03-22", "2020-03-23", "2020-03-24", "2020-04-01", "2020-04-02"}


def _holiday_lr(days: Counter[str]) -> float | None:
    hyps = score_campaign(_new_infrastructure(days=days), [ACTOR], profile_kind="state")
    return next((e.lr for h in hyps for e in h.evidence if e.kind == "holidays"), None)


def test_an_office_that_closes_for_nowruz_speaks_for_an_iranian_actor():
    assert _holiday_lr(_days("2020-03-01", "2020-04-20", 20, NOWRUZ, 0)) > 1


def test_working_through_nowruz_speaks_against_it():
    assert _holiday_lr(_days("2020-03-01", "2020-04-20", 20, NOWRUZ, 20)) < 1


def test_a_campaign_that_spans_no_holiday_says_nothing_about_them():
    assert _holiday_lr(_days("2020-08-01", "2020-09-20", 20, set(), 0)) is None
