"""The in-memory state scores like the batch model and cannot be taught by an attacker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idwatch.decide import state as dstate
from idwatch.detections.riskmodel import score_attempt

from .world import ATTACKER, HOME, HOME_UA, T0, as_table, signin  # noqa: TID252

LATER = T0 + timedelta(days=30, hours=2)


def attempt(**over):
    return {"account": "alice@example.org", "tenant": "example.org", "time": LATER, **HOME, **HOME_UA, **over}


def test_the_state_gives_the_batch_models_likelihood_ratio(home_store):
    st = dstate.build(home_store)
    for over in ({}, ATTACKER, {"src_ip": "198.51.100.99"}):
        row = dstate.normalize_attempt(attempt(**over))
        st.settle(LATER)  # the point model counts what has settled by the attempt's time
        fast = st.score(row)
        slow = score_attempt(home_store, attempt(**over))
        assert fast["log_likelihood_ratio"] == pytest.approx(slow["log_likelihood_ratio"], rel=1e-6, abs=1e-6)


def test_risk_is_a_percentile_of_the_stores_legitimate_signins(home_store):
    st = dstate.build(home_store)
    usual = st.score(dstate.normalize_attempt(attempt()))
    foreign = st.score(dstate.normalize_attempt(attempt(**ATTACKER)))
    assert st.legit_llr == sorted(st.legit_llr) and len(st.legit_llr) > 100
    assert usual["risk"] < 90  # an ordinary sign-in: near the median of legitimate ones
    assert foreign["risk"] == 100.0  # more unusual than every legitimate sign-in in the store


def test_the_state_file_round_trips(home_store):
    st = dstate.build(home_store)
    st.save(dstate.state_path(home_store))
    again = dstate.load(home_store)
    row = dstate.normalize_attempt(attempt(**ATTACKER))
    assert again.score(row) == st.score(row)


def test_an_attackers_middling_first_success_does_not_teach_the_account(home_store):
    """The issue's case: a first success at middling model risk, then 24 h later the same network."""
    st = dstate.build(home_store)
    # the attacker's own infrastructure but alice's browser string: a middling model risk
    first = signin("alice@example.org", LATER, event_id="atk-1", **{**ATTACKER, **HOME_UA})
    before = st.score(first)
    assert before["model_risk"] < st.params.learn_risk  # below the model's own learn_risk
    dstate.update(st, as_table([first]))
    # 25 h later (settled) the stream brings the owner's next usual sign-in; the attacker returns
    home = signin("alice@example.org", LATER + timedelta(hours=25))
    dstate.update(st, as_table([home]))
    again = st.score(
        dstate.normalize_attempt(attempt(time=LATER + timedelta(hours=26), **{**ATTACKER, **HOME_UA}))
    )
    assert "atk-1" not in st.learned
    assert again["log_likelihood_ratio"] == pytest.approx(before["log_likelihood_ratio"], abs=0.5)


def test_the_owners_usual_signins_are_learned_after_settling(home_store):
    st = dstate.build(home_store)
    first = signin("alice@example.org", LATER, event_id="own-1")
    dstate.update(st, as_table([first]))
    assert "own-1" not in st.learned  # not settled yet
    dstate.update(
        st, as_table([signin("user0@example.org", LATER + timedelta(hours=25), src_ip="198.51.100.20")])
    )
    assert "own-1" in st.learned
    assert st.u[(("example.org", "alice@example.org"), "ip", ("US", "AS64500", "198.51.100.7"))] == 31


def test_a_later_alert_unlearns_a_settled_success(home_store):
    st = dstate.build(home_store)
    # alice's usual sign-in is learned once settled ...
    trip: dict = {}
    dstate.update(st, as_table([signin("alice@example.org", LATER, event_id="x-1", **trip)]))
    dstate.update(
        st, as_table([signin("user0@example.org", LATER + timedelta(hours=25), src_ip="198.51.100.20")])
    )
    assert "x-1" in st.learned
    row = dstate.normalize_attempt(attempt(time=LATER + timedelta(hours=26), **trip))
    learned_llr = st.score(row)["log_likelihood_ratio"]
    # ... until an alert names it: then it no longer vouches for her network
    assert st.unlearn(["x-1"]) == 1
    assert st.score(row)["log_likelihood_ratio"] > learned_llr
    assert "x-1" not in st.learned


def test_failed_signins_feed_the_population_reputation_only(home_store):
    st = dstate.build(home_store)
    row = dstate.normalize_attempt(attempt(**ATTACKER))
    before = st.score(row)["log_likelihood_ratio"]
    spray = [signin(f"user{i}@example.org", LATER, outcome="failure", **ATTACKER) for i in range(4)]
    dstate.update(st, as_table(spray))
    assert st.score(row)["log_likelihood_ratio"] > before
    dstate.update(
        st, as_table([signin("user9@example.org", LATER + timedelta(hours=30), src_ip="198.51.100.30")])
    )
    assert not [k for k in st.u if k[1] == "ip" and k[2][2] == ATTACKER["src_ip"]]  # never history


MOVED = {"country": "US", "asn": 7922, "asn_org": "New ISP", "src_ip": "203.0.113.40"}


def test_a_new_home_network_is_learned_by_the_stream_once_seen_on_a_week_of_days(tmp_path):
    """The batch model's vouching rule, applied by the state as the stream's sign-ins settle."""
    from .world import make_store, population  # noqa: TID252

    start = T0 + timedelta(days=30, hours=1)
    week = [
        signin("alice@example.org", start + timedelta(days=d), event_id=f"mv-{d}", **MOVED) for d in range(7)
    ]
    store = make_store(tmp_path, population() + week)
    st = dstate.build(store)
    assert not any(f"mv-{d}" in st.learned for d in range(7))  # outside her range, not yet vouched
    assert st.days[(("example.org", "alice@example.org"), ("US", "AS7922"))][0] == 7
    # the 8th day from the new network is vouched for; it is learned once settled
    dstate.update(
        st, as_table([signin("alice@example.org", start + timedelta(days=7), event_id="mv-7", **MOVED)])
    )
    dstate.update(
        st, as_table([signin("user0@example.org", start + timedelta(days=8), src_ip="198.51.100.20")])
    )
    assert "mv-7" in st.learned
    # while an attacker's network seen on fewer days stays out (the typical range holds)
    atk = [
        signin(
            "alice@example.org", start + timedelta(days=9 + d), event_id=f"atk-{d}", **{**ATTACKER, **HOME_UA}
        )
        for d in (0, 2)
    ]
    dstate.update(st, as_table(atk))
    dstate.update(
        st, as_table([signin("user0@example.org", start + timedelta(days=13), src_ip="198.51.100.20")])
    )
    assert not any(f"atk-{d}" in st.learned for d in (0, 2))
